import { describe, expect, it } from 'vitest';

import { rowCacheKey } from '../../../src/cache/index.js';
import type { LogEntry } from '../../../src/coherence/log-tables.js';
import { CacheCoherence } from '../../../src/coherence/replica.js';
import { logBucketOf } from '../../../src/coherence/window.js';
import { createLogger } from '../../../src/observability/logger.js';

const settings = { maxStalenessMs: 1000, maxClockSkewMs: 50, logWriteBudgetMs: 200, pollIntervalMs: 250 };

/** The log and generations tables, in memory; `down` makes every read fail as an unreachable Cassandra would. */
class FakeTables {
  readonly entries: LogEntry[] = [];
  readonly generationOf = new Map<string, string>();
  down = false;
  queries = 0;
  /** Cassandra's clock minus ours. */
  clockOffsetMs = 0;
  now = () => 0;

  async cassandraNowMs(): Promise<number> {
    return this.now() + this.clockOffsetMs;
  }

  log(writtenAtMs: number, view: string, key: string, writer = 'w1'): void {
    this.entries.push({ writtenAtMicros: writtenAtMs * 1000, writer, view, key });
  }

  async read(bucket: number, fromMicros: number): Promise<LogEntry[]> {
    this.queries++;
    if (this.down) throw new Error('All host(s) tried for query failed');
    return this.entries.filter((e) => logBucketOf(e.writtenAtMicros) === bucket && e.writtenAtMicros >= fromMicros);
  }

  async generations(): Promise<Map<string, string>> {
    this.queries++;
    if (this.down) throw new Error('All host(s) tried for query failed');
    return new Map(this.generationOf);
  }
}

class FakeCache {
  readonly dropped: string[] = [];
  /** The readBeforeMs of each drop, in order. */
  readonly readBefore: number[] = [];
  clears = 0;
  invalidate(key: string, readBeforeMs: number): void {
    this.dropped.push(key);
    this.readBefore.push(readBeforeMs);
  }
  clear(): void {
    this.clears++;
  }
}

function replica(startMs = 100_000, ownWriter?: string) {
  const clock = { now: startMs };
  const tables = new FakeTables();
  tables.now = () => clock.now;
  const cache = new FakeCache();
  const coherence = new CacheCoherence(
    tables,
    cache,
    { current: { version: 3 } },
    { ...settings, ...(ownWriter ? { ownWriter } : {}) },
    createLogger('silent'),
    () => clock.now,
  );
  return { clock, tables, cache, coherence };
}

