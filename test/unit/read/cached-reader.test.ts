import { describe, expect, it } from 'vitest';

import type { ConfigInput } from '../../../src/config/index.js';
import {
  callWithin,
  driverTimeout,
  getFeatures,
  memoryServing,
  writeRequest,
  type MemoryServing,
} from '../../helpers/memory-store.js';
import { featuresRequest, int64, shopRegistry, users } from '../../helpers/serving-fixtures.js';

const BOUNDS: ConfigInput = { cassandra: { minDriverTimeoutMs: 100, requestTimeoutMs: 2_000 } };

const clicks = (...ids: number[]) => featuresRequest(['user_stats:clicks'], { user_id: users(...ids) });

async function writeClicks(core: MemoryServing, id: number, value: number, at = Date.now()): Promise<void> {
  await core.writer.writeFeatures(
    writeRequest('user_stats', [{ keys: { user_id: int64(id) }, features: { clicks: int64(value) }, at }]),
    callWithin(5_000),
  );
}

async function clicksOf(core: MemoryServing, id: number): Promise<string | undefined> {
  const response = await getFeatures(core, clicks(id));
  return response.results[0]!.values[0]!.int64_val ?? response.results[0]!.statuses[0];
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the read path over an in-memory store', () => {
  it('reads a row once, then answers from the cache, known-missing rows too', async () => {
    const core = memoryServing(shopRegistry, BOUNDS);
    await writeClicks(core, 1, 10);
    expect(await clicksOf(core, 1)).toBe('10');
    expect(await clicksOf(core, 1)).toBe('10');
    expect(await clicksOf(core, 2)).toBe('NOT_FOUND');
    expect(await clicksOf(core, 2)).toBe('NOT_FOUND');
    expect(core.store.reads.map((r) => r.key)).toEqual(['1', '2']);
    // Cached rows are whole rows (no projection), whatever was asked for.
    expect(core.store.reads[0]!.featureIndexes).toBeUndefined();
    expect(core.cache.stats()).toMatchObject({ hits: 2, misses: 2 });
  });

  it('without a cache reads every time, only the requested features', async () => {
    const core = memoryServing(shopRegistry, { ...BOUNDS, cache: { enabled: false } });
    await writeClicks(core, 1, 10);
    expect(await clicksOf(core, 1)).toBe('10');
    expect(await clicksOf(core, 1)).toBe('10');
    expect(core.store.reads.map((r) => r.featureIndexes)).toEqual([[0], [0]]);
  });

  it('serves a write through this core at once', async () => {
    const core = memoryServing(shopRegistry, BOUNDS);
    await writeClicks(core, 1, 10);
    expect(await clicksOf(core, 1)).toBe('10'); // now cached
    await writeClicks(core, 1, 11);
    expect(await clicksOf(core, 1)).toBe('11');
  });

  it('reads a row once for concurrent requests and for duplicates within one', async () => {
    const core = memoryServing(shopRegistry, BOUNDS);
    await writeClicks(core, 1, 10);
    const release = core.store.holdReads();
    const first = getFeatures(core, clicks(1, 1));
    const second = getFeatures(core, clicks(1));
    release();
    expect((await first).results[0]!.values.map((v) => v.int64_val)).toEqual(['10', '10']);
    expect((await second).results[0]!.values[0]!.int64_val).toBe('10');
    expect(core.store.reads).toHaveLength(1);
    expect(core.cache.stats()).toMatchObject({ misses: 1, coalesced: 1 });
  });

  it('does not let a read started before a write put its older row in the cache', async () => {
    const core = memoryServing(shopRegistry, BOUNDS);
    await writeClicks(core, 1, 10);
    const release = core.store.holdReads();
    const before = getFeatures(core, clicks(1));
    await writeClicks(core, 1, 11);
    release();
    // The read began before the write, so it may answer the old value...
    expect((await before).results[0]!.values[0]!.int64_val).toBe('10');
    // ...but the next request must not get it from the cache.
    expect(await clicksOf(core, 1)).toBe('11');
    expect(core.store.reads).toHaveLength(2);
  });

  it('fails with DEADLINE_EXCEEDED at the deadline, and reads nothing once it has passed', async () => {
    const core = memoryServing(shopRegistry, BOUNDS);
    const release = core.store.holdReads();
    const started = Date.now();
    await expect(getFeatures(core, clicks(1), callWithin(30))).rejects.toMatchObject({ status: 'DEADLINE_EXCEEDED' });
    expect(Date.now() - started).toBeLessThan(1_000);
    release();
    await settle();
    const reads = core.store.reads.length;
    await expect(getFeatures(core, clicks(2), callWithin(-1))).rejects.toMatchObject({ status: 'DEADLINE_EXCEEDED' });
    expect(core.store.reads).toHaveLength(reads);
  });

  it('gives the driver what is left of the deadline, within minDriverTimeoutMs and requestTimeoutMs', async () => {
    const core = memoryServing(shopRegistry, { ...BOUNDS, cache: { enabled: false } });
    await getFeatures(core, clicks(1), callWithin(60_000));
    await getFeatures(core, clicks(1), callWithin(50));
    await getFeatures(core, clicks(1), callWithin(1_000));
    const [far, near, between] = core.store.reads.map((r) => r.timeoutMs);
    expect(far).toBe(2_000);
    expect(near).toBe(100);
    expect(between).toBeGreaterThan(900);
    expect(between).toBeLessThanOrEqual(1_000);
    // Writes follow the same rule.
    await writeClicks(core, 1, 1);
    expect(core.store.writes[0]!.timeoutMs).toBeLessThanOrEqual(2_000);
    expect(core.store.writes[0]!.timeoutMs).toBeGreaterThan(1_900);
  });

  it('reads again when a joined read of another request timed out, but never retries its own', async () => {
    const core = memoryServing(shopRegistry, BOUNDS);
    await writeClicks(core, 1, 10);
    const release = core.store.holdReads();
    core.store.failNextReads(driverTimeout());
    const owner = getFeatures(core, clicks(1));
    const joiner = getFeatures(core, clicks(1));
    release();
    // The owner's own read timed out with time left on its deadline: the cluster was slow.
    await expect(owner).rejects.toMatchObject({ status: 'UNAVAILABLE' });
    expect((await joiner).results[0]!.values[0]!.int64_val).toBe('10');
    expect(core.store.reads).toHaveLength(2);
    expect(core.cache.stats().coalesced).toBe(1);
  });
});
