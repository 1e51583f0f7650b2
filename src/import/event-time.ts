import { invalidArgument, quoteInput } from '../errors/index.js';
import { microsFromIso } from '../time/index.js';
import { ParquetTimestamp } from '../values/index.js';

/**
 * Event times in files, as exact microseconds since the epoch. A row's event time becomes its
 * write timestamp in Cassandra (microseconds), so every form is converted exactly, never
 * through a float:
 *
 * - ISO-8601 text: `2026-01-31T12:00:00Z`, `2026-01-31 12:00:00.123456+02:00`, `2026-01-31`
 *   (midnight); a time without a zone offset is UTC; fractions beyond microseconds are cut;
 * - a number, or numeric text: unix time in `unit` (seconds unless `--event-time-unit` says
 *   ms or us), fractions allowed (`1767225600.25` s);
 * - Parquet TIMESTAMP (millis, micros or nanos) and DATE columns.
 *
 * The range (1970 to the year 275760) is checked with the rest of the row (validateRecord).
 */
export type EventTimeUnit = 's' | 'ms' | 'us';

export const EVENT_TIME_UNITS: readonly EventTimeUnit[] = ['s', 'ms', 'us'];

const MICROS_PER_UNIT: Record<EventTimeUnit, bigint> = { s: 1_000_000n, ms: 1_000n, us: 1n };

// The Parquet reader's timestamps are a value type's native form too (see src/values/parquet.ts).
export { ParquetTimestamp };

const NUMERIC = /^[+-]?(\d+)(?:\.(\d+))?$/;

function invalidEventTime(where: string, problem: string) {
  return invalidArgument(`${where}: ${problem}`, 'CST_ERR_INVALID_EVENT_TIME', { field: where });
}

function fractionMicros(digits: string | undefined, unitMicros: bigint): bigint {
  if (!digits) return 0n;
  // The fraction of one unit, in microseconds, cut (not rounded) below a microsecond.
  const scale = unitMicros.toString().length - 1;
  const kept = digits.slice(0, scale).padEnd(scale, '0');
  return scale === 0 ? 0n : BigInt(kept);
}

/** Event time from text: ISO-8601, or a unix time in `unit`. */
export function eventTimeFromText(text: string, unit: EventTimeUnit, where: string): bigint {
  const trimmed = text.trim();
  const numeric = NUMERIC.exec(trimmed);
  if (numeric) {
    const unitMicros = MICROS_PER_UNIT[unit];
    const magnitude = BigInt(numeric[1]!) * unitMicros + fractionMicros(numeric[2], unitMicros);
    return trimmed.startsWith('-') ? -magnitude : magnitude;
  }
  const micros = microsFromIso(trimmed);
  if (micros === 'not-iso') {
    throw invalidEventTime(where, `${quoteInput(text)} is not an ISO-8601 time or a unix time in ${unitName(unit)}`);
  }
  if (micros === 'invalid') throw invalidEventTime(where, `${quoteInput(text)} is not a valid ISO-8601 time`);
  return micros;
}

function unitName(unit: EventTimeUnit): string {
  return unit === 's' ? 'seconds' : unit === 'ms' ? 'milliseconds' : 'microseconds';
}

/**
 * Event time from a value as a JSON or Parquet reader produced it. null/undefined are not
 * handled here: a row without an event time takes the job's start time.
 */
export function eventTimeFromValue(value: unknown, unit: EventTimeUnit, where: string): bigint {
  if (typeof value === 'string') return eventTimeFromText(value, unit, where);
  if (typeof value === 'bigint') return value * MICROS_PER_UNIT[unit];
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidEventTime(where, `${value} is not a time`);
    // The shortest decimal form of the number is exactly what the file said (JSON) or the
    // closest a double gets (Parquet DOUBLE); exponents only appear far outside the Date range.
    const text = String(value);
    if (/e/i.test(text)) throw invalidEventTime(where, `${text} is out of range for an event time`);
    return eventTimeFromText(text, unit, where);
  }
  if (value instanceof ParquetTimestamp) return value.micros;
  if (value instanceof Date) {
    const millis = value.getTime();
    if (Number.isNaN(millis)) throw invalidEventTime(where, 'not a valid date');
    return BigInt(millis) * 1000n;
  }
  throw invalidEventTime(where, `expected a time (ISO-8601 text or a unix time), got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'a list';
  return typeof value;
}
