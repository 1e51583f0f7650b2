import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { CassetteError } from '../errors/index.js';
import { LOG_BATCH_ENTRIES, type ChangedRow, type CoherenceTables } from './log-tables.js';
import type { WindowSettings } from './window.js';

/** Chunks of one append written at once. */
const APPEND_CONCURRENCY = 8;
/** Tries per chunk: a slow acknowledgement (past the budget) or a failure restamps and writes it again. */
const APPEND_ATTEMPTS = 5;

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

  /** Resolves once every row is in the log within the budget; rejects UNAVAILABLE when that could not be done. */
  async append(rows: readonly ChangedRow[]): Promise<void> {
    const chunks: (readonly ChangedRow[])[] = [];
    for (let i = 0; i < rows.length; i += LOG_BATCH_ENTRIES) chunks.push(rows.slice(i, i + LOG_BATCH_ENTRIES));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) await this.appendChunk(chunks[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(APPEND_CONCURRENCY, chunks.length) }, worker));
  }

  /** Bumps the generation of each of `views`; rejects UNAVAILABLE when a bump failed. */
  async bumpGenerations(views: Iterable<string>): Promise<void> {
    const timeoutMs = this.settings.maxStalenessMs;
    for (const view of views) {
      try {
        await this.tables.bumpGeneration(view, timeoutMs);
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

  private async appendChunk(rows: readonly ChangedRow[]): Promise<void> {
    const budget = this.settings.logWriteBudgetMs;
    let lastError: unknown;
    for (let attempt = 1; attempt <= APPEND_ATTEMPTS; attempt++) {
      const stampedAt = this.now();
      try {
        await this.tables.append(stampedAt * 1000, this.writer, rows, Math.max(budget, 100));
        if (this.now() - stampedAt <= budget) {
          this.counters.entriesLogged += rows.length;
          return;
        }
        lastError = new Error(`the log write took longer than ${budget} ms`);
      } catch (error) {
        lastError = error;
      }
      if (attempt < APPEND_ATTEMPTS) this.counters.restamped++;
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
