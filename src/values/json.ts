import type { Value, Value__Output } from '../generated/cassette/v1/Value.js';
import type { ValueType } from '../registry/index.js';
import { codecOf, codecOfCase, type ValueCase } from './codecs.js';

/**
 * Plain JSON <-> proto Value, for the CLI (file imports take JSON straight to the stored form: record.ts). The JSON shapes follow the proto3
 * JSON mapping where one exists: int64 may be a string (exact) or a safe integer, bytes are
 * base64, and unix timestamps are seconds or an ISO-8601 string.
 */

/** Builds the proto Value for a JSON value of a known registry type. */
export function valueFromJson(type: ValueType, value: unknown, where: string): Value {
  if (value === null) return { null_val: 'NULL' };
  // The same value as built in code: only the field set, without the case name.
  const { val: _case, ...field } = codecOf(type).fromJson(value, where);
  return field;
}

function isValueCase(key: string): key is ValueCase | 'null_val' {
  return key.endsWith('_val');
}

/**
 * Turns a proto Value into plain JSON (int64 stays a string, so it stays exact). Accepts both a
 * decoded message (with its `val` case) and a Value built in code (with only the field set).
 */
export function valueToJson(value: Value__Output | Value): unknown {
  const kind = value.val ?? Object.keys(value).find(isValueCase);
  if (kind === undefined || kind === 'null_val') return null;
  return codecOfCase(kind).toJson(value);
}
