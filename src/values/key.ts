import { invalidArgument, type CassetteError } from '../errors/index.js';
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

/** An entity key that cannot be stored: the message names `where`, and so does the error's `field`. */
export function invalidEntityKey(where: string, problem: string): CassetteError {
  return invalidArgument(`${where}: ${problem}`, 'CST_ERR_INVALID_ENTITY_KEY', { field: where });
}

/** Bytes of a string or bytes key part; other types are short. */
function variableBytes(part: StoredScalar): number {
  return typeof part === 'string' ? Buffer.byteLength(part) : Buffer.isBuffer(part) ? part.length : 0;
}

/** A part of an entity key can be stored: it is not null, nor longer than Cassandra allows. */
export function isStorableKeyPart(part: StoredScalar | null): part is StoredScalar {
  return part !== null && variableBytes(part) <= MAX_PARTITION_KEY_BYTES;
}

/** Why a key part is not storable (see isStorableKeyPart). */
export function keyPartProblem(part: StoredScalar | null): string {
  if (part === null) return 'an entity key cannot be null';
  return `an entity key may be at most ${MAX_PARTITION_KEY_BYTES} bytes, got ${variableBytes(part)}`;
}

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
