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
  /** Calls refused RESOURCE_EXHAUSTED: no room, in flight or in the queue. */
  shed: number;
  /** Calls refused DEADLINE_EXCEEDED: too little time left to start, or left waiting until then. */
  late: number;
}

/** Weight of the newest call in the moving average of call costs (about the last eight calls). */
const TYPICAL_WEIGHT = 1 / 8;

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
  readonly counters: AdmissionCounters = { admitted: 0, queued: 0, shed: 0, late: 0 };

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
    return units > 0 && !this.admitsAtOnce(units) && (this.limits.maxQueueWaitMs <= 0 || !this.hasRoomToWait(units));
  }

  /** Counts and returns the refusal of a call refused while `saturated`, before its cost was known. */
  refuseUncosted(): CassetteError {
    this.counters.shed++;
    return this.overloaded();
  }

  /** Gives back the units of an admitted call and admits waiting calls that now fit. */
  leave(cost: number): void {
    const max = this.limits.maxInFlight;
    this.inFlightUnits -= cost < max ? cost : max;
    this.admitWaiting();
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
