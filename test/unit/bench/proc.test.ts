import { describe, expect, it } from 'vitest';

import { idleProcessLoopDelay } from '../../../bench/lib/proc.js';

describe('idleProcessLoopDelay', () => {
  it("reports an idle child process's event-loop delay percentiles, in order", async () => {
    const delay = await idleProcessLoopDelay(300);
    expect(delay).not.toBeNull();
    const { p50Ms, p99Ms, maxMs } = delay!;
    // The histogram counts whole timer intervals of the 10 ms resolution.
    expect(p50Ms).toBeGreaterThan(0);
    expect(p99Ms).toBeGreaterThanOrEqual(p50Ms);
    expect(maxMs).toBeGreaterThanOrEqual(p99Ms);
  });
});
