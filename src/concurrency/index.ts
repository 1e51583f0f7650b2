/**
 * Runs `task(0) … task(count - 1)` with at most `limit` in flight. The first failure stops
 * new tasks from starting; it is thrown once the running ones have settled, so nothing is
 * left running (or rejecting) unobserved.
 */
export async function runBounded(count: number, limit: number, task: (index: number) => Promise<void>): Promise<void> {
  if (count === 0) return;
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = new Array<Promise<void>>(Math.max(1, Math.min(limit, count)));
  for (let i = 0; i < workers.length; i++) workers[i] = worker();
  await Promise.all(workers);
  if (failure !== undefined) throw failure.error;
}
