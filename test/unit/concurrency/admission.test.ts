import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AdmissionGate, type AdmissionLimits } from '../../../src/concurrency/admission.js';
import type { CassetteError } from '../../../src/errors/index.js';

const LIMITS: AdmissionLimits = { maxInFlight: 100, maxQueueWaitMs: 50, minTimeLeftMs: 10 };
const FAR = Number.POSITIVE_INFINITY;

function gate(limits: Partial<AdmissionLimits> = {}): AdmissionGate {
  return new AdmissionGate({ ...LIMITS, ...limits }, 'serving.maxInFlightReads', 'entity reads');
}

/** Enters `cost` units, which must be admitted at once. */
function admitNow(g: AdmissionGate, cost: number): void {
  expect(g.enter(cost, FAR, Date.now())).toBeUndefined();
}

function thrown(run: () => unknown): CassetteError {
  try {
    run();
  } catch (error) {
    return error as CassetteError;
  }
  throw new Error('expected a throw');
}

/** Settles `promise` into a state that can be inspected synchronously. */
function track(promise: Promise<void>): { state: 'pending' | 'admitted' | CassetteError } {
  const tracked: { state: 'pending' | 'admitted' | CassetteError } = { state: 'pending' };
  promise.then(
    () => (tracked.state = 'admitted'),
    (error: CassetteError) => (tracked.state = error),
  );
  return tracked;
}

