import { setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { IdleProcessProbe } from '../../../bench/lib/proc.js';

describe('IdleProcessProbe', () => {
  it("reports an idle child process's event-loop delay percentiles from start to stop, in order", async () => {
    const probe = IdleProcessProbe.start();
    await sleep(300);
    const delay = await probe.stop();
    expect(delay).not.toBeNull();
    const { p50Ms, p99Ms, maxMs } = delay!;
    // The histogram counts whole timer intervals of the 10 ms resolution.
    expect(p50Ms).toBeGreaterThan(0);
    expect(p99Ms).toBeGreaterThanOrEqual(p50Ms);
    expect(maxMs).toBeGreaterThanOrEqual(p99Ms);
  });
});
