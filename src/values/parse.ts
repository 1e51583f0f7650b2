import cassandra from 'cassandra-driver';

import { invalidArgument, quoteInput, type CassetteError } from '../errors/index.js';
import { MAX_UNIX_SECONDS, unixSecondsFromMillis } from '../time/index.js';

/** Checked conversions the value codecs share: each throws CST_ERR_INVALID_VALUE naming `where`. */

const Long = cassandra.types.Long;
type Long = cassandra.types.Long;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const DECIMAL_INTEGER = /^-?\d+$/;

/** A value that does not fit its type: the message names `where`, and so does the error's `field`. */
export function invalidValue(where: string, problem: string): CassetteError {
  return invalidArgument(`${where}: ${problem}`, 'CST_ERR_INVALID_VALUE', { field: where });
}

/** Decimal int64 text (as proto-loader hands int64 over) -> Long; refuses anything that would wrap. */
export function parseInt64(text: string, where: string): Long {
  if (!DECIMAL_INTEGER.test(text)) throw invalidValue(where, `"${text}" is not an integer`);
  const big = BigInt(text);
  if (big < INT64_MIN || big > INT64_MAX) throw invalidValue(where, `${text} is outside int64`);
  return Long.fromString(text);
}

/** A bigint (a Parquet INT64) -> Long, without a detour through text; refuses anything that would wrap. */
export function longFromBigInt(value: bigint, where: string): Long {
  if (value < INT64_MIN || value > INT64_MAX) throw invalidValue(where, `${value} is outside int64`);
  if (value >= SAFE_MIN && value <= SAFE_MAX) return Long.fromNumber(Number(value));
  return Long.fromBits(Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n)));
}

export function int64TextToInt32(text: string, where: string): number {
  parseInt64(text, where);
  const big = BigInt(text);
  if (big < BigInt(INT32_MIN) || big > BigInt(INT32_MAX)) throw invalidValue(where, `${text} is outside int32`);
  return Number(big);
}

export function int32FromBigInt(value: bigint, where: string): number {
  if (value < BigInt(INT32_MIN) || value > BigInt(INT32_MAX)) throw invalidValue(where, `${value} is outside int32`);
  return Number(value);
}

/** Unix seconds -> the Date the driver binds for a CQL timestamp; `exact` is how the error shows them. */
function dateOfUnixSeconds(seconds: number, exact: number | bigint | Long, where: string): Date {
  if (!Number.isFinite(seconds) || Math.abs(seconds) > MAX_UNIX_SECONDS) {
    throw invalidValue(where, `unix timestamp ${String(exact)} is out of range (±${MAX_UNIX_SECONDS} s)`);
  }
  return new Date(seconds * 1000);
}

/** Unix seconds (int64 text) -> the Date the driver binds for a CQL timestamp. */
export function unixSecondsToDate(text: string, where: string): Date {
  const seconds = parseInt64(text, where);
  return dateOfUnixSeconds(seconds.toNumber(), seconds, where);
}

/** Unix seconds as a bigint (a Parquet INT64 or timestamp) -> Date. */
export function dateFromBigSeconds(seconds: bigint, where: string): Date {
  if (seconds < INT64_MIN || seconds > INT64_MAX) throw invalidValue(where, `${seconds} is outside int64`);
  return dateOfUnixSeconds(Number(seconds), seconds, where);
}

export function toFloat32(n: number, where: string): number {
  const narrowed = Math.fround(n);
  // Doubles just above the largest float still round to it; only a true overflow is refused.
  if (Number.isFinite(n) && !Number.isFinite(narrowed)) throw invalidValue(where, `${n} does not fit a float`);
  return narrowed;
}

// JSON (the proto3 JSON mapping where one exists).

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** An integer as exact decimal text: a safe integer, or integer text. */
export function integerText(value: unknown, where: string, type: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && DECIMAL_INTEGER.test(value.trim())) return value.trim();
  throw invalidValue(where, `expected ${type} (an integer), got ${JSON.stringify(value)}`);
}

export function int32FromJson(value: unknown, where: string): number {
  const text = integerText(value, where, 'int32');
  const n = Number(text);
  if (n < INT32_MIN || n > INT32_MAX) throw invalidValue(where, `${text} is outside int32`);
  return n;
}

/** An int64 from JSON, exactly: a safe integer (without a detour through text), or integer text. */
export function int64FromJson(value: unknown, where: string): Long {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return Long.fromNumber(value);
  return parseInt64(integerText(value, where, 'int64'), where);
}

export function numberFromJson(value: unknown, where: string, type: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(value)) return Number(value);
  throw invalidValue(where, `expected ${type} (a number), got ${JSON.stringify(value)}`);
}

/** Whole unix seconds of ISO-8601 text (floored); undefined for integer text, which is seconds already. */
function isoUnixSeconds(value: string, where: string): number | undefined {
  if (DECIMAL_INTEGER.test(value.trim())) return undefined;
  const millis = Date.parse(value);
  if (Number.isNaN(millis)) throw invalidValue(where, `"${value}" is not an ISO-8601 time or unix seconds`);
  return unixSecondsFromMillis(millis);
}

/** Unix seconds as integer text, from seconds or an ISO-8601 time (floored to the second). */
export function unixSecondsFromJson(value: unknown, where: string): string {
  const iso = typeof value === 'string' ? isoUnixSeconds(value, where) : undefined;
  return iso !== undefined ? String(iso) : integerText(value, where, 'unix_timestamp');
}

/** A unix timestamp from JSON (seconds or an ISO-8601 time) -> the Date the driver binds. */
export function dateFromJson(value: unknown, where: string): Date {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return dateOfUnixSeconds(value, value, where);
  const iso = typeof value === 'string' ? isoUnixSeconds(value, where) : undefined;
  // Date.parse only answers times a Date can hold.
  if (iso !== undefined) return new Date(iso * 1000);
  return unixSecondsToDate(integerText(value, where, 'unix_timestamp'), where);
}

export function bytesFromBase64(text: string, where: string): Buffer {
  // Buffer.from would skip characters that are not base64; refuse them instead.
  if (!BASE64.test(text)) throw invalidValue(where, `expected bytes as base64, got ${JSON.stringify(text)}`);
  return Buffer.from(text, 'base64');
}

/** A scalar of a proto Value as plain JSON: bytes as base64, non-finite numbers as text. */
export function scalarToJson(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

// Text (a CSV cell, or a string column of a Parquet file).

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

/** A decimal number with optional exponent, or NaN / Infinity / -Infinity (also nan, inf, -inf as Python writes them). */
export function numberFromText(text: string, type: string, where: string): number {
  const trimmed = text.trim();
  if (DECIMAL.test(trimmed)) return Number(trimmed);
  const special = SPECIAL_NUMBERS.get(trimmed.toLowerCase());
  if (special !== undefined) return special;
  throw invalidValue(where, `expected ${type} (a number), got ${quoteInput(text)}`);
}

export function boolFromText(text: string, where: string): boolean {
  const lower = text.trim().toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw invalidValue(where, `expected bool (true or false), got ${quoteInput(text)}`);
}
