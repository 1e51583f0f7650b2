import { invalidArgument } from '../errors/index.js';
import type { Value__Output } from '../generated/cassette/v1/Value.js';
import type { EntityKeyType, ValueType } from '../registry/index.js';
import { codecOf, SCALAR_CODECS, type StoredScalar, type StoredValue } from './codecs.js';
import { MAX_PARTITION_KEY_BYTES } from './key.js';

/**
 * Converts a proto Value into what the driver binds for a column of `type`.
 * Returns null for `null_val` or an empty Value (both clear the stored value).
 * Throws INVALID_ARGUMENT, naming `where`, when the value does not fit the type.
 */
export function decodeValue(type: ValueType, value: Value__Output, where: string): StoredValue | null {
  if (value.val === undefined || value.val === 'null_val') return null;
  return codecOf(type).decode(value, where);
}

/** Decodes an entity join key; keys can never be null, nor longer than Cassandra allows. */
export function decodeEntityKey(type: EntityKeyType, value: Value__Output, where: string): StoredScalar {
  if (value.val === undefined || value.val === 'null_val') {
    throw invalidArgument(`${where}: an entity key cannot be null`);
  }
  const key = SCALAR_CODECS[type].decode(value, where);
  const bytes = typeof key === 'string' ? Buffer.byteLength(key) : Buffer.isBuffer(key) ? key.length : 0;
  if (bytes > MAX_PARTITION_KEY_BYTES) {
    throw invalidArgument(`${where}: an entity key may be at most ${MAX_PARTITION_KEY_BYTES} bytes, got ${bytes}`);
  }
  return key;
}
