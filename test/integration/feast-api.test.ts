/**
 * Feast's serving APIs on a real Cassette server over the test Cassandra: the gRPC service
 * feast.serving.ServingService, called by a grpc-js client built from Cassette's Feast protos, and
 * the HTTP/JSON API, called with fetch. Both must answer what Cassette's own API answers, in
 * Feast's layout, and the HTTP writes must land on Cassette's write path.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { GetOnlineFeaturesResponse__Output, Value } from '../../src/api/types.js';
import { call, deadlineIn } from '../../src/client/index.js';
import { parseFeastJson } from '../../src/feast/http/json-body.js';
import { loadFeastGrpcObject } from '../../src/feast/serving/grpc.js';
import type { GetFeastServingInfoResponse__Output } from '../../src/generated/feast/serving/GetFeastServingInfoResponse.js';
import type { GetOnlineFeaturesRequest as FeastRequest } from '../../src/generated/feast/serving/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output as FeastResponse } from '../../src/generated/feast/serving/GetOnlineFeaturesResponse.js';
import type { ServingServiceClient } from '../../src/generated/feast/serving/ServingService.js';
import { SHOP_YAML } from '../helpers/serving-fixtures.js';
import { grpcError, startTestServer, ts, type TestServer } from '../helpers/server.js';

const BIG_USER = '9007199254740993';
const HOUR = 3_600_000;

const int64 = (id: string | number): Value => ({ int64_val: String(id) });
const str = (s: string): Value => ({ string_val: s });

interface FeastJson {
  results: { values: unknown[]; statuses: string[]; event_timestamps?: string[] }[];
  metadata: { feature_names: string[] };
}

describe('Feast serving APIs (gRPC and HTTP) on a real server', () => {
  let server: TestServer;
  let feast: ServingServiceClient;
  let http: string;
  const now = Date.now();

  const feastGet = (request: FeastRequest): Promise<FeastResponse> =>
    call((cb) => feast.GetOnlineFeatures(request, deadlineIn(10_000), cb));

  const post = async (path: string, body: unknown): Promise<{ status: number; text: string }> => {
    const response = await fetch(`${http}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  };

  /** A Feast error body: a JSON string holding {module, class, message, code, ...}. */
  const feastError = (text: string): Record<string, string> =>
    JSON.parse(JSON.parse(text) as string) as Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer('feast_api', SHOP_YAML);
    const loaded = loadFeastGrpcObject();
    feast = new loaded.feast.serving.ServingService(server.server.address, grpc.credentials.createInsecure());
    http = `http://${server.server.httpAddress}`;
    await server.write({
      feature_view: 'user_stats',
      rows: [
        {
          entity_keys: { user_id: int64(1) },
          features: { clicks: int64(10), score: { double_val: 0.5 }, tags: { string_list_val: { val: ['a', 'b'] } } },
          event_timestamp: ts(now - HOUR),
        },
        {
          entity_keys: { user_id: int64(BIG_USER) },
          features: { clicks: int64('9007199254740995'), score: { null_val: 'NULL' } },
          event_timestamp: ts(now - 2 * HOUR),
        },
        // Older than the view's ttl (1d), still within the expiry grace: OUTSIDE_MAX_AGE.
        {
          entity_keys: { user_id: int64(3) },
          features: { clicks: int64(3), score: { double_val: 3 } },
          event_timestamp: ts(now - 24 * HOUR - 30 * 60_000),
        },
      ],
    });
    await server.write({
      feature_view: 'item_info',
      rows: [{ entity_keys: { item_id: str('i1') }, features: { price: { double_val: 9.99 } } }],
    });
  });

  afterAll(async () => {
    feast?.close();
    await server?.close();
  });

  const REFS = ['user_stats:clicks', 'item_info:price', 'user_stats:score', 'user_stats:tags'];
  const USERS = ['1', BIG_USER, '3', '404'];
  const ITEMS = ['i1', 'i1', 'nope', 'i1'];

  it('GetFeastServingInfo names the Feast API version', async () => {
    const info = await call<GetFeastServingInfoResponse__Output>((cb) =>
      feast.GetFeastServingInfo({}, deadlineIn(10_000), cb),
    );
    expect(info.version).toMatch(/^0\.67\.0 \(cassette /);
  });

  it('GetOnlineFeatures answers as Cassette does, join keys first and features grouped by view', async () => {
    const entities = { user_id: { val: USERS.map(int64) }, item_id: { val: ITEMS.map(str) } };
    const response = await feastGet({ features: { val: REFS }, entities, request_context: {} });
    const native: GetOnlineFeaturesResponse__Output = await server.get({ features: { val: REFS }, entities });

    expect(response.metadata?.feature_names?.val).toEqual(['user_id', 'item_id', 'clicks', 'score', 'tags', 'price']);
    const [users, items] = response.results;
    expect(users!.values.map((v) => v.int64_val)).toEqual(USERS);
    expect(items!.values.map((v) => v.string_val)).toEqual(ITEMS);
    for (const keys of [users!, items!]) {
      expect(keys.statuses).toEqual(['PRESENT', 'PRESENT', 'PRESENT', 'PRESENT']);
      expect(keys.event_timestamps.every((t) => Number(t.seconds) === 0 && t.nanos === 0)).toBe(true);
    }
    const nativeNames = native.metadata!.feature_names!.val;
    for (const [i, name] of response.metadata!.feature_names!.val.entries()) {
      if (i < 2) continue;
      const expected = native.results[nativeNames.indexOf(name)]!;
      const vector = response.results[i]!;
      expect(vector.values, name).toEqual(expected.values);
      expect(vector.statuses, name).toEqual(expected.statuses);
      expect(vector.event_timestamps, name).toEqual(expected.event_timestamps);
    }
    expect(response.results[2]!.values.map((v) => v.int64_val)).toEqual(['10', '9007199254740995', '3', undefined]);
    expect(response.results[3]!.statuses).toEqual(['PRESENT', 'NULL_VALUE', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
  });

  it('GetOnlineFeatures takes a feature service and full feature names, and names bad fields', async () => {
    const entities = { user_id: { val: [int64(1)] }, item_id: { val: [str('i1')] } };
    const service = await feastGet({ feature_service: 'ranker', entities, full_feature_names: true });
    expect(service.metadata?.feature_names?.val).toEqual([
      'user_id',
      'item_id',
      'user_item__affinity',
      'user_stats__clicks',
      'item_info__price',
    ]);
    const unknown = await grpcError(feastGet({ features: { val: ['user_stats:clicks', 'nope:x'] }, entities }));
    expect(unknown.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(unknown.details).toBe('features[1]: unknown feature view "nope"');
    const mapKey = await grpcError(
      feastGet({
        features: { val: ['user_stats:clicks'] },
        entities: { user_id: { val: [{ map_val: { val: {} } }] } },
      }),
    );
    expect(mapKey.details).toBe('entities["user_id"][0]: expected int64, got map_val');
  });

  it('POST /get-online-features answers what the gRPC service does, as feast serve writes JSON', async () => {
    // The big id is written as its digits, as Python writes an int.
    const body = `{"entities":{"user_id":[1,${BIG_USER},3,404],"item_id":["i1","i1","nope","i1"],"request_data":[1,2,3,4]},"features":${JSON.stringify(REFS)}}`;
    const { status, text } = await post('/get-online-features', body);
    expect(status).toBe(200);
    const json = parseFeastJson(text) as FeastJson;
    const grpcAnswer = await feastGet({
      features: { val: REFS },
      entities: { user_id: { val: USERS.map(int64) }, item_id: { val: ITEMS.map(str) } },
    });
    expect(json.metadata.feature_names).toEqual(grpcAnswer.metadata!.feature_names!.val);
    expect(json.results[0]!.values).toEqual([1, BIG_USER, 3, 404]);
    expect(json.results[2]!.values).toEqual([10, '9007199254740995', 3, null]);
    expect(text).toContain('"values":[10,9007199254740995,3,null]');
    for (const [i, vector] of grpcAnswer.results.entries()) {
      const result = json.results[i]!;
      expect(result.statuses).toEqual(vector.statuses);
      const millis = vector.event_timestamps.map((t) => Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
      expect(result.event_timestamps!.map((t) => Date.parse(t))).toEqual(millis);
    }
    // Doubles always carry a fraction, as Python writes them.
    expect(text).toContain('"values":[0.5,null,3.0,null]');
  });

  it('POST /write-to-online-store and /push write through Cassette, newest event wins, cache dropped', async () => {
    const read = async (): Promise<unknown[]> => {
      const { text } = await post('/get-online-features', {
        entities: { user_id: [77] },
        features: ['user_stats:clicks'],
      });
      return (JSON.parse(text) as FeastJson).results[1]!.values;
    };
    expect(await read()).toEqual([null]);
    const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '');
    let answer = await post('/write-to-online-store', {
      feature_view_name: 'user_stats',
      df: { user_id: [77], clicks: [5], event_timestamp: [iso(now - HOUR)], created: [null] },
    });
    expect(answer).toEqual({ status: 200, text: 'null' });
    expect(await read()).toEqual([5]);
    // An older event does not overwrite a newer one.
    answer = await post('/push', {
      push_source_name: 'user_stats',
      df: { user_id: [77], clicks: [4], event_timestamp: [iso(now - 2 * HOUR)] },
      to: 'online',
    });
    expect(answer.status).toBe(200);
    expect(await read()).toEqual([5]);
    await post('/push', {
      push_source_name: 'user_stats',
      df: { user_id: [77], clicks: [6], event_timestamp: [null] },
    });
    expect(await read()).toEqual([6]);
  });

  it('answers bad requests with 4xx naming the field, in the error format of feast serve', async () => {
    let answer = await post('/get-online-features', { entities: { user_id: 1 }, features: ['user_stats:clicks'] });
    expect(answer.status).toBe(400);
    expect(feastError(answer.text)).toMatchObject({
      module: 'feast.errors',
      class: 'FeastError',
      message: 'entities["user_id"]: must be array',
      field: 'entities["user_id"]',
    });
    answer = await post('/get-online-features', { entities: { user_id: [1] }, features: ['nope:x'] });
    expect(answer.status).toBe(404);
    expect(feastError(answer.text)).toMatchObject({
      class: 'FeatureViewNotFoundException',
      code: 'CST_ERR_UNKNOWN_FEATURE_VIEW',
    });
    answer = await post('/write-to-online-store', {
      feature_view_name: 'user_stats',
      df: { user_id: [1, 2], clicks: [1, 'x'] },
    });
    expect(answer.status).toBe(400);
    expect(feastError(answer.text).message).toBe('df["clicks"][1]: expected int64 (an integer), got "x"');
    answer = await post('/push', { push_source_name: 'driver_push', df: { user_id: [1], clicks: [1] } });
    expect(answer.status).toBe(422);
    expect(feastError(answer.text).class).toBe('PushSourceNotFoundException');
    answer = await post('/push', { push_source_name: 'user_stats', df: { user_id: [1], clicks: [1] }, to: 'offline' });
    expect(answer.status).toBe(400);
    expect(feastError(answer.text).field).toBe('to');
    answer = await post('/materialize', { start_ts: 'x', end_ts: 'y' });
    expect(answer.status).toBe(501);
    const health = await fetch(`${http}/health`);
    expect(health.status).toBe(200);
  });
});
