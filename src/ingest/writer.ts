import { RowCache } from '../cache/index.js';
import type { FeatureViewDef } from '../registry/index.js';
import type { OnlineStore, StoredRow } from '../store/index.js';
import { runBounded } from '../concurrency/index.js';
import type { WriteRow } from './rows.js';

export interface WriteTarget {
  readonly store: OnlineStore;
  /** When set, entries for written rows are invalidated so the next read sees the write. */
  readonly cache?: RowCache<StoredRow>;
}

/**
 * Writes validated rows with bounded concurrency. Cache entries of every attempted row are
 * invalidated afterwards, whether or not its write succeeded: a failed write may still have
 * reached some replicas.
 */
export async function writeRows(
  target: WriteTarget,
  view: FeatureViewDef,
  rows: readonly WriteRow[],
  options: { concurrency: number; timeoutMs: number },
): Promise<void> {
  try {
    await runBounded(rows.length, options.concurrency, async (i) => {
      const row = rows[i]!;
      await target.store.write(view, row.key, row.features, row.eventTimeMicros, row.ttlSeconds, options.timeoutMs);
    });
  } finally {
    if (target.cache) {
      for (const row of rows) target.cache.invalidate(RowCache.key(view.name, row.keyString));
    }
  }
}
