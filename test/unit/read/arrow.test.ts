import type { ServiceDefinition } from '@grpc/proto-loader';
import { tableFromIPC, type Table, type Vector } from 'apache-arrow';
import type cassandra from 'cassandra-driver';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { loadCassetteProtos } from '../../../src/api/proto.js';
import { encodeArrowResponse } from '../../../src/read/arrow.js';
import { planLookup, plannedKeyColumns, type LookupPlan } from '../../../src/read/plan.js';
import { presentStatus } from '../../../src/read/status.js';
import { parseRegistry, type ValueType } from '../../../src/registry/index.js';
import type { StoredRow } from '../../../src/store/index.js';
import type { StoredValue } from '../../../src/values/index.js';
import { featuresRequest, items, users } from '../../helpers/serving-fixtures.js';
import { HOUR, NOW, rowArbitrary, sampleStoredValue, TYPES } from '../../helpers/stored-rows.js';

/**
 * The Arrow response decoded by the apache-arrow package (a reader written by others): every
 * value type, nulls, missing rows, stale values, duplicate entities, and the request options.
 */

const YAML = `
project: arrow
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: item, join_key: item_id, type: string }
feature_views:
  - name: all_types
    entities: [user]
    ttl: 1h
    features:
${TYPES.map((t) => `      - { name: f_${t}, type: ${t} }`).join('\n')}
  - name: pair
    entities: [user, item]
    features:
      - { name: score, type: float }
      - { name: embedding, type: float_list }
`;
const registry = parseRegistry(YAML, 'arrow.yaml');
const allTypes = registry.featureViews.get('all_types')!;

const method = (loadCassetteProtos()['cassette.v1.FeatureServing'] as ServiceDefinition)['GetOnlineFeaturesArrow']!;

/** The ArrowFeatures message decoded as a client does, then its stream read by apache-arrow. */
function decodedTable(message: Buffer): Table {
  const decoded = method.responseDeserialize(message) as { ipc_stream: Buffer };
  return tableFromIPC(decoded.ipc_stream);
}

/** A stored value as apache-arrow reads it back, in comparable form. */
function expectedCell(type: ValueType, value: StoredValue | null): unknown {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((item) => expectedCell(type.slice(0, -5) as ValueType, item));
  if (type === 'int64') return (value as cassandra.types.Long).toString();
  if (type === 'float') return Math.fround(value as number);
  if (type === 'unix_timestamp') return (value as Date).getTime();
  if (Buffer.isBuffer(value)) return [...value];
  return value;
}

function actualCell(vector: Vector, row: number): unknown {
  const value: unknown = vector.get(row);
  if (value === null) return null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return [...value];
  if (typeof value === 'object' && value !== null && 'toArray' in value) {
    const list = value as Vector;
    return Array.from({ length: list.length }, (_, i) => actualCell(list, i));
  }
  return value;
}

/** A timestamp column's raw int64 microseconds (null where invalid). */
function rawTimes(vector: Vector): (string | null)[] {
  const raw = vector.data[0]!.values as BigInt64Array;
  return Array.from({ length: vector.length }, (_, r) => (vector.isValid(r) ? raw[r]!.toString() : null));
}

function rowsFor(plan: LookupPlan, rowsById: (StoredRow | null)[]): (StoredRow | null)[][] {
  return plan.views.map((lookup) =>
    lookup.keys.map((key) => rowsById[Number((key[0] as cassandra.types.Long).toString())]!),
  );
}

