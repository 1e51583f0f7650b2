import cassandra from 'cassandra-driver';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CassetteError } from '../../../src/errors/index.js';
import type { Value, Value__Output } from '../../../src/generated/cassette/v1/Value.js';
import { VALUE_TYPES, type ValueType } from '../../../src/registry/index.js';
import {
  decodeEntityKey,
  decodeValue,
  encodeValue,
  entityKeyString,
  valueFromJson,
  valueToJson,
  type StoredValue,
} from '../../../src/values/index.js';

const Long = cassandra.types.Long;

const INT64_MIN = '-9223372036854775808';
const INT64_MAX = '9223372036854775807';
const f32 = Math.fround;

/** Asserts `fn` throws an INVALID_ARGUMENT CassetteError whose message contains every fragment. */
function expectInvalid(fn: () => unknown, ...fragments: string[]): CassetteError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CassetteError);
  const error = caught as CassetteError;
  expect(error.status).toBe('INVALID_ARGUMENT');
  for (const fragment of fragments) expect(error.message).toContain(fragment);
  return error;
}

/** The case name of a type's proto field, e.g. int64_list -> int64_list_val. */
const caseOf = (type: ValueType) => `${type}_val` as NonNullable<Value__Output['val']>;

/** A decoded (incoming) proto Value holding `inner` in the case of `type`. */
function proto(type: ValueType, inner: unknown): Value__Output {
  return { val: caseOf(type), [caseOf(type)]: inner } as Value__Output;
}

/**
 * Brings an outgoing Value (int64 as a long.js object, timestamps as numbers) into the decoded
 * form (int64 and timestamps as decimal strings), so it can be compared with what came in.
 */
function asDecoded(type: ValueType, value: Value): Value__Output {
  const kind = caseOf(type);
  const entries = Object.entries(value);
  expect(entries.map(([k]) => k)).toEqual([kind]);
  let inner = entries[0]![1] as unknown;
  const int64Like = type === 'int64' || type === 'unix_timestamp';
  const int64ListLike = type === 'int64_list' || type === 'unix_timestamp_list';
  if (int64Like) inner = String(inner);
  if (int64ListLike) inner = { val: (inner as { val: unknown[] }).val.map(String) };
  return { val: kind, [kind]: inner } as Value__Output;
}

/** Sample decoded proto values for each type; each must survive decode -> encode unchanged. */
const SAMPLES: Record<ValueType, unknown[]> = {
  int32: [0, 1, -1, 2147483647, -2147483648],
  int64: ['0', '42', '-1', INT64_MIN, INT64_MAX, '9007199254740993'],
  float: [0, 1.5, -0.25, f32(0.1), f32(3.4e38), Infinity, -Infinity, NaN],
  double: [0, 0.1, -1e308, Number.MIN_VALUE, Infinity, NaN],
  string: ['', 'hello', 'ünïcødé ✓', 'a\u0000b'],
  bytes: [Buffer.alloc(0), Buffer.from([0, 1, 255]), Buffer.from('hi')],
  bool: [true, false],
  unix_timestamp: ['0', '1700000000', '-1', '8640000000000', '-8640000000000'],
  int32_list: [{ val: [] }, { val: [1, -2, 2147483647] }],
  int64_list: [{ val: [] }, { val: [INT64_MIN, '0', INT64_MAX] }],
  float_list: [{ val: [] }, { val: [1.5, f32(0.1), -2] }],
  double_list: [{ val: [] }, { val: [0.1, 1e300, -0.5] }],
  string_list: [{ val: [] }, { val: ['a', '', 'c'] }],
  bytes_list: [{ val: [] }, { val: [Buffer.from([1]), Buffer.alloc(0)] }],
  bool_list: [{ val: [] }, { val: [true, false, true] }],
  unix_timestamp_list: [{ val: [] }, { val: ['0', '1700000000', '-86400'] }],
};

