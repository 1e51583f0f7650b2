import cassandra from 'cassandra-driver';

import { invalidArgument } from '../errors/index.js';
import type { Value__Output } from '../generated/cassette/v1/Value.js';
import { elementType, isListType, type EntityKeyType, type ScalarType, type ValueType } from '../registry/index.js';
import { MAX_PARTITION_KEY_BYTES } from './key.js';

const Long = cassandra.types.Long;
type Long = cassandra.types.Long;

/**
 * A feature value as the Cassandra driver binds and returns it: number (int32, float, double),
 * Long (int64), string, Buffer (bytes), boolean, Date (unix_timestamp), or an array of those.
 */
export type StoredScalar = number | Long | string | Buffer | boolean | Date;
export type StoredValue = StoredScalar | StoredScalar[];

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** JavaScript Dates (what the driver maps CQL timestamps to) span ±8.64e15 ms. */
export const MAX_UNIX_SECONDS = 8_640_000_000_000;

type ValueCase = NonNullable<Value__Output['val']>;

function describeCase(value: Value__Output): string {
  return value.val ?? 'no value';
}

const DECIMAL_INTEGER = /^-?\d+$/;

function parseInt64(text: string, where: string): Long {
  // proto-loader hands int64 over as a decimal string; reject anything that would wrap.
  if (!DECIMAL_INTEGER.test(text)) throw invalidArgument(`${where}: "${text}" is not an integer`);
  const big = BigInt(text);
  if (big < INT64_MIN || big > INT64_MAX) throw invalidArgument(`${where}: ${text} is outside int64`);
  return Long.fromString(text);
}

function int64TextToInt32(text: string, where: string): number {
  parseInt64(text, where);
  const big = BigInt(text);
  if (big < BigInt(INT32_MIN) || big > BigInt(INT32_MAX)) throw invalidArgument(`${where}: ${text} is outside int32`);
  return Number(big);
}

function unixSecondsToDate(seconds: Long | number, where: string): Date {
  const n = typeof seconds === 'number' ? seconds : seconds.toNumber();
  if (!Number.isFinite(n) || Math.abs(n) > MAX_UNIX_SECONDS) {
    throw invalidArgument(`${where}: unix timestamp ${String(seconds)} is out of range (±${MAX_UNIX_SECONDS} s)`);
  }
  return new Date(n * 1000);
}

function toFloat32(n: number, where: string): number {
  const narrowed = Math.fround(n);
  // Doubles just above the largest float still round to it; only a true overflow is refused.
  if (Number.isFinite(n) && !Number.isFinite(narrowed)) throw invalidArgument(`${where}: ${n} does not fit a float`);
  return narrowed;
}

/** One scalar from its proto case, with the widening conversions we accept. */
function decodeScalar(type: ScalarType, value: Value__Output, where: string): StoredScalar {
  const kind: ValueCase | undefined = value.val;
  switch (type) {
    case 'int32':
      if (kind === 'int32_val') return value.int32_val as number;
      if (kind === 'int64_val') return int64TextToInt32(value.int64_val as string, where);
      break;
    case 'int64':
      if (kind === 'int64_val') return parseInt64(value.int64_val as string, where);
      if (kind === 'int32_val') return Long.fromInt(value.int32_val as number);
      break;
    case 'float':
      if (kind === 'float_val') return value.float_val as number;
      if (kind === 'double_val') return toFloat32(value.double_val as number, where);
      break;
    case 'double':
      if (kind === 'double_val' || kind === 'float_val') return value[kind] as number;
      break;
    case 'string':
      if (kind === 'string_val') return value.string_val as string;
      break;
    case 'bytes':
      if (kind === 'bytes_val') return value.bytes_val as Buffer;
      break;
    case 'bool':
      if (kind === 'bool_val') return value.bool_val as boolean;
      break;
    case 'unix_timestamp':
      if (kind === 'unix_timestamp_val') {
        return unixSecondsToDate(parseInt64(value.unix_timestamp_val as string, where), where);
      }
      if (kind === 'int64_val') return unixSecondsToDate(parseInt64(value.int64_val as string, where), where);
      break;
  }
  throw invalidArgument(`${where}: expected ${type}, got ${describeCase(value)}`);
}

function decodeList(type: ScalarType, value: Value__Output, where: string): StoredScalar[] {
  const kind = value.val;
  const expected = `${type}_list_val`;
  switch (type) {
    case 'int32':
      if (kind === 'int32_list_val') return value.int32_list_val?.val ?? [];
      break;
    case 'int64':
      if (kind === 'int64_list_val')
        return (value.int64_list_val?.val ?? []).map((s, i) => parseInt64(s, `${where}[${i}]`));
      break;
    case 'float':
      if (kind === 'float_list_val') return value.float_list_val?.val ?? [];
      break;
    case 'double':
      if (kind === 'double_list_val') return value.double_list_val?.val ?? [];
      break;
    case 'string':
      if (kind === 'string_list_val') return value.string_list_val?.val ?? [];
      break;
    case 'bytes':
      if (kind === 'bytes_list_val') return value.bytes_list_val?.val ?? [];
      break;
    case 'bool':
      if (kind === 'bool_list_val') return value.bool_list_val?.val ?? [];
      break;
    case 'unix_timestamp':
      if (kind === 'unix_timestamp_list_val') {
        return (value.unix_timestamp_list_val?.val ?? []).map((s, i) =>
          unixSecondsToDate(parseInt64(s, `${where}[${i}]`), `${where}[${i}]`),
        );
      }
      break;
  }
  throw invalidArgument(`${where}: expected ${type}_list (${expected}), got ${describeCase(value)}`);
}

/**
 * Converts a proto Value into what the driver binds for a column of `type`.
 * Returns null for `null_val` or an empty Value (both clear the stored value).
 * Throws INVALID_ARGUMENT, naming `where`, when the value does not fit the type.
 */
export function decodeValue(type: ValueType, value: Value__Output, where: string): StoredValue | null {
  if (value.val === undefined || value.val === 'null_val') return null;
  return isListType(type) ? decodeList(elementType(type), value, where) : decodeScalar(type, value, where);
}

/** Decodes an entity join key; keys can never be null, nor longer than Cassandra allows. */
export function decodeEntityKey(type: EntityKeyType, value: Value__Output, where: string): StoredScalar {
  if (value.val === undefined || value.val === 'null_val') {
    throw invalidArgument(`${where}: an entity key cannot be null`);
  }
  const key = decodeScalar(type, value, where);
  const bytes = typeof key === 'string' ? Buffer.byteLength(key) : Buffer.isBuffer(key) ? key.length : 0;
  if (bytes > MAX_PARTITION_KEY_BYTES) {
    throw invalidArgument(`${where}: an entity key may be at most ${MAX_PARTITION_KEY_BYTES} bytes, got ${bytes}`);
  }
  return key;
}
