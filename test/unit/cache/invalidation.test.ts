import { afterEach, describe, expect, it, vi } from 'vitest';

import { CacheInvalidation, RowCache, rowCacheKey, type PeerCaches } from '../../../src/cache/index.js';

const ROW = { n: 1 };

function setup(options: { version?: number; peers?: PeerCaches } = {}) {
  const cache = new RowCache<typeof ROW>({ enabled: true, maxBytes: 1 << 20, ttlMs: 60_000 }, () => 8);
  const registry = { current: { version: options.version ?? 1 } };
  const invalidation = new CacheInvalidation(cache, registry, options.peers, 1_000);
  /** Caches ROW under `key` (as a read would) and says whether it is cached. */
  const fill = async (key: string) => void (await cache.get(key, async () => ROW));
  const cached = (key: string) => cache.peek(key) !== undefined;
  return { cache, registry, invalidation, fill, cached };
}

/** Sibling workers that record the keys they were told to drop. */
function recordingPeers(): PeerCaches & { batches: string[][] } {
  const batches: string[][] = [];
  return { batches, invalidate: async (keys) => void batches.push([...keys]) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('CacheInvalidation', () => {
  it('scopes cache keys by registry version, view and entity', () => {
    expect(rowCacheKey(1, 'v', 'k')).not.toBe(rowCacheKey(2, 'v', 'k'));
    expect(rowCacheKey(1, 'v', 'k')).not.toBe(rowCacheKey(1, 'w', 'k'));
    expect(rowCacheKey(1, 'v', 'k')).toBe(rowCacheKey(1, 'v', 'k'));
  });

  it('drops a written row here and in the sibling workers before the call is acknowledged', async () => {
    const peers = recordingPeers();
    const { invalidation, fill, cached } = setup({ peers });
    const key = rowCacheKey(1, 'v', 'k');
    await fill(key);
    const call = invalidation.forCall(Number.POSITIVE_INFINITY);
    call.rowSettled(1, 'v', 'k', false);
    expect(cached(key)).toBe(false);
    expect(peers.batches).toEqual([]); // batched until the call flushes
    await call.flush();
    expect(peers.batches).toEqual([[key]]);
  });

  it('drops the row under the version serving now as well, when the registry changed meanwhile', async () => {
    const peers = recordingPeers();
    const { invalidation, fill, cached } = setup({ version: 2, peers });
    const [old, now] = [rowCacheKey(1, 'v', 'k'), rowCacheKey(2, 'v', 'k')];
    await fill(old);
    await fill(now);
    const call = invalidation.forCall(Number.POSITIVE_INFINITY);
    call.rowSettled(1, 'v', 'k', false);
    await call.flush();
    expect([cached(old), cached(now)]).toEqual([false, false]);
    expect(peers.batches).toEqual([[old, now]]);
  });

  it('drops a row again once a write the driver gave up on can no longer be applied late', async () => {
    vi.useFakeTimers();
    const peers = recordingPeers();
    const { invalidation, fill, cached } = setup({ peers });
    const key = rowCacheKey(1, 'v', 'k');
    const call = invalidation.forCall(Number.POSITIVE_INFINITY);
    call.rowSettled(1, 'v', 'k', true);
    await call.flush();
    // A read in between caches what Cassandra held before the late write landed.
    await fill(key);
    await vi.advanceTimersByTimeAsync(999);
    expect(cached(key)).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(cached(key)).toBe(false);
    expect(peers.batches).toEqual([[key], [key]]);
  });

  it('sends sibling workers the keys of a long call in batches as they come', async () => {
    const peers = recordingPeers();
    const { invalidation } = setup({ peers });
    const call = invalidation.forCall(Number.POSITIVE_INFINITY);
    for (let i = 0; i < 1500; i++) call.rowSettled(1, 'v', String(i), false);
    expect(peers.batches.map((b) => b.length)).toEqual([1024]);
    await call.flush();
    expect(peers.batches.map((b) => b.length)).toEqual([1024, 476]);
  });

  it('drops keys a sibling worker wrote', async () => {
    const { invalidation, fill, cached } = setup();
    const key = rowCacheKey(1, 'v', 'k');
    await fill(key);
    invalidation.dropLocal([key]);
    expect(cached(key)).toBe(false);
  });
});
