import { describe, expect, it } from 'vitest';

import { rowCacheKey, type PeerCaches } from '../../../src/cache/index.js';
import type { WriteFeaturesRequest__Output } from '../../../src/generated/cassette/v1/WriteFeaturesRequest.js';
import { callWithin, memoryServing, writeRequest } from '../../helpers/memory-store.js';
import { int64, shopRegistry, str } from '../../helpers/serving-fixtures.js';

const DAY_MS = 86_400_000;

const userRow = (id: number, clicks: number, at?: number) => ({
  keys: { user_id: int64(id) },
  features: { clicks: int64(clicks) },
  ...(at === undefined ? {} : { at }),
});

async function* messages(...list: WriteFeaturesRequest__Output[]): AsyncIterable<WriteFeaturesRequest__Output> {
  yield* list;
}

describe('FeatureWriter over an in-memory store', () => {
  it('writes the valid rows and counts those already past ttl and grace', async () => {
    const core = memoryServing(shopRegistry);
    const now = Date.now();
    const response = await core.writer.writeFeatures(
      writeRequest('user_stats', [userRow(1, 1, now), userRow(2, 2, now - 3 * DAY_MS)]),
      callWithin(5_000),
    );
    expect(response).toEqual({
      rows_written: 1,
      rows_expired: 1,
      messages_received: 1,
      rows_received: 2,
      consistency_token: expect.any(Number),
    });
    expect(core.store.writes.map((w) => w.key)).toEqual(['1']);
  });

  it('refuses a request with one bad row and writes nothing of it', async () => {
    const core = memoryServing(shopRegistry);
    const request = writeRequest('user_stats', [
      userRow(1, 1),
      { keys: { user_id: int64(2) }, features: { clicks: str('many') } },
    ]);
    await expect(core.writer.writeFeatures(request, callWithin(5_000))).rejects.toMatchObject({
      status: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^rows\[1\]\.features\["clicks"\]/),
    });
    await expect(
      core.writer.writeFeatures(writeRequest('nope', [userRow(1, 1)]), callWithin(5_000)),
    ).rejects.toMatchObject({ status: 'INVALID_ARGUMENT', message: expect.stringMatching(/^feature_view: unknown/) });
    expect(core.store.writes).toEqual([]);
  });

  it('refuses more rows than maxRowsPerRequest', async () => {
    const core = memoryServing(shopRegistry, { ingest: { maxRowsPerRequest: 2 } });
    const request = writeRequest('user_stats', [userRow(1, 1), userRow(2, 2), userRow(3, 3)]);
    await expect(core.writer.writeFeatures(request, callWithin(5_000))).rejects.toMatchObject({
      status: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^rows: 3 rows exceed the limit of 2 per request/),
    });
  });

  it('acknowledges only once the sibling workers dropped the written rows', async () => {
    const dropped: string[] = [];
    let answer!: () => void;
    const peers: PeerCaches = {
      invalidate: (keys) =>
        new Promise<void>((resolve) => {
          answer = () => {
            dropped.push(...keys);
            resolve();
          };
        }),
    };
    const core = memoryServing(shopRegistry, {}, peers);
    let acknowledged = false;
    const write = core.writer.writeFeatures(writeRequest('user_stats', [userRow(7, 1)]), callWithin(5_000));
    void write.then(() => (acknowledged = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(acknowledged).toBe(false);
    answer();
    await write;
    expect(dropped).toEqual([rowCacheKey(1, 'user_stats', '7')]);
  });

  it('writes a stream of messages and counts them all', async () => {
    const core = memoryServing(shopRegistry);
    const response = await core.writer.streamWriteFeatures(
      messages(
        writeRequest('user_stats', [userRow(1, 1), userRow(2, 2)]),
        writeRequest('item_info', [
          { keys: { item_id: str('a') }, features: { price: { val: 'double_val', double_val: 1.5 } } },
        ]),
      ),
      { deadline: Number.POSITIVE_INFINITY, isCancelled: () => false },
    );
    expect(response).toEqual({
      rows_written: 3,
      rows_expired: 0,
      messages_received: 2,
      rows_received: 3,
      consistency_token: expect.any(Number),
    });
    expect(core.store.writes.map((w) => `${w.view}:${w.key}`)).toEqual([
      'user_stats:1',
      'user_stats:2',
      'item_info:"a"',
    ]);
  });
});
