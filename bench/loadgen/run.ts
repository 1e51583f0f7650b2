import { PerformanceObserver } from 'node:perf_hooks';

import { createHistogram, encodeHistogram, recordMs, type Histogram } from '../lib/histogram.js';
import { ArrivalSchedule, latencyFromIntended, OpenLoopPacer, sleepBefore } from '../lib/schedule.js';
import type { JobResult, LoadSpec } from './protocol.js';
import type { Target } from './targets.js';

/** Every how many measured responses one is decoded and checked in `--verify` mode. */
const VERIFY_EVERY = 25;

export type WindowPhase = 'start' | 'end';

/** Counts and histograms of one measured window. */
class Recorder {
  readonly latency: Histogram = createHistogram();
  readonly sendLag: Histogram = createHistogram();
  completed = 0;
  /** Answers received inside the window (in a closed loop, also to requests sent before it). */
  private answered = 0;
  errors = 0;
  readonly errorsByCode: Record<string, number> = {};
  verified = 0;
  verifyFailures = 0;
  firstVerifyFailure: string | null = null;
  private windowOpen = false;
  private windowStart = 0;
  private lastCompletion = 0;
  private cpuAtStart: NodeJS.CpuUsage = process.cpuUsage();
  /** The generator's own garbage-collection pauses in the window: how much of a tail could be ours. */
  private gcTotalMs = 0;
  private gcMaxMs = 0;
  private readonly gcObserver = new PerformanceObserver((list) => {
    if (!this.windowOpen) return;
    for (const entry of list.getEntries()) {
      this.gcTotalMs += entry.duration;
      if (entry.duration > this.gcMaxMs) this.gcMaxMs = entry.duration;
    }
  });

  constructor(
    private readonly target: Target,
    private readonly verify: boolean,
    private readonly onWindow: (phase: WindowPhase) => void,
  ) {}

  startWindow(now: number): void {
    if (this.windowOpen) return;
    this.windowOpen = true;
    this.windowStart = now;
    this.lastCompletion = now;
    this.cpuAtStart = process.cpuUsage();
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.onWindow('start');
  }

  countThroughput(now: number): void {
    this.answered++;
    if (now > this.lastCompletion) this.lastCompletion = now;
  }

  complete(i: number, latencyMs: number, now: number, error: string | null, response: unknown): void {
    recordMs(this.latency, latencyMs);
    this.completed++;
    this.countThroughput(now);
    if (error !== null) {
      this.errors++;
      this.errorsByCode[error] = (this.errorsByCode[error] ?? 0) + 1;
    } else if (this.verify && this.completed % VERIFY_EVERY === 1) {
      this.verified++;
      let problem: string | null;
      try {
        problem = this.target.check(i, response);
      } catch (failure) {
        problem = `cannot decode: ${(failure as Error).message}`;
      }
      if (problem !== null) {
        this.verifyFailures++;
        this.firstVerifyFailure ??= problem;
      }
    }
  }

  finish(hasSendLag: boolean): JobResult {
    // A run that ended before its window opened (nothing measured) still reports a window.
    this.startWindow(performance.now());
    const windowMs = Math.max(this.lastCompletion - this.windowStart, 1);
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.gcObserver.disconnect();
    this.onWindow('end');
    return {
      histogram: encodeHistogram(this.latency),
      sendLag: hasSendLag ? encodeHistogram(this.sendLag) : null,
      completed: this.completed,
      achievedRps: this.answered / (windowMs / 1000),
      errors: this.errors,
      errorsByCode: this.errorsByCode,
      windowMs,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
      gcPauseTotalMs: this.gcTotalMs,
      gcPauseMaxMs: this.gcMaxMs,
      verified: this.verified,
      verifyFailures: this.verifyFailures,
      firstVerifyFailure: this.firstVerifyFailure,
    };
  }
}

/**
 * Closed loop: `concurrency` callers, each sending its next request when the previous one
 * answers. Measures throughput at a given level of concurrency; latency is from the actual
 * send (a closed loop has no intended times). Requests sent during the warm-up are not recorded.
 */
