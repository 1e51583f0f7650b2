import type cassandra from 'cassandra-driver';

import type { LookupPlan } from '../../read/plan.js';
import { presentStatus, STATUS } from '../../read/status.js';
import type { ServedRow } from '../../read/wire.js';
import { elementType, isListType, type ScalarType, type ValueType } from '../../registry/index.js';
import { nanosOfMicros, secondsOfMicros, unixSeconds } from '../../time/index.js';
import type { ScalarValues, StoredScalar, StoredValue } from '../../values/index.js';

/**
 * The JSON `feast serve` answers POST /get-online-features with, written from the rows read for a
 * plan: `{"results":[{"values":[…],"statuses":[…],"event_timestamps":[…]}…],"metadata":
 * {"feature_names":[…]}}`, one result per name, in the plan's order (join keys first, see
 * feastLayout). Values are written as Feast writes them: int64 as a JSON number (exact digits),
 * bytes as base64, unix timestamps as seconds, non-finite floats as "NaN", "Infinity",
 * "-Infinity", a missing or null value as null. Event times are RFC 3339 in UTC with as many
 * fraction digits as they need (none, 3 or 6), and the epoch where there is none.
 */

type Long = cassandra.types.Long;

/** A stored value of one type as JSON text. */
type JsonText<V> = (value: V) => string;

/**
 * A float or double as Python writes one: always with a fraction or an exponent, so that a
 * reader that tells numbers apart by their text (the Feast SDK infers a value's type from it, and
 * refuses a list that mixes 3 and 2.5) reads a float.
 */
function numberText(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? '"NaN"' : n > 0 ? '"Infinity"' : '"-Infinity"';
  if (!Number.isInteger(n)) return String(n);
  if (Object.is(n, -0)) return '-0.0';
  // Python switches to an exponent from 1e16 on, where JavaScript still writes every digit.
  return Math.abs(n) < 1e16 ? `${n}.0` : n.toExponential();
}

const SCALAR_JSON: { readonly [S in ScalarType]: JsonText<ScalarValues[S]> } = {
  int32: String,
  int64: (long: Long) => long.toString(),
  float: numberText,
  double: numberText,
  string: (text) => JSON.stringify(text),
  bytes: (bytes) => `"${bytes.toString('base64')}"`,
  bool: String,
  unix_timestamp: (date) => String(unixSeconds(date)),
};

function listJson(item: JsonText<StoredScalar>): JsonText<StoredScalar[]> {
  return (list) => {
    let text = '[';
    for (let i = 0; i < list.length; i++) text += (i === 0 ? '' : ',') + item(list[i]!);
    return text + ']';
  };
}

const LIST_JSON = new Map<ScalarType, JsonText<StoredScalar[]>>();

/** How a value of `type` is written (look it up once per column). */
export function jsonTextOf(type: ValueType): JsonText<StoredValue> {
  if (!isListType(type)) return SCALAR_JSON[type] as JsonText<StoredValue>;
  const element = elementType(type);
  let list = LIST_JSON.get(element);
  if (!list) LIST_JSON.set(element, (list = listJson(SCALAR_JSON[element] as JsonText<StoredScalar>)));
  return list as JsonText<StoredValue>;
}

const EPOCH_TEXT = '"1970-01-01T00:00:00Z"';

/** An event time as Feast writes a Timestamp: RFC 3339, UTC, fraction digits only as needed. */
export function feastTimestampText(micros: number): string {
  const seconds = secondsOfMicros(micros);
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  const fraction = nanosOfMicros(micros) / 1000;
  if (fraction === 0) return `"${base}Z"`;
  if (fraction % 1000 === 0) return `"${base}.${String(fraction / 1000).padStart(3, '0')}Z"`;
  return `"${base}.${String(fraction).padStart(6, '0')}Z"`;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  [STATUS.PRESENT]: '"PRESENT"',
  [STATUS.NULL_VALUE]: '"NULL_VALUE"',
  [STATUS.NOT_FOUND]: '"NOT_FOUND"',
  [STATUS.OUTSIDE_MAX_AGE]: '"OUTSIDE_MAX_AGE"',
};

/** The result of a join key column: its values as sent, PRESENT, at the epoch. */
function keyResult(plan: LookupPlan, viewSlot: number, part: number, text: JsonText<StoredValue>): string {
  const lookup = plan.views[viewSlot]!;
  const values: string[] = new Array<string>(plan.batchSize);
  for (let r = 0; r < plan.batchSize; r++) values[r] = text(lookup.keys[lookup.rowToKey[r]!]![part]!);
  return result(
    values,
    new Array<string>(plan.batchSize).fill('"PRESENT"'),
    new Array<string>(plan.batchSize).fill(EPOCH_TEXT),
  );
}

function result(values: string[], statuses: string[], times: string[]): string {
  // Feast leaves event_timestamps out of an empty result.
  const timesField = times.length === 0 ? '' : `,"event_timestamps":[${times.join(',')}]`;
  return `{"values":[${values.join(',')}],"statuses":[${statuses.join(',')}]${timesField}}`;
}

/** Encodes the answer to POST /get-online-features for `plan` from the rows read for it. */
export function encodeFeastJson(
  plan: LookupPlan,
  rowsByView: readonly (readonly (ServedRow | null)[])[],
  nowMicros: number,
): string {
  const { batchSize } = plan;
  const names: string[] = [];
  const results: string[] = [];
  for (const column of plan.keyColumns ?? []) {
    names.push(JSON.stringify(column.name));
    results.push(keyResult(plan, column.viewSlot, column.part, jsonTextOf(column.type)));
  }
  for (const feature of plan.features) {
    names.push(JSON.stringify(feature.name));
    const lookup = plan.views[feature.viewSlot]!;
    const rows = rowsByView[feature.viewSlot]!;
    const text = jsonTextOf(feature.type);
    const ttlMicros = lookup.view.ttlSeconds * 1e6;
    const values = new Array<string>(batchSize);
    const statuses = new Array<string>(batchSize);
    const times = new Array<string>(batchSize);
    for (let r = 0; r < batchSize; r++) {
      const row = rows[lookup.rowToKey[r]!];
      const value = row?.values[feature.featureIndex];
      if (!row || value === null || value === undefined) {
        values[r] = 'null';
        statuses[r] = STATUS_TEXT[row ? STATUS.NULL_VALUE : STATUS.NOT_FOUND]!;
        times[r] = EPOCH_TEXT;
      } else {
        const writtenAt = row.writeTimesMicros[feature.featureIndex]!;
        values[r] = text(value);
        statuses[r] = STATUS_TEXT[presentStatus(writtenAt, ttlMicros, nowMicros)]!;
        times[r] = feastTimestampText(writtenAt);
      }
    }
    results.push(result(values, statuses, times));
  }
  return `{"results":[${results.join(',')}],"metadata":{"feature_names":[${names.join(',')}]}}`;
}
