import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { encodeFeastJson, feastTimestampText, jsonTextOf } from '../../../src/feast/http/json-response.js';
import { feastServingDefinition } from '../../../src/feast/serving/grpc.js';
import { planFeastJsonLookup } from '../../../src/feast/serving/plan.js';
import type { GetOnlineFeaturesResponse__Output as FeastResponse } from '../../../src/generated/feast/serving/GetOnlineFeaturesResponse.js';
import { encodeCells, encodeResponse, type ServedRow } from '../../../src/read/wire.js';
import { shopRegistry } from '../../helpers/serving-fixtures.js';

const Long = cassandra.types.Long;
const NOW = 1_700_000_000_000_000;
const T = NOW - 1_500_000; // 1.5 s earlier: a fraction of a second

const decode = (bytes: Buffer): FeastResponse =>
  feastServingDefinition().GetOnlineFeatures.responseDeserialize(bytes) as FeastResponse;

const plan = planFeastJsonLookup(
  shopRegistry,
  {
    entities: { user_id: [1, '9007199254740993', 1], item_id: ['a', 'b', 'a'] },
    features: ['user_stats:clicks', 'item_info:price', 'user_stats:score'],
  },
  { maxBatchSize: 10 },
);
const userStats = shopRegistry.featureViews.get('user_stats')!;
const row = (values: ServedRow['values'], micros: number): ServedRow => ({
  values,
  writeTimesMicros: new Float64Array(values.length).fill(micros),
});
// Slot 0: user_stats (keys 1, big); slot 1: item_info (keys a, b).
const userRow = row([Long.fromString('9007199254740995'), 3, ['x']], T);
const rows = [
  [userRow, null],
  [row([9.5, null], NOW), null],
];

describe('Feast GetOnlineFeaturesResponse bytes (the shared encoder with join key columns)', () => {
  it('puts the join keys first (PRESENT, at the epoch), then the features in Feast’s order', () => {
    const response = decode(encodeResponse(plan, rows, NOW));
    expect(response.metadata?.feature_names?.val).toEqual(['user_id', 'item_id', 'clicks', 'score', 'price']);
    const [users, items, clicks, score, price] = response.results;
    expect(users!.values.map((v) => v.int64_val)).toEqual(['1', '9007199254740993', '1']);
    expect(items!.values.map((v) => v.string_val)).toEqual(['a', 'b', 'a']);
    expect(users!.statuses).toEqual(['PRESENT', 'PRESENT', 'PRESENT']);
    expect(items!.event_timestamps).toEqual([0, 1, 2].map(() => ({ seconds: '0', nanos: 0 })));
    expect(clicks!.values.map((v) => v.int64_val)).toEqual(['9007199254740995', undefined, '9007199254740995']);
    expect(clicks!.statuses).toEqual(['PRESENT', 'NOT_FOUND', 'PRESENT']);
    expect(score!.values.map((v) => v.double_val)).toEqual([3, undefined, 3]);
    expect(price!.values.map((v) => v.double_val)).toEqual([9.5, undefined, 9.5]);
  });

  it('writes the same bytes from cached rows, and Cassette’s own bytes are unchanged without key columns', () => {
    const cached = [[{ ...userRow, cells: encodeCells(userStats, userRow) }, null], rows[1]!];
    expect(encodeResponse(plan, cached, NOW).equals(encodeResponse(plan, rows, NOW))).toBe(true);
    const { keyColumns: _ignored, ...plain } = plan;
    expect(encodeResponse({ ...plan, keyColumns: [] }, rows, NOW).equals(encodeResponse(plain, rows, NOW))).toBe(true);
  });
});

describe('Feast JSON response', () => {
  it('holds what the bytes hold, in the shape feast serve writes', () => {
    const text = encodeFeastJson(plan, rows, NOW);
    const json = JSON.parse(text) as {
      results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[];
      metadata: { feature_names: string[] };
    };
    const bytes = decode(encodeResponse(plan, rows, NOW));
    expect(json.metadata.feature_names).toEqual(bytes.metadata?.feature_names?.val);
    expect(json.results.map((r) => r.statuses)).toEqual(bytes.results.map((r) => r.statuses));
    expect(text).toContain('{"values":[1,9007199254740993,1],"statuses":["PRESENT","PRESENT","PRESENT"]');
    expect(text).toContain('"values":[9007199254740995,null,9007199254740995]');
    expect(json.results[3]!.values).toEqual([3, null, 3]);
    expect(text).toContain('"values":[3.0,null,3.0]');
    expect(json.results[0]!.event_timestamps).toEqual(Array(3).fill('1970-01-01T00:00:00Z'));
    expect(json.results[2]!.event_timestamps).toEqual([
      '2023-11-14T22:13:18.500Z',
      '1970-01-01T00:00:00Z',
      '2023-11-14T22:13:18.500Z',
    ]);
  });

  it('leaves event_timestamps out of an empty result', () => {
    const empty = planFeastJsonLookup(
      shopRegistry,
      { entities: { user_id: [] }, features: ['user_stats:clicks'] },
      { maxBatchSize: 10 },
    );
    expect(encodeFeastJson(empty, [[]], NOW)).toBe(
      '{"results":[{"values":[],"statuses":[]},{"values":[],"statuses":[]}],"metadata":{"feature_names":["user_id","clicks"]}}',
    );
  });

  it('writes each value type as Python’s json writes what Feast holds', () => {
    expect(jsonTextOf('int64')(Long.fromString('-9223372036854775808'))).toBe('-9223372036854775808');
    expect(jsonTextOf('int32')(-5)).toBe('-5');
    expect(jsonTextOf('double')(2)).toBe('2.0');
    expect(jsonTextOf('double')(-0)).toBe('-0.0');
    expect(jsonTextOf('double')(1e16)).toBe('1e+16');
    expect(jsonTextOf('double')(1.5e300)).toBe('1.5e+300');
    expect(jsonTextOf('double')(0.1)).toBe('0.1');
    expect(jsonTextOf('float')(Math.fround(0.1))).toBe('0.10000000149011612');
    expect([Number.NaN, Infinity, -Infinity].map(jsonTextOf('double'))).toEqual(['"NaN"', '"Infinity"', '"-Infinity"']);
    expect(jsonTextOf('string')('a"b\n')).toBe('"a\\"b\\n"');
    expect(jsonTextOf('bytes')(Buffer.from([0, 255]))).toBe('"AP8="');
    expect(jsonTextOf('bool')(false)).toBe('false');
    expect(jsonTextOf('unix_timestamp')(new Date(-1500))).toBe('-2');
    expect(jsonTextOf('double_list')([1, 2.5])).toBe('[1.0,2.5]');
    expect(jsonTextOf('string_list')([])).toBe('[]');
    expect(jsonTextOf('int64_list')([Long.fromInt(1), Long.fromInt(-2)])).toBe('[1,-2]');
  });

  it('writes event times as Feast does: RFC 3339 in UTC, fraction digits only as needed', () => {
    expect(feastTimestampText(0)).toBe('"1970-01-01T00:00:00Z"');
    expect(feastTimestampText(1_700_000_000_000_000)).toBe('"2023-11-14T22:13:20Z"');
    expect(feastTimestampText(1_700_000_000_120_000)).toBe('"2023-11-14T22:13:20.120Z"');
    expect(feastTimestampText(1_700_000_000_000_001)).toBe('"2023-11-14T22:13:20.000001Z"');
    expect(feastTimestampText(-1)).toBe('"1969-12-31T23:59:59.999999Z"');
  });
});