describe('CacheCoherence', () => {
  it('drops the keys logged since its last poll, each once, and measures the lag', async () => {
    const { clock, tables, cache, coherence } = replica();
    await coherence.poll();
    tables.log(100_100, 'users', '7');
    clock.now = 100_250;
    await coherence.poll();
    expect(cache.dropped).toEqual([rowCacheKey(3, 'users', '7')]);
    // The next poll's window overlaps this one: the entry is read again but not applied again.
    clock.now = 100_500;
    await coherence.poll();
    expect(cache.dropped).toHaveLength(1);
    expect(coherence.stats()).toMatchObject({ entriesApplied: 1, keysDropped: 1, polls: 3, behind: false });
    expect(coherence.stats().lag).toMatchObject({ count: 1, maxMs: 150 });
  });

  it('skips its own entries, and drops only rows read before a stamp (plus the clock skew allowed)', async () => {
    const { clock, tables, cache, coherence } = replica(100_000, 'me');
    await coherence.poll();
    tables.log(100_100, 'users', 'mine', 'me');
    tables.log(100_120, 'users', 'theirs', 'w2');
    clock.now = 100_250;
    await coherence.poll();
    expect(cache.dropped).toEqual([rowCacheKey(3, 'users', 'theirs')]);
    expect(cache.readBefore).toEqual([100_120 + settings.maxClockSkewMs]);
  });

  it('sees an entry stamped by a writer whose clock is behind, and acknowledged late within the budget', async () => {
    const { clock, tables, cache, coherence } = replica();
    await coherence.poll(); // applied up to 100_000
    // Acknowledged (visible) just after that poll, stamped the budget earlier on a clock 50 ms behind.
    tables.log(100_001 - 200 - 50, 'users', 'late');
    clock.now = 100_250;
    await coherence.poll();
    expect(cache.dropped).toEqual([rowCacheKey(3, 'users', 'late')]);
  });

  it('reads the bucket before and after a second boundary', async () => {
    const { clock, tables, cache, coherence } = replica(100_900);
    await coherence.poll();
    tables.log(100_950, 'users', 'a');
    tables.log(101_020, 'users', 'b');
    clock.now = 101_100;
    await coherence.poll();
    expect(cache.dropped.sort()).toEqual([rowCacheKey(3, 'users', 'a'), rowCacheKey(3, 'users', 'b')].sort());
  });

  it('drops a view (and only it) when its generation changes', async () => {
    const { clock, tables, coherence } = replica();
    tables.generationOf.set('users', '4');
    await coherence.poll(); // the first read only learns the generations
    expect(coherence.minReadAtMs('users', clock.now)).toBe(Number.NEGATIVE_INFINITY);
    tables.generationOf.set('users', '5');
    clock.now = 100_250;
    await coherence.poll();
    // Rows of `users` read before the new generation was seen are not served any more.
    expect(coherence.minReadAtMs('users', 100_300)).toBe(100_250);
    expect(coherence.minReadAtMs('orders', 100_300)).toBe(Number.NEGATIVE_INFINITY);
    expect(coherence.stats().viewDrops).toBe(1);
  });

  it('stops serving cached rows older than the bound when the log cannot be read, and drops the whole cache', async () => {
    const { clock, tables, cache, coherence } = replica();
    await coherence.poll();
    tables.down = true;
    for (const at of [100_250, 100_500, 100_750, 101_000]) {
      clock.now = at;
      await expect(coherence.poll()).rejects.toThrow(/host/);
      // Within the bound of the last applied poll (100_000): every cached row may still be served.
      expect(coherence.minReadAtMs('users', at)).toBe(Number.NEGATIVE_INFINITY);
    }
    clock.now = 101_001;
    expect(coherence.stats().behind).toBe(true);
    // Past the bound: only rows read in the last maxStaleness.
    expect(coherence.minReadAtMs('users', 101_001)).toBe(100_001);
    expect(coherence.minReadAtMs('users', 105_000)).toBe(104_000);
    // The next poll (failing or not) drops the whole cache first.
    clock.now = 101_250;
    await expect(coherence.poll()).rejects.toThrow();
    expect(cache.clears).toBe(1);
    expect(coherence.stats()).toMatchObject({ wholeCacheDrops: 1, pollFailures: 5, behind: true });
    // The emptied cache may serve what it reads from now on, for the bound.
    expect(coherence.minReadAtMs('users', 101_300)).toBe(Number.NEGATIVE_INFINITY);

    tables.down = false;
    tables.log(101_300, 'users', 'x');
    clock.now = 101_400;
    await coherence.poll();
    expect(coherence.stats().behind).toBe(false);
    expect(coherence.minReadAtMs('users', 101_400)).toBe(Number.NEGATIVE_INFINITY);
    expect(cache.dropped).toContain(rowCacheKey(3, 'users', 'x'));
  });

  it('drops the whole cache when generations are first read after failed polls', async () => {
    const { clock, tables, cache, coherence } = replica();
    tables.down = true;
    await expect(coherence.poll()).rejects.toThrow();
    tables.down = false;
    clock.now = 100_250;
    await coherence.poll();
    expect(cache.clears).toBe(1);
  });

  it('polls with one query per bucket and one for generations', async () => {
    const { clock, tables, coherence } = replica(100_500);
    await coherence.poll();
    expect(tables.queries).toBe(2);
    clock.now = 100_750;
    await coherence.poll();
    expect(tables.queries).toBe(4);
  });

  it("compares its clock with Cassandra's and counts an offset past half the allowed skew", async () => {
    const { tables, coherence } = replica();
    await coherence.checkClock();
    expect(coherence.stats()).toMatchObject({ clock: { offsetMs: 0, uncertaintyMs: 0 }, clockSkewWarnings: 0 });
    tables.clockOffsetMs = -40;
    await coherence.checkClock();
    expect(coherence.stats()).toMatchObject({ clock: { offsetMs: -40 }, clockSkewWarnings: 1 });
  });
});
