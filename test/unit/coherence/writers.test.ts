import { describe, expect, it } from 'vitest';

import { GenerationBumpingSink } from '../../../src/coherence/generations.js';
import type { ChangedRow } from '../../../src/coherence/log-tables.js';
import { InvalidationLogWriter } from '../../../src/coherence/log-writer.js';
import type { WriteRow } from '../../../src/write/rows.js';

interface Append {
  stampMs: number;
  rows: readonly ChangedRow[];
}

/** Log tables whose appends take `delayMs` of a fake clock each (and fail while `failing`). */
function fakeTables(clock: { now: number }, delays: number[]) {
  const appends: Append[] = [];
  return {
    appends,
    failing: false,
    async append(writtenAtMicros: number, _writer: string, rows: readonly ChangedRow[]): Promise<void> {
      appends.push({ stampMs: writtenAtMicros / 1000, rows });
      clock.now += delays.shift() ?? 1;
    },
    async bumpGeneration(): Promise<void> {},
  };
}

const rows = (n: number): ChangedRow[] => Array.from({ length: n }, (_, i) => ({ view: 'v', key: String(i) }));

describe('InvalidationLogWriter', () => {
  it('logs in single-partition batches of at most 100 entries', async () => {
    const clock = { now: 1000 };
    const tables = fakeTables(clock, []);
    const writer = new InvalidationLogWriter(
      tables,
      { logWriteBudgetMs: 200, maxStalenessMs: 1000 },
      'w',
      () => clock.now,
    );
    await writer.append(rows(250));
    expect(tables.appends.map((a) => a.rows.length).sort()).toEqual([100, 100, 50]);
    expect(writer.stats).toMatchObject({ entriesLogged: 250, restamped: 0 });
  });

  it('writes a chunk again with a new stamp when it was acknowledged after the budget', async () => {
    const clock = { now: 1000 };
    const tables = fakeTables(clock, [450, 5]);
    const writer = new InvalidationLogWriter(
      tables,
      { logWriteBudgetMs: 200, maxStalenessMs: 1000 },
      'w',
      () => clock.now,
    );
    await writer.append(rows(3));
    expect(tables.appends.map((a) => a.stampMs)).toEqual([1000, 1450]);
    expect(writer.stats).toMatchObject({ entriesLogged: 3, restamped: 1 });
  });

  it('fails CST_ERR_COHERENCE_LOG when the log cannot be written within the budget', async () => {
    const clock = { now: 1000 };
    const tables = fakeTables(clock, [300, 300, 300, 300, 300]);
    const writer = new InvalidationLogWriter(
      tables,
      { logWriteBudgetMs: 200, maxStalenessMs: 1000 },
      'w',
      () => clock.now,
    );
    await expect(writer.append(rows(1))).rejects.toMatchObject({
      code: 'CST_ERR_COHERENCE_LOG',
      status: 'UNAVAILABLE',
    });
    expect(writer.stats.failures).toBe(1);
  });

  it("keeps trying past five tries while the call's deadline leaves room for one more", async () => {
    const clock = { now: 1000 };
    // A Cassandra pause: eight slow acknowledgements, then a quick one.
    const tables = fakeTables(clock, [300, 300, 300, 300, 300, 300, 300, 300, 5]);
    const writer = new InvalidationLogWriter(
      tables,
      { logWriteBudgetMs: 200, maxStalenessMs: 1000 },
      'w',
      () => clock.now,
    );
    await writer.append(rows(1), 1000 + 10_000);
    expect(tables.appends).toHaveLength(9);
    expect(writer.stats).toMatchObject({ entriesLogged: 1, restamped: 8, failures: 0 });
  });

  it('gives up once no whole try fits before the deadline', async () => {
    const clock = { now: 1000 };
    const tables = fakeTables(
      clock,
      Array.from({ length: 20 }, () => 300),
    );
    const writer = new InvalidationLogWriter(
      tables,
      { logWriteBudgetMs: 200, maxStalenessMs: 1000 },
      'w',
      () => clock.now,
    );
    await expect(writer.append(rows(1), 1000 + 2_000)).rejects.toMatchObject({ code: 'CST_ERR_COHERENCE_LOG' });
    // A try within the budget (200 ms) started at 2800 would end by 3000; one at 3100 could not.
    expect(tables.appends.map((a) => a.stampMs)).toEqual([1000, 1300, 1600, 1900, 2200, 2500, 2800]);
  });

  it('retries a failed generation bump until the deadline', async () => {
    const clock = { now: 1000 };
    let failuresLeft = 2;
    const bumps: string[] = [];
    const tables = {
      async append(): Promise<void> {},
      async bumpGeneration(view: string): Promise<void> {
        clock.now += 100;
        if (failuresLeft-- > 0) throw new Error('no host');
        bumps.push(view);
      },
    };
    const writer = new InvalidationLogWriter(
      tables,
      { logWriteBudgetMs: 200, maxStalenessMs: 1000 },
      'w',
      () => clock.now,
    );
    await writer.bumpGenerations(['v'], 1000 + 5_000);
    expect(bumps).toEqual(['v']);
    await expect(writer.bumpGenerations(['v'])).resolves.toBeUndefined();
    failuresLeft = 1;
    await expect(writer.bumpGenerations(['v'])).rejects.toMatchObject({ code: 'CST_ERR_COHERENCE_LOG' });
  });
});

describe('GenerationBumpingSink', () => {
  function sink(clock: { now: number }, bumpFails = () => false) {
    const pushed: number[] = [];
    let flushes = 0;
    const bumps: number[] = [];
    const inner = {
      push: (_row: WriteRow, tag: number) => {
        pushed.push(tag);
        return null;
      },
      flush: async () => {
        flushes++;
      },
    };
    const bumping = new GenerationBumpingSink(
      inner,
      {
        intervalMs: 500,
        bump: async () => {
          if (bumpFails()) throw new Error('unavailable');
          bumps.push(clock.now);
        },
      },
      () => clock.now,
    );
    return { bumping, pushed, bumps, flushes: () => flushes };
  }
  const row = {} as WriteRow;

  it('bumps when rows start, every interval while they come, and after the last is written', async () => {
    const clock = { now: 0 };
    const { bumping, pushed, bumps, flushes } = sink(clock);
    for (let t = 0; t <= 1200; t += 100) {
      clock.now = t;
      expect(bumping.push(row, t)).toBeNull();
      await Promise.resolve();
    }
    expect(pushed).toHaveLength(13);
    expect(bumps).toEqual([0, 500, 1000]);
    clock.now = 1300;
    await bumping.flush();
    expect(flushes()).toBe(1);
    expect(bumps).toEqual([0, 500, 1000, 1300]);
  });

  it('fails the flush when the last bump cannot be made, after trying again', async () => {
    const clock = { now: 0 };
    let failures = 0;
    const { bumping } = sink(clock, () => ++failures <= 10);
    await expect(bumping.flush()).rejects.toMatchObject({ code: 'CST_ERR_COHERENCE_LOG' });
    expect(failures).toBe(3);
  });
});
