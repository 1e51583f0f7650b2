import { CheckpointError, readCheckpointJson, settingDifferences } from '../../import/index.js';

/** Everything that decides what the migration reads and writes: a resumed run must use the same. */
export interface MigrationSettings {
  readonly feastRepo: string;
  readonly project: string;
  readonly feastKeyspace: string;
  readonly cassetteKeyspace: string;
  readonly views: readonly string[];
  readonly ranges: number;
  readonly entityKeySerializationVersion: number;
}

/** Counted per Feast row (one entity's one feature). */
export interface MigrationCounts {
  read: number;
  /** Cells written to Cassette. */
  written: number;
  rejected: number;
  /** Past the view's ttl and grace already: not written (as `cassette ingest`). */
  expired: number;
  /** Features the Cassette view does not have (listed when the run starts). */
  skipped: number;
  /** Cassette rows written: one per entity and event time, holding that entity's features of that time. */
  entityRows: number;
}

export function zeroCounts(): MigrationCounts {
  return { read: 0, written: 0, rejected: 0, expired: 0, skipped: 0, entityRows: 0 };
}

export function addCounts(into: MigrationCounts, more: MigrationCounts): void {
  into.read += more.read;
  into.written += more.written;
  into.rejected += more.rejected;
  into.expired += more.expired;
  into.skipped += more.skipped;
  into.entityRows += more.entityRows;
}

export const MIGRATION_CHECKPOINT_VERSION = 1;

/**
 * The migration's checkpoint: per view, the token ranges whose every row is written, rejected,
 * expired or skipped. Ranges finish out of order; a range only counts once it is whole, and the
 * counts and the reject file's length are those of the finished ranges, so a resumed run
 * re-reads exactly the ranges that were not finished (rewriting a row is harmless: it carries
 * the same write time).
 */
export interface MigrationCheckpoint {
  readonly kind: 'feast-migration';
  readonly version: typeof MIGRATION_CHECKPOINT_VERSION;
  readonly settings: MigrationSettings;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly runs: number;
  /** View -> indices of its finished ranges, ascending. */
  readonly doneRanges: Readonly<Record<string, readonly number[]>>;
  readonly counts: MigrationCounts;
  readonly rejectsFile: string;
  readonly rejectsBytes: number;
  readonly finished: boolean;
  readonly failure?: string;
}

export function readMigrationCheckpoint(path: string): MigrationCheckpoint | undefined {
  const parsed = readCheckpointJson(path);
  if (parsed === undefined) return undefined;
  const checkpoint = parsed as Partial<MigrationCheckpoint>;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    checkpoint.kind !== 'feast-migration' ||
    checkpoint.version !== MIGRATION_CHECKPOINT_VERSION ||
    typeof checkpoint.doneRanges !== 'object' ||
    typeof checkpoint.counts?.read !== 'number' ||
    typeof checkpoint.rejectsBytes !== 'number' ||
    typeof checkpoint.settings?.ranges !== 'number'
  ) {
    throw new CheckpointError(
      `${path} is not a cassette migrate-from-feast checkpoint (version ${MIGRATION_CHECKPOINT_VERSION})`,
    );
  }
  return checkpoint as MigrationCheckpoint;
}

/** Why `checkpoint` cannot be resumed with `settings` (every difference), or null when it can. */
export function migrationResumeProblems(checkpoint: MigrationCheckpoint, settings: MigrationSettings): string | null {
  const problems = settingDifferences(checkpoint.settings, settings);
  return problems.length > 0 ? problems.join('; ') : null;
}
