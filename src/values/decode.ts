import type { Value__Output } from '../generated/cassette/v1/Value.js';
import type { EntityKeyType, ValueType } from '../registry/index.js';
import { codecOf, SCALAR_CODECS, type StoredScalar, type StoredValue } from './codecs.js';
import { invalidEntityKey, isStorableKeyPart, keyPartProblem } from './key.js';

/**
 * Converts a proto Value into what the driver binds for a column of `type`.
 * Returns null for `null_val` or an empty Value (both clear the stored value).
 * Throws CST_ERR_INVALID_VALUE, naming `where`, when the value does not fit the type.
 */
export function decodeValue(type: ValueType, value: Value__Output, where: string): StoredValue | null {
  if (value.val === undefined || value.val === 'null_val') return null;
  return codecOf(type).decode(value, where);
}

/** Decodes an entity join key; keys can never be null, nor longer than Cassandra allows. */
export function decodeEntityKey(type: EntityKeyType, value: Value__Output, where: string): StoredScalar {
  const key = value.val === undefined || value.val === 'null_val' ? null : SCALAR_CODECS[type].decode(value, where);
  if (!isStorableKeyPart(key)) throw invalidEntityKey(where, keyPartProblem(key));
  return key;
}