describe('decodeValue -> encodeValue round trip', () => {
  it('has samples for all 16 types', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...VALUE_TYPES].sort());
  });

  for (const type of VALUE_TYPES) {
    it.each(SAMPLES[type].map((s) => [s]))(`${type}: %o`, (inner) => {
      const incoming = proto(type, inner);
      const stored = decodeValue(type, incoming, 'value') as StoredValue;
      expect(stored).not.toBeNull();
      expect(asDecoded(type, encodeValue(type, stored))).toEqual(incoming);
    });
  }

  it('stores int64 as a driver Long and unix_timestamp as a Date', () => {
    const int64 = decodeValue('int64', proto('int64', INT64_MIN), 'v');
    expect(int64).toBeInstanceOf(Long);
    expect(int64!.toString()).toBe(INT64_MIN);

    const time = decodeValue('unix_timestamp', proto('unix_timestamp', '1700000000'), 'v');
    expect(time).toEqual(new Date('2023-11-14T22:13:20Z'));

    const times = decodeValue('unix_timestamp_list', proto('unix_timestamp_list', { val: ['-1'] }), 'v');
    expect(times).toEqual([new Date(-1000)]);
  });

  it('encodes int64 as a long.js-shaped object and timestamps as whole seconds', () => {
    const encoded = encodeValue('int64', Long.fromString(INT64_MAX));
    expect(encoded.int64_val).toMatchObject({ low: expect.any(Number), high: expect.any(Number) });
    expect(String(encoded.int64_val)).toBe(INT64_MAX);
    // A stored Date with milliseconds rounds down to the second (also before 1970).
    expect(encodeValue('unix_timestamp', new Date(1999))).toEqual({ unix_timestamp_val: 1 });
    expect(encodeValue('unix_timestamp', new Date(-1))).toEqual({ unix_timestamp_val: -1 });
  });

  it('treats a missing list message as an empty list', () => {
    expect(decodeValue('string_list', { val: 'string_list_val', string_list_val: null }, 'v')).toEqual([]);
    expect(decodeValue('int64_list', { val: 'int64_list_val' }, 'v')).toEqual([]);
  });
});

describe('decodeValue: nulls', () => {
  it.each(VALUE_TYPES.map((t) => [t]))('%s: null_val and an empty Value decode to null', (type) => {
    expect(decodeValue(type, { val: 'null_val', null_val: 'NULL' }, 'v')).toBeNull();
    expect(decodeValue(type, {}, 'v')).toBeNull();
  });
});

describe('decodeValue: widening', () => {
  it('accepts int32 for int64', () => {
    const stored = decodeValue('int64', { val: 'int32_val', int32_val: -2147483648 }, 'v');
    expect(stored).toBeInstanceOf(Long);
    expect(stored!.toString()).toBe('-2147483648');
  });

  it.each(['2147483647', '-2147483648', '0', '-7'])('accepts int64 %s for int32', (text) => {
    expect(decodeValue('int32', { val: 'int64_val', int64_val: text }, 'v')).toBe(Number(text));
  });

  it('accepts double for float, rounding to single precision', () => {
    expect(decodeValue('float', { val: 'double_val', double_val: 0.1 }, 'v')).toBe(f32(0.1));
    expect(decodeValue('float', { val: 'double_val', double_val: -3.4e38 }, 'v')).toBe(f32(-3.4e38));
    // Non-finite values pass through.
    expect(decodeValue('float', { val: 'double_val', double_val: Infinity }, 'v')).toBe(Infinity);
    expect(decodeValue('float', { val: 'double_val', double_val: NaN }, 'v')).toBeNaN();
  });

  it('accepts float for double', () => {
    expect(decodeValue('double', { val: 'float_val', float_val: f32(0.1) }, 'v')).toBe(f32(0.1));
  });

  it('accepts int64 for unix_timestamp', () => {
    expect(decodeValue('unix_timestamp', { val: 'int64_val', int64_val: '86400' }, 'v')).toEqual(new Date(86_400_000));
  });

  // Doubles up to FLOAT32_MAX + half an ulp round to FLOAT32_MAX, including the usual decimal
  // spelling of the float maximum, 3.4028235e38 (Java's Float.MAX_VALUE printed).
  it('accepts a double that rounds to the largest finite float', () => {
    expect(decodeValue('float', { val: 'double_val', double_val: 3.4028235e38 }, 'v')).toBe(f32(3.4028235e38));
  });
});

