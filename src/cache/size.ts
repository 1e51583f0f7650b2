/**
 * A cheap estimate of the heap bytes a stored value holds. It needs to be roughly right and
 * fast, not exact: it runs once per cache insert.
 */
export function estimateValueBytes(value: unknown): number {
  if (value === null || value === undefined) return 8;
  switch (typeof value) {
    case 'number':
    case 'boolean':
      return 8;
    case 'string':
      return 16 + value.length * 2;
    case 'object':
      if (Buffer.isBuffer(value)) return 80 + value.length;
      if (Array.isArray(value)) {
        let total = 32;
        for (const item of value) total += estimateValueBytes(item);
        return total;
      }
      // Long and Date objects.
      return 32;
    default:
      return 16;
  }
}
