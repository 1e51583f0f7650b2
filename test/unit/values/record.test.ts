import { describe, expect, it } from 'vitest';

import { CassetteError } from '../../../src/errors/index.js';
import type { Value__Output } from '../../../src/generated/cassette/v1/Value.js';
import { eventTimeFromText, eventTimeFromValue, ParquetTimestamp } from '../../../src/import/event-time.js';
import { RejectedRecord } from '../../../src/import/sources/source.js';
import { VALUE_TYPES, type ValueType } from '../../../src/registry/index.js';
import { timestampFromMicros } from '../../../src/time/index.js';
import {
  decodeValue,
  storedFromJson,
  storedFromParquet,
  storedFromText,
  valueFromJson,
} from '../../../src/values/index.js';

const INT64_MAX = '9223372036854775807';

function rejects(fn: () => unknown, fragment: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught instanceof CassetteError || caught instanceof RejectedRecord, String(caught)).toBe(true);
  expect((caught as Error).message).toContain(fragment);
}

// The stored form is what matters: the same value however the file spelled it.

describe('storedFromText (CSV cells)', () => {
  const cases: [ValueType, string, unknown][] = [
    ['int32', ' -2147483648 ', -2147483648],
    ['int64', INT64_MAX, INT64_MAX],
    ['float', '1.5e3', 1500],
    ['float', '-inf', Number.NEGATIVE_INFINITY],
    ['double', '.25', 0.25],
    ['double', 'NaN', Number.NaN],
    ['double', 'Infinity', Number.POSITIVE_INFINITY],
    ['string', ' as is, "quoted" ', ' as is, "quoted" '],
    ['bytes', 'AAEC/w==', Buffer.from([0, 1, 2, 255])],
    ['bool', 'TRUE', true],
    ['bool', '0', false],
    ['unix_timestamp', '1767225600', new Date('2026-01-01T00:00:00Z')],
    ['unix_timestamp', '2026-01-01T00:00:05Z', new Date('2026-01-01T00:00:05Z')],
    ['int32_list', '[1, -2]', [1, -2]],
    ['int64_list', `["${INT64_MAX}", 7]`, [INT64_MAX, '7']],
    ['float_list', '[0.5, "NaN"]', [0.5, Number.NaN]],
    ['double_list', '[]', []],
    ['string_list', '["a,b", ""]', ['a,b', '']],
    ['bytes_list', '["AQ==", ""]', [Buffer.from([1]), Buffer.alloc(0)]],
    ['bool_list', '[true,false]', [true, false]],
    ['unix_timestamp_list', '[0, "1970-01-01T00:01:00Z"]', [new Date(0), new Date(60_000)]],
  ];

  it('covers every value type', () => {
    expect(new Set(cases.map(([type]) => type))).toEqual(new Set(VALUE_TYPES));
  });

  it.each(cases)('%s %j', (type, text, expected) => {
    const decoded = storedFromText(type, text, 'column "c"');
    const normalize = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(normalize)
        : v !== null && typeof v === 'object' && 'toString' in v && !(v instanceof Date) && !Buffer.isBuffer(v)
          ? String(v)
          : v;
    expect(normalize(decoded)).toEqual(expected);
  });

  it.each([
    ['int32', '2147483648', 'outside int32'],
    ['int32', '1.5', 'expected int32'],
    ['int64', '9223372036854775808', 'outside int64'],
    ['float', '12abc', 'expected float (a number)'],
    ['double', '', 'expected double'],
    ['bool', 'yes', 'expected bool'],
    ['bytes', 'not base64!', 'base64'],
    ['unix_timestamp', 'yesterday', 'not an ISO-8601 time'],
    ['int32_list', '1,2', 'as a JSON array'],
    ['int32_list', '{"a":1}', 'as a JSON array'],
    ['string_list', '[1]', 'expected string'],
    ['int64_list', '[1, "x"]', '[1]'],
  ] as [ValueType, string, string][])('refuses %s %j', (type, text, fragment) => {
    // Every limit (int64's range too) is checked on the way to the stored form.
    rejects(() => storedFromText(type, text, 'column "c"'), fragment);
  });
});

describe('storedFromJson', () => {
  it('stores what the gRPC door stores of the Value valueFromJson builds, for every type', () => {
    const samples: Record<ValueType, unknown> = {
      int32: 5,
      int64: INT64_MAX,
      float: 1.5,
      double: 'NaN',
      string: 'x',
      bytes: 'AQ==',
      bool: true,
      unix_timestamp: 60,
      int32_list: [1],
      int64_list: ['2'],
      float_list: [0.5],
      double_list: [],
      string_list: ['a'],
      bytes_list: ['AQ=='],
      bool_list: [false],
      unix_timestamp_list: [1],
    };
    for (const type of VALUE_TYPES) {
      const sent = { ...valueFromJson(type, samples[type], 'f'), val: `${type}_val` } as Value__Output;
      expect(storedFromJson(type, samples[type], 'f')).toEqual(decodeValue(type, sent, 'f'));
    }
    expect(storedFromJson('int32', null, 'f')).toBeNull();
  });

  it('names the bad element of a list', () => {
    rejects(() => storedFromJson('int32_list', [1, 2, 'x'], 'field "n"'), 'field "n"[2]: expected int32');
  });
});

