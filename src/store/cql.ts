import { elementType, isListType, type ValueType } from '../registry/index.js';

/**
 * Quotes an identifier for CQL. Every identifier reaching here has already been checked
 * against the registry's identifier pattern (lower-case letters, digits, _), so quoting
 * only guards against CQL keywords; user strings never reach statement text.
 */
export function q(identifier: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(identifier))
    throw new Error(`refusing unsafe CQL identifier ${JSON.stringify(identifier)}`);
  return `"${identifier}"`;
}

const SCALAR_CQL: Record<string, string> = {
  int32: 'int',
  int64: 'bigint',
  float: 'float',
  double: 'double',
  string: 'text',
  bytes: 'blob',
  bool: 'boolean',
  unix_timestamp: 'timestamp',
};

/**
 * The CQL column type for a value type. Lists are frozen: a whole list is replaced in one
 * cell (no tombstone per overwrite), an empty list stays distinct from null, and
 * WRITETIME() works on it.
 */
export function cqlType(type: ValueType): string {
  if (isListType(type)) return `frozen<list<${SCALAR_CQL[elementType(type)]}>>`;
  return SCALAR_CQL[type] as string;
}
