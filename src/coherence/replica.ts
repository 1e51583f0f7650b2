import { rowCacheKey } from '../cache/invalidation.js';
import type { Logger } from '../observability/logger.js';
import { isInvalidRequest } from '../store/errors.js';
import type { CoherenceTables } from './log-tables.js';
import {
  AppliedEntries,
  clockOffset,
  exceedsSkew,
  LagHistogram,
  LogPosition,
  logBucketsBetween,
  type ClockOffset,
  type WindowSettings,
} from './window.js';

/** How often the clock is compared with Cassandra's (see checkClock). */
const CLOCK_CHECK_INTERVAL_MS = 60_000;

export interface CoherenceSettings extends WindowSettings {
  readonly pollIntervalMs: number;
  /**
   * This process's writer id in the log, when it writes: its own entries are skipped, as its
   * writes dropped the rows locally before they were acknowledged.
   */
  readonly ownWriter?: string;
}

/** The coherence counters: what the stats line logs and the metrics read. */
export interface CoherenceStats {
  /** Polls of the log (and generations) that succeeded / failed. */
  readonly polls: number;
  readonly pollFailures: number;
  /** Queries sent to Cassandra by polls (one per log bucket read, one for the generations). */
  readonly queries: number;
  /** Log entries applied (each entry once, however many polls read it). */
  readonly entriesApplied: number;
  /** Cached keys dropped because a log entry named them (whether or not they were cached). */
  readonly keysDropped: number;
  /** Feature views whose cached rows were dropped for a new generation (a bulk load). */
  readonly viewDrops: number;
  /** Times the whole cache was dropped because the replica fell behind the bound. */
  readonly wholeCacheDrops: number;
  /**
   * True while no poll has succeeded for longer than the bound: cached rows older than the bound
   * are not served, and the cache is dropped whole at every poll until one succeeds.
   */
  readonly behind: boolean;
  /** Milliseconds since the last poll that succeeded started. */
  readonly sinceLastPollMs: number;
  /** Measured invalidation lag: entry stamp to drop, ms (see LagHistogram). */
  readonly lag: { count: number; sumMs: number; maxMs: number; buckets: readonly number[] };
  /** The last comparison of this server's clock with Cassandra's (undefined before the first). */
  readonly clock: ClockOffset | undefined;
  /** Comparisons that found this clock further from Cassandra's than half of maxClockSkewMs. */
  readonly clockSkewWarnings: number;
}

/** The cache as coherence drives it. */
export interface CoherentCache {
  /** Drops the cached row of `key` if it was read (or its read started) before `readBeforeMs`. */
  invalidate(key: string, readBeforeMs: number): void;
  clear(): void;
}

/**
 * The driver timeout of one poll's queries. A slow poll is still correct (it counts from when it
 * started), but one that hangs would leave the replica behind for its whole length.
 */
function pollTimeoutMs(settings: CoherenceSettings): number {
  return Math.max(50, Math.floor(settings.maxStalenessMs / 2));
}

/**
 * One replica's side of cache coherence (see index.ts): polls the invalidation log and the view
 * generations, drops the cached rows they name, and says which cached rows may still be served
 * (minReadAtMs). Polls never overlap; a failed or slow poll is counted and the next one tries
 * again, and once the log has not been applied for maxStaleness the replica serves no cached row
 * older than the bound and drops its whole cache at the next poll.
 */
export class CacheCoherence {
  private readonly position: LogPosition;
  private readonly applied = new AppliedEntries();
  private readonly lag = new LagHistogram();
  /** The generation last seen per view; undefined until a poll has read them. */
  private generations: Map<string, string> | undefined;
  /** Per view: cached rows read before this (Date.now() ms) are not served (a bulk load bumped the view). */
  private readonly viewFloors = new Map<string, number>();
  /** When the last poll that succeeded started (the cache's own start before any). */
  private lastPollMs: number;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private wasBehind = false;
  private clockTimer: NodeJS.Timeout | undefined;
  private clock: ClockOffset | undefined;
  private clockSkewWarnings = 0;
  private readonly counters = {
    polls: 0,
    pollFailures: 0,
    queries: 0,
    entriesApplied: 0,
    keysDropped: 0,
    viewDrops: 0,
    wholeCacheDrops: 0,
  };

  constructor(
    private readonly tables: Pick<CoherenceTables, 'read' | 'generations'> &
      Partial<Pick<CoherenceTables, 'cassandraNowMs'>>,
    private readonly cache: CoherentCache,
    private readonly registry: { readonly current: { readonly version: number } },
    private readonly settings: CoherenceSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.lastPollMs = now();
    this.position = new LogPosition(settings, this.lastPollMs);
  }

  /**
   * The earliest read time (Date.now() ms) of a cached row of `view` that may be served at
   * `nowMs`: -Infinity when any may.
   */
  minReadAtMs(view: string, nowMs: number): number {
    const oldest = this.position.minReadAtMs(nowMs);
    const floor = this.viewFloors.get(view);
    return floor === undefined || floor < oldest ? oldest : floor;
  }

