import { describe, expect, it } from 'vitest';

import {
  AppliedEntries,
  clockOffset,
  exceedsSkew,
  LagHistogram,
  LAG_BUCKETS_MS,
  logBucketOf,
  logBucketsBetween,
  LogPosition,
} from '../../../src/coherence/window.js';

const settings = { maxStalenessMs: 1000, maxClockSkewMs: 50, logWriteBudgetMs: 200 };

describe('log buckets', () => {
  it('puts a stamp in the one-second bucket it falls in', () => {
    expect(logBucketOf(0)).toBe(0);
    expect(logBucketOf(999_999)).toBe(0);
    expect(logBucketOf(1_000_000)).toBe(1);
    expect(logBucketOf(1_700_000_123_456_789)).toBe(1_700_000_123);
  });

  it('lists every bucket between two stamps, both ends included', () => {
    expect(logBucketsBetween(1_200_000, 1_900_000)).toEqual([1]);
    expect(logBucketsBetween(1_900_000, 2_100_000)).toEqual([1, 2]);
    expect(logBucketsBetween(900_000, 3_000_000)).toEqual([0, 1, 2, 3]);
    expect(logBucketsBetween(2_000_000, 1_000_000)).toEqual([]);
  });
});

describe('LogPosition', () => {
  it('reads back from the last applied poll by the write budget and the clock skew', () => {
    const position = new LogPosition(settings, 10_000);
    expect(position.window(10_250)).toEqual({ fromMicros: (10_000 - 250) * 1000, toMicros: (10_250 + 50) * 1000 });
    position.applied(10_250);
    expect(position.window(10_500).fromMicros).toBe((10_250 - 250) * 1000);
  });

  it('a window covers any entry that became visible after the last applied poll', () => {
    // Writer clock 50 ms behind ours: stamped at our 10_100 - 200 (budget) - 50 (skew), visible at 10_100.
    const position = new LogPosition(settings, 10_000);
    const stampOnWriterClock = 10_100 - settings.logWriteBudgetMs - settings.maxClockSkewMs;
    expect(position.window(10_250).fromMicros).toBeLessThanOrEqual(stampOnWriterClock * 1000);
    // And a writer 50 ms ahead stamps up to now + skew.
    expect(position.window(10_250).toMicros).toBe((10_250 + 50) * 1000);
  });

  it('serves any cached row while polls are applied within the bound', () => {
    const position = new LogPosition(settings, 10_000);
    expect(position.minReadAtMs(10_000)).toBe(Number.NEGATIVE_INFINITY);
    expect(position.minReadAtMs(11_000)).toBe(Number.NEGATIVE_INFINITY);
    expect(position.isBehind(11_000)).toBe(false);
  });

  it('once behind, serves only rows read within the bound', () => {
    const position = new LogPosition(settings, 10_000);
    expect(position.isBehind(11_001)).toBe(true);
    expect(position.minReadAtMs(11_001)).toBe(10_001);
    expect(position.minReadAtMs(15_000)).toBe(14_000);
    position.applied(14_900);
    expect(position.isBehind(15_000)).toBe(false);
    expect(position.minReadAtMs(15_000)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('an emptied cache counts as applied up to the moment it was emptied, and never moves back', () => {
    const position = new LogPosition(settings, 10_000);
    position.emptied(20_000);
    expect(position.coveredUntil).toBe(20_000);
    position.applied(19_000); // a poll that started before the cache was emptied
    expect(position.coveredUntil).toBe(20_000);
    expect(position.window(20_100).fromMicros).toBe((20_000 - 250) * 1000);
  });
});

describe('AppliedEntries', () => {
  it('applies an entry read by two overlapping polls once, and forgets it once out of every window', () => {
    const applied = new AppliedEntries();
    expect(applied.firstTime('a', 100)).toBe(true);
    expect(applied.firstTime('a', 100)).toBe(false);
    expect(applied.firstTime('b', 200)).toBe(true);
    applied.forgetBefore(150);
    expect(applied.size).toBe(1);
    expect(applied.firstTime('b', 200)).toBe(false);
  });
});

describe('LagHistogram', () => {
  it('counts each lag in the first bucket that holds it, negative lags (clock skew) as 0', () => {
    const lag = new LagHistogram();
    lag.record(-3);
    lag.record(7);
    lag.record(100);
    lag.record(99_999);
    expect(lag.count).toBe(4);
    expect(lag.maxMs).toBe(99_999);
    expect(lag.sumMs).toBe(0 + 7 + 100 + 99_999);
    expect(lag.buckets[0]).toBe(1);
    expect(lag.buckets[LAG_BUCKETS_MS.indexOf(10)]).toBe(1);
    expect(lag.buckets[LAG_BUCKETS_MS.indexOf(100)]).toBe(1);
    expect(lag.buckets[LAG_BUCKETS_MS.length]).toBe(1);
  });
});

describe('clock offsets', () => {
  it("takes Cassandra's reading to be from the middle of the round trip", () => {
    expect(clockOffset(1000, 1040, 1020)).toEqual({ offsetMs: 30, uncertaintyMs: 10 });
    expect(clockOffset(1000, 990, 1000)).toEqual({ offsetMs: -10, uncertaintyMs: 0 });
  });

  it('warns only about an offset certainly beyond half the allowed skew', () => {
    expect(exceedsSkew({ offsetMs: 26, uncertaintyMs: 0 }, 50)).toBe(true);
    expect(exceedsSkew({ offsetMs: -26, uncertaintyMs: 0 }, 50)).toBe(true);
    expect(exceedsSkew({ offsetMs: 25, uncertaintyMs: 0 }, 50)).toBe(false);
    expect(exceedsSkew({ offsetMs: 40, uncertaintyMs: 20 }, 50)).toBe(false);
  });
});
