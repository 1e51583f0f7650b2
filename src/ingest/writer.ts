import { runBounded, timeLeft } from '../concurrency/index.js';
import type { FeatureViewDef } from '../registry/index.js';
import { isClientTimeout, type OnlineStore } from '../store/index.js';
import type { WriteRow } from './rows.js';

export interface WriteOptions {
  concurrency: number;
  /** Driver timeout for one row's write, given the time left before the deadline. */
  rowTimeoutMs: (remainingMs: number) => number;
  /** Absolute deadline (Date.now() ms): rows not started by then are not written. */
  deadline: number;
  isCancelled: () => boolean;
  /**
   * Called for each row as soon as its write settles, succeeded or not (a failed write may still
   * have reached some replicas): the serving cache invalidates the row here. `timedOut` says
   * the driver stopped waiting, so Cassandra may still apply the write a little later.
   */
  onSettled?: (row: WriteRow, timedOut: boolean) => void;
}

/** Writes validated rows with bounded concurrency, stopping early past the deadline or on cancel. */
export async function writeRows(
  store: OnlineStore,
  view: FeatureViewDef,
  rows: readonly WriteRow[],
  options: WriteOptions,
): Promise<void> {
  await runBounded(rows.length, options.concurrency, async (i) => {
    const remaining = timeLeft(options.deadline, options.isCancelled, 'all rows were written');
    const row = rows[i]!;
    let timedOut = false;
    try {
      await store.write(
        view,
        row.key,
        row.features,
        row.eventTimeMicros,
        row.ttlSeconds,
        options.rowTimeoutMs(remaining),
      );
    } catch (error) {
      timedOut = isClientTimeout(error);
      throw error;
    } finally {
      options.onSettled?.(row, timedOut);
    }
  });
}
