import { describe, expect, it } from 'vitest';

import { runBounded } from '../../../src/concurrency/index.js';

/** A promise settled from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued promise callbacks and timers run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks how many tasks are running at once. */
function tracker() {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const finished: number[] = [];
  return {
    started,
    finished,
    peak: () => peak,
    running: () => running,
    async run(index: number, work: () => Promise<void>): Promise<void> {
      started.push(index);
      running++;
      peak = Math.max(peak, running);
      try {
        await work();
      } finally {
        running--;
        finished.push(index);
      }
    },
  };
}

describe('runBounded', () => {
  it('never has more than `limit` tasks in flight, and reaches the limit', async () => {
    const t = tracker();
    await runBounded(25, 4, (i) => t.run(i, () => new Promise((resolve) => setTimeout(resolve, i % 3))));
    expect(t.peak()).toBe(4);
    expect(t.running()).toBe(0);
  });

  it('runs every task exactly once, starting them in index order', async () => {
    const t = tracker();
    await runBounded(10, 3, (i) => t.run(i, settle));
    expect(t.started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...t.finished].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('starts the next task as soon as a slot frees up', async () => {
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const done = runBounded(3, 2, (i) => {
      started.push(i);
      return gates[i]!.promise;
    });
    await settle();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    await done;
  });

  it('runs everything when the limit exceeds the count', async () => {
    const t = tracker();
    await runBounded(3, 100, (i) => t.run(i, settle));
    expect(t.started).toEqual([0, 1, 2]);
    expect(t.peak()).toBe(3);
  });

  it('runs tasks one at a time with a limit of 1', async () => {
    const t = tracker();
    await runBounded(5, 1, (i) => t.run(i, settle));
    expect(t.peak()).toBe(1);
    expect(t.finished).toEqual([0, 1, 2, 3, 4]);
  });

  it('does nothing for a count of zero', async () => {
    let calls = 0;
    await expect(
      runBounded(0, 4, async () => {
        calls++;
      }),
    ).resolves.toBeUndefined();
    expect(calls).toBe(0);
  });

  it('stops starting tasks after the first failure and throws it once running tasks settle', async () => {
    const slow = deferred();
    const boom = new Error('task 1 failed');
    const started: number[] = [];
    let slowFinished = false;
    let settled = false;
    const done = runBounded(10, 2, async (i) => {
      started.push(i);
      if (i === 0) {
        await slow.promise;
        slowFinished = true;
        return;
      }
      if (i === 1) throw boom;
    });
    done.then(
      () => (settled = true),
      () => (settled = true),
    );

    await settle();
    expect(started).toEqual([0, 1]); // no task started after the failure
    expect(settled).toBe(false); // task 0 is still running, so runBounded waits for it

    slow.resolve();
    await expect(done).rejects.toBe(boom);
    expect(slowFinished).toBe(true);
    expect(started).toEqual([0, 1]);
  });

  it('throws the first failure when several tasks fail', async () => {
    const late = deferred();
    const first = new Error('first');
    const second = new Error('second');
    const done = runBounded(4, 2, async (i) => {
      if (i === 0) {
        await late.promise;
        throw second;
      }
      if (i === 1) throw first;
    });
    await settle();
    late.resolve();
    await expect(done).rejects.toBe(first);
  });

  it('treats a task that throws synchronously as a failure', async () => {
    const started: number[] = [];
    const boom = new Error('sync');
    const done = runBounded(5, 1, (i) => {
      started.push(i);
      if (i === 2) throw boom;
      return Promise.resolve();
    });
    await expect(done).rejects.toBe(boom);
    expect(started).toEqual([0, 1, 2]);
  });
});

describe('runBounded with a limit below one', () => {
  it('still runs every task, one at a time', async () => {
    const order: number[] = [];
    await runBounded(3, 0, async (i) => {
      order.push(i);
    });
    expect(order).toEqual([0, 1, 2]);
  });
});
