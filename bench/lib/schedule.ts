import { Rng } from './random.js';

/**
 * Open-loop arrival schedules. The generator sends request i at its intended time t_i, whatever
 * happened to earlier requests, and measures its latency from t_i, not from when it actually
 * went out: if the generator (or the server holding it up) falls behind, that delay is part of
 * what a caller arriving at t_i would have seen. Measuring from the actual send time instead
 * hides exactly the stalls that make up the tail ("coordinated omission").
 */

export type ArrivalProcess =
  | { readonly kind: 'constant'; readonly ratePerSecond: number }
  | { readonly kind: 'poisson'; readonly ratePerSecond: number; readonly seed: number };

/** Successive intended send times, in ms from the start of the run. */
export class ArrivalSchedule {
  private index = 0;
  private poissonAt = 0;
  private readonly rng: Rng | undefined;
  private readonly intervalMs: number;

  constructor(readonly process: ArrivalProcess) {
    if (!(process.ratePerSecond > 0) || !Number.isFinite(process.ratePerSecond)) {
      throw new Error(`arrival rate must be a positive number, got ${process.ratePerSecond}`);
    }
    this.intervalMs = 1000 / process.ratePerSecond;
    this.rng = process.kind === 'poisson' ? new Rng(process.seed) : undefined;
  }

  /** The intended time of the next arrival. */
  next(): number {
    const i = this.index++;
    if (this.rng === undefined) {
      // Computed from the index, not accumulated, so rounding errors do not drift.
      return i * this.intervalMs;
    }
    const at = this.poissonAt;
    this.poissonAt += this.rng.exponential(this.intervalMs);
    return at;
  }
}

/**
 * Hands out the arrivals of a schedule that are due, for a run lasting `durationMs`. Nothing is
 * ever skipped: a caller that comes back late gets every arrival it missed, each with its own
 * intended time, and sends them at once.
 */
export class OpenLoopPacer {
  private upcoming: number;

  constructor(
    private readonly schedule: ArrivalSchedule,
    readonly durationMs: number,
  ) {
    this.upcoming = schedule.next();
  }

  /** True once every arrival before the end of the run has been handed out. */
  get done(): boolean {
    return this.upcoming >= this.durationMs;
  }

  /** Intended time of the next arrival not yet handed out (Infinity when done). */
  get nextAt(): number {
    return this.done ? Number.POSITIVE_INFINITY : this.upcoming;
  }

  /**
   * Calls `send(intendedMs)` for every arrival due at `nowMs` (intended time <= now), oldest
   * first, but at most `limit` of them (the rest stay due for the next call). Returns how many.
   */
  takeDue(nowMs: number, limit: number, send: (intendedMs: number) => void): number {
    let sent = 0;
    while (sent < limit && !this.done && this.upcoming <= nowMs) {
      const intended = this.upcoming;
      this.upcoming = this.schedule.next();
      send(intended);
      sent++;
    }
    return sent;
  }
}

/**
 * The latency a caller arriving at `intendedMs` experienced when the answer came at
 * `completedMs`: includes any time the request waited to be sent.
 */
export function latencyFromIntended(intendedMs: number, completedMs: number): number {
  return completedMs - intendedMs;
}

/**
 * Whole milliseconds to sleep until the next arrival is due: at least 1 (Node's timer
 * resolution), rounded up so one wake-up finds it due.
 */
export function sleepBefore(nextAtMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil(nextAtMs - nowMs));
}
