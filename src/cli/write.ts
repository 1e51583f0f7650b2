import { readFileSync } from 'node:fs';

import type { FeatureRow, FeatureViewSpec__Output, Value } from '../api/index.js';
import { featureViewFromSpec, type ValueType } from '../registry/index.js';
import { valueFromJson } from '../values/index.js';
import { microsFromIso, timestampFromMicros } from '../time/index.js';

/** The key of a flat JSON row that holds its event time (ISO-8601 or unix seconds). */
export const EVENT_TIME_KEY = 'event_timestamp';

/** Reads the rows given to `cassette write`: inline JSON, a file, or `-` for standard input. */
export function readJsonRows(input: string): unknown[] {
  const text =
    input === '-'
      ? readFileSync(0, 'utf8')
      : input.trimStart().startsWith('{') || input.trimStart().startsWith('[')
        ? input
        : readFileSync(input, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`the rows are not valid JSON: ${(error as Error).message}`);
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

function eventTimestamp(value: unknown, where: string): FeatureRow['event_timestamp'] {
  if (typeof value === 'number' && Number.isFinite(value)) return timestampFromMicros(Math.round(value * 1e6));
  const micros = typeof value === 'string' ? microsFromIso(value) : 'not-iso';
  if (typeof micros !== 'bigint') {
    throw new Error(`${where}: "${String(value)}" is not an ISO-8601 time or unix seconds`);
  }
  return timestampFromMicros(micros);
}

/**
 * Converts flat JSON rows ({join keys…, features…, event_timestamp?}) into FeatureRows for `view`,
 * typing every value by the registry.
 */
export function rowsFromJson(spec: FeatureViewSpec__Output, rows: readonly unknown[]): FeatureRow[] {
  const view = featureViewFromSpec(spec);
  const keyTypes = new Map<string, ValueType>(view.entities.map((e) => [e.joinKey, e.type]));
  const featureTypes = new Map<string, ValueType>(view.features.map((f) => [f.name, f.type]));
  return rows.map((raw, i) => {
    const where = `row ${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new Error(`${where}: expected a JSON object`);
    const entity_keys: Record<string, Value> = {};
    const features: Record<string, Value> = {};
    let event_timestamp: FeatureRow['event_timestamp'] = null;
    for (const [name, value] of Object.entries(raw)) {
      const keyType = keyTypes.get(name);
      const featureType = featureTypes.get(name);
      if (name === EVENT_TIME_KEY) event_timestamp = eventTimestamp(value, `${where}.${name}`);
      else if (keyType) entity_keys[name] = valueFromJson(keyType, value, `${where}.${name}`);
      else if (featureType) features[name] = valueFromJson(featureType, value, `${where}.${name}`);
      else throw new Error(`${where}: "${name}" is neither a join key nor a feature of view "${view.name}"`);
    }
    return { entity_keys, features, event_timestamp };
  });
}
