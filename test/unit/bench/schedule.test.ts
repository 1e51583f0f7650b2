import { afterEach, describe, expect, it, vi } from 'vitest';

import type { Target } from '../../../bench/loadgen/targets.js';
import { runClosedLoop, runOpenLoop } from '../../../bench/loadgen/run.js';
import { decodeHistogram, percentileMs } from '../../../bench/lib/histogram.js';
import { ArrivalSchedule, latencyFromIntended, OpenLoopPacer, sleepBefore } from '../../../bench/lib/schedule.js';

function take(schedule: ArrivalSchedule, n: number): number[] {
  return Array.from({ length: n }, () => schedule.next());
}

describe('arrival schedules', () => {
  it('constant rate: arrival i is intended at i / rate', () => {
    const times = take(new ArrivalSchedule({ kind: 'constant', ratePerSecond: 400 }), 5);
    expect(times).toEqual([0, 2.5, 5, 7.5, 10]);
  });

  it('constant rate does not drift over many arrivals', () => {
    const schedule = new ArrivalSchedule({ kind: 'constant', ratePerSecond: 3 });
    const times = take(schedule, 3001);
    expect(times[3000]).toBeCloseTo(1_000_000, 6);
  });

  it('Poisson arrivals are reproducible from the seed, differ across seeds, and keep the mean rate', () => {
    const a = take(new ArrivalSchedule({ kind: 'poisson', ratePerSecond: 1000, seed: 7 }), 20_000);
    const b = take(new ArrivalSchedule({ kind: 'poisson', ratePerSecond: 1000, seed: 7 }), 20_000);
    const c = take(new ArrivalSchedule({ kind: 'poisson', ratePerSecond: 1000, seed: 8 }), 20_000);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a[0]).toBe(0);
    // No arrival earlier than the one before it (one expect: 20,000 single ones cost a second).
    expect(a.findIndex((t, i) => i > 0 && t < a[i - 1]!)).toBe(-1);
    // 20,000 arrivals at 1/ms: the last is near 20,000 ms (sd of the sum ~ 141 ms).
    expect(a.at(-1)! / 20_000).toBeGreaterThan(0.97);
    expect(a.at(-1)! / 20_000).toBeLessThan(1.03);
    // Exponential gaps: about 1/e of them exceed the mean.
    const gaps = a.slice(1).map((t, i) => t - a[i]!);
    const longer = gaps.filter((g) => g > 1).length / gaps.length;
    expect(longer).toBeGreaterThan(0.35);
    expect(longer).toBeLessThan(0.385);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new ArrivalSchedule({ kind: 'constant', ratePerSecond: 0 })).toThrow(/positive/);
    expect(() => new ArrivalSchedule({ kind: 'poisson', ratePerSecond: Number.NaN, seed: 1 })).toThrow(/positive/);
  });
});

