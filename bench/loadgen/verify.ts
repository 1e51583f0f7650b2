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
    const vector = response.results[f]!;
    const feature = features[f]!;
    for (let e = 0; e < entities.length; e++) {
      const status = vector.statuses[e];
      if (status !== 'PRESENT') return `entity ${entities[e]} ${feature.name}: status ${String(status)}`;
      const expected = featureValue(seed, entities[e]!, feature);
      const field = valueField(expected);
      const actual = vector.values[e]?.[field];
      if (!sameValue(expected, actual)) {
        return `entity ${entities[e]} ${feature.name}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(vector.values[e])}`;
      }
      if (!vector.event_timestamps[e]?.seconds) return `entity ${entities[e]} ${feature.name}: no event timestamp`;
    }
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