describe('encodeArrowResponse', () => {
  it('reads back, through apache-arrow, as the rows it was written from, for every value type', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 12 }),
        fc.array(rowArbitrary(allTypes.features.map((f) => f.type)), { minLength: 7, maxLength: 7 }),
        fc.boolean(),
        (ids, rowsById, rowEventTimes) => {
          const refs = TYPES.map((t) => `all_types:f_${t}`);
          const request = featuresRequest(refs, { user_id: users(...ids) });
          const plan = planLookup(registry, request, { maxBatchSize: 100 });
          const rowsByView = rowsFor(plan, rowsById);
          const table = decodedTable(
            encodeArrowResponse(plan, rowsByView, NOW, {
              keyColumns: plannedKeyColumns(plan, ['user_id']),
              rowEventTimes,
            }),
          );
          expect(table.numRows).toBe(ids.length);
          expect(actualColumn(table, 'user_id')).toEqual(ids.map(String));
          const newest = ids.map(() => null as number | null);
          for (const type of TYPES) {
            const index = allTypes.featureIndex.get(`f_${type}`)!;
            const rows = ids.map((id) => rowsById[id]!);
            expect(actualColumn(table, `f_${type}`)).toEqual(
              rows.map((row) => expectedCell(type, row?.values[index] ?? null)),
            );
            const statuses = rows.map((row) => {
              if (!row) return 3;
              if (row.values[index] === null) return 2;
              return presentStatus(row.writeTimesMicros[index]!, HOUR, NOW);
            });
            expect(Array.from(table.getChild(`f_${type}__status`)!.toArray() as Uint8Array)).toEqual(statuses);
            const times = rows.map((row) => (row && row.values[index] !== null ? row.writeTimesMicros[index]! : null));
            times.forEach((t, r) => {
              if (t !== null && (newest[r] === null || t > newest[r]!)) newest[r] = t;
            });
            const timeColumn = table.getChild(`f_${type}__event_time`);
            if (rowEventTimes) expect(timeColumn).toBeNull();
            else expect(rawTimes(timeColumn!)).toEqual(times.map((t) => (t === null ? null : String(t))));
          }
          if (rowEventTimes) {
            expect(rawTimes(table.getChild('event_time')!)).toEqual(newest.map((t) => (t === null ? null : String(t))));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('types its columns as documented: typed join keys, list<float32>, uint8 statuses, timestamp[us, UTC]', () => {
    const plan = planLookup(
      registry,
      featuresRequest(['pair:embedding', 'pair:score'], { item_id: items('a', 'b'), user_id: users(1, 2) }),
      { maxBatchSize: 10 },
    );
    const row: StoredRow = { values: [0.5, [1, 2.5]], writeTimesMicros: Float64Array.from([NOW, NOW - 1]) };
    const table = decodedTable(
      encodeArrowResponse(plan, [[row, null]], NOW, {
        keyColumns: plannedKeyColumns(plan, ['item_id', 'user_id']),
        rowEventTimes: false,
        freshness: { fromCache: Uint8Array.from([1, 0]), ageMs: Float64Array.from([12.4, 0]) },
      }),
    );
    const fields = Object.fromEntries(
      table.schema.fields.map((f) => [f.name, `${String(f.type)}${f.nullable ? '?' : ''}`]),
    );
    expect(fields).toEqual({
      item_id: 'Utf8',
      user_id: 'Int64',
      embedding: 'List<Float32>?',
      embedding__status: 'Uint8',
      embedding__event_time: 'Timestamp<MICROSECOND, UTC>?',
      score: 'Float32?',
      score__status: 'Uint8',
      score__event_time: 'Timestamp<MICROSECOND, UTC>?',
      from_cache: 'Bool',
      age_ms: 'Int64',
    });
    expect(actualColumn(table, 'embedding')).toEqual([[1, 2.5], null]);
    expect(actualColumn(table, 'score')).toEqual([0.5, null]);
    expect(actualColumn(table, 'embedding__status')).toEqual([1, 3]);
    expect(rawTimes(table.getChild('embedding__event_time')!)).toEqual([String(NOW - 1), null]);
    expect(actualColumn(table, 'from_cache')).toEqual([true, false]);
    expect(actualColumn(table, 'age_ms')).toEqual(['12', '0']);
  });

  it('encodes a large batch exactly to its measured size', () => {
    const refs = allTypes.features.map((f) => `all_types:${f.name}`);
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const plan = planLookup(registry, featuresRequest(refs, { user_id: users(...ids) }), { maxBatchSize: 1000 });
    const values = allTypes.features.map((f) => sampleStoredValue(f.type));
    const row: StoredRow = { values, writeTimesMicros: new Float64Array(values.length).fill(NOW - 1) };
    const table = decodedTable(
      encodeArrowResponse(plan, [plan.views[0]!.keys.map(() => row)], NOW, { keyColumns: [], rowEventTimes: true }),
    );
    expect(table.numRows).toBe(1000);
    expect(actualColumn(table, 'f_string')[999]).toBe('x'.repeat(200));
  });
});

function actualColumn(table: Table, name: string): unknown[] {
  const vector = table.getChild(name)!;
  return Array.from({ length: vector.length }, (_, r) => actualCell(vector, r));
}
