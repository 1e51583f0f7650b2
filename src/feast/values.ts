import type { Value__Output } from '../api/types.js';
import type { ValueType } from '../registry/index.js';
import { codecOf } from '../values/index.js';

const NULL_VALUE: Value__Output = Object.freeze({ val: 'null_val', null_val: 'NULL' });

/**
 * A JSON value of a Feast request as the decoded proto Value Cassette's request paths take
 * (planLookup for entity keys, validateRow for written rows), converted by `type`'s codec and
 * named `where` when it does not fit; null is a null Value.
 */
export function feastJsonValue(type: ValueType, value: unknown, where: string): Value__Output {
  return value === null ? NULL_VALUE : codecOf(type).fromJson(value, where);
}
