import type { ServiceDefinition } from '@grpc/proto-loader';
import cassandra from 'cassandra-driver';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { parseRegistry } from '../../../src/registry/index.js';
import { planLookup } from '../../../src/read/plan.js';
import { loadCassetteProtos } from '../../../src/api/proto.js';
import { encodeCells, encodeResponse } from '../../../src/read/wire.js';
import type { StoredRow } from '../../../src/store/index.js';
import type { StoredValue } from '../../../src/values/index.js';
import { objectResponse } from '../../helpers/object-response.js';
import { featuresRequest, users } from '../../helpers/serving-fixtures.js';
import { HOUR, NOW, rowArbitrary, sampleStoredValue, TYPES } from '../../helpers/stored-rows.js';

const Long = cassandra.types.Long;

// One view with every type (ttl 1 h), one without ttl, keyed the same way.
const YAML = `
project: wire
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: all_types
    entities: [user]
    ttl: 1h
    features:
${TYPES.map((t) => `      - { name: f_${t}, type: ${t} }`).join('\n')}
  - name: plain
    entities: [user]
    features:
      - { name: label, type: string }
      - { name: weights, type: double_list }
`;
const registry = parseRegistry(YAML, 'wire.yaml');
const allTypes = registry.featureViews.get('all_types')!;
const plain = registry.featureViews.get('plain')!;

const method = (loadCassetteProtos()['cassette.v1.FeatureServing'] as ServiceDefinition)['GetOnlineFeatures']!;

/**
 * The response as a client decodes it, from our bytes and from protobufjs's encoding of the
 * object form. (The bytes differ: protobufjs also writes zero fields it was given explicitly,
 * such as the seconds and nanos of an empty timestamp; proto3 reads both the same.)
 */
function decoded(wire: Buffer): unknown {
  return method.responseDeserialize(wire);
}
function reference(...args: Parameters<typeof objectResponse>): unknown {
  return decoded(method.responseSerialize(objectResponse(...args)));
}

describe('encodeResponse', () => {
  it('decodes as the protobufjs encoding does, for every value type, null, missing and stale values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 }),
        fc.array(rowArbitrary(allTypes.features.map((f) => f.type)), { minLength: 7, maxLength: 7 }),
        fc.array(rowArbitrary(plain.features.map((f) => f.type)), { minLength: 7, maxLength: 7 }),
        fc.boolean(),
        (ids, allTypesRows, plainRows, fullNames) => {
          const refs = [...TYPES.map((t) => `all_types:f_${t}`), 'plain:weights', 'plain:label'];
          const plan = planLookup(registry, featuresRequest(refs, { user_id: users(...ids) }, fullNames), {
            maxBatchSize: 100,
          });
          // Rows in the plan's order of distinct keys (duplicates in the batch share one).
          const rowsByView = plan.views.map((lookup) =>
            lookup.keys.map((key) => {
              const id = Number((key[0] as cassandra.types.Long).toString());
              return (lookup.view.name === 'all_types' ? allTypesRows : plainRows)[id]!;
            }),
          );
          const wire = encodeResponse(plan, rowsByView, NOW);
          expect(decoded(wire)).toEqual(reference(plan, rowsByView, NOW));
          // The same rows as the cache holds them, with their cells encoded up front.
          const cached = plan.views.map((lookup, slot) =>
            rowsByView[slot]!.map((row) => row && { ...row, cells: encodeCells(lookup.view, row) }),
          );
          expect(encodeResponse(plan, cached, NOW).equals(wire)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes to the response the object form describes', () => {
    const plan = planLookup(
      registry,
      featuresRequest(['plain:label', 'all_types:f_int64', 'all_types:f_string_list'], { user_id: users(1, 2, 1, 3) }),
      { maxBatchSize: 10 },
    );
    const row = (values: (StoredValue | null)[], at: number): StoredRow => ({
      values,
      writeTimesMicros: Float64Array.from(values.map((v) => (v === null ? Number.NaN : at))),
    });
    const allTypesValues = TYPES.map((): StoredValue | null => null);
    allTypesValues[TYPES.indexOf('int64')] = Long.fromString('-9223372036854775808');
    allTypesValues[TYPES.indexOf('string_list')] = ['ä', ''];
    const rowsByView = plan.views.map((lookup) =>
      lookup.view.name === 'plain'
        ? [row(['héllo', [1.5]], NOW - 1), null, row([null, []], NOW)]
        : [row(allTypesValues, NOW - 2 * HOUR), row(allTypesValues, NOW), null],
    );
    const response = decoded(encodeResponse(plan, rowsByView, NOW)) as {
      metadata: { feature_names: { val: string[] } };
      results: { values: unknown[]; statuses: string[]; event_timestamps: { seconds: string; nanos: number }[] }[];
    };
    expect(response.metadata.feature_names.val).toEqual(['label', 'f_int64', 'f_string_list']);
    const [label, int64, list] = response.results;
    expect(label!.statuses).toEqual(['PRESENT', 'NOT_FOUND', 'PRESENT', 'NULL_VALUE']);
    expect(label!.values[0]).toMatchObject({ string_val: 'héllo' });
    expect(label!.event_timestamps[0]).toEqual({ seconds: String(Math.floor((NOW - 1) / 1e6)), nanos: 999_999_000 });
    expect(int64!.statuses).toEqual(['OUTSIDE_MAX_AGE', 'PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(int64!.values[1]).toMatchObject({ int64_val: '-9223372036854775808' });
    expect(list!.values[1]).toMatchObject({ string_list_val: { val: ['ä', ''] } });
  });

  it('encodes a large batch exactly to its measured size', () => {
    const refs = allTypes.features.map((f) => `all_types:${f.name}`);
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const plan = planLookup(registry, featuresRequest(refs, { user_id: users(...ids) }), { maxBatchSize: 1000 });
    const values = allTypes.features.map((f) => sampleStoredValue(f.type));
    const stale: StoredRow = { values, writeTimesMicros: new Float64Array(values.length).fill(NOW - 1) };
    const rowsByView = [plan.views[0]!.keys.map(() => stale)];
    expect(decoded(encodeResponse(plan, rowsByView, NOW))).toEqual(reference(plan, rowsByView, NOW));
  });
});
