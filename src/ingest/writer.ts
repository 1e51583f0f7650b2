import { runBounded } from '../concurrency/index.js';
import { CassetteError } from '../errors/index.js';
import type { FeatureViewDef } from '../registry/index.js';
import type { OnlineStore } from '../store/index.js';
import type { WriteRow } from './rows.js';

export interface WriteOptions {
  concurrency: number;
  /** Driver timeout for one row's write, given the time left before the deadline. */
  rowTimeoutMs: (remainingMs: number) => number;
  /** Absolute deadline (Date.now() ms): rows not started by then are not written. */
  deadline: number;
  isCancelled: () => boolean;
  /**
   * Called for every row whose write was attempted, after all writes settle (succeeded or not:
   * a failed write may still have reached some replicas). The serving cache invalidates here.
   */
  onAttempted?: (row: WriteRow) => void;
}

/** Writes validated rows with bounded concurrency, stopping early past the deadline or on cancel. */
export async function writeRows(
  store: OnlineStore,
  view: FeatureViewDef,
  rows: readonly WriteRow[],
  options: WriteOptions,
): Promise<void> {
  let attempted = 0;
  try {
    await runBounded(rows.length, options.concurrency, async (i) => {
      const remaining = options.deadline - Date.now();
      if (remaining <= 0)
        throw new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed before all rows were written');
      if (options.isCancelled()) throw new CassetteError('CANCELLED', 'the caller cancelled the request');
      const row = rows[i]!;
      attempted = Math.max(attempted, i + 1);
      await store.write(
        view,
        row.key,
        row.features,
        row.eventTimeMicros,
        row.ttlSeconds,
        options.rowTimeoutMs(remaining),
      );
    });
  } finally {
    // Tasks start in index order, so every row below `attempted` was (or is being) written.
    if (options.onAttempted) for (let i = 0; i < attempted; i++) options.onAttempted(rows[i]!);
  }
}
