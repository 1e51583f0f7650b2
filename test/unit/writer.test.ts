import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { writeRows, type WriteRow } from '../../src/ingest/index.js';
import type { FeatureViewDef } from '../../src/registry/index.js';
import type { OnlineStore } from '../../src/store/index.js';

const view = { name: 'v' } as FeatureViewDef;
const rows: WriteRow[] = Array.from({ length: 6 }, (_, i) => ({
  key: [String(i)],
  keyString: String(i),
  features: [i],
  eventTimeMicros: cassandra.types.Long.fromInt(i),
  ttlSeconds: 0,
}));

/** A stand-in for the store's write: the outcome of each row's write is scripted. */
function scriptedStore(outcome: (key: string) => Promise<void>): OnlineStore {
  return { write: (_view: FeatureViewDef, key: readonly string[]) => outcome(key[0]!) } as unknown as OnlineStore;
}

const options = (overrides: Partial<Parameters<typeof writeRows>[3]> = {}) => ({
  concurrency: 2,
  rowTimeoutMs: () => 1000,
  deadline: Date.now() + 10_000,
  isCancelled: () => false,
  ...overrides,
});

describe('writeRows', () => {
  it('reports each row as soon as its write settles, failed ones included', async () => {
    const settled: [string, boolean][] = [];
    const store = scriptedStore(async (key) => {
      if (key === '3') throw new cassandra.errors.OperationTimedOutError('slow', 'host');
    });
    await expect(
      writeRows(store, view, rows, options({ onSettled: (row, timedOut) => settled.push([row.keyString, timedOut]) })),
    ).rejects.toBeInstanceOf(cassandra.errors.OperationTimedOutError);
    // Row 3 timed out; rows that started before the failure settled too; nothing after it started.
    expect(settled).toContainEqual(['3', true]);
    expect(settled.filter(([, timedOut]) => !timedOut).map(([key]) => key)).toEqual(
      expect.arrayContaining(['0', '1', '2']),
    );
    expect(settled.map(([key]) => key)).not.toContain('5');
  });

  it('starts no row past the deadline or after the caller cancelled', async () => {
    const written: string[] = [];
    const store = scriptedStore(async (key) => {
      written.push(key);
    });
    await expect(writeRows(store, view, rows, options({ deadline: Date.now() - 1 }))).rejects.toMatchObject({
      status: 'DEADLINE_EXCEEDED',
    });
    let cancelled = false;
    const cancelling = scriptedStore(async (key) => {
      written.push(key);
      cancelled = true;
    });
    await expect(
      writeRows(cancelling, view, rows, options({ concurrency: 1, isCancelled: () => cancelled })),
    ).rejects.toMatchObject({ status: 'CANCELLED' });
    expect(written).toEqual(['0']);
  });

  it('passes the time left to the driver timeout', async () => {
    const seen: number[] = [];
    const store = {
      write: async (...args: unknown[]) => {
        seen.push(args[5] as number);
      },
    } as unknown as OnlineStore;
    await writeRows(store, view, rows.slice(0, 1), options({ rowTimeoutMs: (remaining) => Math.min(remaining, 123) }));
    expect(seen).toEqual([123]);
  });
});
