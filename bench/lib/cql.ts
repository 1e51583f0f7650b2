import { JOIN_KEY, VIEW, type FeatureDef } from './dataset.js';

/** Quotes a benchmark identifier; only constants and the validated keyspace name get here. */
export function quoteIdentifier(identifier: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(identifier)) throw new Error(`unsafe CQL identifier ${JSON.stringify(identifier)}`);
  return `"${identifier}"`;
}

/**
 * What Cassette's store-bound path reads for one entity, restricted to the requested features:
 * a single-partition SELECT of each feature and its WRITETIME (the event time).
 */
export function selectFeaturesCql(keyspace: string, features: readonly FeatureDef[]): string {
  const columns = features.map((f) => `${quoteIdentifier(f.name)}, WRITETIME(${quoteIdentifier(f.name)})`).join(', ');
  return `SELECT ${columns} FROM ${quoteIdentifier(keyspace)}.${quoteIdentifier(VIEW)} WHERE ${quoteIdentifier(JOIN_KEY)} = ?`;
}
