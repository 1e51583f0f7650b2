import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';

import type { Value } from '../../src/generated/cassette/v1/Value.js';
import type { Value__Output } from '../../src/generated/cassette/v1/Value.js';
import { SCALAR_TYPES, type ScalarType, type ValueType } from '../../src/registry/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Every scalar's full range as the API carries it (int64 and timestamps as decimal strings). */
const scalar: Record<ScalarType, fc.Arbitrary<unknown>> = {
  int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  int64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  float: fc.float(),
  double: fc.double(),
  string: fc.string({ unit: 'binary', maxLength: 40 }),
  bytes: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  bool: fc.boolean(),
  // JavaScript Dates (the driver's timestamps) span ±8.64e12 seconds.
  unix_timestamp: fc.integer({ min: -8_640_000_000_000, max: 8_640_000_000_000 }).map(String),
};

const TYPES: ValueType[] = [...SCALAR_TYPES, ...SCALAR_TYPES.map((t) => `${t}_list` as ValueType)];
const column = (type: ValueType) => `f_${type}`;

const REGISTRY = `
project: roundtrip
entities: [{ name: probe, join_key: probe_id, type: int64 }]
feature_views:
  - name: every_type
    entities: [probe]
    features:
${TYPES.map((t) => `      - { name: ${column(t)}, type: ${t} }`).join('\n')}
`;

function toValue(type: ValueType, value: unknown): Value {
  return type.endsWith('_list')
    ? ({ [`${type}_val`]: { val: value } } as Value)
    : ({ [`${type}_val`]: value } as Value);
}

function same(type: ScalarType, sent: unknown, got: unknown): boolean {
  if (type === 'bytes') return Buffer.compare(sent as Buffer, got as Buffer) === 0;
  // Same float bits: NaN and -0 must survive too.
  return Object.is(sent, got);
}

function fromValue(type: ValueType, value: Value__Output): unknown {
  const inner = value[`${type}_val` as keyof Value__Output];
  return type.endsWith('_list') ? (inner as { val: unknown[] }).val : inner;
}

describe('every value type survives a round trip through the API and Cassandra', () => {
  let t: TestServer;
  let nextId = 1;

  beforeAll(async () => {
    t = await startTestServer('roundtrip', REGISTRY);
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(TYPES)('%s', async (type) => {
    const element = type.replace(/_list$/, '') as ScalarType;
    const arbitrary = type.endsWith('_list') ? fc.array(scalar[element], { maxLength: 6 }) : scalar[element];
    await fc.assert(
      fc.asyncProperty(arbitrary, async (sent) => {
        const id = String(nextId++);
        await t.write({
          feature_view: 'every_type',
          rows: [{ entity_keys: { probe_id: { int64_val: id } }, features: { [column(type)]: toValue(type, sent) } }],
        });
        const response = await t.get({
          features: { val: [`every_type:${column(type)}`] },
          entities: { probe_id: { val: [{ int64_val: id }] } },
        });
        const vector = response.results[0]!;
        if (vector.statuses[0] !== 'PRESENT') throw new Error(`status ${vector.statuses[0]}`);
        const got = fromValue(type, vector.values[0]!);
        if (type.endsWith('_list')) {
          const list = sent as unknown[];
          const back = got as unknown[];
          return list.length === back.length && list.every((v, i) => same(element, v, back[i]));
        }
        return same(element, sent, got);
      }),
      { numRuns: 25 },
    );
  });
});