  /**
   * Reads the log once (so the generations every later poll compares with are known before the
   * first request), then every pollIntervalMs until stop(). Fails only when the coherence tables
   * do not exist; any other failure of the first poll leaves the replica behind until a poll succeeds.
   */
  async start(): Promise<void> {
    try {
      await this.poll();
    } catch (error) {
      if (isInvalidRequest(error)) {
        throw new Error(
          `cache coherence: the invalidation log cannot be read (${(error as Error).message}); ` +
            'run `cassette apply` again to create its tables, or set cache.coherence.enabled: false',
          { cause: error },
        );
      }
    }
    this.timer = setInterval(() => void this.poll().catch(() => undefined), this.settings.pollIntervalMs);
    this.timer.unref();
    await this.checkClock();
    this.clockTimer = setInterval(() => void this.checkClock(), CLOCK_CHECK_INTERVAL_MS);
    this.clockTimer.unref();
    const { maxStalenessMs, pollIntervalMs, maxClockSkewMs, logWriteBudgetMs } = this.settings;
    this.logger.info(
      { maxStalenessMs, pollIntervalMs, maxClockSkewMs, logWriteBudgetMs, clock: this.clock },
      'cache coherence: polling the invalidation log',
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.timer = undefined;
    this.clockTimer = undefined;
  }

  /**
   * Compares this server's clock with a Cassandra node's: the bound assumes servers' clocks within
   * maxClockSkewMs of each other, so one found further than half of it from Cassandra's is
   * logged (and counted). Nothing is changed: the stamps stay this server's.
   */
  async checkClock(): Promise<void> {
    if (this.tables.cassandraNowMs === undefined) return;
    try {
      const sentAt = this.now();
      const theirs = await this.tables.cassandraNowMs(pollTimeoutMs(this.settings));
      this.clock = clockOffset(sentAt, theirs, this.now());
    } catch {
      return; // the polls report an unreachable Cassandra
    }
    if (exceedsSkew(this.clock, this.settings.maxClockSkewMs)) {
      this.clockSkewWarnings++;
      this.logger.warn(
        { offsetMs: Math.round(this.clock.offsetMs), maxClockSkewMs: this.settings.maxClockSkewMs },
        "cache coherence: this server's clock is further from Cassandra's than half of " +
          'cache.coherence.maxClockSkewMs; the staleness bound assumes less (synchronize the clocks, or raise it)',
      );
    }
  }

  /** One poll (joins the running one); rejects when it failed (already counted and logged). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  stats(): CoherenceStats {
    const now = this.now();
    const { count, sumMs, maxMs, buckets } = this.lag;
    return {
      ...this.counters,
      behind: now - this.lastPollMs > this.settings.maxStalenessMs,
      sinceLastPollMs: now - this.lastPollMs,
      lag: { count, sumMs, maxMs, buckets: [...buckets] },
      clock: this.clock,
      clockSkewWarnings: this.clockSkewWarnings,
    };
  }

  private async pollOnce(): Promise<void> {
    const startedAt = this.now();
    if (this.position.isBehind(startedAt)) this.dropEverything(startedAt);
    const window = this.position.window(startedAt);
    const timeoutMs = pollTimeoutMs(this.settings);
    try {
      const buckets = logBucketsBetween(window.fromMicros, window.toMicros);
      this.counters.queries += buckets.length + 1;
      const [pages, generations] = await Promise.all([
        Promise.all(buckets.map((b) => this.tables.read(b, window.fromMicros, timeoutMs))),
        this.tables.generations(timeoutMs),
      ]);
      const version = this.registry.current.version;
      const appliedAt = this.now();
      for (const entries of pages) {
        for (const entry of entries) {
          const id = `${entry.writtenAtMicros}\u0000${entry.writer}\u0000${entry.view}\u0000${entry.key}`;
          if (!this.applied.firstTime(id, entry.writtenAtMicros) || entry.writer === this.settings.ownWriter) continue;
          // Rows read later than the stamp (allowing for the writers' clocks) already saw the write.
          const readBeforeMs = entry.writtenAtMicros / 1000 + this.settings.maxClockSkewMs;
          this.cache.invalidate(rowCacheKey(version, entry.view, entry.key), readBeforeMs);
          this.counters.entriesApplied++;
          this.counters.keysDropped++;
          this.lag.record(appliedAt - entry.writtenAtMicros / 1000);
        }
      }
      this.applyGenerations(generations, appliedAt);
      this.applied.forgetBefore(window.fromMicros);
      this.position.applied(startedAt);
      this.lastPollMs = startedAt;
      this.counters.polls++;
      if (this.wasBehind) {
        this.wasBehind = false;
        this.logger.info('cache coherence: the invalidation log is read again; cached rows are served');
      }
    } catch (error) {
      this.counters.pollFailures++;
      if (!this.wasBehind && this.now() - this.lastPollMs > this.settings.maxStalenessMs) {
        this.wasBehind = true;
        this.logger.warn(
          { err: error, maxStalenessMs: this.settings.maxStalenessMs },
          'cache coherence: the invalidation log could not be read within the bound; ' +
            'cached rows older than the bound are not served until it can',
        );
      }
      throw error;
    }
  }

  /** Drops the cached rows of every view whose generation changed (a bulk load wrote to it). */
  private applyGenerations(generations: Map<string, string>, appliedAt: number): void {
    const previous = this.generations;
    this.generations = generations;
    if (previous === undefined) {
      // The first read: the cache was empty until now unless earlier polls failed, and then
      // nothing says which views changed meanwhile.
      if (this.counters.polls > 0 || this.counters.pollFailures > 0) this.dropEverything(appliedAt);
      return;
    }
    for (const [view, generation] of generations) {
      if (previous.get(view) === generation) continue;
      this.viewFloors.set(view, appliedAt);
      this.counters.viewDrops++;
      this.logger.info(
        { view, generation },
        'cache coherence: a bulk load wrote to the view; its cached rows are dropped',
      );
    }
  }

  private dropEverything(nowMs: number): void {
    this.cache.clear();
    this.position.emptied(nowMs);
    this.counters.wholeCacheDrops++;
  }
}
