import { describe, expect, it } from 'vitest';

import { monotonicMicros } from '../../../src/write/clock.js';

describe('monotonicMicros', () => {
  it('follows the wall clock and strictly increases', () => {
    const before = Date.now() * 1000;
    const stamps = Array.from({ length: 1000 }, () => monotonicMicros());
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    expect(stamps[0]!).toBeGreaterThanOrEqual(before);
    // A thousand calls within a millisecond step at most a thousand microseconds past the clock.
    expect(stamps[999]! - Date.now() * 1000).toBeLessThanOrEqual(1000);
  });
});