describe('decodeValue: rejected values', () => {
  it('rejects int64 overflow, naming the path and the value', () => {
    expectInvalid(
      () => decodeValue('int64', { val: 'int64_val', int64_val: '9223372036854775808' }, 'rows[0].features["clicks"]'),
      'rows[0].features["clicks"]',
      '9223372036854775808',
      'int64',
    );
    expectInvalid(
      () => decodeValue('int64', { val: 'int64_val', int64_val: '-9223372036854775809' }, 'w'),
      'w:',
      'int64',
    );
  });

  it('rejects an int64 that is not an integer', () => {
    expectInvalid(
      () => decodeValue('int64', { val: 'int64_val', int64_val: 'abc' }, 'w'),
      'w:',
      '"abc" is not an integer',
    );
  });

  it.each(['2147483648', '-2147483649'])('rejects int64 %s for int32', (text) => {
    expectInvalid(
      () => decodeValue('int32', { val: 'int64_val', int64_val: text }, 'where'),
      'where:',
      `${text} is outside int32`,
    );
  });

  it('rejects int64 max for int32 (the message shows the value as a rounded double)', () => {
    expectInvalid(
      () => decodeValue('int32', { val: 'int64_val', int64_val: INT64_MAX }, 'where'),
      'where:',
      'is outside int32',
    );
  });

  it.each([1e39, -1e39, Number.MAX_VALUE])('rejects double %d for float', (n) => {
    expectInvalid(() => decodeValue('float', { val: 'double_val', double_val: n }, 'f'), 'f:', 'float');
  });

  it.each([
    ['unix_timestamp_val', '8640000000001'],
    ['unix_timestamp_val', '-8640000000001'],
    ['int64_val', INT64_MAX],
  ] as const)('rejects unix timestamp %s %s as out of range', (kind, text) => {
    expectInvalid(
      () => decodeValue('unix_timestamp', { val: kind, [kind]: text }, 'ts'),
      'ts:',
      `unix timestamp ${text} is out of range`,
    );
  });

  it.each([
    ['int64', { val: 'string_val', string_val: '1' }, 'expected int64, got string_val'],
    ['int32', { val: 'double_val', double_val: 1 }, 'expected int32, got double_val'],
    ['double', { val: 'int64_val', int64_val: '1' }, 'expected double, got int64_val'],
    ['float', { val: 'int32_val', int32_val: 1 }, 'expected float, got int32_val'],
    ['string', { val: 'bytes_val', bytes_val: Buffer.from('x') }, 'expected string, got bytes_val'],
    ['bytes', { val: 'string_val', string_val: 'x' }, 'expected bytes, got string_val'],
    ['bool', { val: 'int32_val', int32_val: 1 }, 'expected bool, got int32_val'],
    ['unix_timestamp', { val: 'int32_val', int32_val: 1 }, 'expected unix_timestamp, got int32_val'],
    ['int64', { val: 'int64_list_val', int64_list_val: { val: ['1'] } }, 'expected int64, got int64_list_val'],
  ] as [ValueType, Value__Output, string][])('rejects the wrong case for %s', (type, value, message) => {
    expectInvalid(() => decodeValue(type, value, 'col[3]'), `col[3]: ${message}`);
  });

  it.each([
    [
      'int64_list',
      { val: 'int32_list_val', int32_list_val: { val: [1] } },
      'expected int64_list (int64_list_val), got int32_list_val',
    ],
    ['float_list', { val: 'double_list_val', double_list_val: { val: [1] } }, 'expected float_list'],
    ['string_list', { val: 'string_val', string_val: 'a' }, 'expected string_list (string_list_val), got string_val'],
    ['unix_timestamp_list', { val: 'int64_list_val', int64_list_val: { val: ['1'] } }, 'expected unix_timestamp_list'],
  ] as [ValueType, Value__Output, string][])('rejects the wrong list case for %s', (type, value, message) => {
    expectInvalid(() => decodeValue(type, value, 'v'), `v: ${message}`);
  });

  it('names the offending element of an int64 or timestamp list', () => {
    expectInvalid(
      () => decodeValue('int64_list', proto('int64_list', { val: ['1', '99999999999999999999'] }), 'x'),
      'x[1]:',
      '99999999999999999999',
    );
    expectInvalid(
      () => decodeValue('unix_timestamp_list', proto('unix_timestamp_list', { val: ['0', '0', '9000000000000'] }), 'x'),
      'x[2]:',
      'out of range',
    );
  });
});

