import type { Value__Output } from '../generated/cassette/v1/Value.js';
import type { ValueType } from '../registry/index.js';
import { codecOf } from './codecs.js';

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
  return codecOf(type).fromText(text, where);
}
