let last = 0;

/**
 * Microseconds since the epoch, strictly increasing within this process. It stamps rows sent
 * without an event time: two such writes to one row in the same millisecond must still be
 * ordered as they arrived, not decided by Cassandra's tie-break on equal timestamps. It follows
 * the wall clock (as the other producers' stamps and the ttl arithmetic do) and only steps past
 * it by the microseconds needed to stay increasing.
 */
export function monotonicMicros(): number {
  const now = Date.now() * 1000;
  last = now > last ? now : last + 1;
  return last;
}
