import cassandra from 'cassandra-driver';

import { invalidArgument, quoteInput } from '../errors/index.js';
import { MAX_UNIX_SECONDS, unixSecondsFromMillis } from '../time/index.js';

/** Checked conversions the value codecs share: each throws INVALID_ARGUMENT naming `where`. */

const Long = cassandra.types.Long;
type Long = cassandra.types.Long;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const DECIMAL_INTEGER = /^-?\d+$/;

/** Decimal int64 text (as proto-loader hands int64 over) -> Long; refuses anything that would wrap. */
export function parseInt64(text: string, where: string): Long {
  if (!DECIMAL_INTEGER.test(text)) throw invalidArgument(`${where}: "${text}" is not an integer`);
  const big = BigInt(text);
  if (big < INT64_MIN || big > INT64_MAX) throw invalidArgument(`${where}: ${text} is outside int64`);
  return Long.fromString(text);
}

export function int64TextToInt32(text: string, where: string): number {
  parseInt64(text, where);
  const big = BigInt(text);
  if (big < BigInt(INT32_MIN) || big > BigInt(INT32_MAX)) throw invalidArgument(`${where}: ${text} is outside int32`);
  return Number(big);
}

/** Unix seconds (int64 text) -> the Date the driver binds for a CQL timestamp. */
export function unixSecondsToDate(text: string, where: string): Date {
  const seconds = parseInt64(text, where);
  const n = seconds.toNumber();
  if (!Number.isFinite(n) || Math.abs(n) > MAX_UNIX_SECONDS) {
    throw invalidArgument(`${where}: unix timestamp ${String(seconds)} is out of range (±${MAX_UNIX_SECONDS} s)`);
  }
  return new Date(n * 1000);
}

export function toFloat32(n: number, where: string): number {
  const narrowed = Math.fround(n);
  // Doubles just above the largest float still round to it; only a true overflow is refused.
  if (Number.isFinite(n) && !Number.isFinite(narrowed)) throw invalidArgument(`${where}: ${n} does not fit a float`);
  return narrowed;
}

// JSON (the proto3 JSON mapping where one exists).

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** An integer as exact decimal text: a safe integer, or integer text. */
export function integerText(value: unknown, where: string, type: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return value.trim();
  throw invalidArgument(`${where}: expected ${type} (an integer), got ${JSON.stringify(value)}`);
}

export function int32FromJson(value: unknown, where: string): number {
  const text = integerText(value, where, 'int32');
  const n = Number(text);
  if (n < INT32_MIN || n > INT32_MAX) throw invalidArgument(`${where}: ${text} is outside int32`);
  return n;
}

export function numberFromJson(value: unknown, where: string, type: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(value)) return Number(value);
  throw invalidArgument(`${where}: expected ${type} (a number), got ${JSON.stringify(value)}`);
}

/** Unix seconds as integer text, from seconds or an ISO-8601 time (floored to the second). */
export function unixSecondsFromJson(value: unknown, where: string): string {
  if (typeof value === 'string' && !/^-?\d+$/.test(value.trim())) {
    const millis = Date.parse(value);
    if (Number.isNaN(millis)) throw invalidArgument(`${where}: "${value}" is not an ISO-8601 time or unix seconds`);
    return String(unixSecondsFromMillis(millis));
  }
  return integerText(value, where, 'unix_timestamp');
}

export function bytesFromBase64(text: string, where: string): Buffer {
  // Buffer.from would skip characters that are not base64; refuse them instead.
  if (!BASE64.test(text)) throw invalidArgument(`${where}: expected bytes as base64, got ${JSON.stringify(text)}`);
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
  throw invalidArgument(`${where}: expected ${type} (a number), got ${quoteInput(text)}`);
}

export function boolFromText(text: string, where: string): boolean {
  const lower = text.trim().toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw invalidArgument(`${where}: expected bool (true or false), got ${quoteInput(text)}`);
}
