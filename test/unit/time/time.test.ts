import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  bigMicrosFromTimestamp,
  isoFromMicros,
  MAX_UNIX_SECONDS,
  microsFromIso,
  microsFromTimestamp,
  nanosOfMicros,
  secondsOfBigMicros,
  secondsOfMicros,
  timestampFromMicros,
  unixSeconds,
} from '../../../src/time/index.js';

/** The whole Date range, in microseconds. */
const MAX_MICROS = BigInt(MAX_UNIX_SECONDS) * 1_000_000n;
const anyMicros = fc.oneof(
  fc.bigInt({ min: -MAX_MICROS, max: MAX_MICROS }),
  fc.bigInt({ min: -10_000_000n, max: 10_000_000n }),
  fc.constantFrom(0n, -1n, 1n, -999_999n, -1_000_000n, -1_000_001n, MAX_MICROS, -MAX_MICROS),
);
/** Times a double holds exactly (write times in the read path), either side of 1970. */
const safeMicros = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: -10_000_000, max: 10_000_000 }),
);
/** Times ISO-8601 text with a four-digit year can hold: 0100-01-01 to 9999-12-31. */
const isoMicros = fc.bigInt({
  min: BigInt(Date.UTC(100, 0, 1)) * 1000n,
  max: BigInt(Date.UTC(10000, 0, 1)) * 1000n - 1n,
});

describe('time: µs <-> Timestamp', () => {
  it('round trips exactly, with nanos in [0, 1e9) also before 1970 (property)', () => {
    fc.assert(
      fc.property(anyMicros, (micros) => {
        const timestamp = timestampFromMicros(micros);
        expect(timestamp.nanos).toBeGreaterThanOrEqual(0);
        expect(timestamp.nanos).toBeLessThan(1e9);
        expect(timestamp.nanos % 1000).toBe(0);
        expect(bigMicrosFromTimestamp(timestamp)).toBe(micros);
        expect(String(secondsOfBigMicros(micros))).toBe(timestamp.seconds);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same seconds and nanos for a number as for the exact bigint (property)', () => {
    fc.assert(
      fc.property(safeMicros, (micros) => {
        const timestamp = timestampFromMicros(micros);
        expect(timestamp).toEqual({ seconds: secondsOfMicros(micros), nanos: nanosOfMicros(micros) });
        expect(timestampFromMicros(BigInt(micros))).toEqual({
          seconds: String(timestamp.seconds),
          nanos: timestamp.nanos,
        });
        expect(microsFromTimestamp(timestamp.seconds, timestamp.nanos)).toBe(micros);
      }),
      { numRuns: 2000 },
    );
  });

  it('floors before 1970 and cuts nanoseconds below a microsecond', () => {
    expect(timestampFromMicros(-1n)).toEqual({ seconds: '-1', nanos: 999_999_000 });
    expect(timestampFromMicros(-1)).toEqual({ seconds: -1, nanos: 999_999_000 });
    expect(timestampFromMicros(-1_000_000n)).toEqual({ seconds: '-1', nanos: 0 });
    expect(timestampFromMicros(1_500_000)).toEqual({ seconds: 1, nanos: 500_000_000 });
    expect(microsFromTimestamp(1, 999)).toBe(1_000_000);
    expect(microsFromTimestamp(-1, 1_999)).toBe(-999_999);
  });
});

describe('time: µs <-> ISO-8601', () => {
  it('round trips exactly, also before 1970 (property)', () => {
    fc.assert(
      fc.property(isoMicros, (micros) => {
        const iso = isoFromMicros(micros);
        expect(iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
        expect(microsFromIso(iso)).toBe(micros);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with Date at whole milliseconds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(100, 0, 1), max: Date.UTC(10000, 0, 1) - 1 }), (millis) => {
        expect(isoFromMicros(BigInt(millis) * 1000n)).toBe(new Date(millis).toISOString().replace('Z', '000Z'));
      }),
    );
  });

  it('writes the instant before 1970 as the last microsecond of 1969', () => {
    expect(isoFromMicros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(isoFromMicros(-1_000_001n)).toBe('1969-12-31T23:59:58.999999Z');
    expect(microsFromIso('1969-12-31T23:59:59.5Z')).toBe(-500_000n);
  });

  it('reads zones, dates alone and long fractions; refuses what is not a time', () => {
    expect(microsFromIso('1970-01-01T01:00:00.1234569+01:00')).toBe(123_456n);
    expect(microsFromIso('1970-01-02')).toBe(86_400_000_000n);
    expect(microsFromIso('yesterday')).toBe('not-iso');
    expect(microsFromIso('2026-02-30')).toBe('invalid');
    expect(microsFromIso('2026-01-01T24:00:00Z')).toBe('invalid');
  });
});

describe('time: unix seconds of a Date', () => {
  it('floors, also before 1970 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (millis) => {
        const seconds = unixSeconds(new Date(millis));
        expect(Number.isInteger(seconds)).toBe(true);
        expect(seconds * 1000).toBeLessThanOrEqual(millis);
        expect(millis).toBeLessThan(seconds * 1000 + 1000);
      }),
    );
    expect(unixSeconds(new Date(-1))).toBe(-1);
  });
});
