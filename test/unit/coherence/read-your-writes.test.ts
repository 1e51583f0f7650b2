import { describe, expect, it } from 'vitest';

import { RowCache, type ChangeLog } from '../../../src/cache/index.js';
import type { ChangedRow } from '../../../src/coherence/log-tables.js';
import type { CallContext } from '../../../src/concurrency/call.js';
import { loadConfig } from '../../../src/config/index.js';
import type { GetOnlineFeaturesRequest__Output } from '../../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import { createLogger } from '../../../src/observability/logger.js';
import { servedRowBytes } from '../../../src/read/cached-reader.js';
import type { CacheFreshness } from '../../../src/read/feature-reader.js';
import type { ServedRow } from '../../../src/read/wire.js';
import { assembleServing } from '../../../src/server/compose.js';
import { callWithin, getFeatures, MemoryStore, writeRequest } from '../../helpers/memory-store.js';
import { featuresRequest, int64, shopRegistry, users } from '../../helpers/serving-fixtures.js';

/** A change log that records what it is given and fails while `failing`. */
class RecordingLog implements ChangeLog {
  readonly rows: ChangedRow[] = [];
  readonly bumped: string[] = [];
  failing = false;
  async append(rows: readonly ChangedRow[]): Promise<void> {
    if (this.failing) throw new Error('log unavailable');
    this.rows.push(...rows);
  }
  async bumpGenerations(views: Iterable<string>): Promise<void> {
    this.bumped.push(...views);
  }
}

/** A serving core over `store`, as one replica of several sharing one Cassandra. */
function replica(store: MemoryStore, coherence?: { log: ChangeLog; freshness?: CacheFreshness }) {
  const config = loadConfig({ env: {}, overrides: { cassandra: { minDriverTimeoutMs: 100 } } });
  const cache = new RowCache<ServedRow>(config.cache, servedRowBytes);
  const registry = { current: { version: 1, registry: shopRegistry } };
  const pieces = assembleServing(store, registry, cache, config, createLogger('silent'), undefined, coherence);
  return { config, store, registry, ...pieces };
}
type Replica = ReturnType<typeof replica>;

async function writeClicks(core: Replica, id: number, clicks: number): Promise<number> {
  const response = await core.writer.writeFeatures(
    writeRequest('user_stats', [{ keys: { user_id: int64(id) }, features: { clicks: int64(clicks) } }]),
    callWithin(5_000),
  );
  return Number(response.consistency_token);
}

async function clicksOf(
  core: Replica,
  id: number,
  extra: Partial<GetOnlineFeaturesRequest__Output> = {},
  call: CallContext = callWithin(5_000),
) {
  const response = await getFeatures(
    core as never,
    { ...featuresRequest(['user_stats:clicks'], { user_id: users(id) }), ...extra },
    call,
  );
  return {
    clicks: response.results[0]!.values[0]!.int64_val,
    fromCache: response.from_cache,
    ageMs: response.age_ms.map(Number),
  };
}

describe('read-your-writes through another replica', () => {
  it('re-reads a cached row older than the consistency token, in the request or the metadata', async () => {
    const store = new MemoryStore();
    const a = replica(store);
    const b = replica(store);
    await writeClicks(a, 1, 10);
    expect((await clicksOf(b, 1)).clicks).toBe('10'); // now cached in b
    const token = await writeClicks(a, 1, 11);
    expect(token).toBeGreaterThan(0);
    // Without coherence (none here) and without the token, b keeps its cached row.
    expect((await clicksOf(b, 1)).clicks).toBe('10');
    expect((await clicksOf(b, 1, { min_write_time: String(token) })).clicks).toBe('11');
    // The re-read replaced the cached row.
    expect((await clicksOf(b, 1)).clicks).toBe('11');

    const token2 = await writeClicks(a, 1, 12);
    const viaMetadata = { ...callWithin(5_000), minWriteTime: String(token2) };
    expect((await clicksOf(b, 1, {}, viaMetadata)).clicks).toBe('12');
    expect(b.cache.stats().tooOld).toBeGreaterThanOrEqual(2);
  });

  it('refuses a malformed token INVALID_ARGUMENT', async () => {
    const b = replica(new MemoryStore());
    await expect(clicksOf(b, 1, { min_write_time: 'x' as never })).rejects.toMatchObject({
      status: 'INVALID_ARGUMENT',
    });
  });

  it('says, when asked, whether each entity row came from the cache and how old it is', async () => {
    const store = new MemoryStore();
    const a = replica(store);
    await writeClicks(a, 1, 10);
    const first = await clicksOf(a, 1, { include_freshness: true });
    expect(first.fromCache).toEqual([false]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const second = await clicksOf(a, 1, { include_freshness: true });
    expect(second.fromCache).toEqual([true]);
    expect(second.ageMs[0]).toBeGreaterThanOrEqual(25);
    const plain = await clicksOf(a, 1);
    expect(plain.fromCache).toEqual([]);
    expect(plain.ageMs).toEqual([]);
  });

  it('does not serve cached rows read before what coherence allows', async () => {
    const store = new MemoryStore();
    let floor = Number.NEGATIVE_INFINITY;
    const b = replica(store, { log: new RecordingLog(), freshness: { minReadAtMs: () => floor } });
    const a = replica(store);
    await writeClicks(a, 1, 10);
    expect((await clicksOf(b, 1)).clicks).toBe('10');
    await writeClicks(a, 1, 11);
    expect((await clicksOf(b, 1)).clicks).toBe('10');
    floor = Date.now() + 1; // after the cached read, even within the same millisecond
    expect((await clicksOf(b, 1)).clicks).toBe('11');
  });
});

describe('the write path and the invalidation log', () => {
  it('logs every written row before acknowledging, and answers a consistency token', async () => {
    const log = new RecordingLog();
    const a = replica(new MemoryStore(), { log });
    const before = Date.now() * 1000;
    const token = await writeClicks(a, 7, 1);
    expect(log.rows).toEqual([{ view: 'user_stats', key: '7' }]);
    expect(token).toBeGreaterThanOrEqual(before);
    expect(token).toBeLessThanOrEqual(Date.now() * 1000);
  });

  it('fails the call when the rows cannot be logged (they are written; a retry is safe)', async () => {
    const log = new RecordingLog();
    log.failing = true;
    const a = replica(new MemoryStore(), { log });
    await expect(writeClicks(a, 7, 1)).rejects.toThrow('log unavailable');
    expect(a.store.writes).toHaveLength(1);
  });

  it('bumps the view instead of logging keys past the per-call limit', async () => {
    const log = new RecordingLog();
    const a = replica(new MemoryStore(), { log });
    async function* messages() {
      for (let m = 0; m < 11; m++) {
        yield writeRequest(
          'user_stats',
          Array.from({ length: 1000 }, (_, i) => ({
            keys: { user_id: int64(m * 1000 + i) },
            features: { clicks: int64(1) },
          })),
        );
      }
    }
    await a.writer.streamWriteFeatures(messages(), { deadline: Number.POSITIVE_INFINITY, isCancelled: () => false });
    expect(log.rows).toHaveLength(10_000);
    expect(log.bumped).toEqual(['user_stats']);
  });
});
