import { invalidArgument } from '../errors/index.js';
import type { Value, Value__Output } from '../generated/cassette/v1/Value.js';
import { elementType, isListType, type ScalarType, type ValueType } from '../registry/index.js';

/**
 * Plain JSON <-> proto Value, for the CLI and file ingestion. The JSON shapes follow the proto3
 * JSON mapping where one exists: int64 may be a string (exact) or a safe integer, bytes are
 * base64, and unix timestamps are seconds or an ISO-8601 string.
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

function integerText(value: unknown, where: string, type: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return value.trim();
  throw invalidArgument(`${where}: expected ${type} (an integer), got ${JSON.stringify(value)}`);
}

function numberValue(value: unknown, where: string, type: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(value)) return Number(value);
  throw invalidArgument(`${where}: expected ${type} (a number), got ${JSON.stringify(value)}`);
}

function unixSecondsText(value: unknown, where: string): string {
  if (typeof value === 'string' && !/^-?\d+$/.test(value.trim())) {
    const millis = Date.parse(value);
    if (Number.isNaN(millis)) throw invalidArgument(`${where}: "${value}" is not an ISO-8601 time or unix seconds`);
    return String(Math.floor(millis / 1000));
  }
  return integerText(value, where, 'unix_timestamp');
}

function scalarFromJson(type: ScalarType, value: unknown, where: string, index?: number): unknown {
  // List elements name their index only when something is wrong: building that text per element is not free.
  if (index !== undefined) {
    try {
      return scalarFromJson(type, value, where);
    } catch {
      return scalarFromJson(type, value, `${where}[${index}]`);
    }
  }
  switch (type) {
    case 'int32': {
      const text = integerText(value, where, type);
      const n = Number(text);
      if (n < -(2 ** 31) || n >= 2 ** 31) throw invalidArgument(`${where}: ${text} is outside int32`);
      return n;
    }
    case 'int64':
      return integerText(value, where, type);
    case 'float':
    case 'double':
      return numberValue(value, where, type);
    case 'string':
      if (typeof value === 'string') return value;
      break;
    case 'bytes':
      // Buffer.from would skip characters that are not base64; refuse them instead.
      if (typeof value === 'string' && BASE64.test(value)) return Buffer.from(value, 'base64');
      if (typeof value === 'string')
        throw invalidArgument(`${where}: expected bytes as base64, got ${JSON.stringify(value)}`);
      break;
    case 'bool':
      if (typeof value === 'boolean') return value;
      break;
    case 'unix_timestamp':
      return unixSecondsText(value, where);
  }
  throw invalidArgument(`${where}: expected ${type}, got ${JSON.stringify(value)}`);
}

/** Builds the proto Value for a JSON value of a known registry type. */
export function valueFromJson(type: ValueType, value: unknown, where: string): Value {
  if (value === null) return { null_val: 'NULL' };
  if (isListType(type)) {
    if (!Array.isArray(value))
      throw invalidArgument(`${where}: expected ${type} (an array), got ${JSON.stringify(value)}`);
    const element = elementType(type);
    const val = value.map((v, i) => scalarFromJson(element, v, where, i));
    return { [`${type}_val`]: { val } } as Value;
  }
  return { [`${type}_val`]: scalarFromJson(type, value, where) } as Value;
}

function scalarToJson(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/**
 * Turns a proto Value into plain JSON (int64 stays a string, so it stays exact). Accepts both a
 * decoded message (with its `val` case) and a Value built in code (with only the field set).
 */
export function valueToJson(value: Value__Output | Value): unknown {
  const kind = value.val ?? (Object.keys(value).find((k) => k.endsWith('_val')) as Value['val']);
  if (kind === undefined || kind === 'null_val') return null;
  const inner: unknown = value[kind];
  if (inner !== null && typeof inner === 'object' && !Buffer.isBuffer(inner) && 'val' in inner) {
    return ((inner as { val: unknown[] }).val ?? []).map(scalarToJson);
  }
  return scalarToJson(inner);
}

/**
 * valueFromJson in the shape a decoded message has (the set case named in `val`), which is what
 * validateRow takes: file ingestion builds rows without a protobuf round trip. Objects are built
 * with fixed property names, so they keep one shape per type.
 */
export function decodedValueFromJson(type: ValueType, value: unknown, where: string): Value__Output {
  if (value === null) return { val: 'null_val', null_val: 'NULL' };
  if (isListType(type)) {
    if (!Array.isArray(value))
      throw invalidArgument(`${where}: expected ${type} (an array), got ${JSON.stringify(value)}`);
    const element = elementType(type);
    const val = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) val[i] = scalarFromJson(element, value[i], where, i);
    return listValue(element, val);
  }
  return scalarValue(type, scalarFromJson(type, value, where));
}

function scalarValue(type: ScalarType, inner: unknown): Value__Output {
  switch (type) {
    case 'int32':
      return { val: 'int32_val', int32_val: inner as number };
    case 'int64':
      return { val: 'int64_val', int64_val: inner as string };
    case 'float':
      return { val: 'float_val', float_val: inner as number };
    case 'double':
      return { val: 'double_val', double_val: inner as number };
    case 'string':
      return { val: 'string_val', string_val: inner as string };
    case 'bytes':
      return { val: 'bytes_val', bytes_val: inner as Buffer };
    case 'bool':
      return { val: 'bool_val', bool_val: inner as boolean };
    case 'unix_timestamp':
      return { val: 'unix_timestamp_val', unix_timestamp_val: inner as string };
  }
}

function listValue(element: ScalarType, val: unknown[]): Value__Output {
  switch (element) {
    case 'int32':
      return { val: 'int32_list_val', int32_list_val: { val: val as number[] } };
    case 'int64':
      return { val: 'int64_list_val', int64_list_val: { val: val as string[] } };
    case 'float':
      return { val: 'float_list_val', float_list_val: { val: val as number[] } };
    case 'double':
      return { val: 'double_list_val', double_list_val: { val: val as number[] } };
    case 'string':
      return { val: 'string_list_val', string_list_val: { val: val as string[] } };
    case 'bytes':
      return { val: 'bytes_list_val', bytes_list_val: { val: val as Buffer[] } };
    case 'bool':
      return { val: 'bool_list_val', bool_list_val: { val: val as boolean[] } };
    case 'unix_timestamp':
      return { val: 'unix_timestamp_list_val', unix_timestamp_list_val: { val: val as string[] } };
  }
}
