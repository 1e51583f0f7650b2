import type { ValueType } from '../registry/index.js';
import { codecOf, type StoredValue } from './codecs.js';

/**
 * The record doors: values as files hold them (JSON Lines values, CSV cells, Parquet values)
 * straight to their stored form, every limit checked, without a proto Value in between. Each
 * throws CST_ERR_INVALID_VALUE naming `where`. Generic code calls the codec's method (looked up
 * once per column); these name the rules.
 */

/** A JSON value (as in `cassette write`, see valueFromJson); null clears the value. */
export function storedFromJson(type: ValueType, value: unknown, where: string): StoredValue | null {
  return value === null ? null : codecOf(type).fromJsonValue(value, where);
}

/**
 * Text (a CSV cell, or a string column of a Parquet file):
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
export function storedFromText(type: ValueType, text: string, where: string): StoredValue {
  return codecOf(type).fromTextValue(text, where);
}

/**
 * A Parquet reader's value (see parquet.ts): integers exactly (an INT64 bigint becomes a Long
 * without a detour through text), timestamps and dates as unix seconds for unix_timestamp,
 * integral numbers for integer types, UTF-8 byte arrays for strings, and text as
 * storedFromText reads it. null and undefined give undefined: a columnar file has every column
 * in every row, so null means "no value here", not "clear".
 */
export function storedFromParquet(type: ValueType, native: unknown, where: string): StoredValue | undefined {
  return native === null || native === undefined ? undefined : codecOf(type).fromParquet(native, where);
}
