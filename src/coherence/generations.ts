import { CassetteError } from '../errors/index.js';
import type { WriteRow } from '../write/rows.js';

/** Bumps one view's generation (see CoherenceTables.bumpGeneration). */
export interface ViewGenerations {
  bump(): Promise<void>;
  /** Time between bumps while rows are being written (maxStaleness / 2). */
  readonly intervalMs: number;
}

/** The import sink's shape (src/import/sinks/sink.ts), restated so this module does not depend on the import job. */
interface RowSinkLike {
  push(row: WriteRow, tag: number): Promise<void> | null;
  flush(): Promise<void>;
}

/** Tries of the last bump: the one that makes the job's rows visible everywhere. */
const FINAL_BUMP_ATTEMPTS = 3;

/**
 * A bulk load's sink that keeps every replica's cache coherent without logging each key: it bumps
 * the view's generation when the first row comes, every `intervalMs` while rows come (so rows
 * written early are served within the bound plus an interval), and once flush() has seen every
 * row written, before flush() resolves. A bump that fails while rows still come is left to the
 * next one; the last one must succeed, or flush() fails.
 */
export class GenerationBumpingSink implements RowSinkLike {
  private lastBumpMs = Number.NEGATIVE_INFINITY;
  private running: Promise<void> | undefined;
  /** Bumps made (for the job's summary and tests). */
  bumps = 0;

  constructor(
    private readonly inner: RowSinkLike,
    private readonly generations: ViewGenerations,
    private readonly now: () => number = Date.now,
  ) {}

  push(row: WriteRow, tag: number): Promise<void> | null {
    const now = this.now();
    if (now - this.lastBumpMs >= this.generations.intervalMs && this.running === undefined) {
      this.lastBumpMs = now;
      this.running = this.generations.bump().then(
        () => {
          this.bumps++;
          this.running = undefined;
        },
        () => {
          this.running = undefined;
        },
      );
    }
    return this.inner.push(row, tag);
  }

  /** Flushes the rows, then bumps (also after a failed write: the rows before it were written). */
  async flush(): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      await this.inner.flush();
    } catch (error) {
      failure = { error };
    }
    await this.running;
    try {
      await this.finalBump();
    } catch (error) {
      failure ??= { error };
    }
    if (failure !== undefined) throw failure.error;
  }

  private async finalBump(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < FINAL_BUMP_ATTEMPTS; attempt++) {
      try {
        await this.generations.bump();
        this.bumps++;
        this.lastBumpMs = this.now();
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw new CassetteError(
      'CST_ERR_COHERENCE_LOG',
      "the rows were written, but the view's generation could not be bumped: servers may serve " +
        `cached values older than them until their cache ttl passes (${(lastError as Error).message})`,
      { cause: lastError },
    );
  }
}