describe('event times', () => {
  // Compared as Timestamps: exact µs, seconds as text.
  const at = (text: string, unit: 's' | 'ms' | 'us' = 's') =>
    timestampFromMicros(eventTimeFromText(text, unit, 'column "t"'));
  const of = (value: unknown, unit: 's' | 'ms' | 'us' = 's') =>
    timestampFromMicros(eventTimeFromValue(value, unit, 'f'));

  it('reads ISO-8601 with zones, microseconds and a date alone; no zone is UTC', () => {
    expect(at('2026-01-31T12:00:00Z')).toEqual({ seconds: '1769860800', nanos: 0 });
    expect(at('2026-01-31 12:00:00.123456789')).toEqual({ seconds: '1769860800', nanos: 123456000 });
    expect(at('2026-01-31T14:00:00.5+02:00')).toEqual({ seconds: '1769860800', nanos: 500000000 });
    expect(at('2026-01-31T11:30:00-0030')).toEqual({ seconds: '1769860800', nanos: 0 });
    expect(at('2026-01-31')).toEqual({ seconds: '1769817600', nanos: 0 });
  });

  it('reads unix times in the given unit exactly, fractions included', () => {
    expect(at('1769860800')).toEqual({ seconds: '1769860800', nanos: 0 });
    expect(at('1769860800.000001')).toEqual({ seconds: '1769860800', nanos: 1000 });
    expect(at('1769860800123', 'ms')).toEqual({ seconds: '1769860800', nanos: 123000000 });
    expect(at('1769860800123456', 'us')).toEqual({ seconds: '1769860800', nanos: 123456000 });
    expect(of(1769860800.25)).toEqual({ seconds: '1769860800', nanos: 250000000 });
    expect(of(1769860800123n, 'ms')).toEqual({ seconds: '1769860800', nanos: 123000000 });
  });

  it('reads Parquet timestamps at full precision and dates', () => {
    expect(of(new ParquetTimestamp(1769860800123456n))).toEqual({
      seconds: '1769860800',
      nanos: 123456000,
    });
    expect(of(new Date('2026-01-31T00:00:00Z'))).toEqual({ seconds: '1769817600', nanos: 0 });
  });

  it.each(['2026-02-30T00:00:00Z', '2026-01-31T24:00:00Z', 'tomorrow', '2026-01-31T12:00:00+25:00', '1e9'])(
    'refuses %j',
    (text) => rejects(() => at(text), 'column "t"'),
  );

  it('refuses values that are not times', () => {
    rejects(() => eventTimeFromValue(true, 's', 'f'), 'expected a time');
    rejects(() => eventTimeFromValue(new Uint8Array([1]), 's', 'f'), 'got bytes');
    rejects(() => eventTimeFromValue(Number.POSITIVE_INFINITY, 's', 'f'), 'not a time');
  });
});

describe('storedFromParquet', () => {
  it('converts Parquet values of every type, INT64 exactly', () => {
    const cases: [ValueType, unknown, unknown][] = [
      ['int32', 7, 7],
      ['int32', 7n, 7],
      ['int64', 2n ** 63n - 1n, INT64_MAX],
      ['int64', 3, '3'],
      ['float', 0.5, 0.5],
      ['double', 12n, 12],
      ['string', 'héllo', 'héllo'],
      ['string', new TextEncoder().encode('bytes as text'), 'bytes as text'],
      ['bytes', new Uint8Array([0, 255]), Buffer.from([0, 255])],
      ['bytes', 'AP8=', Buffer.from([0, 255])],
      ['bool', false, false],
      ['unix_timestamp', new ParquetTimestamp(1_500_999_999n), new Date(1_500_000)],
      ['unix_timestamp', new Date(1_500_999), new Date(1_500_000)],
      ['unix_timestamp', 60n, new Date(60_000)],
      ['int32_list', [1, 2], [1, 2]],
      ['int64_list', [1n, -(2n ** 63n)], ['1', '-9223372036854775808']],
      ['float_list', [0.25], [0.25]],
      ['double_list', [], []],
      ['string_list', ['a'], ['a']],
      ['bytes_list', [new Uint8Array([1])], [Buffer.from([1])]],
      ['bool_list', [true], [true]],
      ['unix_timestamp_list', [new ParquetTimestamp(2_000_000n)], [new Date(2000)]],
      ['int32_list', '[3]', [3]],
    ];
    for (const [type, input, expected] of cases) {
      const decoded = storedFromParquet(type, input, 'column "c"');
      const plain = Array.isArray(decoded)
        ? decoded.map((v) => (typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v) ? String(v) : v))
        : typeof decoded === 'object' && decoded !== null && !(decoded instanceof Date) && !Buffer.isBuffer(decoded)
          ? String(decoded)
          : decoded;
      expect(plain, `${type} ${String(input)}`).toEqual(expected);
    }
  });

  it('leaves a null unset', () => {
    expect(storedFromParquet('int32', null, 'c')).toBeUndefined();
    expect(storedFromParquet('int32_list', undefined, 'c')).toBeUndefined();
  });

  it.each([
    ['int32', 1.5, 'expected int32, got number'],
    ['int32', 2n ** 40n, 'outside int32'],
    ['bool', 1, 'expected bool, got number'],
    ['int32', [1], 'got a list'],
    ['int32_list', 1, 'expected int32_list, got number'],
    ['int32_list', [1, null], '[1]: a list cannot hold a null'],
    ['string', new Uint8Array([0xff]), 'not valid UTF-8'],
    ['bytes', true, 'expected bytes'],
  ] as [ValueType, unknown, string][])('refuses %s %s', (type, value, fragment) => {
    rejects(() => storedFromParquet(type, value, 'column "c"'), fragment);
  });
});
