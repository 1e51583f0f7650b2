import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { deadlineIn, streamWriteFeatures } from '../../src/client/index.js';
import type { Value } from '../../src/generated/cassette/v1/Value.js';
import type { WriteFeaturesRequest } from '../../src/generated/cassette/v1/WriteFeaturesRequest.js';
import { grpcError, startTestServer, ts, type TestServer } from '../helpers/server.js';

const REGISTRY = `
project: stream
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: item, join_key: item_id, type: string }
feature_views:
  - name: profile
    entities: [user]
    features:
      - { name: age, type: int32 }
      - { name: name, type: string }
      - { name: scores, type: double_list }
  - name: pair
    entities: [user, item]
    features:
      - { name: score, type: double }
  - name: fresh
    entities: [user]
    ttl: 60s
    features:
      - { name: clicks, type: int64 }
`;

const int64 = (v: number | string): Value => ({ int64_val: String(v) });
const profileRow = (user: number, age: number, name = `u${user}`) => ({
  entity_keys: { user_id: int64(user) },
  features: { age: { int32_val: age }, name: { string_val: name }, scores: { double_list_val: { val: [age / 2] } } },
});
const profiles = (users: number[], age: (user: number) => number = (u) => u % 100): WriteFeaturesRequest => ({
  feature_view: 'profile',
  rows: users.map((u) => profileRow(u, age(u))),
});
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('StreamWriteFeatures against a real Cassandra', () => {
  let t: TestServer;
  const stream = (messages: Iterable<WriteFeaturesRequest> | AsyncIterable<WriteFeaturesRequest>, timeoutMs = 60_000) =>
    streamWriteFeatures(t.clients.ingestion, messages, deadlineIn(timeoutMs));
  const ages = async (users: number[]) => {
    const response = await t.get({
      features: { val: ['profile:age'] },
      entities: { user_id: { val: users.map(int64) } },
    });
    return response.results[0]!.values.map((v, i) =>
      response.results[0]!.statuses[i] === 'PRESENT' ? v.int32_val : response.results[0]!.statuses[i],
    );
  };

  beforeAll(async () => {
    // A small write window, so every stream here runs into backpressure.
    t = await startTestServer('stream', REGISTRY, { ingest: { writeConcurrency: 4 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('writes every message of a stream, across views, and answers with the counts', async () => {
    const response = await stream([
      profiles(range(1, 5)),
      {
        feature_view: 'pair',
        rows: [
          {
            entity_keys: { user_id: int64(1), item_id: { string_val: 'a' } },
            features: { score: { double_val: 0.5 } },
          },
          {
            entity_keys: { user_id: int64(1), item_id: { string_val: 'b' } },
            features: { score: { double_val: 1.5 } },
          },
        ],
      },
      profiles(range(6, 5)),
      {
        feature_view: 'fresh',
        rows: [
          { entity_keys: { user_id: int64(1) }, features: { clicks: int64(7) } },
          // Past ttl and grace: accepted but not stored.
          { entity_keys: { user_id: int64(2) }, features: { clicks: int64(8) }, event_timestamp: ts(0) },
        ],
      },
    ]);
    expect(response).toEqual({
      rows_written: '13',
      rows_expired: '1',
      messages_received: '4',
      rows_received: '14',
      consistency_token: expect.any(String),
    });
    expect(await ages(range(1, 10))).toEqual(range(1, 10));
    const pair = await t.get({
      features: { val: ['pair:score'] },
      entities: {
        user_id: { val: [int64(1), int64(1)] },
        item_id: { val: [{ string_val: 'b' }, { string_val: 'a' }] },
      },
    });
    expect(pair.results[0]!.values.map((v) => v.double_val)).toEqual([1.5, 0.5]);
    const fresh = await t.get({
      features: { val: ['fresh:clicks'] },
      entities: { user_id: { val: [int64(1), int64(2)] } },
    });
    expect(fresh.results[0]!.statuses).toEqual(['PRESENT', 'NOT_FOUND']);
  });

  it('ends the stream at a bad message with INVALID_ARGUMENT, keeping the rows of the messages before it', async () => {
    const bad = profiles(range(220, 3));
    bad.rows![1]!.features!.age = { string_val: 'old' };
    const error = await grpcError(
      stream([profiles(range(200, 10)), profiles(range(210, 10)), bad, profiles(range(230, 5))]),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^messages\[2\]\.rows\[1\]\.features\["age"\]: /);
    expect(error.details).toContain('the 20 rows of the 2 messages before it were written');
    expect(await ages(range(200, 20))).toEqual(range(200, 20).map((u) => u % 100));
    // Nothing of the bad message, nor of the one after it.
    expect(await ages([220, 221, 222, 230])).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
  });

  it('names an unknown view, and a message over the row limit, by message index', async () => {
    const unknown = await grpcError(stream([profiles([300]), { feature_view: 'nope', rows: [] }]));
    expect(unknown.code).toBe(status.INVALID_ARGUMENT);
    expect(unknown.details).toMatch(/^messages\[1\]\.feature_view: unknown feature view "nope"/);
    expect(await ages([300])).toEqual([0]);
    const tooMany = await grpcError(stream([profiles(range(310, t.config.ingest.maxRowsPerRequest + 1))]));
    expect(tooMany.code).toBe(status.INVALID_ARGUMENT);
    expect(tooMany.details).toMatch(/^messages\[0\]\.rows: \d+ rows exceed the limit/);
  });

  it('keeps the serving cache correct: a read after a streamed write sees the new value', async () => {
    await t.write(profiles([400], () => 1));
    expect(await ages([400])).toEqual([1]);
    const before = t.server.core.cache.stats();
    expect(await ages([400])).toEqual([1]);
    expect(t.server.core.cache.stats().hits - before.hits).toBe(1);
    await stream([profiles([401], () => 5), profiles([400], () => 2)]);
    expect(await ages([400, 401])).toEqual([2, 5]);
  });

  it('writes rows of one entity batched together as if one by one: the newest event wins', async () => {
    // 40 rows of one user in shuffled event-time order: behind a window of 4 writes, most of them
    // go to Cassandra as batches of that partition, each row with its own timestamp.
    const base = Date.now() - 60_000;
    const order = range(0, 40).sort((a, b) => ((a * 7919) % 41) - ((b * 7919) % 41));
    const rows = order.map((i) => ({ ...profileRow(700, i), event_timestamp: ts(base + i * 10) }));
    const response = await stream([{ feature_view: 'profile', rows }]);
    expect(response).toMatchObject({ rows_written: '40', rows_received: '40' });
    const read = await t.get({ features: { val: ['profile:age'] }, entities: { user_id: { val: [int64(700)] } } });
    expect(read.results[0]!.values[0]!.int32_val).toBe(39);
    expect(Number(read.results[0]!.event_timestamps[0]!.seconds)).toBe(Math.floor((base + 390) / 1000));
  });

  it('completes a long stream through a small write window with exact counts', async () => {
    // 160 messages of 25 rows through a window of 4 writes: the server reads a message only when
    // the previous one's rows are all in the window (see test/unit/stream.test.ts for the bound).
    // 1,000 window-sized round trips: a couple of seconds on an idle machine, a minute on a busy one.
    const messages = 160;
    const perMessage = 25;
    async function* generate(): AsyncGenerator<WriteFeaturesRequest> {
      for (let m = 0; m < messages; m++) yield profiles(range(10_000 + m * perMessage, perMessage), (u) => u % 97);
    }
    const response = await stream(generate());
    expect(response).toEqual({
      rows_written: String(messages * perMessage),
      rows_expired: '0',
      messages_received: String(messages),
      rows_received: String(messages * perMessage),
      consistency_token: expect.any(String),
    });
    const sample = [10_000, 10_001, 12_345, 13_999];
    expect(await ages(sample)).toEqual(sample.map((u) => u % 97));
  }, 180_000);

  it('stops at the deadline of a stream the sender keeps open, and keeps serving', async () => {
    async function* stalled(): AsyncGenerator<WriteFeaturesRequest> {
      yield profiles([500]);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    const error = await grpcError(stream(stalled(), 300));
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    expect(await t.write(profiles([501]))).toMatchObject({ rows_written: '1' });
    expect(await ages([501])).toEqual([1]);
  });

  it('survives a sender that cancels mid-stream', async () => {
    const call = t.clients.ingestion.StreamWriteFeatures(deadlineIn(10_000), () => undefined);
    for (let m = 0; m < 20; m++) call.write(profiles(range(600 + m * 10, 10)));
    await new Promise((resolve) => setImmediate(resolve));
    call.cancel();
    // Whatever the server had read and started is written or not; the server keeps serving.
    expect(await t.write(profiles([599]))).toMatchObject({ rows_written: '1' });
    expect(await ages([599])).toEqual([99]);
  });
});
