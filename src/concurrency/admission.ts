import { CassetteError } from '../errors/index.js';

export interface AdmissionLimits {
  /** Units of work (entity reads, rows written) in flight at most, over all calls. */
  readonly maxInFlight: number;
  /** Longest a call waits in the queue for room; 0 = refuse at once when there is none. */
  readonly maxQueueWaitMs: number;
  /** A call with less time than this left before its deadline is refused rather than started. */
  readonly minTimeLeftMs: number;
}

/** What a gate has done, for the stats line (and metrics later). */
export interface AdmissionCounters {
  /** Calls admitted, at once or after waiting. */
  admitted: number;
  /** Calls that had to wait in the queue. */
  queued: number;
  /** Calls refused RESOURCE_EXHAUSTED: no room, in flight or in the queue (all reasons below). */
  shed: number;
  /** Of `shed`: refused before their request was decoded (see refuseUncosted). */
  shedUndecoded: number;
  /** Of `shed`: refused after waiting `maxQueueWaitMs` in the queue. */
  shedAfterWaiting: number;
  /** Calls refused DEADLINE_EXCEEDED: too little time left to start, or left waiting until then. */
  late: number;
}

/** Weight of the newest call in the moving average of call costs (about the last eight calls). */
const TYPICAL_WEIGHT = 1 / 8;

/**
 * Busy time (something in flight) over which the departure rate is measured: the rate is that of
 * the current window and the one before it, so about the last 0.5–1 s of work.
 */
const RATE_WINDOW_MS = 500;

/**
 * How fast units leave the gate while work is in flight: the rate at which room is made, so how
 * long a queued call can expect to wait. Time with nothing in flight does not count (an idle gate
 * says nothing about how fast work is done).
 */
class DepartureRate {
  private previousUnits = 0;
  private previousMs = 0;
  private currentUnits = 0;
  private currentMs = 0;
  private lastAt = Number.NaN;

  /**
   * Accounts the time since the previous event, in which something was in flight if `busy`, and
   * the units that left at its end.
   */
  tick(now: number, busy: boolean, departedUnits = 0): void {
    const elapsed = now - this.lastAt;
    this.lastAt = now;
    this.currentUnits += departedUnits;
    if (!busy || !(elapsed > 0)) return;
    this.currentMs += elapsed;
    if (this.currentMs >= RATE_WINDOW_MS) {
      this.previousUnits = this.currentUnits;
      this.previousMs = this.currentMs;
      this.currentUnits = 0;
      this.currentMs = 0;
    }
  }

  /**
   * Units that leave in `ms` of busy time at the recent rate, or Infinity before a first window
   * has been measured (nothing is known yet; the queue's own bounds apply).
   */
  unitsIn(ms: number): number {
    const measuredMs = this.previousMs + this.currentMs;
    if (this.previousMs === 0) return Number.POSITIVE_INFINITY;
    return ((this.previousUnits + this.currentUnits) / measuredMs) * ms;
  }
}

interface Waiter {
  readonly units: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** False once admitted or given up on; the queue skips such entries. */
  waiting: boolean;
}

/**
 * Admission control over one kind of work, counted in units (a read request costs its entity
 * reads, a write its rows). Work runs while the units in flight stay within `maxInFlight`; a call
 * that does not fit waits in a FIFO queue, which holds at most `maxInFlight` units more and
 * for at most `maxQueueWaitMs`; beyond that the call is refused RESOURCE_EXHAUSTED at once,
 * so an overloaded server answers quickly instead of letting every call time out.
 *
 * A call costing more than `maxInFlight` counts as `maxInFlight`: it runs alone.
 * The gate is pure bookkeeping: `now` is passed in, and nothing runs between enter() and leave()
 * but the caller's own work.
 */
export class AdmissionGate {
  private inFlightUnits = 0;
  private queuedUnits = 0;
  /** FIFO; entries before `head` are gone. */
  private queue: Waiter[] = [];
  private head = 0;
  /** Moving average of the units of recent calls: what a call not yet costed is taken to cost. */
  private typicalUnits = 0;
  private readonly departures = new DepartureRate();
  private uncostedRefusal: CassetteError | undefined;
  readonly counters: AdmissionCounters = {
    admitted: 0,
    queued: 0,
    shed: 0,
    shedUndecoded: 0,
    shedAfterWaiting: 0,
    late: 0,
  };

  /**
   * @param setting the configuration path of `maxInFlight`, named in refusals
   * @param unit what a unit is, for messages ("entity reads", "rows")
   */
  constructor(
    private readonly limits: AdmissionLimits,
    private readonly setting: string,
    private readonly unit: string,
  ) {}

  /** Units admitted and not yet left. */
  get inFlight(): number {
    return this.inFlightUnits;
  }

  /** Units waiting for room. */
  get queued(): number {
    return this.queuedUnits;
  }