describe('decodeEntityKey', () => {
  it('rejects null_val and an empty Value', () => {
    expectInvalid(
      () => decodeEntityKey('string', { val: 'null_val', null_val: 'NULL' }, 'entities["k"][0]'),
      'entities["k"][0]: an entity key cannot be null',
    );
    expectInvalid(() => decodeEntityKey('int64', {}, 'k'), 'k: an entity key cannot be null');
  });

  it('decodes each key type, with the usual widening', () => {
    expect(decodeEntityKey('string', proto('string', 'abc'), 'k')).toBe('abc');
    expect(decodeEntityKey('bytes', proto('bytes', Buffer.from([7])), 'k')).toEqual(Buffer.from([7]));
    expect(decodeEntityKey('int32', proto('int64', '12'), 'k')).toBe(12);
    expect(decodeEntityKey('int64', proto('int32', 12), 'k')!.toString()).toBe('12');
  });

  it('rejects a key of the wrong type', () => {
    expectInvalid(() => decodeEntityKey('int64', proto('string', '12'), 'k'), 'k: expected int64, got string_val');
  });
});

describe('entityKeyString', () => {
  it('does not confuse a separator inside a string with two parts', () => {
    expect(entityKeyString(['a\u0001b'])).not.toBe(entityKeyString(['a', 'b']));
    expect(entityKeyString(['a"\u0001"b'])).not.toBe(entityKeyString(['a', 'b']));
  });

  it('tags strings apart from numbers: "1" and 1 differ, int32 1 and int64 1 do not', () => {
    expect(entityKeyString(['1'])).not.toBe(entityKeyString([1]));
    // Parts are typed by position (a view fixes each join key's type), so numbers and Longs of
    // the same value share a key: an int32_val and an int64_val of one entity dedupe together.
    expect(entityKeyString([1])).toBe(entityKeyString([Long.fromInt(1)]));
    expect(entityKeyString([Long.fromString(INT64_MIN)])).toBe(INT64_MIN);
  });

  it('is stable for equal inputs held in different objects', () => {
    const make = () => [Long.fromString('123456789012345'), 'x', Buffer.from([1, 2, 3])];
    expect(entityKeyString(make())).toBe(entityKeyString(make()));
  });

  it('keys bytes by content, apart from strings and from longer buffers', () => {
    expect(entityKeyString([Buffer.from([0xab, 0x01])])).toBe(entityKeyString([Buffer.from('ab01', 'hex')]));
    expect(entityKeyString([Buffer.from([0xab])])).not.toBe(entityKeyString(['xab']));
    expect(entityKeyString([Buffer.from([1, 2])])).not.toBe(entityKeyString([Buffer.from([1, 2, 0])]));
    expect(entityKeyString([Buffer.alloc(0)])).not.toBe(entityKeyString(['']));
  });

  it('depends on the order of composite parts', () => {
    expect(entityKeyString(['a', 'b'])).not.toBe(entityKeyString(['b', 'a']));
    expect(entityKeyString([''])).not.toBe(entityKeyString(['', '']));
  });

  it('is injective over non-empty tuples of strings (property)', () => {
    const tuple = fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(tuple, tuple, (a, b) => {
        const same = a.length === b.length && a.every((s, i) => s === b[i]);
        return (entityKeyString(a) === entityKeyString(b)) === same;
      }),
    );
  });
});

