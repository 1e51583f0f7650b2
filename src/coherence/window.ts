/**
 * The pure arithmetic of cache coherence (see index.ts for the design): log buckets, the window a
 * replica reads, whether it has fallen behind, which cached rows it may still serve, and the
 * bookkeeping of entries already applied. Times are passed in, so tests need no clock.
 */

/** Width of one invalidation-log partition: a poll usually reads one, at a bucket's edge two. */
export const LOG_BUCKET_MS = 1000;
const LOG_BUCKET_MICROS = LOG_BUCKET_MS * 1000;

/** The log partition an entry stamped `writtenAtMicros` goes to. */
export function logBucketOf(writtenAtMicros: number): number {
  return Math.floor(writtenAtMicros / LOG_BUCKET_MICROS);
}

/** The log partitions holding entries stamped from `fromMicros` to `toMicros` (both included), oldest first. */
export function logBucketsBetween(fromMicros: number, toMicros: number): number[] {
  const buckets: number[] = [];
  for (let bucket = logBucketOf(fromMicros); bucket <= logBucketOf(toMicros); bucket++) buckets.push(bucket);
  return buckets;
}

export interface WindowSettings {
  /** The bound: no cached row is served that misses a write acknowledged this long before the read. */
  readonly maxStalenessMs: number;
  /** Assumed bound on the difference between two servers' clocks. */
  readonly maxClockSkewMs: number;
  /** A log entry is acknowledged at most this long after its stamp (writers restamp slower ones). */
  readonly logWriteBudgetMs: number;
}

/** The stretch of the log one poll reads. */
export interface PollWindow {
  /** Entries stamped at or after this (writer's clock, µs) are read. */
  readonly fromMicros: number;
  /** The newest stamp a writer's clock can show now (µs), given the skew. */
  readonly toMicros: number;
}

/**
 * One replica's position in the invalidation log, in its own clock (Date.now() ms).
 *
 * `coveredUntilMs` is the invariant everything rests on: every log entry that was visible (acknowledged
 * at LOCAL_QUORUM) before that time has been applied to the cache. A poll that starts reading at
 * time q and applies what it read moves it to q; emptying the cache at time x moves it to x (an
 * empty cache, whose reads all start after x, misses no write acknowledged before x).
 *
 * An entry visible at time v was stamped no earlier than v - logWriteBudget on its writer's clock,
 * i.e. no earlier than v - logWriteBudget - maxClockSkew on ours. So the next poll reads the
 * entries stamped since coveredUntil - logWriteBudget - maxClockSkew: it sees every entry that
 * became visible after coveredUntil, and the invariant carries on.
 *
 * A cached row may be served at `now` if it was read after every write acknowledged before
 * now - maxStaleness: either it was read after that time, or coveredUntil is after it (every such
 * write has been applied, dropping the row). minReadAtMs() says which rows pass.
 */
export class LogPosition {
  private coveredUntilMs: number;

  /** `startedAtMs`: when the (then empty) cache started. */
  constructor(
    private readonly settings: WindowSettings,
    startedAtMs: number,
  ) {
    this.coveredUntilMs = startedAtMs;
  }

  get coveredUntil(): number {
    return this.coveredUntilMs;
  }

  /** Time since the last applied poll is past the bound: cached rows older than the bound must not be served. */
  isBehind(nowMs: number): boolean {
    return nowMs - this.coveredUntilMs > this.settings.maxStalenessMs;
  }

  /** What a poll starting at `nowMs` must read. */
  window(nowMs: number): PollWindow {
    const { logWriteBudgetMs, maxClockSkewMs } = this.settings;
    return {
      fromMicros: (this.coveredUntilMs - logWriteBudgetMs - maxClockSkewMs) * 1000,
      toMicros: (nowMs + maxClockSkewMs) * 1000,
    };
  }

  /** A poll that started reading at `startedAtMs` has applied what it read. */
  applied(startedAtMs: number): void {
    if (startedAtMs > this.coveredUntilMs) this.coveredUntilMs = startedAtMs;
  }

  /** The cache was emptied at `nowMs` (every read in flight superseded). */
  emptied(nowMs: number): void {
    if (nowMs > this.coveredUntilMs) this.coveredUntilMs = nowMs;
  }

  /**
   * The earliest read time (Date.now() ms) of a cached row that may be served at `nowMs`:
   * -Infinity while the log is applied within the bound, else nowMs - maxStaleness.
   */
  minReadAtMs(nowMs: number): number {
    const oldest = nowMs - this.settings.maxStalenessMs;
    return this.coveredUntilMs >= oldest ? Number.NEGATIVE_INFINITY : oldest;
  }
}

/**
 * The log entries already applied whose stamps are still inside the read window: successive polls
 * overlap (see LogPosition), and an entry read twice is neither dropped nor counted twice.
 */
export class AppliedEntries {
  private readonly stamps = new Map<string, number>();

  /** True the first time `id` (stamped `writtenAtMicros`) is offered. */
  firstTime(id: string, writtenAtMicros: number): boolean {
    if (this.stamps.has(id)) return false;
    this.stamps.set(id, writtenAtMicros);
    return true;
  }

  /** Forgets the entries stamped before `fromMicros`: no poll reads them again. */
  forgetBefore(fromMicros: number): void {
    for (const [id, stamp] of this.stamps) if (stamp < fromMicros) this.stamps.delete(id);
  }

  get size(): number {
    return this.stamps.size;
  }
}

/** Upper bounds (ms) of the invalidation lag histogram's buckets; a last bucket takes the rest. */
export const LAG_BUCKETS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500];

/**
 * The measured invalidation lag: for each log entry applied, the time from its stamp (the
 * writer's clock, once its row writes had settled) to the moment this replica dropped the row.
 * It includes the clock skew between the two servers, so it can come out slightly negative (0).
 */
export class LagHistogram {
  count = 0;
  sumMs = 0;
  maxMs = 0;
  readonly buckets: number[] = new Array<number>(LAG_BUCKETS_MS.length + 1).fill(0);

  record(lagMs: number): void {
    const lag = lagMs > 0 ? lagMs : 0;
    this.count++;
    this.sumMs += lag;
    if (lag > this.maxMs) this.maxMs = lag;
    let i = 0;
    while (i < LAG_BUCKETS_MS.length && lag > LAG_BUCKETS_MS[i]!) i++;
    this.buckets[i]!++;
  }
}

/** This server's clock against a Cassandra node's, from one query timed on this side. */
export interface ClockOffset {
  /** Theirs minus ours (ms), taking their reading to be from the middle of the round trip. */
  readonly offsetMs: number;
  /** How far off that may be: half the round trip. */
  readonly uncertaintyMs: number;
}

export function clockOffset(sentAtMs: number, theirNowMs: number, answeredAtMs: number): ClockOffset {
  return {
    offsetMs: theirNowMs - (sentAtMs + answeredAtMs) / 2,
    uncertaintyMs: (answeredAtMs - sentAtMs) / 2,
  };
}

/**
 * Whether an offset shows this clock further than half the allowed skew from Cassandra's: two
 * servers each within half of it from the same reference are within the skew of each other.
 * Only a certain excess counts (the round trip's uncertainty is given the benefit of the doubt).
 */
export function exceedsSkew(offset: ClockOffset, maxClockSkewMs: number): boolean {
  return Math.abs(offset.offsetMs) - offset.uncertaintyMs > maxClockSkewMs / 2;
}
