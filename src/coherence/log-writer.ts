import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { CassetteError } from '../errors/index.js';
import { LOG_BATCH_ENTRIES, type ChangedRow, type CoherenceTables } from './log-tables.js';
import type { WindowSettings } from './window.js';

/** Chunks of one append written at once. */
const APPEND_CONCURRENCY = 8;
/**
 * Tries per chunk at least: a slow acknowledgement (past the budget) or a failure restamps and
 * writes it again. A call with a deadline keeps trying while a whole try still fits before it,
 * so a Cassandra pause of a second or two (a GC, a busy machine) delays the call instead of
 * failing it; one without a deadline (a stream) keeps trying for UNBOUNDED_CALL_RETRY_MS.
 */
const APPEND_ATTEMPTS = 5;
const UNBOUNDED_CALL_RETRY_MS = 10_000;
/** Pause after a try that failed at once (no host, a closed connection), so that retries do not spin. */
const FAILED_TRY_PAUSE_MS = 50;

/** What writers tell the other replicas (see ChangeLog in cache/invalidation.ts). */
export interface LogWriterStats {
  /** Log entries acknowledged within the budget. */
  readonly entriesLogged: number;
  /** Chunks written again with a new stamp because the first write came back after the budget (or failed). */
  readonly restamped: number;
  /** View generations bumped by this process. */
  readonly generationBumps: number;
  /** Appends and bumps that failed for good (their call failed UNAVAILABLE). */
  readonly failures: number;
}

/** A name for this process in the log: which writer an entry came from. */
export function writerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * The writer's side of coherence: appends the rows a call changed to the invalidation log, and
 * bumps view generations, before the call is acknowledged.
 *
 * Each chunk of entries is stamped with this process's clock just before it is written. Readers
 * rely on an acknowledged entry having been stamped at most logWriteBudgetMs earlier (see
 * LogPosition), so a chunk acknowledged later than that (a slow or timed-out write, a long pause
 * here) is written again with a new stamp; the late copy is harmless.
 */
export class InvalidationLogWriter {
  private readonly counters = { entriesLogged: 0, restamped: 0, generationBumps: 0, failures: 0 };

  constructor(
    private readonly tables: Pick<CoherenceTables, 'append' | 'bumpGeneration'>,
    private readonly settings: Pick<WindowSettings, 'logWriteBudgetMs' | 'maxStalenessMs'>,
    /** This process's name in the log. */
    readonly writer: string = writerId(),
    private readonly now: () => number = Date.now,
  ) {}

  get stats(): LogWriterStats {
    return this.counters;
  }

  /**
   * Resolves once every row is in the log within the budget; rejects UNAVAILABLE when that could
   * not be done by `deadline` (Date.now() ms of the call's deadline: Infinity for none, undefined
   * for no call waiting, which gets APPEND_ATTEMPTS tries only).
   */
  async append(rows: readonly ChangedRow[], deadline?: number): Promise<void> {
    const chunks: (readonly ChangedRow[])[] = [];
    for (let i = 0; i < rows.length; i += LOG_BATCH_ENTRIES) chunks.push(rows.slice(i, i + LOG_BATCH_ENTRIES));
    const retryUntil = this.retryUntil(deadline);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) await this.appendChunk(chunks[next++]!, retryUntil);
    };
    await Promise.all(Array.from({ length: Math.min(APPEND_CONCURRENCY, chunks.length) }, worker));
  }

  /** Bumps the generation of each of `views`; rejects UNAVAILABLE when a bump failed by `deadline` (see append). */
  async bumpGenerations(views: Iterable<string>, deadline?: number): Promise<void> {
    const timeoutMs = this.settings.maxStalenessMs;
    const retryUntil = this.retryUntil(deadline);
    for (const view of views) {
      try {
        for (;;) {
          const triedAt = this.now();
          try {
            await this.tables.bumpGeneration(view, timeoutMs);
            break;
          } catch (error) {
            if (this.now() + timeoutMs > retryUntil) throw error;
            await this.pauseAfter(triedAt);
          }
        }
        this.counters.generationBumps++;
      } catch (error) {
        this.counters.failures++;
        throw new CassetteError(
          'CST_ERR_COHERENCE_LOG',
          `the rows were written, but the generation of feature view "${view}" could not be bumped ` +
            `for the other servers' caches (${(error as Error).message}); retry the write`,
          { cause: error },
        );
      }
    }
  }

  /** Until when (this.now() ms) a failed try is followed by another: see APPEND_ATTEMPTS. */
  private retryUntil(deadline: number | undefined): number {
    if (deadline === undefined) return Number.NEGATIVE_INFINITY;
    return Number.isFinite(deadline) ? deadline : this.now() + UNBOUNDED_CALL_RETRY_MS;
  }

  /** Waits before the next try when the last one (started at `triedAt`) failed at once. */
  private async pauseAfter(triedAt: number): Promise<void> {
    const pauseMs = FAILED_TRY_PAUSE_MS - (this.now() - triedAt);
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }

  private async appendChunk(rows: readonly ChangedRow[], retryUntil: number): Promise<void> {
    const budget = this.settings.logWriteBudgetMs;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      const stampedAt = this.now();
      let failedAtOnce = false;
      try {
        await this.tables.append(stampedAt * 1000, this.writer, rows, Math.max(budget, 100));
        if (this.now() - stampedAt <= budget) {
          this.counters.entriesLogged += rows.length;
          return;
        }
        lastError = new Error(`the log write took longer than ${budget} ms`);
      } catch (error) {
        lastError = error;
        failedAtOnce = true;
      }
      if (attempt >= APPEND_ATTEMPTS && this.now() + budget > retryUntil) break;
      this.counters.restamped++;
      if (failedAtOnce) await this.pauseAfter(stampedAt);
    }
    this.counters.failures++;
    throw new CassetteError(
      'CST_ERR_COHERENCE_LOG',
      "the rows were written, but could not be logged for the other servers' caches " +
        `(${(lastError as Error).message}); retry the write`,
      { cause: lastError },
    );
  }
}
