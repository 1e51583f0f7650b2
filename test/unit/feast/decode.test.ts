import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  decodeFeastEntityKey,
  EntityKeyError,
  feastCellValue,
  FeatureValueError,
} from '../../../src/feast/migrate/index.js';
import type { Value__Output } from '../../../src/generated/cassette/v1/Value.js';
import { decodeValue, type StoredValue } from '../../../src/values/index.js';
import type { ValueType } from '../../../src/registry/index.js';

/**
 * Cassette's decoders of Feast's online-store bytes, against bytes Feast 0.67 itself produced
 * (test/feast/golden/make_golden.py: serialize_entity_key and Value.SerializeToString).
 */
interface Golden {
  entity_keys: {
    name: string;
    version: number;
    join_keys: string[];
    hex: string;
    values: Record<string, Record<string, string | number>>;
  }[];
  values: { name: string; hex: string; case: string | null }[];
}

const golden = JSON.parse(readFileSync(new URL('../../feast/golden/vectors.json', import.meta.url), 'utf8')) as Golden;

/** A decoded key value in the golden file's form: bytes as hex. */
function plain(value: Value__Output): Record<string, string | number> {
  const valueCase = value.val!;
  const inner = value[valueCase];
  return { [valueCase]: Buffer.isBuffer(inner) ? inner.toString('hex') : (inner as string | number) };
}

describe('decodeFeastEntityKey', () => {
  for (const vector of golden.entity_keys) {
    it(`decodes Feast's ${vector.name} key, serialization version ${vector.version}`, () => {
      const keys = decodeFeastEntityKey(vector.hex, vector.version, vector.join_keys);
      expect(Object.keys(keys)).toEqual(vector.join_keys);
      expect(Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, plain(v)]))).toEqual(vector.values);
    });
  }

  const v3 = golden.entity_keys.find((v) => v.name === 'composite' && v.version === 3)!;

  it('refuses keys that are not what the view says', () => {
    expect(() => decodeFeastEntityKey(v3.hex, 3, ['item_id'])).toThrow(/has 2 join keys; the view has 1/);
    expect(() => decodeFeastEntityKey(v3.hex, 3, ['item_id', 'user'])).toThrow(
      /join keys item_id, user_id; the view has item_id, user/,
    );
    const v2 = golden.entity_keys.find((v) => v.name === 'composite' && v.version === 2)!;
    expect(() => decodeFeastEntityKey(v2.hex, 2, ['item_ix', 'user_id'])).toThrow(/expected join key "item_ix"/);
  });

  it('refuses malformed keys with the reason', () => {
    expect(() => decodeFeastEntityKey('zz', 3, ['a'])).toThrow(/not hex text/);
    expect(() => decodeFeastEntityKey(v3.hex.slice(0, -4), 3, ['item_id', 'user_id'])).toThrow(/ends inside/);
    expect(() => decodeFeastEntityKey(v3.hex + '00', 3, ['item_id', 'user_id'])).toThrow(/bytes after its last value/);
    expect(() => decodeFeastEntityKey(v3.hex, 3, ['item_id', 'user_id'])).not.toThrow();
    const error = (() => {
      try {
        decodeFeastEntityKey('', 3, ['a']);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(EntityKeyError);
  });
});

/** A stored value as plain JSON: int64 and timestamps (unix seconds) as text, bytes as base64. */
function plainStored(stored: StoredValue | null): unknown {
  if (Array.isArray(stored)) return stored.map((item) => plainStored(item));
  if (Buffer.isBuffer(stored)) return stored.toString('base64');
  if (stored instanceof Date) return String(stored.getTime() / 1000);
  if (typeof stored === 'object' && stored !== null) return stored.toString();
  return stored;
}

describe('feastCellValue', () => {
  const byName = new Map(golden.values.map((v) => [v.name, v]));
  const cell = (name: string) => feastCellValue(Buffer.from(byName.get(name)!.hex, 'hex'));

  it('decodes every value Feast writes for a type Cassette has, into that type', () => {
    const expectations: [string, ValueType, unknown][] = [
      ['int32', 'int32', -2147483648],
      ['int64', 'int64', '-9223372036854775807'],
      ['int64 big', 'int64', '9007199254740993'],
      ['double', 'double', -0.1],
      ['float', 'float', 1.5],
      ['string', 'string', 'naïve ☃'],
      ['empty string', 'string', ''],
      ['bytes', 'bytes', Buffer.from([0, 1, 0xfe]).toString('base64')],
      ['bool true', 'bool', true],
      ['bool false', 'bool', false],
      ['unix timestamp', 'unix_timestamp', '1767225600'],
      ['int32 list', 'int32_list', [1, -2, 2147483647]],
      ['int64 list', 'int64_list', [String(2n ** 62n), '-1']],
      ['double list', 'double_list', [0.5, -1e300]],
      ['float list', 'float_list', [0.25, -3.5]],
      ['empty float list', 'float_list', []],
      ['string list', 'string_list', ['a', '', 'ü']],
      ['bytes list', 'bytes_list', ['eA==', '']],
      ['bool list', 'bool_list', [true, false, true]],
      ['unix timestamp list', 'unix_timestamp_list', ['0', '1767225600']],
    ];
    for (const [name, type, json] of expectations) {
      const value = cell(name);
      expect(value.val, name).toBe(byName.get(name)!.case ?? undefined);
      const stored = decodeValue(type, value, name);
      expect(plainStored(stored), name).toEqual(json);
    }
  });

  it("reads Feast's empty Value (a null feature) and null_val as null", () => {
    for (const name of ['empty', 'null']) {
      expect(decodeValue('string', cell(name), name)).toBeNull();
    }
    expect(decodeValue('int64', feastCellValue(null), 'x')).toBeNull();
  });

  it('refuses the value types Cassette has no column type for, naming them', () => {
    expect(() => cell('json')).toThrow(FeatureValueError);
    expect(() => cell('json')).toThrow(/json_val value has no Cassette type/);
    expect(() => cell('map')).toThrow(/map_val value has no Cassette type/);
    expect(() => feastCellValue(Buffer.from([0x0a, 0x05, 0x01]))).toThrow(/not a serialized feast.types.Value/);
  });
});