export function runClosedLoop(
  target: Target,
  load: Extract<LoadSpec, { mode: 'closed' }>,
  verify: boolean,
  onWindow: (phase: WindowPhase) => void,
): Promise<JobResult> {
  return new Promise((resolve) => {
    const recorder = new Recorder(target, verify, onWindow);
    const start = performance.now();
    const measureStart = start + load.warmupMs;
    const measureEnd = measureStart + load.durationMs;
    let measuredSent = 0;
    let lanes = load.concurrency;
    const windowTimer = setTimeout(() => recorder.startWindow(performance.now()), load.warmupMs);
    // A lane whose requests all outlast the window (a stalled machine) still sends one measured
    // request after it, so that every level reports a latency rather than nothing.
    const lane = (hasMeasured: boolean): void => {
      const sentAt = performance.now();
      const budgetLeft = load.maxRequests === undefined || measuredSent < load.maxRequests;
      if ((sentAt >= measureEnd && hasMeasured) || !budgetLeft) {
        if (--lanes === 0) {
          clearTimeout(windowTimer);
          resolve(recorder.finish(false));
        }
        return;
      }
      const measured = sentAt >= measureStart;
      if (measured) measuredSent++;
      const i = target.cursor++;
      target.send(i, (error, response) => {
        const now = performance.now();
        if (measured) recorder.complete(i, now - sentAt, now, error, response);
        // Throughput counts every answer inside the window, including those to warm-up requests.
        else if (now >= measureStart) recorder.countThroughput(now);
        lane(hasMeasured || measured);
      });
    };
    for (let c = 0; c < load.concurrency; c++) lane(false);
  });
}

/**
 * Open loop: requests go out on the arrival schedule whether or not earlier ones have been
 * answered, and each latency is measured from the request's intended send time. A late sender
 * (a busy event loop, the in-flight cap) therefore shows up in the latencies instead of quietly
 * lowering the rate. How late sends actually were is recorded separately (`sendLag`).
 *
 * Arrivals still unsent `drainMs` after the schedule ends are counted as errors (NOT_SENT), with
 * the time they had waited so far as their latency.
 */
export function runOpenLoop(
  target: Target,
  load: Extract<LoadSpec, { mode: 'open' }>,
  seed: number,
  drainMs: number,
  verify: boolean,
  onWindow: (phase: WindowPhase) => void,
): Promise<JobResult> {
  return new Promise((resolve) => {
    const recorder = new Recorder(target, verify, onWindow);
    const schedule = new ArrivalSchedule(
      load.poisson
        ? { kind: 'poisson', ratePerSecond: load.ratePerSecond, seed }
        : { kind: 'constant', ratePerSecond: load.ratePerSecond },
    );
    const pacer = new OpenLoopPacer(schedule, load.warmupMs + load.durationMs);
    const t0 = performance.now();
    let inFlight = 0;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;

    const finishIfDone = (): void => {
      if (finished || !pacer.done || inFlight > 0) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      resolve(recorder.finish(true));
    };

    const send = (intended: number): void => {
      const measured = intended >= load.warmupMs;
      if (measured) recordMs(recorder.sendLag, performance.now() - t0 - intended);
      const i = target.cursor++;
      inFlight++;
      target.send(i, (error, response) => {
        inFlight--;
        if (measured) {
          const now = performance.now() - t0;
          recorder.complete(i, latencyFromIntended(intended, now), now + t0, error, response);
        }
        // A completion may free a slot under the in-flight cap.
        if (inFlight === load.maxInFlight - 1) pump();
        finishIfDone();
      });
    };

    const pump = (): void => {
      clearTimeout(timer);
      timer = undefined;
      const now = performance.now() - t0;
      pacer.takeDue(now, load.maxInFlight - inFlight, send);
      if (pacer.done) {
        finishIfDone();
        return;
      }
      // At the cap, the next completion calls pump(); otherwise sleep until the next arrival.
      if (inFlight < load.maxInFlight && timer === undefined) {
        timer = setTimeout(pump, sleepBefore(pacer.nextAt, performance.now() - t0));
      }
    };

    setTimeout(() => recorder.startWindow(performance.now()), load.warmupMs);
    // Past the end of the schedule plus the drain time, whatever was never sent is an error.
    const giveUp = setTimeout(
      () => {
        const now = performance.now() - t0;
        pacer.takeDue(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, (intended) => {
          if (intended >= load.warmupMs)
            recorder.complete(-1, latencyFromIntended(intended, now), now + t0, 'NOT_SENT', null);
        });
        finishIfDone();
      },
      load.warmupMs + load.durationMs + drainMs,
    );
    pump();
  });
}