describe('admission control', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('admits work within the bound at once, without a promise', () => {
    const g = gate();
    expect(g.enter(60, FAR, Date.now())).toBeUndefined();
    expect(g.enter(40, FAR, Date.now())).toBeUndefined();
    expect(g.inFlight).toBe(100);
    g.leave(60);
    g.leave(40);
    expect(g.inFlight).toBe(0);
    expect(g.counters).toMatchObject({ admitted: 2, queued: 0, shed: 0, late: 0 });
  });

  it('queues what does not fit and admits it, in arrival order, as room is given back', async () => {
    const g = gate();
    expect(g.enter(90, FAR, Date.now())).toBeUndefined();
    const first = track(g.enter(30, FAR, Date.now())!);
    const second = track(g.enter(5, FAR, Date.now())!);
    await Promise.resolve();
    // The small one would fit, but waits behind the first: no overtaking, so large requests are not starved.
    expect([first.state, second.state]).toEqual(['pending', 'pending']);
    expect(g.queued).toBe(35);
    g.leave(90);
    await Promise.resolve();
    expect([first.state, second.state]).toEqual(['admitted', 'admitted']);
    expect(g.inFlight).toBe(35);
    expect(g.counters).toMatchObject({ admitted: 3, queued: 2, shed: 0 });
  });

  it('refuses RESOURCE_EXHAUSTED at once, naming the limit, when the queue is full', () => {
    const g = gate();
    admitNow(g, 100);
    void g.enter(80, FAR, Date.now())!.catch(() => undefined);
    const error = thrown(() => g.enter(30, FAR, Date.now()));
    expect(error.code).toBe('CST_ERR_OVERLOADED');
    expect(error.status).toBe('RESOURCE_EXHAUSTED');
    expect(error.metadata).toEqual({ limit: 'serving.maxInFlightReads', value: '100' });
    expect(error.message).toContain('serving.maxInFlightReads');
    expect(g.counters.shed).toBe(1);
  });

  it('gives up on a queued call after the maximum wait', async () => {
    const g = gate();
    admitNow(g, 100);
    const waiting = track(g.enter(10, FAR, Date.now())!);
    await vi.advanceTimersByTimeAsync(49);
    expect(waiting.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect((waiting.state as CassetteError).code).toBe('CST_ERR_OVERLOADED');
    expect(g.queued).toBe(0);
    // The room it did not take is still there for the next call.
    g.leave(100);
    expect(g.enter(100, FAR, Date.now())).toBeUndefined();
  });

  it('with no queue, refuses at once what does not fit', () => {
    const g = gate({ maxQueueWaitMs: 0 });
    admitNow(g, 100);
    expect(thrown(() => g.enter(1, FAR, Date.now())).code).toBe('CST_ERR_OVERLOADED');
  });

  it('refuses DEADLINE_EXCEEDED before starting a call with too little time left', () => {
    const g = gate();
    const error = thrown(() => g.enter(1, 1009, 1000));
    expect(error.status).toBe('DEADLINE_EXCEEDED');
    expect(error.metadata).toEqual({ limit: 'serving.minTimeLeftMs' });
    expect(g.inFlight).toBe(0);
    expect(g.counters.late).toBe(1);
    expect(g.enter(1, 1010, 1000)).toBeUndefined();
  });

  it('lets a queued call wait only while its deadline leaves time to do the work', async () => {
    const g = gate();
    admitNow(g, 100);
    // 30 ms left: it may wait 20 ms, then the floor of 10 ms is all that is left.
    const waiting = track(g.enter(10, Date.now() + 30, Date.now())!);
    await vi.advanceTimersByTimeAsync(20);
    expect((waiting.state as CassetteError).status).toBe('DEADLINE_EXCEEDED');
  });

  it('runs a call costing more than the bound alone', async () => {
    const g = gate();
    expect(g.enter(500, FAR, Date.now())).toBeUndefined();
    expect(g.inFlight).toBe(100);
    const next = track(g.enter(1, FAR, Date.now())!);
    g.leave(500);
    await Promise.resolve();
    expect(next.state).toBe('admitted');
    expect(g.inFlight).toBe(1);
    const big = track(g.enter(500, FAR, Date.now())!);
    g.leave(1);
    await Promise.resolve();
    expect(big.state).toBe('admitted');
  });

  it('says it is saturated while a call of the typical recent cost would be refused', () => {
    const g = gate();
    expect(g.saturated).toBe(false);
    admitNow(g, 60);
    admitNow(g, 40);
    // Full, but a typical call (about 58 units) would still find room in the queue.
    expect(g.saturated).toBe(false);
    void track(g.enter(50, FAR, Date.now())!);
    expect(g.saturated).toBe(true);
    const refusal = g.refuseUncosted();
    expect(refusal).toMatchObject({ code: 'CST_ERR_OVERLOADED', metadata: { limit: 'serving.maxInFlightReads' } });
    expect(g.counters).toMatchObject({ admitted: 2, queued: 1, shed: 1 });
    g.leave(60);
    // The queued call is in; a typical call would wait again rather than be refused.
    expect(g.queued).toBe(0);
    expect(g.saturated).toBe(false);
  });

  it('with no queue, is saturated while a typical call does not fit', () => {
    const g = gate({ maxQueueWaitMs: 0 });
    admitNow(g, 70);
    expect(g.saturated).toBe(true);
    g.leave(70);
    expect(g.saturated).toBe(false);
  });

  it('skips calls that gave up when admitting from the queue', async () => {
    const g = gate({ maxQueueWaitMs: 1000 });
    admitNow(g, 100);
    const early = track(g.enter(50, Date.now() + 30, Date.now())!);
    const later = track(g.enter(50, FAR, Date.now())!);
    await vi.advanceTimersByTimeAsync(25);
    expect((early.state as CassetteError).status).toBe('DEADLINE_EXCEEDED');
    g.leave(100);
    await Promise.resolve();
    expect(later.state).toBe('admitted');
    expect(g.inFlight).toBe(50);
    expect(g.queued).toBe(0);
  });
  it('refuses at once, rather than after the wait, a call that room would not be made for in time', () => {
    const g = gate({ maxQueueWaitMs: 100 });
    const t0 = Date.now();
    // Measured: 20 units leave per 100 ms of busy time.
    for (let ms = 0; ms < 1000; ms += 100) {
      expect(g.enter(20, FAR, t0 + ms)).toBeUndefined();
      g.leave(20, t0 + ms + 100);
    }
    expect(g.enter(100, FAR, t0 + 1000)).toBeUndefined();
    // 10 units must leave for this one to fit: about 50 ms at that rate, so it may wait.
    const fits = g.enter(10, FAR, t0 + 1100);
    expect(fits).toBeInstanceOf(Promise);
    void fits!.catch(() => undefined);
    // Another 30 would need 40 units gone: about 200 ms, more than the wait allows.
    const error = thrown(() => g.enter(30, FAR, t0 + 1100));
    expect(error.code).toBe('CST_ERR_OVERLOADED');
    expect(g.counters).toMatchObject({ queued: 1, shed: 1, shedAfterWaiting: 0 });
    expect(g.saturated).toBe(true);
  });

  it('counts refusals made before decoding and after waiting apart', async () => {
    const g = gate();
    admitNow(g, 100);
    void track(g.enter(60, FAR, Date.now())!);
    expect(g.saturated).toBe(true);
    // One error object for every refusal before decoding: nothing allocated per refused call.
    expect(g.refuseUncosted()).toBe(g.refuseUncosted());
    await vi.advanceTimersByTimeAsync(50);
    expect(g.counters).toMatchObject({ shed: 3, shedUndecoded: 2, shedAfterWaiting: 1 });
  });
});
