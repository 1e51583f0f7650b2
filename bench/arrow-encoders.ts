/**
 * `npx tsx bench/arrow-encoders.ts`: the Arrow response for the harness's warm 100 × 50 request
 * (bench/lib/dataset.ts: the embedding and 49 scalars), encoded in-process three ways from the same
 * stored rows: Cassette's direct IPC writer (src/read/arrow.ts), the apache-arrow package (columns
 * built with its builders, then tableToIPC), and, for reference, the protobuf GetOnlineFeatures
 * encoder (src/read/wire.ts, rows with cached cells). Prints µs per response and bytes.
 * Why the direct writer: this measurement (see README, "Arrow response and the Python client").
 */
import {
  Bool,
  Float32,
  Float64,
  Int64,
  List,
  Field,
  makeBuilder,
  Table,
  tableToIPC,
  TimestampMicrosecond,
  Uint8,
  Utf8,
  type Vector,
  type DataType,
} from 'apache-arrow';
import type cassandra from 'cassandra-driver';

import { encodeArrowResponse } from '../src/read/arrow.js';
import { planLookup, plannedKeyColumns } from '../src/read/plan.js';
import { presentStatus } from '../src/read/status.js';
import { encodeCells, encodeResponse } from '../src/read/wire.js';
import { parseRegistry } from '../src/registry/index.js';
import type { Value__Output } from '../src/generated/cassette/v1/Value.js';
import type { StoredRow } from '../src/store/index.js';
import { decodeValue, type StoredValue } from '../src/values/index.js';
import { featureRefs, featureValue, FEATURES, REGISTRY_YAML, requestedFeatures } from './lib/dataset.js';

const BATCH = 100;
const ITERATIONS = Number(process.env.ITERATIONS ?? 400);
const registry = parseRegistry(REGISTRY_YAML, 'bench.yaml');
const view = registry.featureViews.get('wide')!;
const nowMicros = Date.now() * 1000;
const request = {
  kind: 'features' as const,
  features: { val: featureRefs(requestedFeatures(50)) },
  entities: {
    user_id: { val: Array.from({ length: BATCH }, (_, i) => ({ val: 'int64_val' as const, int64_val: String(i) })) },
  },
  full_feature_names: false,
};
const plan = planLookup(registry, request, { maxBatchSize: 1000 });
const rows: StoredRow[] = plan.views[0]!.keys.map((key) => {
  const id = Number((key[0] as cassandra.types.Long).toString());
  const values = FEATURES.map((f) => {
    const value = featureValue(42, id, f);
    const decoded = { ...value, val: Object.keys(value)[0] } as unknown as Value__Output;
    return decodeValue(f.type, decoded, 'bench') as StoredValue;
  });
  return { values, writeTimesMicros: new Float64Array(values.length).fill(nowMicros - 1000 * id) };
});
const cachedRows = rows.map((row) => ({ ...row, cells: encodeCells(view, row) }));
const options = { keyColumns: plannedKeyColumns(plan, ['user_id']), rowEventTimes: false };

const ARROW_TYPES: Record<string, () => DataType> = {
  int64: () => new Int64(),
  double: () => new Float64(),
  string: () => new Utf8(),
  bool: () => new Bool(),
  float_list: () => new List(new Field('item', new Float32(), true)),
};

/** The same columns with apache-arrow's builders: one JS value per cell handed to a builder. */
function withApacheArrow(): Uint8Array {
  const lookup = plan.views[0]!;
  const columns: Record<string, Vector> = {};
  const keys = makeBuilder({ type: new Int64(), nullValues: [null] });
  for (let r = 0; r < BATCH; r++)
    keys.append(BigInt((lookup.keys[lookup.rowToKey[r]!]![0] as cassandra.types.Long).toString()));
  columns.user_id = keys.finish().toVector();
  const ttl = lookup.view.ttlSeconds * 1e6;
  for (const feature of plan.features) {
    const values = makeBuilder({ type: ARROW_TYPES[feature.type]!(), nullValues: [null] });
    const statuses = makeBuilder({ type: new Uint8() });
    const times = makeBuilder({ type: new TimestampMicrosecond('UTC'), nullValues: [null] });
    for (let r = 0; r < BATCH; r++) {
      const row = rows[lookup.rowToKey[r]!]!;
      const value = row.values[feature.featureIndex];
      const stored = feature.type === 'int64' ? BigInt((value as cassandra.types.Long).toString()) : value;
      values.append(stored as never);
      const at = row.writeTimesMicros[feature.featureIndex]!;
      statuses.append(presentStatus(at, ttl, nowMicros));
      // apache-arrow's timestamp builders take milliseconds.
      times.append(at / 1000);
    }
    columns[feature.name] = values.finish().toVector();
    columns[`${feature.name}__status`] = statuses.finish().toVector();
    columns[`${feature.name}__event_time`] = times.finish().toVector();
  }
  return tableToIPC(new Table(columns), 'stream');
}

function time(name: string, encode: () => { length: number }): void {
  for (let i = 0; i < 50; i++) encode();
  const started = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < ITERATIONS; i++) bytes = encode().length;
  const micros = Number(process.hrtime.bigint() - started) / 1000 / ITERATIONS;
  console.log(`${name.padEnd(44)} ${micros.toFixed(1).padStart(8)} µs  ${String(bytes).padStart(8)} bytes`);
}

console.log(`warm ${BATCH} entities × 50 features, ${ITERATIONS} encodings each`);
time('direct IPC writer (src/read/arrow.ts)', () => encodeArrowResponse(plan, [rows], nowMicros, options));
time('direct IPC writer, row_event_times', () =>
  encodeArrowResponse(plan, [rows], nowMicros, { ...options, rowEventTimes: true }),
);
time('apache-arrow builders + tableToIPC', withApacheArrow);
time('protobuf GetOnlineFeatures (cached cells)', () => encodeResponse(plan, [cachedRows], nowMicros));
