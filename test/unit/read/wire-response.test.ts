import type { ServiceDefinition } from '@grpc/proto-loader';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import type { GetOnlineFeaturesResponse__Output } from '../../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { Value } from '../../../src/generated/cassette/v1/Value.js';
import { planLookup, type LookupPlan } from '../../../src/read/plan.js';
import { loadCassetteProtos } from '../../../src/api/proto.js';
import { STATUS } from '../../../src/read/status.js';
import { encodeResponse } from '../../../src/read/wire.js';
import type { StoredValue } from '../../../src/values/index.js';
import type { StoredRow } from '../../../src/store/index.js';
import { featuresRequest, items, serviceRequest, shopRegistry, users } from '../../helpers/serving-fixtures.js';

const Long = cassandra.types.Long;

const SECOND = 1_000_000; // micros
const DAY = 86_400 * SECOND;
const NOW = 1_700_000_000 * SECOND;

/** A stored row; `writtenAt` gives one write time (micros) per feature, NaN for nulls. */
function row(values: (StoredValue | null)[], writtenAt: number | number[] = NOW - SECOND): StoredRow {
  const times = Array.isArray(writtenAt) ? writtenAt : values.map((v) => (v === null ? NaN : writtenAt));
  return { values, writeTimesMicros: Float64Array.from(times) };
}

const method = (loadCassetteProtos()['cassette.v1.FeatureServing'] as ServiceDefinition)['GetOnlineFeatures']!;

/** The response as a client decodes it, from the bytes the server's encoder writes. */
function clientResponse(...args: Parameters<typeof encodeResponse>): GetOnlineFeaturesResponse__Output {
  return method.responseDeserialize(encodeResponse(...args)) as GetOnlineFeaturesResponse__Output;
}

/**
 * The decoded response in the plain shape these assertions use: statuses as their wire numbers,
 * values without the name of their set oneof case, timestamp seconds as numbers.
 */
function decodedResponse(...args: Parameters<typeof encodeResponse>) {
  const { metadata, results } = clientResponse(...args);
  return {
    metadata,
    results: results.map((vector) => ({
      values: vector.values.map(({ val: _case, ...value }) => value),
      statuses: vector.statuses.map((name) => STATUS[name as keyof typeof STATUS]),
      event_timestamps: vector.event_timestamps.map((t) => ({ seconds: Number(t.seconds), nanos: t.nanos })),
    })),
  };
}

function userStatsPlan(userIds: number[], features = ['user_stats:clicks', 'user_stats:score']): LookupPlan {
  return planLookup(shopRegistry, featuresRequest(features, { user_id: users(...userIds) }), { maxBatchSize: 100 });
}

