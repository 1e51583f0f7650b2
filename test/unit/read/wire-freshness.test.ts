import type { ServiceDefinition } from '@grpc/proto-loader';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { loadCassetteProtos } from '../../../src/api/proto.js';
import type { GetOnlineFeaturesResponse__Output } from '../../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import { planLookup } from '../../../src/read/plan.js';
import { encodeResponse, type RowFreshness } from '../../../src/read/wire.js';
import { featuresRequest, shopRegistry, users } from '../../helpers/serving-fixtures.js';

const Long = cassandra.types.Long;
const NOW = 1_700_000_000_000_000;
const method = (loadCassetteProtos()['cassette.v1.FeatureServing'] as ServiceDefinition)['GetOnlineFeatures']!;

const plan = (ids: number[]) =>
  planLookup(shopRegistry, featuresRequest(['user_stats:clicks'], { user_id: users(...ids) }), { maxBatchSize: 100 });
const rows = (count: number) => [
  Array.from({ length: count }, (_, i) => ({
    values: [Long.fromInt(i), null, null],
    writeTimesMicros: Float64Array.from([NOW - 1000, NaN, NaN]),
  })),
];
const freshness = (fromCache: number[], ageMs: number[]): RowFreshness => ({
  fromCache: Uint8Array.from(fromCache),
  ageMs: Float64Array.from(ageMs),
});

describe('encodeResponse with freshness', () => {
  it('writes from_cache and age_ms per entity row when asked', () => {
    const bytes = encodeResponse(plan([1, 2, 3]), rows(3), NOW, freshness([1, 0, 1], [12.4, 0, 300_000]));
    const decoded = method.responseDeserialize(bytes) as GetOnlineFeaturesResponse__Output;
    expect(decoded.from_cache).toEqual([true, false, true]);
    expect(decoded.age_ms).toEqual(['12', '0', '300000']);
    expect(decoded.results[0]!.values.map((v) => v.int64_val)).toEqual(['0', '1', '2']);
  });

  it('writes nothing more without it: the bytes are those of a response that never heard of freshness', () => {
    const without = encodeResponse(plan([1, 2]), rows(2), NOW);
    const decoded = method.responseDeserialize(without) as GetOnlineFeaturesResponse__Output;
    expect(decoded.from_cache).toEqual([]);
    expect(decoded.age_ms).toEqual([]);
    // Freshness only appends its two fields after the vectors.
    const withIt = encodeResponse(plan([1, 2]), rows(2), NOW, freshness([0, 0], [0, 0]));
    expect(withIt.subarray(0, without.length).equals(without)).toBe(true);
    expect(withIt.length - without.length).toBe(2 + 2 + 2 + 2);
  });

  it('writes no freshness fields for an empty batch', () => {
    expect(encodeResponse(plan([]), [[]], NOW, freshness([], [])).equals(encodeResponse(plan([]), [[]], NOW))).toBe(
      true,
    );
  });
});
