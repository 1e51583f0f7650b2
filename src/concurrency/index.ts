import { CassetteError } from '../errors/index.js';

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

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Settles like `work`, or rejects with `onDeadline()` once `deadline` (Date.now() ms) passes,
 * whichever comes first. The work is not cancelled; a late failure of it is observed here so
 * it can never surface as an unhandled rejection.
 */
export function withDeadline<T>(work: Promise<T>, deadline: number, onDeadline: () => Error): Promise<T> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) {
    work.catch(() => undefined);
    return Promise.reject(onDeadline());
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    // setTimeout fires at once for delays past 2^31 - 1 ms; such a deadline is "never" anyway.
    timer = setTimeout(() => reject(onDeadline()), Math.min(remaining, MAX_TIMER_MS));
  });
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/**
 * The milliseconds left before `deadline`, or a DEADLINE_EXCEEDED / CANCELLED error when the
 * call may not start more work. `activity` completes "the deadline passed before …".
 */
export function timeLeft(deadline: number, isCancelled: () => boolean, activity: string): number {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw new CassetteError('DEADLINE_EXCEEDED', `the deadline passed before ${activity}`);
  if (isCancelled()) throw new CassetteError('CANCELLED', 'the caller cancelled the request');
  return remaining;
}
