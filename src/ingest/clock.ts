let last = 0;

/**
 * Microseconds since the epoch, strictly increasing within this process. It stamps rows sent
 * without an event time: two such writes to one row in the same millisecond must still be
 * ordered as they arrived, not decided by Cassandra's tie-break on equal timestamps.
 */
export function monotonicMicros(): number {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  last = now > last ? now : last + 1;
  return last;
}
