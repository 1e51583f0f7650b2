import { invalidArgument, quoteInput } from '../errors/index.js';
import type { Value__Output } from '../generated/cassette/v1/Value.js';
import { isListType, type ValueType } from '../registry/index.js';
import { decodedValueFromJson } from './json.js';

/**
 * Text (a CSV cell, or a string column of a Parquet file) -> proto Value of a registry type.
 *
 * - int32, int64: a decimal integer (int64 stays exact);
 * - float, double: a decimal number with optional exponent, or NaN / Infinity / -Infinity
 *   (also nan, inf, -inf as Python writes them);
 * - bool: true / false (any case) or 1 / 0;
 * - string: the text as is; bytes: base64;
 * - unix_timestamp: integer unix seconds or an ISO-8601 time;
 * - lists: a JSON array, with elements as in JSON Lines (e.g. [1,2], ["a","b"], base64 for bytes).
 *
 * Surrounding spaces are ignored except in strings and bytes.
 */
export function valueFromText(type: ValueType, text: string, where: string): Value__Output {
  if (isListType(type)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalidArgument(`${where}: expected ${type} as a JSON array, got ${quoteInput(text)}`);
    }
    if (!Array.isArray(parsed)) {
      throw invalidArgument(`${where}: expected ${type} as a JSON array, got ${quoteInput(text)}`);
    }
    return decodedValueFromJson(type, parsed, where);
  }
  switch (type) {
    case 'string':
      return { val: 'string_val', string_val: text };
    case 'bytes':
      return decodedValueFromJson(type, text, where);
    case 'float':
    case 'double':
      return decodedValueFromJson(type, numberFromText(text, type, where), where);
    case 'bool':
      return { val: 'bool_val', bool_val: boolFromText(text, where) };
    default:
      // int32, int64, unix_timestamp: valueFromJson takes integer text (and ISO times) as they come.
      return decodedValueFromJson(type, text.trim(), where);
  }
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const SPECIAL_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['nan', Number.NaN],
  ['inf', Number.POSITIVE_INFINITY],
  ['+inf', Number.POSITIVE_INFINITY],
  ['infinity', Number.POSITIVE_INFINITY],
  ['+infinity', Number.POSITIVE_INFINITY],
  ['-inf', Number.NEGATIVE_INFINITY],
  ['-infinity', Number.NEGATIVE_INFINITY],
]);

function numberFromText(text: string, type: string, where: string): number {
  const trimmed = text.trim();
  if (DECIMAL.test(trimmed)) return Number(trimmed);
  const special = SPECIAL_NUMBERS.get(trimmed.toLowerCase());
  if (special !== undefined) return special;
  throw invalidArgument(`${where}: expected ${type} (a number), got ${quoteInput(text)}`);
}

function boolFromText(text: string, where: string): boolean {
  const lower = text.trim().toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw invalidArgument(`${where}: expected bool (true or false), got ${quoteInput(text)}`);
}
