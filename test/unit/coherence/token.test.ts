import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import {
  MIN_WRITE_TIME_METADATA,
  minWriteTimeHeader,
  requestedMinWriteTime,
  WRITE_TIME_METADATA,
  writeTimeTrailer,
} from '../../../src/coherence/token.js';

describe('consistency tokens', () => {
  it('takes the later of the request field and the metadata, 0 for none', () => {
    expect(requestedMinWriteTime(undefined, undefined)).toBe(0);
    expect(requestedMinWriteTime('0', undefined)).toBe(0);
    expect(requestedMinWriteTime('1700000000000123', undefined)).toBe(1_700_000_000_000_123);
    expect(requestedMinWriteTime('5', '7')).toBe(7);
    expect(requestedMinWriteTime(9, '7')).toBe(9);
  });

  it('refuses a token that is not a whole number of microseconds, naming where it came from', () => {
    expect(() => requestedMinWriteTime('soon', undefined)).toThrow(/^min_write_time: "soon"/);
    expect(() => requestedMinWriteTime(undefined, '1.5')).toThrow(/^metadata cassette-min-write-time: "1.5"/);
    expect(() => requestedMinWriteTime('-4', undefined)).toThrow(/consistency token/);
  });

  it('reads the metadata a client sends and writes the trailer of a write', () => {
    const metadata = new Metadata();
    expect(minWriteTimeHeader(metadata)).toBeUndefined();
    metadata.set(MIN_WRITE_TIME_METADATA, '123');
    expect(minWriteTimeHeader(metadata)).toBe('123');
    expect(writeTimeTrailer({ rows_written: 1, consistency_token: 456 })?.get(WRITE_TIME_METADATA)).toEqual(['456']);
    expect(writeTimeTrailer(Buffer.alloc(3))).toBeUndefined();
    expect(writeTimeTrailer({ feature_views: [] })).toBeUndefined();
  });
});