  /**
   * Admits `cost` units for a call due at `deadline` (Date.now() ms; Infinity for none).
   * Returns undefined when admitted at once (nothing allocated), or a promise that resolves once
   * admitted; throws (or the promise rejects) DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED. Every
   * admission must be matched by leave(cost) once the work is done.
   */
  enter(cost: number, deadline: number, now: number): Promise<void> | undefined {
    const { maxInFlight, minTimeLeftMs, maxQueueWaitMs } = this.limits;
    const timeLeft = deadline - now;
    if (timeLeft < minTimeLeftMs) {
      this.counters.late++;
      throw new CassetteError(
        'DEADLINE_EXCEEDED',
        `less than ${minTimeLeftMs} ms were left before the deadline; the request was not started`,
        { metadata: { limit: 'serving.minTimeLeftMs' } },
      );
    }
    const units = cost < maxInFlight ? cost : maxInFlight;
    this.departures.tick(now, this.inFlightUnits > 0);
    this.typicalUnits =
      this.typicalUnits === 0 ? units : this.typicalUnits + (units - this.typicalUnits) * TYPICAL_WEIGHT;
    if (this.admitsAtOnce(units)) {
      this.inFlightUnits += units;
      this.counters.admitted++;
      return undefined;
    }
    const waitMs = Math.min(maxQueueWaitMs, timeLeft - minTimeLeftMs);
    if (waitMs <= 0 || !this.hasRoomToWait(units)) {
      this.counters.shed++;
      throw this.overloaded();
    }
    if (!this.likelyAdmittedWithin(units, waitMs)) {
      this.counters.shed++;
      throw this.overloaded();
    }
    return this.wait(units, waitMs, waitMs < maxQueueWaitMs);
  }

  /**
   * True when a call of the typical recent cost arriving now would be refused RESOURCE_EXHAUSTED:
   * it would not run at once and the queue has no room for it. A transport can then refuse a call
   * (see refuseUncosted) before decoding and planning it, which under overload costs the server
   * more than the refusal: at ten times the rate it can serve, the work of refusing would crowd
   * out the work of serving.
   */
  get saturated(): boolean {
    const units = this.typicalUnits;
    const { maxQueueWaitMs } = this.limits;
    return (
      units > 0 &&
      !this.admitsAtOnce(units) &&
      (maxQueueWaitMs <= 0 || !this.hasRoomToWait(units) || !this.likelyAdmittedWithin(units, maxQueueWaitMs))
    );
  }

  /**
   * Counts and returns the refusal of a call refused while `saturated`, before its cost was known.
   * Always the same error: under overload these refusals come at many times the rate of the work
   * served, so each costs no allocation (and a transport can answer it with one prepared status).
   */
  refuseUncosted(): CassetteError {
    this.counters.shed++;
    this.counters.shedUndecoded++;
    return (this.uncostedRefusal ??= this.overloaded());
  }

  /** Gives back the units of an admitted call (at `now`, Date.now() ms) and admits waiting calls that now fit. */
  leave(cost: number, now = Date.now()): void {
    const max = this.limits.maxInFlight;
    const units = cost < max ? cost : max;
    this.departures.tick(now, true, units);
    this.inFlightUnits -= units;
    this.admitWaiting();
  }

  /**
   * Whether a call of `units` joining the queue now would likely be admitted within `waitMs`:
   * the units ahead of it that must leave first leave that fast at the recent departure rate.
   * Otherwise it is refused at once: waiting the whole time to be refused anyway would only add
   * the wait to the refusal (under overload, most of the queue would be refused that way).
   */
  private likelyAdmittedWithin(units: number, waitMs: number): boolean {
    const mustLeave = this.inFlightUnits + this.queuedUnits + units - this.limits.maxInFlight;
    return mustLeave <= 0 || mustLeave <= this.departures.unitsIn(waitMs);
  }

  private admitsAtOnce(units: number): boolean {
    return this.head === this.queue.length && this.fits(units);
  }

  private hasRoomToWait(units: number): boolean {
    return this.queuedUnits + units <= this.limits.maxInFlight;
  }

  private fits(units: number): boolean {
    return this.inFlightUnits === 0 || this.inFlightUnits + units <= this.limits.maxInFlight;
  }

  private wait(units: number, waitMs: number, deadlineBound: boolean): Promise<void> {
    this.counters.queued++;
    this.queuedUnits += units;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { units, resolve, reject, timer: undefined, waiting: true };
      waiter.timer = setTimeout(() => {
        waiter.waiting = false;
        this.queuedUnits -= units;
        if (deadlineBound) {
          this.counters.late++;
          reject(
            new CassetteError(
              'DEADLINE_EXCEEDED',
              'the deadline came too near while the request waited for room to start',
            ),
          );
        } else {
          this.counters.shed++;
          this.counters.shedAfterWaiting++;
          reject(this.overloaded());
        }
        // A large waiter at the head may have been what held the others back.
        this.admitWaiting();
      }, waitMs);
      this.queue.push(waiter);
    });
  }

  private admitWaiting(): void {
    const queue = this.queue;
    while (this.head < queue.length) {
      const next = queue[this.head]!;
      if (next.waiting) {
        if (!this.fits(next.units)) break;
        next.waiting = false;
        clearTimeout(next.timer);
        this.queuedUnits -= next.units;
        this.inFlightUnits += next.units;
        this.counters.admitted++;
        next.resolve();
      }
      this.head++;
    }
    if (this.head === queue.length) {
      queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
  }

  private overloaded(): CassetteError {
    const max = this.limits.maxInFlight;
    return new CassetteError(
      'CST_ERR_OVERLOADED',
      `the server is at its limit of ${max} ${this.unit} in flight (${this.setting}); retry with backoff`,
      { metadata: { limit: this.setting, value: String(max) } },
    );
  }
}
