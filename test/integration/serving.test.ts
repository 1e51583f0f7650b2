import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { GetOnlineFeaturesRequest__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { Value } from '../../src/generated/cassette/v1/Value.js';
import type { Value__Output } from '../../src/generated/cassette/v1/Value.js';
import { healthStatus } from '../helpers/health.js';
import { grpcError, startTestServer, ts, type TestServer } from '../helpers/server.js';

const REGISTRY = `
project: itest
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: item, join_key: item_id, type: string }
  - { name: device, join_key: device_id, type: bytes }
feature_views:
  - name: all_types
    entities: [user]
    features:
      - { name: f_int32, type: int32 }
      - { name: f_int64, type: int64 }
      - { name: f_float, type: float }
      - { name: f_double, type: double }
      - { name: f_string, type: string }
      - { name: f_bytes, type: bytes }
      - { name: f_bool, type: bool }
      - { name: f_ts, type: unix_timestamp }
      - { name: f_int32_list, type: int32_list }
      - { name: f_int64_list, type: int64_list }
      - { name: f_float_list, type: float_list }
      - { name: f_double_list, type: double_list }
      - { name: f_string_list, type: string_list }
      - { name: f_bytes_list, type: bytes_list }
      - { name: f_bool_list, type: bool_list }
      - { name: f_ts_list, type: unix_timestamp_list }
  - name: pair
    entities: [user, item]
    features:
      - { name: score, type: double }
      - { name: label, type: string }
  - name: fresh
    entities: [user]
    ttl: 60s
    features:
      - { name: clicks, type: int64 }
  - name: by_device
    entities: [device]
    features:
      - { name: score, type: double }
feature_services:
  - name: svc
    features: [pair:score, all_types:f_string, fresh:clicks]
`;

const int64 = (v: string): Value => ({ int64_val: v });
const str = (v: string): Value => ({ string_val: v });
const users = (...ids: string[]) => ({ user_id: { val: ids.map(int64) } });

/** One value of every type, in the (input) form WriteFeatures takes. */
const EVERY_TYPE: Record<string, Value> = {
  f_int32: { int32_val: -2147483648 },
  f_int64: { int64_val: '9223372036854775807' },
  f_float: { float_val: 1.5 },
  f_double: { double_val: -1.25e300 },
  f_string: { string_val: 'naïve café ☕' },
  f_bytes: { bytes_val: Buffer.from([0, 1, 2, 255]) },
  f_bool: { bool_val: true },
  f_ts: { unix_timestamp_val: '1700000000' },
  f_int32_list: { int32_list_val: { val: [1, -2, 3] } },
  f_int64_list: { int64_list_val: { val: ['-9223372036854775808', '0', '42'] } },
  f_float_list: { float_list_val: { val: [0.5, -0.25, 3] } },
  f_double_list: { double_list_val: { val: [Math.PI, -Math.E] } },
  f_string_list: { string_list_val: { val: ['a', '', 'ü'] } },
  f_bytes_list: { bytes_list_val: { val: [Buffer.from('x'), Buffer.alloc(0)] } },
  f_bool_list: { bool_list_val: { val: [true, false] } },
  f_ts_list: { unix_timestamp_list_val: { val: ['0', '1700000000'] } },
};

/** The value as a decoded response carries it: the set oneof case and its content. */
function plain(value: Value__Output): unknown {
  if (!value.val) return undefined;
  const inner = value[value.val] as unknown;
  if (inner && typeof inner === 'object' && !Buffer.isBuffer(inner) && 'val' in inner) {
    return { [value.val]: (inner as { val: unknown[] }).val.map((v) => (Buffer.isBuffer(v) ? [...v] : v)) };
  }
  return { [value.val]: Buffer.isBuffer(inner) ? [...inner] : inner };
}

function expected(value: Value): unknown {
  const [kind, inner] = Object.entries(value)[0]!;
  if (inner && typeof inner === 'object' && !Buffer.isBuffer(inner) && 'val' in inner) {
    return { [kind]: (inner as { val: unknown[] }).val.map((v) => (Buffer.isBuffer(v) ? [...v] : v)) };
  }
  return { [kind]: Buffer.isBuffer(inner) ? [...inner] : inner };
}

describe('serving against a real Cassandra', () => {
  let t: TestServer;
  const eventTime = new Date(Date.now() - 60_000);

  beforeAll(async () => {
    t = await startTestServer('serving', REGISTRY);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reports SERVING (it is ready once started), and lists the registry', async () => {
    expect(await healthStatus(t.server.address)).toBe('SERVING');
    expect(await healthStatus(t.server.address, 'cassette.v1.FeatureServing')).toBe('SERVING');
    const views = await new Promise<{ feature_views: { name: string; ttl_seconds: string }[] }>((resolve, reject) =>
      t.clients.registry.ListFeatureViews({}, (e, r) => (e ? reject(e) : resolve(r as never))),
    );
    expect(views.feature_views.map((v) => v.name)).toEqual(['all_types', 'pair', 'fresh', 'by_device']);
    expect(views.feature_views.find((v) => v.name === 'fresh')?.ttl_seconds).toBe('60');
  });

  it('accepts connections with Nagle off (guards the grpc-js internals disableNagle relies on)', () => {
    const grpcServer = (t.server.transport as unknown as { server: { commonServerOptions?: { noDelay?: boolean } } })
      .server;
    expect(grpcServer.commonServerOptions?.noDelay).toBe(true);
  });

  it('writes and reads back every value type, with the event time as the timestamp', async () => {
    const written = await t.write({
      feature_view: 'all_types',
      rows: [{ entity_keys: { user_id: int64('1') }, features: EVERY_TYPE, event_timestamp: ts(eventTime) }],
    });
    expect(Number(written.rows_written)).toBe(1);

    const names = Object.keys(EVERY_TYPE);
    const response = await t.get({ features: { val: names.map((n) => `all_types:${n}`) }, entities: users('1') });
    expect(response.metadata?.feature_names?.val).toEqual(names);
    names.forEach((name, i) => {
      const vector = response.results[i]!;
      expect(vector.statuses).toEqual(['PRESENT']);
      expect(plain(vector.values[0]!), name).toEqual(expected(EVERY_TYPE[name]!));
      // Cassandra keeps microseconds; the event time had whole milliseconds.
      expect(Number(vector.event_timestamps[0]!.seconds)).toBe(Math.floor(eventTime.getTime() / 1000));
      expect(vector.event_timestamps[0]!.nanos).toBe((eventTime.getTime() % 1000) * 1e6);
    });

    // The event time really is Cassandra's write timestamp.
    const row = await t.session.execute(
      `SELECT WRITETIME(f_string) AS w FROM "${t.config.cassandra.keyspace}".all_types WHERE user_id = ?`,
      [1],
      { prepare: true },
    );
    expect(Number(row.first().get('w'))).toBe(eventTime.getTime() * 1000);
  });

  it('answers NOT_FOUND for missing entities and NULL_VALUE for cleared features', async () => {
    await t.write({
      feature_view: 'all_types',
      rows: [{ entity_keys: { user_id: int64('2') }, features: { f_string: str('x'), f_int32: { null_val: 'NULL' } } }],
    });
    const response = await t.get({
      features: { val: ['all_types:f_string', 'all_types:f_int32', 'all_types:f_bool'] },
      entities: users('2', '404'),
    });
    expect(response.results.map((r) => r.statuses)).toEqual([
      ['PRESENT', 'NOT_FOUND'],
      ['NULL_VALUE', 'NOT_FOUND'],
      ['NULL_VALUE', 'NOT_FOUND'],
    ]);
    expect(response.results[0]!.values[0]!.string_val).toBe('x');
    expect(response.results[0]!.values[1]!.val).toBeUndefined();
  });

  it('reads each distinct entity once and repeats it for duplicates, in request order', async () => {
    await t.write({
      feature_view: 'all_types',
      rows: ['10', '11'].map((id) => ({ entity_keys: { user_id: int64(id) }, features: { f_string: str(`u${id}`) } })),
    });
    t.server.core.cache.clear();
    const before = t.server.core.cache.stats();
    const response = await t.get({
      features: { val: ['all_types:f_string'] },
      entities: users('11', '10', '11', '11', '10'),
    });
    expect(response.results[0]!.values.map((v) => v.string_val)).toEqual(['u11', 'u10', 'u11', 'u11', 'u10']);
    const after = t.server.core.cache.stats();
    expect(after.misses - before.misses).toBe(2);
  });

  it('serves composite keys, feature services and full feature names', async () => {
    await t.write({
      feature_view: 'pair',
      rows: [
        {
          entity_keys: { user_id: int64('1'), item_id: str('a') },
          features: { score: { double_val: 0.5 }, label: str('1a') },
        },
        { entity_keys: { user_id: int64('1'), item_id: str('b') }, features: { score: { double_val: 0.75 } } },
      ],
    });
    const byFeatures = await t.get({
      features: { val: ['pair:label', 'pair:score'] },
      entities: {
        user_id: { val: [int64('1'), int64('1'), int64('2')] },
        item_id: { val: [str('a'), str('b'), str('a')] },
      },
    });
    expect(byFeatures.results[0]!.statuses).toEqual(['PRESENT', 'NULL_VALUE', 'NOT_FOUND']);
    expect(byFeatures.results[1]!.values.map((v) => v.double_val)).toEqual([0.5, 0.75, undefined]);

    const byService = await t.get({
      feature_service: 'svc',
      full_feature_names: true,
      entities: { user_id: { val: [int64('1')] }, item_id: { val: [str('b')] } },
    });
    expect(byService.metadata?.feature_names?.val).toEqual(['pair__score', 'all_types__f_string', 'fresh__clicks']);
    expect(byService.results[0]!.values[0]!.double_val).toBe(0.75);
    expect(byService.results[1]!.values[0]!.string_val).toBe('naïve café ☕');
    expect(byService.results[2]!.statuses).toEqual(['NOT_FOUND']);
  });

  it('serves bytes join keys', async () => {
    const device = { bytes_val: Buffer.from([0xde, 0xad, 0x00]) };
    await t.write({
      feature_view: 'by_device',
      rows: [{ entity_keys: { device_id: device }, features: { score: { double_val: 2 } } }],
    });
    const response = await t.get({
      features: { val: ['by_device:score'] },
      entities: { device_id: { val: [device] } },
    });
    expect(response.results[0]!.values[0]!.double_val).toBe(2);
  });

  it('reports values older than the view ttl as OUTSIDE_MAX_AGE', async () => {
    const now = Date.now();
    await t.write({
      feature_view: 'fresh',
      rows: [
        { entity_keys: { user_id: int64('20') }, features: { clicks: int64('5') }, event_timestamp: ts(now - 90_000) },
        { entity_keys: { user_id: int64('21') }, features: { clicks: int64('6') }, event_timestamp: ts(now - 10_000) },
      ],
    });
    const response = await t.get({ features: { val: ['fresh:clicks'] }, entities: users('20', '21') });
    expect(response.results[0]!.statuses).toEqual(['OUTSIDE_MAX_AGE', 'PRESENT']);
    // The stale value is still returned, so a caller may decide to use it.
    expect(response.results[0]!.values.map((v) => v.int64_val)).toEqual(['5', '6']);
  });

  it('keeps the newest event when an older one arrives late', async () => {
    const newer = Date.now() - 1_000;
    const older = newer - 30_000;
    const write = (value: string, at: number) =>
      t.write({
        feature_view: 'all_types',
        rows: [{ entity_keys: { user_id: int64('30') }, features: { f_string: str(value) }, event_timestamp: ts(at) }],
      });
    await write('new', newer);
    await write('old', older);
    const response = await t.get({ features: { val: ['all_types:f_string'] }, entities: users('30') });
    expect(response.results[0]!.values[0]!.string_val).toBe('new');
    expect(Number(response.results[0]!.event_timestamps[0]!.seconds)).toBe(Math.floor(newer / 1000));
  });

  it('serves repeated reads from the cache and sees a write through this server at once', async () => {
    await t.write({
      feature_view: 'all_types',
      rows: [{ entity_keys: { user_id: int64('40') }, features: { f_string: str('v1') } }],
    });
    const request = { features: { val: ['all_types:f_string'] }, entities: users('40') };
    expect((await t.get(request)).results[0]!.values[0]!.string_val).toBe('v1');
    const before = t.server.core.cache.stats();
    expect((await t.get(request)).results[0]!.values[0]!.string_val).toBe('v1');
    const afterHit = t.server.core.cache.stats();
    expect(afterHit.hits - before.hits).toBe(1);
    expect(afterHit.misses - before.misses).toBe(0);

    await t.write({
      feature_view: 'all_types',
      rows: [{ entity_keys: { user_id: int64('40') }, features: { f_string: str('v2') } }],
    });
    expect((await t.get(request)).results[0]!.values[0]!.string_val).toBe('v2');
  });

  it('keeps an empty list distinct from no value', async () => {
    await t.write({
      feature_view: 'all_types',
      rows: [{ entity_keys: { user_id: int64('3') }, features: { f_int32_list: { int32_list_val: { val: [] } } } }],
    });
    const response = await t.get({
      features: { val: ['all_types:f_int32_list', 'all_types:f_string_list'] },
      entities: users('3'),
    });
    expect(response.results[0]!.statuses).toEqual(['PRESENT']);
    expect(response.results[0]!.values[0]!.int32_list_val?.val).toEqual([]);
    expect(response.results[1]!.statuses).toEqual(['NULL_VALUE']);
  });

  it('enforces the deadline on the server side as well', async () => {
    const request: GetOnlineFeaturesRequest__Output = {
      kind: 'features',
      features: { val: ['all_types:f_string'] },
      entities: { user_id: { val: [{ val: 'int64_val', int64_val: '123456' }] } },
      full_feature_names: false,
    };
    await expect(
      t.server.core.reader.getOnlineFeatures(request, { deadline: Date.now() - 1, isCancelled: () => false }),
    ).rejects.toMatchObject({ status: 'DEADLINE_EXCEEDED' });
  });

  it('caches known-missing rows too', async () => {
    const request = { features: { val: ['all_types:f_string'] }, entities: users('999999') };
    await t.get(request);
    const before = t.server.core.cache.stats();
    expect((await t.get(request)).results[0]!.statuses).toEqual(['NOT_FOUND']);
    expect(t.server.core.cache.stats().hits - before.hits).toBe(1);
    // ...and a write makes the row appear at once.
    await t.write({
      feature_view: 'all_types',
      rows: [{ entity_keys: { user_id: int64('999999') }, features: { f_bool: { bool_val: false } } }],
    });
    expect((await t.get({ ...request, features: { val: ['all_types:f_bool'] } })).results[0]!.statuses).toEqual([
      'PRESENT',
    ]);
  });

  describe('bad input gets INVALID_ARGUMENT naming the problem', () => {
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      [
        'unknown view',
        () => t.get({ features: { val: ['nope:f'] }, entities: users('1') }),
        /features\[0\]: unknown feature view "nope"/,
      ],
      [
        'unknown feature',
        () => t.get({ features: { val: ['all_types:nope'] }, entities: users('1') }),
        /has no feature "nope"/,
      ],
      [
        'unknown service',
        () => t.get({ feature_service: 'nope', entities: users('1') }),
        /unknown feature service "nope"/,
      ],
      [
        'wrong entity type',
        () => t.get({ features: { val: ['all_types:f_bool'] }, entities: { user_id: { val: [str('x')] } } }),
        /entities\["user_id"\]\[0\]: expected int64, got string_val/,
      ],
      [
        'missing join key',
        () => t.get({ features: { val: ['pair:score'] }, entities: users('1') }),
        /needs join key "item_id"/,
      ],
      [
        'ragged columns',
        () =>
          t.get({
            features: { val: ['pair:score'] },
            entities: { user_id: { val: [int64('1')] }, item_id: { val: [str('a'), str('b')] } },
          }),
        /has 2 values but column "user_id" has 1/,
      ],
      [
        'batch over the limit',
        () =>
          t.get({
            features: { val: ['all_types:f_bool'] },
            entities: { user_id: { val: Array.from({ length: 1001 }, (_, i) => int64(String(i))) } },
          }),
        /exceeds the limit of 1000/,
      ],
      [
        'unknown write view',
        () => t.write({ feature_view: 'nope', rows: [] }),
        /feature_view: unknown feature view "nope"/,
      ],
      [
        'wrong write type',
        () =>
          t.write({
            feature_view: 'all_types',
            rows: [{ entity_keys: { user_id: int64('1') }, features: { f_int32: str('x') } }],
          }),
        /rows\[0\]\.features\["f_int32"\]: expected int32, got string_val/,
      ],
      [
        'missing write key',
        () =>
          t.write({
            feature_view: 'pair',
            rows: [{ entity_keys: { user_id: int64('1') }, features: { score: { double_val: 1 } } }],
          }),
        /rows\[0\]\.entity_keys: missing join key "item_id"/,
      ],
      [
        'future event',
        () =>
          t.write({
            feature_view: 'all_types',
            rows: [
              {
                entity_keys: { user_id: int64('1') },
                features: { f_bool: { bool_val: true } },
                event_timestamp: ts(Date.now() + 3_600_000),
              },
            ],
          }),
        /in the future/,
      ],
    ];
    it.each(cases)('%s', async (_name, run, message) => {
      const error = await grpcError(run());
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(message);
    });

    it('writes nothing from a request with one bad row', async () => {
      const error = await grpcError(
        t.write({
          feature_view: 'all_types',
          rows: [
            { entity_keys: { user_id: int64('50') }, features: { f_string: str('ok') } },
            { entity_keys: { user_id: int64('51') }, features: { f_int32: { int32_val: 1 }, f_bool: str('bad') } },
          ],
        }),
      );
      expect(error.details).toMatch(/rows\[1\]/);
      const response = await t.get({ features: { val: ['all_types:f_string'] }, entities: users('50') });
      expect(response.results[0]!.statuses).toEqual(['NOT_FOUND']);
    });
  });

  it("returns DEADLINE_EXCEEDED when the caller's deadline passes, and keeps serving", async () => {
    const big = {
      features: { val: ['all_types:f_string'] },
      entities: { user_id: { val: Array.from({ length: 1000 }, (_, i) => int64(String(100_000 + i))) } },
    };
    const error = await grpcError(t.get(big, 1));
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    const response = await t.get({ features: { val: ['all_types:f_string'] }, entities: users('40') });
    expect(response.results[0]!.values[0]!.string_val).toBe('v2');
  });
});
