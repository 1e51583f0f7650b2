import type { Timestamp__Output } from '../generated/google/protobuf/Timestamp.js';

/**
 * Time conversions, in one place. Cassette keeps times as microseconds since the epoch (the
 * unit of a Cassandra write timestamp); the API carries google.protobuf.Timestamp, files carry
 * ISO-8601 text, and unix_timestamp values are whole seconds. Every conversion floors, so a
 * time before 1970 keeps a non-negative fraction (-1 µs is 1969-12-31T23:59:59.999999Z, i.e.
 * seconds -1 and nanos 999 999 000), as Timestamp and ISO text both require.
 */

const MICROS_PER_SECOND = 1_000_000;
const BIG_MICROS_PER_SECOND = 1_000_000n;

/** JavaScript Dates (what the driver maps CQL timestamps to) span ±8.64e15 ms. */
export const MAX_UNIX_SECONDS = 8_640_000_000_000;

/** Whole seconds of a time in microseconds, floored. */
export function secondsOfMicros(micros: number): number {
  return Math.floor(micros / MICROS_PER_SECOND);
}

/** The nanoseconds past `secondsOfMicros(micros)`: 0 to 999 999 000. */
export function nanosOfMicros(micros: number): number {
  return (micros - secondsOfMicros(micros) * MICROS_PER_SECOND) * 1000;
}

/** Floor division of a bigint time in microseconds into whole seconds and the microseconds past them. */
function splitBigMicros(micros: bigint): { seconds: bigint; rest: bigint } {
  let seconds = micros / BIG_MICROS_PER_SECOND;
  let rest = micros % BIG_MICROS_PER_SECOND;
  if (rest < 0n) {
    seconds -= 1n;
    rest += BIG_MICROS_PER_SECOND;
  }
  return { seconds, rest };
}

/** Whole seconds of an exact time in microseconds, floored. */
export function secondsOfBigMicros(micros: bigint): bigint {
  return splitBigMicros(micros).seconds;
}

/**
 * µs -> Timestamp. A bigint converts exactly, with seconds as decimal text (the form
 * proto-loader gives a decoded message); a number gives seconds as a number.
 */
export function timestampFromMicros(micros: bigint): Timestamp__Output;
export function timestampFromMicros(micros: number): { seconds: number; nanos: number };
export function timestampFromMicros(micros: bigint | number): Timestamp__Output | { seconds: number; nanos: number } {
  if (typeof micros === 'number') return { seconds: secondsOfMicros(micros), nanos: nanosOfMicros(micros) };
  const { seconds, rest } = splitBigMicros(micros);
  return { seconds: seconds.toString(), nanos: Number(rest) * 1000 };
}

/** Timestamp -> µs; nanoseconds below a microsecond are cut. The caller checks the range. */
export function microsFromTimestamp(seconds: number, nanos: number): number {
  return seconds * MICROS_PER_SECOND + Math.floor(nanos / 1000);
}

/** Timestamp -> µs, exactly. */
export function bigMicrosFromTimestamp(timestamp: Timestamp__Output): bigint {
  return BigInt(timestamp.seconds) * BIG_MICROS_PER_SECOND + BigInt(Math.floor(timestamp.nanos / 1000));
}

/** Unix seconds of a Date, floored (a Date before 1970 with a fraction rounds down). */
export function unixSeconds(date: Date): number {
  return unixSecondsFromMillis(date.getTime());
}

export function unixSecondsFromMillis(millis: number): number {
  return Math.floor(millis / 1000);
}

/** ISO-8601 with microseconds (UTC), e.g. `2026-01-31T12:00:00.123456Z`. */
export function isoFromMicros(micros: bigint): string {
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const rest = micros - millis * 1000n;
  const iso = new Date(Number(millis)).toISOString();
  return `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?$/;

/** Why text is not an ISO-8601 time: not in the form at all, or in the form but no real time. */
export type IsoProblem = 'not-iso' | 'invalid';

/**
 * ISO-8601 text -> µs, exactly: `2026-01-31T12:00:00Z`, `2026-01-31 12:00:00.123456+02:00`,
 * `2026-01-31` (midnight); a time without a zone offset is UTC; fractions beyond microseconds
 * are cut. Dates that do not exist (2026-02-30) are 'invalid', not rolled over.
 */
export function microsFromIso(text: string): bigint | IsoProblem {
  const match = ISO.exec(text);
  if (!match) return 'not-iso';
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction, zulu, sign, oh, om] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const offsetMinutes = zulu || !sign ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om ?? '0'));
  // Date.UTC is exact in whole seconds; the fraction is added as an integer.
  const millis = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(millis);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    Math.abs(offsetMinutes) > 18 * 60
  ) {
    return 'invalid';
  }
  const seconds = (millis - offsetMinutes * 60_000) / 1000;
  const fractionMicros = fraction ? BigInt(fraction.slice(0, 6).padEnd(6, '0')) : 0n;
  return BigInt(seconds) * BIG_MICROS_PER_SECOND + fractionMicros;
}
