import { CassetteError } from '../errors/index.js';
import type { FeatureViewDef } from '../registry/index.js';
import { isClientTimeout, isTransientWriteError, type OnlineStore } from '../store/index.js';
import type { WriteRow } from './rows.js';

export interface RowSinkOptions {
  /** Write requests in flight at most (a write waiting to be retried counts as in flight). */
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
  /**
   * Consecutive rows of one partition queued behind a full window are written as one UNLOGGED
   * BATCH of at most this many rows (default 32); 1 = every row on its own.
   */
  partitionBatchRows?: number;
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
  /** Write requests (a row, or a batch of one partition's rows) started and not yet settled. */
  readonly inFlight: number;
  /** Batches of one partition's rows written (their rows count in `written`). */
  readonly batches: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * What one write request carries: a row, or consecutive rows of one partition written as one
 * batch (an array, with one tag per row).
 */
type Unit = WriteRow | WriteRow[];
type UnitTags = number | number[];

interface Retry {
  timer: NodeJS.Timeout;
  unit: Unit;
  tags: UnitTags;
  timedOut: boolean;
}

const DEFAULT_BACKOFF_BASE_MS = 50;
const DEFAULT_BACKOFF_MAX_MS = 2_000;
/** The token bucket holds this much time's worth of writes. */
const BURST_MS = 50;
export const DEFAULT_PARTITION_BATCH_ROWS = 32;

/**
 * The one write path for feature rows (ingestion jobs, WriteFeatures, StreamWriteFeatures):
 * validated rows go in one at a time and are written with bounded concurrency, an optional rate
 * limit and retries of transient failures. Writes not yet started wait in a short queue; `push`
 * tells the producer to wait while the window is full, so memory stays bounded however fast rows
 * arrive.
 *
 * Consecutive rows of the same partition are written as one UNLOGGED BATCH (up to
 * `partitionBatchRows` rows): one mutation and one round trip instead of several, which halves
 * the CPU per row on both sides when input comes grouped by entity. A row is never held for
 * company longer than it takes the producer to push the next row (another partition), the
 * writes in flight to finish, or the producer to flush.
 *
 * The first row that fails for good (or a passed deadline, or a cancel) makes the sink fatal:
 * rows not started are dropped, running writes are left to settle, and then every waiting
 * `push` and `flush` rejects with that error. A caller that sees the error can rely on no write
 * of this sink still running.
 */
export class RowSink {
  private readonly counters = { written: 0, retried: 0, inFlight: 0, batches: 0 };
  /** Accepted writes not started yet (window full or no rate token): a FIFO from `queueHead`. */
  private queueUnits: Unit[] = [];
  private queueTags: UnitTags[] = [];
  private queueHead = 0;
  private readonly retries = new Set<Retry>();
  /** flush() was called and no row pushed since: nothing waits for more rows of its partition. */
  private flushing = false;
  private fatal: { error: unknown } | undefined;
  private roomWaiters: Waiter[] = [];
  private idleWaiters: Waiter[] = [];

  private readonly concurrency: number;
  /**
   * Writes started or queued at which the producer must wait. With batching, two writes may
   * queue while all slots are busy: a complete one, and one still collecting the following rows
   * of its partition (the producer keeps pushing for that).
   */
  private readonly window: number;
  private readonly batchRows: number;
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
    const batchRows = options.partitionBatchRows ?? DEFAULT_PARTITION_BATCH_ROWS;
    if (!(batchRows >= 1)) throw new RangeError('partitionBatchRows must be at least 1');
    this.concurrency = Math.floor(options.concurrency);
    this.batchRows = Math.floor(batchRows);
    this.window = this.batchRows > 1 ? this.concurrency + 2 : this.concurrency;
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
    return this.queueUnits.length - this.queueHead;
  }

  /**
   * Starts writing `row`. Returns null when the row was accepted and there is room for more;
   * otherwise a promise that resolves once there is room (backpressure: await it before reading
   * more). Rejects with the sink's fatal error once any write has failed for good; the rejection
   * comes once no write of this sink is running.
   */
  push(row: WriteRow, tag: number): Promise<void> | null {
    if (this.fatal === undefined && this.mayStart()) {
      this.flushing = false;
      // With batching on, a row starts at once only when nothing is in flight; otherwise it
      // queues, and starts when the producer moves on to another partition (or flushes).
      const direct =
        this.queued === 0 &&
        (this.batchRows === 1 ? this.counters.inFlight < this.concurrency : this.counters.inFlight === 0);
      if (this.queued > 0 && this.joinLast(row, tag)) {
        // Batched with the queued rows of its partition.
      } else if (direct && this.takeTokens(1)) {
        this.start(row, tag);
      } else {
        this.queueUnits.push(row);
        this.queueTags.push(tag);
        this.pump();
      }
    }
    if (this.fatal !== undefined) return this.wait(this.idleWaiters);
    if (this.counters.inFlight + this.queued < this.window) return null;
    return this.wait(this.roomWaiters);
  }

  /** Adds `row` to the last queued write if that is of the same partition and has room. */
  private joinLast(row: WriteRow, tag: number): boolean {
    if (this.batchRows === 1) return false;
    const last = this.queueUnits.length - 1;
    const unit = this.queueUnits[last]!;
    if (!Array.isArray(unit)) {
      if (unit.keyString !== row.keyString) return false;
      this.queueUnits[last] = [unit, row];
      this.queueTags[last] = [this.queueTags[last] as number, tag];
      return true;
    }
    if (unit.length >= this.batchRows || unit[0]!.keyString !== row.keyString) return false;
    unit.push(row);
    (this.queueTags[last] as number[]).push(tag);
    return true;
  }