describe('open-loop pacing', () => {
  it('hands out exactly the arrivals that are due, in order', () => {
    const pacer = new OpenLoopPacer(new ArrivalSchedule({ kind: 'constant', ratePerSecond: 1000 }), 10);
    const sent: number[] = [];
    expect(pacer.takeDue(0, Infinity, (t) => sent.push(t))).toBe(1);
    expect(pacer.takeDue(0.5, Infinity, (t) => sent.push(t))).toBe(0);
    expect(pacer.nextAt).toBe(1);
    pacer.takeDue(3, Infinity, (t) => sent.push(t));
    expect(sent).toEqual([0, 1, 2, 3]);
  });

  it('a late sender gets every missed arrival with its own intended time: nothing is skipped', () => {
    const pacer = new OpenLoopPacer(new ArrivalSchedule({ kind: 'constant', ratePerSecond: 100 }), 1000);
    const sent: number[] = [];
    pacer.takeDue(0, Infinity, (t) => sent.push(t));
    // The sender stalls for 95 ms: the 9 arrivals it missed all go out now.
    pacer.takeDue(95, Infinity, (t) => sent.push(t));
    expect(sent).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    // Their latency counts from when they should have left, not from now.
    expect(sent.map((t) => latencyFromIntended(t, 95 + 2))).toEqual([97, 87, 77, 67, 57, 47, 37, 27, 17, 7]);
  });

  it('respects the in-flight limit and keeps the rest due', () => {
    const pacer = new OpenLoopPacer(new ArrivalSchedule({ kind: 'constant', ratePerSecond: 1000 }), 100);
    const sent: number[] = [];
    expect(pacer.takeDue(9, 4, (t) => sent.push(t))).toBe(4);
    expect(sent).toEqual([0, 1, 2, 3]);
    expect(pacer.takeDue(9, 100, (t) => sent.push(t))).toBe(6);
    expect(sent.slice(4)).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('is done after the last arrival before the end of the run', () => {
    const pacer = new OpenLoopPacer(new ArrivalSchedule({ kind: 'constant', ratePerSecond: 1000 }), 5);
    const sent: number[] = [];
    pacer.takeDue(1_000, Infinity, (t) => sent.push(t));
    expect(sent).toEqual([0, 1, 2, 3, 4]);
    expect(pacer.done).toBe(true);
    expect(pacer.nextAt).toBe(Infinity);
  });

  it('sleeps whole milliseconds, at least one, until the next arrival', () => {
    expect(sleepBefore(10, 3.2)).toBe(7);
    expect(sleepBefore(10, 9.9)).toBe(1);
    expect(sleepBefore(10, 10)).toBe(1);
  });
});

/**
 * A fake server answering in 1 ms, except that it freezes from 100 ms to 300 ms: everything sent
 * in that window is answered at 300 ms. Runs on fake timers, so nothing here depends on real time.
 */
function stallingTarget(): Target & { sent: number } {
  const target = {
    cursor: 0,
    sent: 0,
    send(_i: number, done: (error: string | null) => void) {
      target.sent++;
      const now = performance.now();
      const answerAt = now >= 100 && now < 300 ? 300 : now + 1;
      setTimeout(() => done(null), answerAt - now);
    },
    check: () => null,
  };
  return target;
}

describe('the generator loops against a server that stalls (fake time)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('open loop: the stall shows in the tail, since latency counts from intended send times', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const target = stallingTarget();
    const done = runOpenLoop(
      target,
      { mode: 'open', ratePerSecond: 1000, poisson: false, warmupMs: 0, durationMs: 1000, maxInFlight: 50 },
      1,
      5000,
      false,
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(10_000);
    const result = await done;
    const latency = decodeHistogram(result.histogram);
    expect(result.completed).toBe(1000);
    expect(result.errors).toBe(0);
    // 200 of the 1,000 requests were due during the stall: a 20 % tail up to 200 ms.
    expect(percentileMs(latency, 50)).toBeLessThanOrEqual(2);
    expect(percentileMs(latency, 90)).toBeGreaterThan(90);
    expect(percentileMs(latency, 99)).toBeGreaterThan(180);
    expect(percentileMs(latency, 100)).toBeGreaterThanOrEqual(199);
    // The in-flight cap (50) held sends back during the stall; that wait is in the latencies, and
    // how late the generator sent is reported on its own.
    expect(percentileMs(decodeHistogram(result.sendLag!), 99)).toBeGreaterThan(100);
    // The rate was kept: about 1,000 requests per second of window.
    expect(result.completed / (result.windowMs / 1000)).toBeGreaterThan(900);
  });

  it('closed loop over the same stall sees it once (coordinated omission): why p99 uses the open loop', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const done = runClosedLoop(
      stallingTarget(),
      { mode: 'closed', concurrency: 1, warmupMs: 0, durationMs: 1000 },
      false,
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(10_000);
    const result = await done;
    const latency = decodeHistogram(result.histogram);
    expect(percentileMs(latency, 99)).toBeLessThanOrEqual(2);
    expect(percentileMs(latency, 100)).toBeGreaterThanOrEqual(199);
  });

  it('closed loop whose requests all outlast its window still measures one request per lane', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    // Every answer takes 500 ms; the window is 50 ms after a 10 ms warm-up.
    const slow: Target = {
      cursor: 0,
      send: (_i, done) => void setTimeout(() => done(null), 500),
      check: () => null,
    };
    const done = runClosedLoop(
      slow,
      { mode: 'closed', concurrency: 2, warmupMs: 10, durationMs: 50 },
      false,
      () => undefined,
    );
    await vi.advanceTimersByTimeAsync(5_000);
    const result = await done;
    expect(result.completed).toBe(2);
    expect(percentileMs(decodeHistogram(result.histogram), 50)).toBeGreaterThanOrEqual(499);
  });

  it('open loop reports the window start before and the end after the measured requests', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const events: Array<[string, number]> = [];
    const target = stallingTarget();
    const done = runOpenLoop(
      target,
      { mode: 'open', ratePerSecond: 100, poisson: false, warmupMs: 500, durationMs: 500, maxInFlight: 10 },
      1,
      5000,
      false,
      (phase) => events.push([phase, performance.now()]),
    );
    await vi.advanceTimersByTimeAsync(5_000);
    const result = await done;
    expect(events.map(([phase]) => phase)).toEqual(['start', 'end']);
    expect(events[0]![1]).toBeGreaterThanOrEqual(500);
    expect(target.sent).toBe(100);
    // Only the arrivals after the warm-up are measured.
    expect(result.completed).toBe(50);
  });
});
