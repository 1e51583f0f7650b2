import type { CassetteError } from '../errors/index.js';
import { invalidValue } from './parse.js';

/**
 * Values as a Parquet reader (hyparquet) hands them over, for the codecs' `fromParquet`: INT32
 * as a number, INT64 as a bigint, DOUBLE and FLOAT as numbers, BOOLEAN, byte arrays as
 * Uint8Array (UTF-8 text too: the reader is asked not to decode it), DATE as a Date, and
 * TIMESTAMP as a ParquetTimestamp.
 */

/** A Parquet timestamp at full precision (hyparquet's default parsers would cut it to milliseconds). */
export class ParquetTimestamp {
  constructor(readonly micros: bigint) {}
}

function describeNative(value: unknown): string {
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Date || value instanceof ParquetTimestamp) return 'a timestamp';
  if (Array.isArray(value)) return 'a list';
  return typeof value;
}

/** A Parquet value of the wrong kind for `type`. */
export function parquetMismatch(type: string, value: unknown, where: string): CassetteError {
  return invalidValue(where, `expected ${type}, got ${describeNative(value)}`);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes -> text; refuses bytes that are not UTF-8 rather than replacing them. */
export function textFromUtf8(value: Uint8Array, where: string): string {
  try {
    return strictUtf8.decode(value);
  } catch {
    throw invalidValue(where, 'the bytes are not valid UTF-8 text');
  }
}

/** The bytes as a Buffer, without a copy. */
export function bufferOf(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
