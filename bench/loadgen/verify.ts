import cassandra from 'cassandra-driver';

import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { Value } from '../../src/generated/cassette/v1/Value.js';
import { featureValue, type FeatureDef } from '../lib/dataset.js';

/**
 * Checks of a sample of responses against the dataset (`--verify`): every requested value must
 * be PRESENT and equal to what the loader wrote. Each returns null when correct, otherwise a
 * short description of the first difference.
 */

function sameValue(expected: Value, actual: unknown): boolean {
  if (expected.float_list_val) {
    const got = (actual as { val?: unknown } | null | undefined)?.val;
    const want = expected.float_list_val.val ?? [];
    return Array.isArray(got) && got.length === want.length && want.every((v, i) => got[i] === v);
  }
  return Object.values(expected)[0] === actual;
}

function valueField(expected: Value): keyof Value {
  return Object.keys(expected)[0] as keyof Value;
}

/** One response vector, in whichever form the API returns it. */
export interface Vector {
  readonly values: readonly unknown[];
  readonly statuses: readonly unknown[];
  readonly event_timestamps: readonly unknown[];
}

/**
 * How an API writes one value: `actual` is compared with what `sameValue` would compare. The gRPC
 * APIs give a proto Value object; Feast's JSON gives the bare value.
 */
type ValueOf = (cell: unknown, field: keyof Value) => unknown;

const protoValue: ValueOf = (cell, field) => (cell as Partial<Record<keyof Value, unknown>> | undefined)?.[field];

/**
 * Feast's JSON: int64 as a number with exact digits (the reader quotes unsafe ones, so text either
 * way), a float list as a bare array.
 */
const jsonValue: ValueOf = (cell, field) => {
  if (field === 'int64_val' && (typeof cell === 'number' || typeof cell === 'string')) return String(cell);
  if (field === 'float_list_val') return { val: cell };
  return cell;
};

/** Whether an event time is a real one: a proto Timestamp past the epoch, or RFC 3339 text past it. */
function hasEventTime(time: unknown): boolean {
  if (typeof time === 'string') return !time.startsWith('1970-01-01T00:00:00');
  return Boolean((time as { seconds?: unknown } | undefined)?.seconds);
}

function verifyVector(
  vector: Vector,
  valueOf: ValueOf,
  seed: number,
  entities: readonly number[],
  feature: FeatureDef,
): string | null {
  for (let e = 0; e < entities.length; e++) {
    const status = vector.statuses[e];
    if (status !== 'PRESENT') return `entity ${entities[e]} ${feature.name}: status ${String(status)}`;
    const expected = featureValue(seed, entities[e]!, feature);
    const actual = valueOf(vector.values[e], valueField(expected));
    if (!sameValue(expected, actual)) {
      return `entity ${entities[e]} ${feature.name}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(vector.values[e])}`;
    }
    if (!hasEventTime(vector.event_timestamps[e])) return `entity ${entities[e]} ${feature.name}: no event timestamp`;
  }
  return null;
}

export function verifyResponse(
  response: GetOnlineFeaturesResponse__Output,
  seed: number,
  entities: readonly number[],
  features: readonly FeatureDef[],
): string | null {
  if (response.results.length !== features.length) {
    return `expected ${features.length} feature vectors, got ${response.results.length}`;
  }
  for (let f = 0; f < features.length; f++) {
    const problem = verifyVector(response.results[f]!, protoValue, seed, entities, features[f]!);
    if (problem) return problem;
  }
  return null;
}

/**
 * Feast's answer, from its gRPC API (`form` 'proto') or its JSON one ('json'): vectors named by
 * `names` (metadata.feature_names), where every requested feature must be, found by its name
 * (Feast orders features its own way and puts the join keys first).
 */
export function verifyFeastResponse(
  names: readonly string[],
  results: readonly Vector[],
  form: 'proto' | 'json',
  seed: number,
  entities: readonly number[],
  features: readonly FeatureDef[],
): string | null {
  if (names.length !== results.length) return `${names.length} feature names for ${results.length} vectors`;
  const valueOf = form === 'proto' ? protoValue : jsonValue;
  for (const feature of features) {
    const index = names.indexOf(feature.name);
    if (index < 0) return `no vector for ${feature.name} among ${JSON.stringify(names)}`;
    const problem = verifyVector(results[index]!, valueOf, seed, entities, feature);
    if (problem) return problem;
  }
  return null;
}

/** The driver's decoding of one stored column, as the proto Value field holds it. */
function storedAsProto(feature: FeatureDef, stored: unknown): unknown {
  if (stored instanceof cassandra.types.Long) return stored.toString();
  if (feature.type === 'float_list') return { val: stored };
  return stored;
}

export function verifyRows(
  rows: ReadonlyArray<cassandra.types.Row | undefined>,
  seed: number,
  entities: readonly number[],
  features: readonly FeatureDef[],
): string | null {
  for (let e = 0; e < entities.length; e++) {
    const row = rows[e];
    if (!row) return `entity ${entities[e]}: no row`;
    const columns = row.values() as unknown[];
    for (let f = 0; f < features.length; f++) {
      const feature = features[f]!;
      const expected = featureValue(seed, entities[e]!, feature);
      const actual = storedAsProto(feature, columns[2 * f]);
      if (!sameValue(expected, actual)) {
        return `entity ${entities[e]} ${feature.name}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(columns[2 * f])}`;
      }
      if (columns[2 * f + 1] == null) return `entity ${entities[e]} ${feature.name}: no WRITETIME`;
    }
  }
  return null;
}
