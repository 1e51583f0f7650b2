import { CassetteError } from '../errors/index.js';
import type { FeatureViewDef } from '../registry/index.js';
import { isClientTimeout, isTransientWriteError, type OnlineStore } from '../store/index.js';
import type { WriteRow } from './rows.js';

export interface RowSinkOptions {
  /** Writes in flight at most (a write waiting to be retried counts as in flight). */
  concurrency: number;
  /**
   * Writes started per second at most; 0 = unlimited. A token bucket holding 50 ms of
   * writes (at least one) smooths bursts, so reads served at the same time stay fast.
   */
  maxRowsPerSecond: number;
  /** Driver timeout per attempt, or a function of the milliseconds left before `deadline`. */
  writeTimeoutMs: number | ((remainingMs: number) => number);
  /**
   * Attempts per row (1 = no retry). A transient failure (client timeout, Unavailable,
   * Overloaded, WriteTimeout, connection lost) is retried after a jittered exponential backoff;
   * safe because the write's timestamp is fixed, so the write is idempotent.
   */
  maxAttempts: number;
  /** Absolute Date.now() ms: rows not started by then are not written (and no retry starts). */
  deadline?: number;
  isCancelled?: () => boolean;
  /** Each row once its write succeeded; `tag` is the producer's (e.g. a checkpoint position). */
  onWritten?: (row: WriteRow, tag: number) => void;
  /**
   * Each row once its write settled, succeeded or failed for good (a failed write may still
   * have reached some replicas). `timedOut`: some attempt ended with the driver giving up, so
   * Cassandra may still apply that attempt a little later.
   */
  onSettled?: (row: WriteRow, timedOut: boolean) => void;
  /** Backoff before retry n (1-based) is `min(max, base * 2^(n-1))`, scaled by a jitter in [0.5, 1). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Random numbers in [0, 1) for the jitter (tests pass a fixed one). */
  random?: () => number;
}

export interface RowSinkStats {
  /** Rows whose write succeeded. */
  readonly written: number;
  /** Retries started (attempts after the first). */
  readonly retried: number;
  /** Writes started and not yet settled. */
  readonly inFlight: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Retry {
  timer: NodeJS.Timeout;
  row: WriteRow;
  tag: number;
  timedOut: boolean;
}

const DEFAULT_BACKOFF_BASE_MS = 50;
const DEFAULT_BACKOFF_MAX_MS = 2_000;
/** The token bucket holds this much time's worth of writes. */
const BURST_MS = 50;

/**
 * The one write path for feature rows (ingestion jobs, WriteFeatures, StreamWriteFeatures):
 * validated rows go in one at a time and are written with bounded concurrency, an optional rate
 * limit and retries of transient failures. Rows not yet started wait in a queue of at most
 * `concurrency` rows; `push` tells the producer to wait while that window is full, so memory
 * stays bounded however fast rows arrive.
 *
 * The first row that fails for good (or a passed deadline, or a cancel) makes the sink fatal:
 * rows not started are dropped, running writes are left to settle, and then every waiting
 * `push` and `flush` rejects with that error. A caller that sees the error can rely on no write
 * of this sink still running.
 */
export class RowSink {
  private readonly counters = { written: 0, retried: 0, inFlight: 0 };
  /** Accepted rows not started yet (window full or no rate token): a FIFO of `queueSize` items from `queueHead`. */
  private queueRows: WriteRow[] = [];
  private queueTags: number[] = [];
  private queueHead = 0;
  private readonly retries = new Set<Retry>();
  private fatal: { error: unknown } | undefined;
  private roomWaiters: Waiter[] = [];
  private idleWaiters: Waiter[] = [];

  private readonly concurrency: number;
  private readonly deadline: number;
  private readonly isCancelled: () => boolean;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;
  /** Rate limit state: tokens per millisecond (0 = unlimited), bucket size, level, last refill. */
  private readonly tokensPerMs: number;
  private readonly bucketSize: number;
  private tokens: number;
  private refilledAt = 0;
  private tokenTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: OnlineStore,
    private readonly view: FeatureViewDef,
    private readonly options: RowSinkOptions,
  ) {
    if (!(options.concurrency >= 1)) throw new RangeError('concurrency must be at least 1');
    if (!(options.maxAttempts >= 1)) throw new RangeError('maxAttempts must be at least 1');
    if (!(options.maxRowsPerSecond >= 0)) throw new RangeError('maxRowsPerSecond must not be negative');
    this.concurrency = Math.floor(options.concurrency);
    this.deadline = options.deadline ?? Number.POSITIVE_INFINITY;
    this.isCancelled = options.isCancelled ?? (() => false);
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.backoffMaxMs = options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.random = options.random ?? Math.random;
    this.tokensPerMs = options.maxRowsPerSecond / 1000;
    this.bucketSize = Math.max(1, this.tokensPerMs * BURST_MS);
    this.tokens = this.bucketSize;
    if (this.tokensPerMs > 0) this.refilledAt = performance.now();
  }

  get stats(): RowSinkStats {
    return this.counters;
  }

  private get queued(): number {
    return this.queueRows.length - this.queueHead;
  }

  /**
   * Starts writing `row`. Returns null when the row was accepted and there is room for more;
   * otherwise a promise that resolves once there is room (backpressure: await it before reading
   * more). Rejects with the sink's fatal error once any write has failed for good; the rejection
   * comes once no write of this sink is running.
   */
  push(row: WriteRow, tag: number): Promise<void> | null {
    if (this.fatal === undefined && this.mayStart()) {
      if (this.queued === 0 && this.counters.inFlight < this.concurrency && this.takeToken()) {
        this.start(row, tag);
      } else {
        this.queueRows.push(row);
        this.queueTags.push(tag);
        this.pump();
      }
    }
    if (this.fatal !== undefined) return this.wait(this.idleWaiters);
    if (this.counters.inFlight + this.queued < this.concurrency) return null;
    return this.wait(this.roomWaiters);
  }