  /** Resolves when every pushed row is written; rejects with the first fatal error once nothing runs. */
  flush(): Promise<void> {
    this.flushing = true;
    this.pump();
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
    if (this.roomWaiters.length > 0 && this.counters.inFlight + this.queued < this.window) {
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

  /** Takes `rows` tokens if at least one is there (a batch may overdraw; later writes then wait longer). */
  private takeTokens(rows: number): boolean {
    if (this.tokensPerMs === 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.bucketSize, this.tokens + Math.max(0, now - this.refilledAt) * this.tokensPerMs);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= rows;
    return true;
  }

  /** Starts queued writes while the window and the rate allow. */
  private pump(): void {
    while (this.queued > 0 && this.fatal === undefined && this.counters.inFlight < this.concurrency) {
      if (!this.mayStart()) return;
      const head = this.queueHead;
      const unit = this.queueUnits[head]!;
      // The last queued write may still collect rows of its partition: it waits while other
      // writes are in flight (their completion, or the next row, starts it), unless full or flushing.
      if (
        head === this.queueUnits.length - 1 &&
        this.counters.inFlight > 0 &&
        !this.flushing &&
        (Array.isArray(unit) ? unit.length : 1) < this.batchRows
      ) {
        return;
      }
      if (!this.takeTokens(Array.isArray(unit) ? unit.length : 1)) {
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
      const tags = this.queueTags[head]!;
      this.queueHead++;
      if (this.queueHead === this.queueUnits.length) {
        this.queueUnits = [];
        this.queueTags = [];
        this.queueHead = 0;
      } else if (this.queueHead >= 1024 && this.queueHead * 2 >= this.queueUnits.length) {
        // Drop the consumed prefix now and then, so a long-lived queue does not keep growing.
        this.queueUnits = this.queueUnits.slice(this.queueHead);
        this.queueTags = this.queueTags.slice(this.queueHead);
        this.queueHead = 0;
      }
      this.start(unit, tags);
    }
  }

  private start(unit: Unit, tags: UnitTags): void {
    this.counters.inFlight++;
    this.attempt(unit, tags, 1, false);
  }

  private attempt(unit: Unit, tags: UnitTags, attempt: number, timedOutBefore: boolean): void {
    let write: Promise<void>;
    try {
      const { writeTimeoutMs } = this.options;
      const timeoutMs =
        typeof writeTimeoutMs === 'number' ? writeTimeoutMs : writeTimeoutMs(this.deadline - Date.now());
      write = Array.isArray(unit)
        ? this.store.writePartitionBatch(this.view, unit, timeoutMs)
        : this.store.write(this.view, unit.key, unit.features, unit.eventTimeMicros, unit.ttlSeconds, timeoutMs);
    } catch (error) {
      write = Promise.reject(error);
    }
    write.then(
      () => this.settle(unit, tags, timedOutBefore, undefined),
      (error: unknown) => this.attemptFailed(unit, tags, attempt, timedOutBefore || isClientTimeout(error), error),
    );
  }

  private attemptFailed(unit: Unit, tags: UnitTags, attempt: number, timedOut: boolean, error: unknown): void {
    if (this.fatal === undefined && attempt < this.options.maxAttempts && isTransientWriteError(error)) {
      const delay = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1)) * (0.5 + 0.5 * this.random());
      if (Date.now() + delay < this.deadline && !this.isCancelled()) {
        this.counters.retried++;
        const retry: Retry = {
          timer: setTimeout(() => {
            this.retries.delete(retry);
            this.attempt(unit, tags, attempt + 1, timedOut);
          }, delay),
          unit,
          tags,
          timedOut,
        };
        this.retries.add(retry);
        return;
      }
    }
    this.settle(unit, tags, timedOut, { error });
  }

  private settle(unit: Unit, tags: UnitTags, timedOut: boolean, failure: { error: unknown } | undefined): void {
    let thrown: { error: unknown } | undefined;
    if (Array.isArray(unit)) {
      if (failure === undefined) this.counters.batches++;
      for (let i = 0; i < unit.length; i++) {
        thrown = this.settleRow(unit[i]!, (tags as number[])[i]!, timedOut, failure) ?? thrown;
      }
    } else {
      thrown = this.settleRow(unit, tags as number, timedOut, failure);
    }
    // A throwing callback must not be lost: it stops the sink like a failed write.
    failure ??= thrown;
    this.counters.inFlight--;
    if (failure !== undefined) this.fail(failure.error);
    this.pump();
    this.notify();
  }

  /** Counts and reports one settled row; returns what a callback threw, if one did. */
  private settleRow(
    row: WriteRow,
    tag: number,
    timedOut: boolean,
    failure: { error: unknown } | undefined,
  ): { error: unknown } | undefined {
    let thrown: { error: unknown } | undefined;
    if (failure === undefined) {
      this.counters.written++;
      try {
        this.options.onWritten?.(row, tag);
      } catch (error) {
        thrown = { error };
      }
    }
    try {
      this.options.onSettled?.(row, timedOut);
    } catch (error) {
      thrown ??= { error };
    }
    return thrown;
  }

  /** Makes the sink fatal (first error wins): nothing more starts, and writes waiting to be retried give up now. */
  private fail(error: unknown): void {
    if (this.fatal !== undefined) return;
    this.fatal = { error };
    this.queueUnits = [];
    this.queueTags = [];
    this.queueHead = 0;
    if (this.tokenTimer !== undefined) clearTimeout(this.tokenTimer);
    this.tokenTimer = undefined;
    const retries = [...this.retries];
    this.retries.clear();
    for (const retry of retries) {
      clearTimeout(retry.timer);
      this.settle(retry.unit, retry.tags, retry.timedOut, { error });
    }
  }
}
