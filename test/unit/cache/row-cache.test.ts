import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { estimateValueBytes, RowCache, type RowCacheOptions } from '../../../src/cache/index.js';

interface Row {
  readonly id: string;
  /** What sizeOf reports for this row. */
  readonly bytes: number;
}

const row = (id: string, bytes = 10): Row => ({ id, bytes });

function cache(options: Partial<RowCacheOptions> = {}): RowCache<Row> {
  return new RowCache<Row>({ enabled: true, maxBytes: 1_000_000, ttlMs: 60_000, ...options }, (r) => r.bytes);
}

/** A loader that counts its calls and returns the given rows in turn (the last one repeats). */
function loader(...results: (Row | null)[]): { load: () => Promise<Row | null>; calls: () => number } {
  let calls = 0;
  return {
    load: async () => results[Math.min(calls++, results.length - 1)] ?? null,
    calls: () => calls,
  };
}

/** A promise settled from outside, to hold a load in flight. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RowCache', () => {
  it('serves a hit after a miss, loading once', async () => {
    const c = cache();
    const l = loader(row('a'));
    expect(await c.get('k', l.load)).toEqual(row('a'));
    expect(await c.get('k', l.load)).toEqual(row('a'));
    expect(l.calls()).toBe(1);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, coalesced: 0, entries: 1 });
  });

  it('keeps keys apart', async () => {
    const c = cache();
    expect(await c.get(RowCache.key('v', '1'), async () => row('one'))).toEqual(row('one'));
    expect(await c.get(RowCache.key('v', '2'), async () => row('two'))).toEqual(row('two'));
    expect(await c.get(RowCache.key('w', '1'), async () => row('other view'))).toEqual(row('other view'));
    expect(c.stats().entries).toBe(3);
  });

  it('caches misses (null) too', async () => {
    const c = cache();
    const l = loader(null, row('late'));
    expect(await c.get('k', l.load)).toBeNull();
    expect(await c.get('k', l.load)).toBeNull();
    expect(l.calls()).toBe(1);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
    expect(c.stats().bytes).toBeGreaterThan(0);
  });

  it('shares one load between concurrent lookups', async () => {
    const c = cache();
    const pending = deferred<Row | null>();
    let calls = 0;
    const load = () => {
      calls++;
      return pending.promise;
    };
    const first = c.get('k', load);
    const second = c.get('k', load);
    const third = c.get('k', load);
    pending.resolve(row('a'));
    expect(await Promise.all([first, second, third])).toEqual([row('a'), row('a'), row('a')]);
    expect(calls).toBe(1);
    expect(c.stats()).toMatchObject({ misses: 1, coalesced: 2, hits: 0 });
    expect(await c.get('k', load)).toEqual(row('a'));
    expect(c.stats().hits).toBe(1);
  });

  it('does not cache a failed load', async () => {
    const c = cache();
    const pending = deferred<Row | null>();
    const failing = c.get('k', () => pending.promise);
    const joined = c.get('k', () => Promise.resolve(row('unused')));
    pending.reject(new Error('store down'));
    await expect(failing).rejects.toThrow('store down');
    await expect(joined).rejects.toThrow('store down');

    const l = loader(row('b'));
    expect(await c.get('k', l.load)).toEqual(row('b'));
    expect(l.calls()).toBe(1);
    expect(c.stats()).toMatchObject({ misses: 2, coalesced: 1 });
  });

  it('forgets an entry on invalidate', async () => {
    const c = cache();
    const l = loader(row('old'), row('new'));
    await c.get('k', l.load);
    c.invalidate('k');
    expect(await c.get('k', l.load)).toEqual(row('new'));
    expect(l.calls()).toBe(2);
    c.invalidate('never cached'); // harmless
  });

  it('with readBeforeMs, forgets only an entry or a load in flight that started before then', async () => {
    const c = cache();
    const l = loader(row('read'), row('again'));
    const before = Date.now();
    await c.get('k', l.load);
    c.invalidate('k', before); // read after the write: it already saw it
    expect(await c.get('k', l.load)).toEqual(row('read'));
    c.invalidate('k', Date.now() + 1); // read before the write: dropped
    expect(await c.get('k', l.load)).toEqual(row('again'));
    expect(l.calls()).toBe(2);

    const pending = deferred<Row | null>();
    const waiting = c.get('flight', () => pending.promise);
    c.invalidate('flight', before);
    expect(c.isLoading('flight')).toBe(true);
    c.invalidate('flight', Date.now() + 1);
    expect(c.isLoading('flight')).toBe(false);
    pending.resolve(row('pre-write'));
    await waiting;
  });

  it('does not let a load that was in flight during invalidate fill the cache', async () => {
    const c = cache();
    const pending = deferred<Row | null>();
    const waiting = c.get('k', () => pending.promise);
    c.invalidate('k'); // e.g. a write to this row while the read runs
    pending.resolve(row('pre-write'));
    expect(await waiting).toEqual(row('pre-write')); // the waiting caller still gets its answer

    const l = loader(row('post-write'));
    expect(await c.get('k', l.load)).toEqual(row('post-write'));
    expect(l.calls()).toBe(1);
    expect(await c.get('k', l.load)).toEqual(row('post-write'));
    expect(l.calls()).toBe(1);
  });

  it('starts a fresh load after invalidate, and the superseded load cannot overwrite its result', async () => {
    const c = cache();
    const old = deferred<Row | null>();
    const fresh = deferred<Row | null>();
    const before = c.get('k', () => old.promise);
    c.invalidate('k');
    let freshCalls = 0;
    const after = c.get('k', () => {
      freshCalls++;
      return fresh.promise;
    });
    expect(freshCalls).toBe(1); // not coalesced with the superseded read
    fresh.resolve(row('new'));
    expect(await after).toEqual(row('new'));
    old.resolve(row('old'));
    expect(await before).toEqual(row('old'));

    const l = loader(row('unexpected'));
    expect(await c.get('k', l.load)).toEqual(row('new'));
    expect(l.calls()).toBe(0);
  });

  it('does not let a superseded failure disturb a newer load', async () => {
    const c = cache();
    const old = deferred<Row | null>();
    const before = c.get('k', () => old.promise);
    c.invalidate('k');
    const fresh = deferred<Row | null>();
    const after = c.get('k', () => fresh.promise);
    old.reject(new Error('old read failed'));
    await expect(before).rejects.toThrow('old read failed');
    // The fresh read is still the one in flight: a new lookup joins it.
    const joined = c.get('k', () => Promise.resolve(row('unexpected')));
    fresh.resolve(row('new'));
    expect(await after).toEqual(row('new'));
    expect(await joined).toEqual(row('new'));
  });

  it('clear() forgets every entry and every load in flight', async () => {
    const c = cache();
    await c.get('a', async () => row('a'));
    await c.get('b', async () => null);
    const pending = deferred<Row | null>();
    const waiting = c.get('c', () => pending.promise);
    c.clear();
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
    pending.resolve(row('c'));
    expect(await waiting).toEqual(row('c'));

    const l = loader(row('x'));
    await c.get('a', l.load);
    await c.get('b', l.load);
    await c.get('c', l.load);
    expect(l.calls()).toBe(3);
  });

  it('expires entries after ttlMs', async () => {
    const c = cache({ ttlMs: 20 });
    const l = loader(row('first'), row('second'));
    expect(await c.get('k', l.load)).toEqual(row('first'));
    // lru-cache reads the real performance.now(), so fake timers cannot move it: wait it out.
    await sleep(80);
    expect(await c.get('k', l.load)).toEqual(row('second'));
    expect(l.calls()).toBe(2);
  });

  it('expires cached misses after ttlMs', async () => {
    const c = cache({ ttlMs: 20 });
    const l = loader(null, row('appeared'));
    expect(await c.get('k', l.load)).toBeNull();
    await sleep(80);
    expect(await c.get('k', l.load)).toEqual(row('appeared'));
  });

  it('stays within maxBytes, evicting the least recently used entry', async () => {
    // Each entry costs key.length * 2 + 64 + sizeOf(row) = 4 + 64 + 232 = 300 bytes.
    const c = cache({ maxBytes: 1000 });
    const put = (key: string) => c.get(key, async () => row(key, 232));
    await put('k1');
    await put('k2');
    await put('k3');
    expect(c.stats()).toMatchObject({ entries: 3, bytes: 900 });

    await put('k1'); // a hit: k1 becomes the most recently used
    await put('k4'); // evicts k2, the least recently used
    expect(c.stats().bytes).toBeLessThanOrEqual(1000);
    expect(c.stats().entries).toBe(3);

    const l = loader(row('reloaded', 232));
    for (const kept of ['k1', 'k3', 'k4']) await c.get(kept, l.load);
    expect(l.calls()).toBe(0);
    expect(await c.get('k2', l.load)).toEqual(row('reloaded', 232));
    expect(l.calls()).toBe(1);
    expect(c.stats().bytes).toBeLessThanOrEqual(1000);
  });

  it('never holds more than maxBytes however many rows go in', async () => {
    const c = cache({ maxBytes: 5000 });
    for (let i = 0; i < 200; i++) {
      await c.get(`key-${i}`, async () => row(String(i), 50 + (i % 7) * 100));
      expect(c.stats().bytes).toBeLessThanOrEqual(5000);
    }
    expect(c.stats().entries).toBeGreaterThan(0);
    expect(c.stats().entries).toBeLessThan(200);
  });

  it('does not cache a row larger than maxBytes, but still returns it', async () => {
    const c = cache({ maxBytes: 500 });
    const l = loader(row('huge', 10_000));
    expect(await c.get('k', l.load)).toEqual(row('huge', 10_000));
    expect(await c.get('k', l.load)).toEqual(row('huge', 10_000));
    expect(l.calls()).toBe(2);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('always calls the loader when disabled', async () => {
    const c = cache({ enabled: false });
    expect(c.enabled).toBe(false);
    const l = loader(row('a'), null, row('c'));
    expect(await c.get('k', l.load)).toEqual(row('a'));
    expect(await c.get('k', l.load)).toBeNull();
    await Promise.all([c.get('k', l.load), c.get('k', l.load)]);
    expect(l.calls()).toBe(4);
    expect(c.stats()).toEqual({ hits: 0, misses: 0, coalesced: 0, tooOld: 0, evictions: 0, entries: 0, bytes: 0 });
    c.invalidate('k');
    c.clear();
  });

  it('reports enabled when on', () => {
    expect(cache().enabled).toBe(true);
  });

  it('builds distinct keys for different views and entities', () => {
    expect(RowCache.key('v', '"a"')).not.toBe(RowCache.key('v', '"b"'));
    expect(RowCache.key('v1', '1')).not.toBe(RowCache.key('v', '11'));
  });
});

describe('estimateValueBytes', () => {
  it('gives fixed sizes to null and scalars', () => {
    expect(estimateValueBytes(null)).toBe(8);
    expect(estimateValueBytes(undefined)).toBe(8);
    expect(estimateValueBytes(42)).toBe(8);
    expect(estimateValueBytes(true)).toBe(8);
    expect(estimateValueBytes(new Date(0))).toBe(32);
    expect(estimateValueBytes(cassandra.types.Long.fromInt(1))).toBe(32);
  });

  it('grows with string length', () => {
    expect(estimateValueBytes('')).toBeGreaterThan(0);
    expect(estimateValueBytes('abcd')).toBeGreaterThan(estimateValueBytes('ab'));
    expect(estimateValueBytes('x'.repeat(1000)) - estimateValueBytes('')).toBe(2000);
  });

  it('grows with buffer length', () => {
    expect(estimateValueBytes(Buffer.alloc(100))).toBeGreaterThan(estimateValueBytes(Buffer.alloc(10)));
    expect(estimateValueBytes(Buffer.alloc(1000)) - estimateValueBytes(Buffer.alloc(0))).toBe(1000);
  });

  it('grows with array length and element size', () => {
    const empty = estimateValueBytes([]);
    expect(estimateValueBytes([1, 2, 3])).toBe(empty + 3 * 8);
    expect(estimateValueBytes(['a', 'bbbbbbbb'])).toBeGreaterThan(estimateValueBytes(['a', 'b']));
    expect(estimateValueBytes([Buffer.alloc(64)])).toBeGreaterThan(estimateValueBytes([Buffer.alloc(1)]));
    expect(estimateValueBytes(new Array(32).fill(0.5))).toBeGreaterThan(estimateValueBytes(new Array(4).fill(0.5)));
  });
});

describe('RowCache.peek', () => {
  it('answers from memory only: a row, null for a known-missing row, undefined otherwise', async () => {
    const c = cache();
    expect(c.peek('k')).toBeUndefined();
    await c.get('k', loader(row('a')).load);
    await c.get('gone', loader(null).load);
    const before = c.stats().hits;
    expect(c.peek('k')).toEqual(row('a'));
    expect(c.peek('gone')).toBeNull();
    expect(c.stats().hits - before).toBe(2);
    expect(cache({ enabled: false }).peek('k')).toBeUndefined();
  });
});