describe('valueFromJson / valueToJson', () => {
  it.each([
    ['int32', -7, { int32_val: -7 }, -7],
    ['int32', '12', { int32_val: 12 }, 12],
    ['int64', INT64_MAX, { int64_val: INT64_MAX }, INT64_MAX],
    ['int64', 42, { int64_val: '42' }, '42'],
    ['float', 1.5, { float_val: 1.5 }, 1.5],
    ['float', 'NaN', { float_val: NaN }, 'NaN'],
    ['double', 'Infinity', { double_val: Infinity }, 'Infinity'],
    ['double', '-Infinity', { double_val: -Infinity }, '-Infinity'],
    ['double', 0.1, { double_val: 0.1 }, 0.1],
    ['string', 'héllo', { string_val: 'héllo' }, 'héllo'],
    ['bytes', 'AAH/', { bytes_val: Buffer.from([0, 1, 255]) }, 'AAH/'],
    ['bool', false, { bool_val: false }, false],
    ['unix_timestamp', 1704067200, { unix_timestamp_val: '1704067200' }, '1704067200'],
    ['unix_timestamp', '1704067200', { unix_timestamp_val: '1704067200' }, '1704067200'],
    ['unix_timestamp', '2024-01-01T00:00:00Z', { unix_timestamp_val: '1704067200' }, '1704067200'],
    ['unix_timestamp', '1969-12-31T23:59:59.500Z', { unix_timestamp_val: '-1' }, '-1'],
    ['int32_list', [1, 2], { int32_list_val: { val: [1, 2] } }, [1, 2]],
    ['int64_list', ['1', 2], { int64_list_val: { val: ['1', '2'] } }, ['1', '2']],
    ['float_list', [0.5, 'NaN'], { float_list_val: { val: [0.5, NaN] } }, [0.5, 'NaN']],
    ['double_list', [], { double_list_val: { val: [] } }, []],
    ['string_list', ['a', ''], { string_list_val: { val: ['a', ''] } }, ['a', '']],
    ['bytes_list', ['AQ==', ''], { bytes_list_val: { val: [Buffer.from([1]), Buffer.alloc(0)] } }, ['AQ==', '']],
    ['bool_list', [true], { bool_list_val: { val: [true] } }, [true]],
    [
      'unix_timestamp_list',
      ['1970-01-02T00:00:00Z', 5],
      { unix_timestamp_list_val: { val: ['86400', '5'] } },
      ['86400', '5'],
    ],
  ] as [ValueType, unknown, Value, unknown][])('%s: %j', (type, json, value, back) => {
    expect(valueFromJson(type, json, 'v')).toEqual(value);
    expect(valueToJson(valueFromJson(type, json, 'v'))).toEqual(back);
  });

  it('round trips a canonical JSON value of every type', () => {
    const canonical: Record<ValueType, unknown> = {
      int32: 5,
      int64: '-9223372036854775808',
      float: 'NaN',
      double: -1.25,
      string: 's',
      bytes: 'AQID',
      bool: true,
      unix_timestamp: '1700000000',
      int32_list: [1],
      int64_list: ['9223372036854775807'],
      float_list: ['Infinity'],
      double_list: [2.5],
      string_list: ['x', 'y'],
      bytes_list: ['/w=='],
      bool_list: [false],
      unix_timestamp_list: ['-5'],
    };
    for (const type of VALUE_TYPES) {
      expect(valueToJson(valueFromJson(type, canonical[type], 'v')), type).toEqual(canonical[type]);
    }
  });

  it('maps null both ways', () => {
    expect(valueFromJson('int64', null, 'v')).toEqual({ null_val: 'NULL' });
    expect(valueToJson({ null_val: 'NULL' })).toBeNull();
    expect(valueToJson({ val: 'null_val', null_val: 'NULL' })).toBeNull();
    expect(valueToJson({})).toBeNull();
  });

  it('reads decoded messages by their val case', () => {
    expect(valueToJson({ val: 'int64_val', int64_val: INT64_MIN })).toBe(INT64_MIN);
    expect(valueToJson({ val: 'string_val', string_val: 'x', int64_val: '0' } as Value__Output)).toBe('x');
    expect(valueToJson({ val: 'bytes_list_val', bytes_list_val: { val: [Buffer.from('hi')] } })).toEqual(['aGk=']);
    expect(valueToJson({ val: 'double_list_val', double_list_val: { val: [NaN, -Infinity, 1] } })).toEqual([
      'NaN',
      '-Infinity',
      1,
    ]);
  });

  it.each([
    ['int32', '2147483648', '2147483648 is outside int32'],
    ['int32', -2147483649, '-2147483649 is outside int32'],
    ['int32', 1.5, 'expected int32 (an integer), got 1.5'],
    ['int64', 2 ** 53, 'expected int64 (an integer)'],
    ['int64', '12a', 'expected int64 (an integer), got "12a"'],
    ['int64', true, 'expected int64 (an integer), got true'],
    ['float', 'abc', 'expected float (a number), got "abc"'],
    ['double', 'nan', 'expected double (a number)'],
    ['string', 5, 'expected string, got 5'],
    ['bytes', 5, 'expected bytes, got 5'],
    ['bool', 'true', 'expected bool, got "true"'],
    ['unix_timestamp', 'not a date', '"not a date" is not an ISO-8601 time or unix seconds'],
    ['unix_timestamp', 1.5, 'expected unix_timestamp (an integer)'],
    ['string_list', 'a', 'expected string_list (an array), got "a"'],
  ] as [ValueType, unknown, string][])('rejects %s %j', (type, json, message) => {
    expectInvalid(() => valueFromJson(type, json, 'rows[2].x'), `rows[2].x: ${message}`);
  });

  it('names the offending list element', () => {
    expectInvalid(
      () => valueFromJson('int32_list', [1, 'two', 3], 'f'),
      'f[1]: expected int32 (an integer), got "two"',
    );
  });

  it('produces values decodeValue accepts', () => {
    const value = valueFromJson('int64', INT64_MIN, 'v') as Value__Output;
    expect(decodeValue('int64', { ...value, val: 'int64_val' }, 'v')!.toString()).toBe(INT64_MIN);
    const time = valueFromJson('unix_timestamp', '2024-01-01T00:00:00Z', 'v') as Value__Output;
    expect(decodeValue('unix_timestamp', { ...time, val: 'unix_timestamp_val' }, 'v')).toEqual(
      new Date('2024-01-01T00:00:00Z'),
    );
  });
});

describe('decoding edge cases found in review', () => {
  it('refuses int64 strings that are not plain decimal integers', () => {
    for (const text of ['', '0x10', '1e3', ' 12', '+5']) {
      expectInvalid(() => decodeValue('int64', { val: 'int64_val', int64_val: text }, 'v'), 'v', 'not an integer');
    }
  });

  it('names the exact int64 value that does not fit an int32', () => {
    expectInvalid(
      () => decodeValue('int32', { val: 'int64_val', int64_val: INT64_MAX }, 'v'),
      `v: ${INT64_MAX} is outside int32`,
    );
    expect(decodeValue('int32', { val: 'int64_val', int64_val: '-2147483648' }, 'v')).toBe(-2147483648);
  });

  it('refuses bytes that are not base64 instead of dropping characters', () => {
    expectInvalid(() => valueFromJson('bytes', 'not base64!', 'row 0.blob'), 'row 0.blob', 'base64');
    expect(valueFromJson('bytes', 'AAEC/w==', 'b')).toEqual({ bytes_val: Buffer.from([0, 1, 2, 255]) });
  });
});
