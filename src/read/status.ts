/** Wire values of cassette.v1.FieldStatus. */
export const STATUS = { PRESENT: 1, NULL_VALUE: 2, NOT_FOUND: 3, OUTSIDE_MAX_AGE: 4 } as const;

/**
 * The status of a value written at `writtenAtMicros`, read at `nowMicros` from a view whose ttl
 * is `ttlMicros` (0 = none): older than the ttl is OUTSIDE_MAX_AGE (the value is still returned,
 * so a caller may decide to use it); exactly ttl old is still fresh.
 */
export function presentStatus(
  writtenAtMicros: number,
  ttlMicros: number,
  nowMicros: number,
): typeof STATUS.PRESENT | typeof STATUS.OUTSIDE_MAX_AGE {
  return ttlMicros > 0 && nowMicros - writtenAtMicros > ttlMicros ? STATUS.OUTSIDE_MAX_AGE : STATUS.PRESENT;
}
