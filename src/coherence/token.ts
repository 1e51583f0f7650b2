import { Metadata } from '@grpc/grpc-js';

import { invalidArgument } from '../errors/index.js';

/** Trailing metadata of a write: its consistency token (decimal microseconds since the epoch). */
export const WRITE_TIME_METADATA = 'cassette-write-time';
/** Request metadata of a read: the same as GetOnlineFeaturesRequest.min_write_time. */
export const MIN_WRITE_TIME_METADATA = 'cassette-min-write-time';

/** The `cassette-min-write-time` metadata of a call, as sent (validated by the reader), or undefined. */
export function minWriteTimeHeader(metadata: Metadata): string | undefined {
  const values = metadata.get(MIN_WRITE_TIME_METADATA);
  return values.length === 0 ? undefined : String(values[values.length - 1]);
}

/** The trailing metadata carrying a write response's consistency token; undefined for other responses. */
export function writeTimeTrailer(response: unknown): Metadata | undefined {
  if (typeof response !== 'object' || response === null || !('consistency_token' in response)) return undefined;
  const token = (response as { consistency_token?: unknown }).consistency_token;
  if (token === undefined || token === null) return undefined;
  const trailer = new Metadata();
  trailer.set(WRITE_TIME_METADATA, String(token));
  return trailer;
}

/**
 * The consistency token a read asks for, in microseconds (0: none): the later of the request's
 * min_write_time and the metadata's. INVALID_ARGUMENT when either is not a whole number of microseconds.
 */
export function requestedMinWriteTime(field: string | number | undefined | null, header: string | undefined): number {
  return Math.max(parseToken(field, 'min_write_time'), parseToken(header, `metadata ${MIN_WRITE_TIME_METADATA}`));
}

function parseToken(value: string | number | undefined | null, field: string): number {
  if (value === undefined || value === null || value === '' || value === 0 || value === '0') return 0;
  const micros = Number(value);
  if (!Number.isSafeInteger(micros) || micros < 0) {
    throw invalidArgument(
      `${field}: ${JSON.stringify(String(value))} is not a consistency token (microseconds since the epoch, from a write's consistency_token)`,
      'CST_ERR_INVALID_ARGUMENT',
      { field },
    );
  }
  return micros;
}
