import cassandra from 'cassandra-driver';

/** Murmur3Partitioner's tokens: (-2^63, 2^63 - 1] (it never gives the minimum itself). */
const MIN_TOKEN = -(2n ** 63n);
const MAX_TOKEN = 2n ** 63n - 1n;

/** A slice of the token ring: the rows with start < token(key) <= end. */
export interface TokenRange {
  readonly start: cassandra.types.Long;
  readonly end: cassandra.types.Long;
}

/**
 * The ring cut into `count` ranges of (almost) equal width, in token order. Equal widths hold
 * about equal numbers of rows, since Murmur3 spreads keys evenly.
 */
export function splitTokenRing(count: number): TokenRange[] {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
  const width = (MAX_TOKEN - MIN_TOKEN) / BigInt(count);
  const ranges: TokenRange[] = [];
  let start = MIN_TOKEN;
  for (let i = 0; i < count; i++) {
    const end = i === count - 1 ? MAX_TOKEN : start + width;
    ranges.push({
      start: cassandra.types.Long.fromString(start.toString()),
      end: cassandra.types.Long.fromString(end.toString()),
    });
    start = end;
  }
  return ranges;
}
