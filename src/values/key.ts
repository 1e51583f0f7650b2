import type { StoredScalar } from './codecs.js';

/**
 * A string that identifies one entity row of a view: used to de-duplicate a batch and as the
 * cache key. Parts are type-tagged by position (the view fixes the types), and separated by a
 * character that cannot be confused because strings are JSON-escaped.
 */
export function entityKeyString(parts: readonly StoredScalar[]): string {
  if (parts.length === 1) return keyPart(parts[0]!);
  let out = keyPart(parts[0]!);
  for (let i = 1; i < parts.length; i++) out += '\u0001' + keyPart(parts[i]!);
  return out;
}

function keyPart(part: StoredScalar): string {
  if (typeof part === 'string') return JSON.stringify(part);
  if (Buffer.isBuffer(part)) return 'x' + part.toString('hex');
  return String(part);
}

/**
 * Cassandra refuses an empty partition key, so a single-column key that is an empty string or
 * empty bytes can never be stored: reads answer NOT_FOUND without asking, writes are refused.
 * (An empty part of a composite key is fine.)
 */
export function isUnstorableKey(parts: readonly StoredScalar[]): boolean {
  if (parts.length !== 1) return false;
  const part = parts[0];
  return part === '' || (Buffer.isBuffer(part) && part.length === 0);
}

/** Cassandra's limit on a serialized partition key. */
export const MAX_PARTITION_KEY_BYTES = 65_535;

/**
 * The size of a key as Cassandra serializes it: a single column as is, a composite key with
 * 3 bytes (a length and a terminator) around each part.
 */
export function partitionKeyBytes(parts: readonly StoredScalar[]): number {
  if (parts.length === 1) return partBytes(parts[0]!);
  let total = 0;
  for (const part of parts) total += partBytes(part) + 3;
  return total;
}

function partBytes(part: StoredScalar): number {
  if (typeof part === 'string') return Buffer.byteLength(part);
  if (Buffer.isBuffer(part)) return part.length;
  return typeof part === 'number' ? 4 : 8;
}