describe('encodeResponse, as a client decodes it', () => {
  it('lays values out column-major, one vector per feature in request order', () => {
    const plan = userStatsPlan([1, 2], ['user_stats:score', 'user_stats:clicks']);
    const response = decodedResponse(
      plan,
      [[row([Long.fromInt(10), 0.5, ['a']]), row([Long.fromInt(20), 1.5, []])]],
      NOW,
    );
    expect(response.metadata).toEqual({ feature_names: { val: ['score', 'clicks'] } });
    expect(response.results).toHaveLength(2);
    expect(response.results![0]!.values).toEqual([{ double_val: 0.5 }, { double_val: 1.5 }]);
    expect(response.results![1]!.values!.map((v) => String(v.int64_val))).toEqual(['10', '20']);
    for (const vector of response.results!) expect(vector.statuses).toEqual([STATUS.PRESENT, STATUS.PRESENT]);
  });

  it('marks a missing row NOT_FOUND with an empty value and a zero timestamp', () => {
    const plan = userStatsPlan([1, 2]);
    const response = decodedResponse(plan, [[row([Long.fromInt(1), 2, null]), null]], NOW);
    const clicks = response.results![0]!;
    expect(clicks.statuses).toEqual([STATUS.PRESENT, STATUS.NOT_FOUND]);
    expect(clicks.values![1]).toEqual({});
    expect(clicks.event_timestamps![1]).toEqual({ seconds: 0, nanos: 0 });
  });

  it('marks a null value NULL_VALUE with null_val and a zero timestamp', () => {
    const plan = userStatsPlan([1], ['user_stats:tags', 'user_stats:clicks']);
    const response = decodedResponse(plan, [[row([null, 3, null])]], NOW);
    const [tags, clicks] = response.results!;
    for (const vector of [tags!, clicks!]) {
      expect(vector.statuses).toEqual([STATUS.NULL_VALUE]);
      expect(vector.values).toEqual([{ null_val: 'NULL' }]);
      expect(vector.event_timestamps).toEqual([{ seconds: 0, nanos: 0 }]);
    }
  });

  it('marks values older than the view ttl OUTSIDE_MAX_AGE but still returns them', () => {
    // user_stats has a ttl of one day; each feature has its own write time.
    const plan = userStatsPlan([1], ['user_stats:clicks', 'user_stats:score', 'user_stats:tags']);
    const written = [NOW - DAY - 1, NOW - DAY, NOW];
    const response = decodedResponse(plan, [[row([Long.fromInt(4), 2.5, ['t']], written)]], NOW);
    const [clicks, score, tags] = response.results!;
    expect(clicks!.statuses).toEqual([STATUS.OUTSIDE_MAX_AGE]);
    expect(String(clicks!.values![0]!.int64_val)).toBe('4');
    expect(clicks!.event_timestamps).toEqual([{ seconds: 1_700_000_000 - 86_400 - 1, nanos: 999_999_000 }]);
    expect(score!.statuses).toEqual([STATUS.PRESENT]); // exactly ttl old is still fresh
    expect(tags!.statuses).toEqual([STATUS.PRESENT]);
    expect(tags!.values).toEqual([{ string_list_val: { val: ['t'] } }]);
  });

  it('never marks values of a view without ttl as stale', () => {
    const plan = planLookup(shopRegistry, featuresRequest(['item_info:price'], { item_id: items('a') }), {
      maxBatchSize: 10,
    });
    const response = decodedResponse(plan, [[row([9.99, 1], 0)]], NOW);
    expect(response.results![0]!.statuses).toEqual([STATUS.PRESENT]);
  });

  it('converts write-time micros to {seconds, nanos}', () => {
    const plan = userStatsPlan([1, 2, 3], ['user_stats:score']);
    const rows = [
      row([null, 1, null], [NaN, 1_700_000_000_123_456, NaN]),
      row([null, 1, null], [NaN, -1, NaN]),
      row([null, 1, null], [NaN, 5 * SECOND, NaN]),
    ];
    const response = decodedResponse(plan, [rows], 1_700_000_000_500_000);
    expect(response.results![0]!.event_timestamps).toEqual([
      { seconds: 1_700_000_000, nanos: 123_456_000 },
      { seconds: -1, nanos: 999_999_000 },
      { seconds: 5, nanos: 0 },
    ]);
  });

  it('gives duplicate entities the same row', () => {
    const plan = userStatsPlan([5, 6, 5, 5], ['user_stats:score']);
    expect(plan.views[0]!.keys).toHaveLength(2);
    const response = decodedResponse(plan, [[row([null, 0.5, null]), null]], NOW);
    const score = response.results![0]!;
    expect(score.values).toEqual([{ double_val: 0.5 }, {}, { double_val: 0.5 }, { double_val: 0.5 }]);
    expect(score.statuses).toEqual([STATUS.PRESENT, STATUS.NOT_FOUND, STATUS.PRESENT, STATUS.PRESENT]);
  });

  it('reads each feature from its own view’s rows', () => {
    const plan = planLookup(
      shopRegistry,
      serviceRequest('ranker', { user_id: users(1, 2), item_id: items('a', 'a') }),
      {
        maxBatchSize: 10,
      },
    );
    // Views: user_item (2 keys), user_stats (2 keys), item_info (1 key, shared by both rows).
    const rowsByView = [
      [row([0.25]), null],
      [row([Long.fromInt(11), null, null]), row([Long.fromInt(22), null, null])],
      [row([3.5, 1])],
    ];
    const response = decodedResponse(plan, rowsByView, NOW);
    expect(response.metadata!.feature_names!.val).toEqual(['affinity', 'clicks', 'price']);
    const [affinity, clicks, price] = response.results!;
    expect(affinity!.values).toEqual([{ float_val: 0.25 }, {}]);
    expect(affinity!.statuses).toEqual([STATUS.PRESENT, STATUS.NOT_FOUND]);
    expect(clicks!.values!.map((v) => String(v.int64_val))).toEqual(['11', '22']);
    expect(price!.values).toEqual([{ double_val: 3.5 }, { double_val: 3.5 }]);
  });

  it('builds an empty vector per feature for an empty batch', () => {
    const plan = userStatsPlan([], ['user_stats:clicks', 'user_stats:score']);
    const response = decodedResponse(plan, [[]], NOW);
    expect(response.results).toEqual([
      { values: [], statuses: [], event_timestamps: [] },
      { values: [], statuses: [], event_timestamps: [] },
    ]);
  });

  it('survives a protobuf round trip as the client sees it', () => {
    const plan = userStatsPlan([1, 2, 3], ['user_stats:clicks', 'user_stats:tags']);
    const rowsByView = [
      [
        row([Long.fromString('-9223372036854775808'), null, ['x', 'y']], [NOW - 2 * DAY, NaN, NOW - 2 * DAY]),
        row([Long.fromString('9223372036854775807'), null, null], [NOW, NaN, NaN]),
        null,
      ],
    ];
    const decoded = clientResponse(plan, rowsByView, NOW);
    const [clicks, tags] = decoded.results;
    expect(clicks!.values.map((v: Value) => v.int64_val ?? v.val ?? null)).toEqual([
      '-9223372036854775808',
      '9223372036854775807',
      null,
    ]);
    expect(clicks!.statuses).toEqual(['OUTSIDE_MAX_AGE', 'PRESENT', 'NOT_FOUND']);
    expect(clicks!.event_timestamps[1]).toEqual({ seconds: '1700000000', nanos: 0 });
    expect(tags!.statuses).toEqual(['OUTSIDE_MAX_AGE', 'NULL_VALUE', 'NOT_FOUND']);
    expect(tags!.values[0]!.string_list_val!.val).toEqual(['x', 'y']);
    expect(tags!.values[1]!.val).toBe('null_val');
  });
});
