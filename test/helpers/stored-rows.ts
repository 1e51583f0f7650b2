/**
 * Stored rows as the driver returns them, for property tests of the response encoders: every
 * value type with the edges of its encodings, nulls, missing rows and write times around a ttl.
 */
import cassandra from 'cassandra-driver';
import fc from 'fast-check';

import type { ScalarType, ValueType } from '../../src/registry/index.js';
import type { StoredRow } from '../../src/store/index.js';
import type { StoredScalar, StoredValue } from '../../src/values/index.js';

const Long = cassandra.types.Long;

export const SCALARS: ScalarType[] = ['int32', 'int64', 'float', 'double', 'string', 'bytes', 'bool', 'unix_timestamp'];
export const TYPES: ValueType[] = [...SCALARS, ...SCALARS.map((t) => `${t}_list` as ValueType)];

export const NOW = 1_700_000_000_000_000;
export const HOUR = 3_600_000_000;

/** Driver-shaped values, including the edges of every wire encoding. */
export const storedScalars: Record<ScalarType, fc.Arbitrary<StoredScalar>> = {
  int32: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, -1, 127, 128, -(2 ** 31))),
  int64: fc
    .oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.constantFrom(0n, -1n, 2n ** 32n, 2n ** 35n - 1n, 2n ** 63n - 1n, -(2n ** 63n)),
    )
    .map((n) => Long.fromString(String(n))),
  float: fc.oneof(fc.float(), fc.constantFrom(-0, Number.NaN, Infinity)),
  double: fc.oneof(fc.double(), fc.constantFrom(-0, Number.NaN, -Infinity)),
  string: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 300 })),
  bytes: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  bool: fc.boolean(),
  // Whole seconds either side of 1970, up to the Date limit.
  unix_timestamp: fc.integer({ min: -8_640_000_000_000, max: 8_640_000_000_000 }).map((s) => new Date(s * 1000)),
};

export function valueArbitrary(type: ValueType): fc.Arbitrary<StoredValue | null> {
  const element = type.endsWith('_list') ? (type.slice(0, -5) as ScalarType) : (type as ScalarType);
  const value = type.endsWith('_list') ? fc.array(storedScalars[element], { maxLength: 20 }) : storedScalars[element];
  return fc.option(value as fc.Arbitrary<StoredValue>, { freq: 5, nil: null });
}

/** A write time: recent, past the ttl, exact seconds, or zero. */
const writeTime = fc.oneof(
  fc.integer({ min: NOW - 2 * HOUR, max: NOW }),
  fc.constantFrom(NOW - 2 * HOUR, 0, NOW - 1_000_000),
);

export function rowArbitrary(types: readonly ValueType[]): fc.Arbitrary<StoredRow | null> {
  const row = fc
    .tuple(
      fc.tuple(...types.map(valueArbitrary)),
      fc.array(writeTime, { minLength: types.length, maxLength: types.length }),
    )
    .map(([values, times]): StoredRow => ({
      values,
      writeTimesMicros: Float64Array.from(values.map((v, i) => (v === null ? Number.NaN : times[i]!))),
    }));
  return fc.option(row, { freq: 6, nil: null });
}

/** One plain value of `type`: 200-character strings, empty lists (a large batch's shape). */
export function sampleStoredValue(type: ValueType): StoredValue {
  if (type.endsWith('_list')) return [];
  switch (type) {
    case 'string':
      return 'x'.repeat(200);
    case 'bytes':
      return Buffer.alloc(3);
    case 'bool':
      return true;
    case 'int64':
      return Long.fromInt(-5);
    case 'unix_timestamp':
      return new Date(0);
    default:
      return 7;
  }
}
