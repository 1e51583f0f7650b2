import type { FeatureViewDef, ValueType } from '../registry/index.js';
import { codecOf } from '../values/index.js';

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

/**
 * The CQL column type for a value type (its codec's). Lists are frozen: a whole list is replaced
 * in one cell (no tombstone per overwrite), an empty list stays distinct from null, and
 * WRITETIME() works on it.
 */
export function cqlType(type: ValueType): string {
  return codecOf(type).cql;
}

/**
 * The INSERT of one entity row of `view`: key columns, then every feature in view order, then
 * the write timestamp (the event time, µs) and the ttl. INSERT (not UPDATE) writes a row marker,
 * so a row whose features are all null still reads as present (NULL_VALUE) rather than missing
 * (NOT_FOUND).
 */
export function insertStatement(keyspace: string, view: FeatureViewDef): string {
  const table = `${q(keyspace)}.${q(view.name)}`;
  const columns = [...view.entities.map((e) => q(e.joinKey)), ...view.features.map((f) => q(f.name))];
  return (
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
    'USING TIMESTAMP ? AND TTL ?'
  );
}