  /** Resolves when every pushed row is written; rejects with the first fatal error once nothing runs. */
  flush(): Promise<void> {
    return this.wait(this.idleWaiters);
  }

  private wait(waiters: Waiter[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiters.push({ resolve, reject });
      this.notify();
    });
  }

  /** Settles the waiters whose condition now holds. */
  private notify(): void {
    const busy = this.counters.inFlight > 0 || this.retries.size > 0;
    if (this.fatal !== undefined) {
      if (busy) return;
      const { error } = this.fatal;
      const waiters = this.roomWaiters.concat(this.idleWaiters);
      this.roomWaiters = [];
      this.idleWaiters = [];
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    if (this.roomWaiters.length > 0 && this.counters.inFlight + this.queued < this.concurrency) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const waiter of waiters) waiter.resolve();
    }
    if (this.idleWaiters.length > 0 && !busy && this.queued === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter.resolve();
    }
  }

  /** False (and the sink fatal) once the deadline has passed or the caller cancelled. */
  private mayStart(): boolean {
    if (Date.now() >= this.deadline) {
      this.fail(new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed before all rows were written'));
      return false;
    }
    if (this.isCancelled()) {
      this.fail(new CassetteError('CANCELLED', 'the caller cancelled the request'));
      return false;
    }
    return true;
  }

  private takeToken(): boolean {
    if (this.tokensPerMs === 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.bucketSize, this.tokens + Math.max(0, now - this.refilledAt) * this.tokensPerMs);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Starts queued rows while the window and the rate allow. */
  private pump(): void {
    while (this.queued > 0 && this.fatal === undefined && this.counters.inFlight < this.concurrency) {
      if (!this.mayStart()) return;
      if (!this.takeToken()) {
        this.tokenTimer ??= setTimeout(
          () => {
            this.tokenTimer = undefined;
            this.pump();
            this.notify();
          },
          Math.max(1, Math.ceil((1 - this.tokens) / this.tokensPerMs)),
        );
        return;
      }
      const head = this.queueHead++;
      const row = this.queueRows[head]!;
      const tag = this.queueTags[head]!;
      if (this.queueHead === this.queueRows.length) {
        this.queueRows = [];
        this.queueTags = [];
        this.queueHead = 0;
      } else if (this.queueHead >= 1024 && this.queueHead * 2 >= this.queueRows.length) {
        // Drop the consumed prefix now and then, so a long-lived queue does not keep growing.
        this.queueRows = this.queueRows.slice(this.queueHead);
        this.queueTags = this.queueTags.slice(this.queueHead);
        this.queueHead = 0;
      }
      this.start(row, tag);
    }
  }

  private start(row: WriteRow, tag: number): void {
    this.counters.inFlight++;
    this.attempt(row, tag, 1, false);
  }

  private attempt(row: WriteRow, tag: number, attempt: number, timedOutBefore: boolean): void {
    let write: Promise<void>;
    try {
      const { writeTimeoutMs } = this.options;
      const timeoutMs =
        typeof writeTimeoutMs === 'number' ? writeTimeoutMs : writeTimeoutMs(this.deadline - Date.now());
      write = this.store.write(this.view, row.key, row.features, row.eventTimeMicros, row.ttlSeconds, timeoutMs);
    } catch (error) {
      write = Promise.reject(error);
    }
    write.then(
      () => this.settle(row, tag, timedOutBefore, undefined),
      (error: unknown) => this.attemptFailed(row, tag, attempt, timedOutBefore || isClientTimeout(error), error),
    );
  }

  private attemptFailed(row: WriteRow, tag: number, attempt: number, timedOut: boolean, error: unknown): void {
    if (this.fatal === undefined && attempt < this.options.maxAttempts && isTransientWriteError(error)) {
      const delay = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1)) * (0.5 + 0.5 * this.random());
      if (Date.now() + delay < this.deadline && !this.isCancelled()) {
        this.counters.retried++;
        const retry: Retry = {
          timer: setTimeout(() => {
            this.retries.delete(retry);
            this.attempt(row, tag, attempt + 1, timedOut);
          }, delay),
          row,
          tag,
          timedOut,
        };
        this.retries.add(retry);
        return;
      }
    }
    this.settle(row, tag, timedOut, { error });
  }

  private settle(row: WriteRow, tag: number, timedOut: boolean, failure: { error: unknown } | undefined): void {
    try {
      if (failure === undefined) {
        this.counters.written++;
        this.options.onWritten?.(row, tag);
      }
      this.options.onSettled?.(row, timedOut);
    } catch (error) {
      // A throwing callback must not be lost: it stops the sink like a failed write.
      failure ??= { error };
    }
    this.counters.inFlight--;
    if (failure !== undefined) this.fail(failure.error);
    this.pump();
    this.notify();
  }

  /** Makes the sink fatal (first error wins): nothing more starts, and rows waiting to be retried give up now. */
  private fail(error: unknown): void {
    if (this.fatal !== undefined) return;
    this.fatal = { error };
    this.queueRows = [];
    this.queueTags = [];
    this.queueHead = 0;
    if (this.tokenTimer !== undefined) clearTimeout(this.tokenTimer);
    this.tokenTimer = undefined;
    const retries = [...this.retries];
    this.retries.clear();
    for (const retry of retries) {
      clearTimeout(retry.timer);
      this.settle(retry.row, retry.tag, retry.timedOut, { error });
    }
  }
}
