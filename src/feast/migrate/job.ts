import cassandra from 'cassandra-driver';

import { GenerationBumpingSink, type ViewGenerations } from '../../coherence/index.js';
import { runBounded } from '../../concurrency/index.js';
import { CassetteError } from '../../errors/index.js';
import type { FeatureRow__Output } from '../../generated/cassette/v1/FeatureRow.js';
import type { Value__Output } from '../../generated/cassette/v1/Value.js';
import {
  CheckpointError,
  RejectLimitError,
  RejectWriter,
  rejectLimitExceeded,
  writeJsonAtomically,
  type CassandraSinkSettings,
  type ProgressReporter,
  type RejectEntry,
  type RejectLimit,
} from '../../import/index.js';
import type { Logger } from '../../observability/logger.js';
import type { FeatureViewDef, Registry } from '../../registry/index.js';
import { isTransientWriteError, type CassandraClient, type OnlineStore } from '../../store/index.js';
import { RowSink, validateRow, type WritePolicy, type WriteRow } from '../../write/index.js';
import { feastViewShapes, type FeastRepo, type FeastViewShape } from '../registry-import/index.js';
import {
  addCounts,
  migrationResumeProblems,
  MIGRATION_CHECKPOINT_VERSION,
  readMigrationCheckpoint,
  zeroCounts,
  type MigrationCheckpoint,
  type MigrationCounts,
  type MigrationSettings,
} from './checkpoint.js';
import { decodeFeastEntityKey } from './entity-key.js';
import { feastCellValue } from './feature-value.js';
import { splitTokenRing, type TokenRange } from './token-ranges.js';

export interface MigrationOptions {
  readonly repo: FeastRepo;
  /** The keyspace of Feast's online tables (on the cluster Cassette uses). */
  readonly feastKeyspace: string;
  readonly cassetteKeyspace: string;
  /** The registry applied to Cassette's keyspace. */
  readonly registry: Registry;
  /** Views to migrate; default: every Feast view the Cassette registry has. */
  readonly views?: readonly string[];
  /** Token ranges each table is read in (the unit of resumption). */
  readonly ranges: number;
  /** Ranges read at once. */
  readonly readConcurrency: number;
  /** Rows per page of a range's read. */
  readonly pageSize: number;
  readonly readTimeoutMs: number;
  readonly checkpointPath: string;
  readonly rejectsPath: string;
  readonly resume: boolean;
  readonly restart: boolean;
  readonly maxRejects?: RejectLimit;
  readonly policy: WritePolicy;
  readonly writes: CassandraSinkSettings;
  readonly checkpointIntervalMs: number;
}

export interface MigrationDeps {
  /** Reads Feast's tables (and the cluster's partitioner). */
  readonly client: CassandraClient;
  /** Writes Cassette's rows. */
  readonly store: OnlineStore;
  readonly logger: Logger;
  readonly progress?: ProgressReporter;
  /** True once the run should stop (Ctrl-C): it finishes the writes in flight and saves its checkpoint. */
  readonly stopRequested?: () => boolean;
  /**
   * The generation bumps of a view the job writes to, so that every server's cache drops its
   * older rows (undefined when cache coherence is off); see GenerationBumpingSink.
   */
  readonly generations?: (view: string) => ViewGenerations | undefined;
}

export type MigrationStatus = 'finished' | 'already finished' | 'failed' | 'interrupted';

export interface MigrationSummary {
  readonly status: MigrationStatus;
  readonly views: readonly string[];
  /** Feast rows (one entity's one feature) read, written (as cells), rejected, expired, skipped. */
  readonly feastRowsRead: number;
  readonly cellsWritten: number;
  readonly rejected: number;
  readonly expired: number;
  readonly skipped: number;
  /** Cassette rows written: one per entity and event time. */
  readonly entityRowsWritten: number;
  readonly durationMs: number;
  /** Feast rows read by this run per second. */
  readonly feastRowsPerSecond: number;
  readonly entityRowsPerSecond: number;
  readonly peakRssBytes: number;
  readonly resumed: boolean;
  readonly rejectsFile: string | null;
  readonly checkpointFile: string;
  /** Feast views and features that were not migrated, and why. */
  readonly notMigrated: readonly string[];
  readonly error?: string;
}

/** One Feast view to migrate into the Cassette view of the same name. */
export interface PlannedView {
  readonly view: FeatureViewDef;
  readonly feast: FeastViewShape;
  /** Feast's online table: `<project>_<view>` in the Feast keyspace. */
  readonly table: string;
}

function setupError(message: string): CassetteError {
  return new CassetteError('CST_ERR_FEAST_REPO', message);
}

/** Feast's table name for a view (CassandraOnlineStore._fq_table_name). */
export function feastTableName(project: string, view: string): string {
  return `${project}_${view}`;
}

/**
 * Matches Feast's views to the applied Cassette registry. A view named with --view must exist
 * in both with the same join keys; without --view, Feast views Cassette does not have are listed
 * in `notMigrated`, as are Feast features the Cassette view lacks (their rows are counted as skipped).
 */
export function planMigration(
  repo: FeastRepo,
  registry: Registry,
  only: readonly string[] | undefined,
): { views: PlannedView[]; notMigrated: string[] } {
  const shapes = new Map(feastViewShapes(repo.registry, repo.project).map((shape) => [shape.name, shape]));
  const notMigrated: string[] = [];
  const names = only ?? [...shapes.keys()];
  const views: PlannedView[] = [];
  for (const name of names) {
    const feast = shapes.get(name);
    const view = registry.featureViews.get(name);
    if (!feast) {
      throw setupError(
        `--view ${name}: the Feast project "${repo.project}" has no feature view "${name}" (it has ${[...shapes.keys()].join(', ') || 'none'})`,
      );
    }
    if (!view) {
      if (only) throw setupError(`--view ${name}: the applied Cassette registry has no feature view "${name}"`);
      notMigrated.push(`feature view "${name}": not in the applied Cassette registry`);
      continue;
    }
    const cassetteKeys = view.entities.map((e) => e.joinKey).sort();
    if (cassetteKeys.join(',') !== feast.joinKeys.join(',')) {
      throw setupError(
        `feature view "${name}": Feast's join keys are ${feast.joinKeys.join(', ')}, Cassette's are ${cassetteKeys.join(', ')}`,
      );
    }
    for (const feature of feast.features.keys()) {
      if (!view.featureIndex.has(feature)) {
        notMigrated.push(`feature "${name}:${feature}": not in the Cassette view (its rows are skipped)`);
      }
    }
    views.push({ view, feast, table: feastTableName(repo.project, name) });
  }
  if (views.length === 0)
    throw setupError('no feature view to migrate: none of the Feast views is in the Cassette registry');
  return { views, notMigrated };
}

/** Token ranges need Murmur3 tokens (Cassandra's default partitioner). */
async function checkCluster(client: CassandraClient, keyspace: string, tables: readonly string[]): Promise<void> {
  const local = await client.execute('SELECT partitioner FROM system.local');
  const partitioner = String(local.first()?.['partitioner'] ?? '');
  if (!partitioner.endsWith('Murmur3Partitioner')) {
    throw setupError(`the cluster uses ${partitioner}; the migration reads token ranges of the Murmur3Partitioner`);
  }
  const existing = await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [
    keyspace,
  ]);
  const names = new Set(existing.rows.map((row) => String(row['table_name'])));
  const missing = tables.filter((table) => !names.has(table));
  if (missing.length > 0) {
    throw setupError(
      `keyspace "${keyspace}" has no table ${missing.map((t) => `"${t}"`).join(', ')} (is --feast-keyspace Feast's online keyspace, and has \`feast apply\` run?)`,
    );
  }
}

/** A cell of Feast's table: one entity's one feature. */
interface Cell {
  readonly feature: string;
  readonly value: Buffer | null;
}

/** Consecutive cells of one entity with one event time: written as one Cassette row. */
interface Group {
  readonly entityKey: string;
  readonly eventMillis: number;
  readonly cells: Cell[];
}

/** A range being migrated: its counts and rejects join the job's when all of its rows are settled. */
interface RangeState {
  readonly counts: MigrationCounts;
  readonly rejects: RejectEntry[];
  /** Rows pushed to the sink and not yet written. */
  outstanding: number;
  readDone: boolean;
  drained: () => void;
}

/** A reject's record, cut to 1 KB like `cassette ingest`'s. */
const MAX_REJECT_RECORD = 1024;

function cellsOf(row: WriteRow): number {
  let cells = 0;
  for (const feature of row.features) if (feature !== undefined) cells++;
  return cells;
}

function isTransientReadError(error: unknown): boolean {
  if (isTransientWriteError(error)) return true;
  const codes = cassandra.types.responseErrorCodes;
  return (
    error instanceof cassandra.errors.ResponseError &&
    (error.code === codes.readTimeout || error.code === codes.readFailure)
  );
}

const READ_ATTEMPTS = 5;

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Migrates Feast's Cassandra online tables into Cassette: each table is read in token ranges
 * (several at once, each paged), each Feast row (entity, feature) is decoded (the entity key
 * from Feast's serialization, the value from its serialized Value), the cells of one entity
 * with one event time become one Cassette row, validated and written through the shared
 * RowSink with the event time as the write time. Bad rows go to the reject file. A range counts
 * in the checkpoint once all its rows are settled, so a run stopped at any point resumes with
 * the unfinished ranges.
 */
export async function runMigration(options: MigrationOptions, deps: MigrationDeps): Promise<MigrationSummary> {
  const startedMs = Date.now();
  const { logger, client } = deps;
  const { views, notMigrated } = planMigration(options.repo, options.registry, options.views);
  const settings: MigrationSettings = {
    feastRepo: options.repo.path,
    project: options.repo.project,
    feastKeyspace: options.feastKeyspace,
    cassetteKeyspace: options.cassetteKeyspace,
    views: views.map((v) => v.view.name),
    ranges: options.ranges,
    entityKeySerializationVersion: options.repo.entityKeySerializationVersion,
  };

  const previous = readMigrationCheckpoint(options.checkpointPath);
  if (options.resume && !previous) {
    throw new CheckpointError(`--resume: there is no checkpoint ${options.checkpointPath}`);
  }
  if (previous && !previous.finished && !options.resume && !options.restart) {
    throw new CheckpointError(
      `an unfinished migration has the checkpoint ${options.checkpointPath}: pass --resume to continue it, or --restart to start over`,
    );
  }
  const resumed = options.resume ? previous : undefined;
  const summaryOf = (
    status: MigrationStatus,
    counts: MigrationCounts,
    readThisRun: number,
    rowsThisRun: number,
    error?: string,
  ): MigrationSummary => {
    const durationMs = Date.now() - startedMs;
    const perSecond = (n: number) => (durationMs > 0 ? Math.round((n / durationMs) * 1000) : 0);
    return {
      status,
      views: settings.views,
      feastRowsRead: counts.read,
      cellsWritten: counts.written,
      rejected: counts.rejected,
      expired: counts.expired,
      skipped: counts.skipped,
      entityRowsWritten: counts.entityRows,
      durationMs,
      feastRowsPerSecond: perSecond(readThisRun),
      entityRowsPerSecond: perSecond(rowsThisRun),
      peakRssBytes: peakRssBytes(),
      resumed: resumed !== undefined,
      rejectsFile: counts.rejected > 0 ? options.rejectsPath : null,
      checkpointFile: options.checkpointPath,
      notMigrated,
      ...(error !== undefined ? { error } : {}),
    };
  };
  if (resumed) {
    const problems = migrationResumeProblems(resumed, settings);
    if (problems) throw new CheckpointError(`cannot resume ${options.checkpointPath}: ${problems}`);
    if (resumed.finished) {
      logger.info({ checkpoint: options.checkpointPath }, 'the migration already finished; nothing to do');
      return summaryOf('already finished', resumed.counts, 0, 0, resumed.failure);
    }
  }
  for (const line of notMigrated) logger.warn(`not migrated: ${line}`);
  await checkCluster(
    client,
    options.feastKeyspace,
    views.map((v) => v.table),
  );

  let rejects: RejectWriter;
  if (resumed) {
    const opened = RejectWriter.resume(options.rejectsPath, resumed.rejectsBytes);
    if (opened.warning) logger.warn(opened.warning);
    rejects = opened.writer;
  } else {
    rejects = RejectWriter.fresh(options.rejectsPath);
  }
  /** The counts of finished ranges (what the checkpoint and the reject file hold). */
  const totals = resumed ? { ...resumed.counts } : zeroCounts();
  const startTotals = { ...totals };
  const doneRanges = new Map<string, Set<number>>(
    views.map((v) => [v.view.name, new Set(resumed?.doneRanges[v.view.name] ?? [])]),
  );
  const live = new Set<RangeState>();
  const liveCounts = (): MigrationCounts => {
    const sum = { ...totals };
    for (const state of live) addCounts(sum, state.counts);
    return sum;
  };
  const startedAt = resumed?.startedAt ?? new Date(startedMs).toISOString();
  const runs = (resumed?.runs ?? 0) + 1;
  const saveCheckpoint = (finished: boolean, failure?: string) => {
    rejects.sync();
    const checkpoint: MigrationCheckpoint = {
      kind: 'feast-migration',
      version: MIGRATION_CHECKPOINT_VERSION,
      settings,
      startedAt,
      updatedAt: new Date().toISOString(),
      runs,
      doneRanges: Object.fromEntries([...doneRanges].map(([view, done]) => [view, [...done].sort((a, b) => a - b)])),
      counts: totals,
      rejectsFile: options.rejectsPath,
      rejectsBytes: rejects.bytes,
      finished,
      ...(failure !== undefined ? { failure } : {}),
    };
    writeJsonAtomically(options.checkpointPath, checkpoint);
  };
  saveCheckpoint(false);
  const ticker = setInterval(() => {
    try {
      saveCheckpoint(false);
    } catch (error) {
      logger.warn({ err: error }, 'could not save the checkpoint; trying again shortly');
    }
  }, options.checkpointIntervalMs);
  ticker.unref();

  const ranges = splitTokenRing(options.ranges);
  const rangesTotal = ranges.length * views.length;
  const rangesDone = () => [...doneRanges.values()].reduce((n, done) => n + done.size, 0);
  deps.progress?.start(() => {
    const counts = liveCounts();
    return {
      rowsRead: counts.read - startTotals.read,
      rowsWritten: counts.written,
      rejected: counts.rejected,
      expired: counts.expired,
      bytesDone: rangesDone(),
      bytesTotal: rangesTotal,
    };
  });
  const stopRequested = deps.stopRequested ?? (() => false);
  let status: MigrationStatus = 'finished';
  let failure: string | undefined;
  try {
    for (const planned of views) {
      const done = doneRanges.get(planned.view.name)!;
      const todo = ranges.map((_, i) => i).filter((i) => !done.has(i));
      if (todo.length === 0) continue;
      logger.info(
        { view: planned.view.name, table: `${options.feastKeyspace}.${planned.table}`, ranges: todo.length },
        'migrating a Feast view',
      );
      const interrupted = await migrateView(planned, todo, ranges, {
        options,
        deps,
        rejects,
        totals,
        live,
        done,
        liveCounts,
        stopRequested,
      });
      if (interrupted) {
        status = 'interrupted';
        break;
      }
    }
    if (status === 'finished') {
      const reason = rejectLimitExceeded(options.maxRejects, totals.rejected, totals.read, true);
      if (reason) throw new RejectLimitError(reason);
    }
  } catch (error) {
    status = 'failed';
    failure = (error as Error).message;
    logger.error({ err: error }, 'the migration failed');
  } finally {
    clearInterval(ticker);
    deps.progress?.stop();
  }
  saveCheckpoint(status === 'finished', failure);
  rejects.close();
  return summaryOf(status, totals, totals.read - startTotals.read, totals.entityRows - startTotals.entityRows, failure);
}

interface ViewRun {
  readonly options: MigrationOptions;
  readonly deps: MigrationDeps;
  readonly rejects: RejectWriter;
  readonly totals: MigrationCounts;
  readonly live: Set<RangeState>;
  readonly done: Set<number>;
  readonly liveCounts: () => MigrationCounts;
  readonly stopRequested: () => boolean;
}

/** Migrates the ranges `todo` of one view; true when it stopped because a stop was requested. */
async function migrateView(
  planned: PlannedView,
  todo: readonly number[],
  ranges: readonly TokenRange[],
  run: ViewRun,
): Promise<boolean> {
  const { options, deps } = run;
  const { view, feast, table } = planned;
  const version = options.repo.entityKeySerializationVersion;
  const where = `"${options.feastKeyspace}"."${table}"`;
  const query = `SELECT entity_key, feature_name, value, event_ts FROM ${where} WHERE token(entity_key) > ? AND token(entity_key) <= ?`;
  const states = new Map<number, RangeState>();
  // A row that failed for good makes the sink fatal: ranges waiting for their rows stop waiting.
  let settled = 0;
  let written = 0;
  let sinkFailed!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => (sinkFailed = reject));
  failed.catch(() => undefined);
  const rowSink = new RowSink(deps.store, view, {
    concurrency: options.writes.writeConcurrency,
    maxRowsPerSecond: options.writes.maxRowsPerSecond,
    writeTimeoutMs: options.writes.writeTimeoutMs,
    maxAttempts: options.writes.writeAttempts,
    partitionBatchRows: options.writes.partitionBatchRows,
    onWritten: (row, rangeIndex) => {
      written++;
      const state = states.get(rangeIndex)!;
      state.counts.written += cellsOf(row);
      state.counts.entityRows++;
      state.outstanding--;
      if (state.readDone && state.outstanding === 0) state.drained();
    },
    onSettled: () => {
      settled++;
      if (settled > written) sinkFailed(new Error('a write failed'));
    },
  });
  const generations = deps.generations?.(view.name);
  const sink = generations ? new GenerationBumpingSink(rowSink, generations) : rowSink;

  const reject = (state: RangeState, entityKey: string, cell: Cell, eventMillis: number | null, reason: string) => {
    state.counts.rejected++;
    const record = JSON.stringify({
      value: cell.value === null ? null : cell.value.toString('base64'),
      event_ts: eventMillis === null ? null : new Date(eventMillis).toISOString(),
    });
    state.rejects.push({
      file: `${options.feastKeyspace}.${table}`,
      location: { entity_key: entityKey, feature_name: cell.feature },
      reason,
      record: record.length > MAX_REJECT_RECORD ? record.slice(0, MAX_REJECT_RECORD) : record,
    });
    const counts = run.liveCounts();
    const exceeded = rejectLimitExceeded(options.maxRejects, counts.rejected, counts.read, false);
    if (exceeded) throw new RejectLimitError(exceeded);
  };

  const push = async (state: RangeState, rangeIndex: number, row: WriteRow) => {
    state.outstanding++;
    const wait = sink.push(row, rangeIndex);
    if (wait) await wait;
  };

  /** Validates and pushes one Cassette row; throws INVALID_ARGUMENT when it does not fit the view. */
  const pushRow = async (
    state: RangeState,
    rangeIndex: number,
    keys: Record<string, Value__Output>,
    features: Record<string, Value__Output>,
    eventMillis: number,
    cells: number,
  ): Promise<void> => {
    const row: FeatureRow__Output = {
      entity_keys: keys,
      features,
      event_timestamp: { seconds: String(Math.floor(eventMillis / 1000)), nanos: (eventMillis % 1000) * 1_000_000 },
    };
    const validated = validateRow(view, row, 'row', Date.now(), options.policy);
    if (validated.kind === 'expired') state.counts.expired += cells;
    else await push(state, rangeIndex, validated.row);
  };

  let lastEntityKey = '';
  let lastKeys: Record<string, Value__Output> | Error = new Error('no key yet');
  const emit = async (state: RangeState, rangeIndex: number, group: Group) => {
    if (group.entityKey !== lastEntityKey) {
      lastEntityKey = group.entityKey;
      try {
        lastKeys = decodeFeastEntityKey(group.entityKey, version, feast.joinKeys);
      } catch (error) {
        lastKeys = error as Error;
      }
    }
    const keys = lastKeys;
    if (keys instanceof Error) {
      for (const cell of group.cells) reject(state, group.entityKey, cell, group.eventMillis, keys.message);
      return;
    }
    const features: Record<string, Value__Output> = {};
    const good: Cell[] = [];
    for (const cell of group.cells) {
      try {
        features[cell.feature] = feastCellValue(cell.value);
        good.push(cell);
      } catch (error) {
        reject(state, group.entityKey, cell, group.eventMillis, (error as Error).message);
      }
    }
    if (good.length === 0) return;
    try {
      await pushRow(state, rangeIndex, keys, features, group.eventMillis, good.length);
    } catch (error) {
      if (!(error instanceof CassetteError) || error.status !== 'INVALID_ARGUMENT') throw error;
      if (good.length === 1) return reject(state, group.entityKey, good[0]!, group.eventMillis, error.message);
      // One bad cell must not cost the others: each is tried on its own.
      for (const cell of good) {
        try {
          await pushRow(state, rangeIndex, keys, { [cell.feature]: features[cell.feature]! }, group.eventMillis, 1);
        } catch (cellError) {
          if (!(cellError instanceof CassetteError) || cellError.status !== 'INVALID_ARGUMENT') throw cellError;
          reject(state, group.entityKey, cell, group.eventMillis, cellError.message);
        }
      }
    }
  };

  const readPage = async (range: TokenRange, pageState: string | undefined): Promise<cassandra.types.ResultSet> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.client.execute(query, [range.start, range.end], {
          prepare: true,
          fetchSize: options.pageSize,
          readTimeout: options.readTimeoutMs,
          isIdempotent: true,
          ...(pageState !== undefined ? { pageState } : {}),
        });
      } catch (error) {
        if (attempt >= READ_ATTEMPTS || !isTransientReadError(error)) throw error;
        deps.logger.warn({ err: error, attempt, table }, 'a read of Feast rows failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  };

  let interrupted = false;
  const migrateRange = async (slot: number): Promise<void> => {
    const rangeIndex = todo[slot]!;
    if (run.stopRequested()) {
      interrupted = true;
      return;
    }
    let drained!: () => void;
    const allWritten = new Promise<void>((resolve) => (drained = resolve));
    const state: RangeState = { counts: zeroCounts(), rejects: [], outstanding: 0, readDone: false, drained };
    states.set(rangeIndex, state);
    run.live.add(state);
    try {
      let group: Group | undefined;
      let pageState: string | undefined;
      do {
        const page = await readPage(ranges[rangeIndex]!, pageState);
        for (const row of page.rows) {
          state.counts.read++;
          const feature = row['feature_name'] as string;
          if (!view.featureIndex.has(feature)) {
            state.counts.skipped++;
            continue;
          }
          const entityKey = row['entity_key'] as string;
          const eventTs = row['event_ts'] as Date | null;
          const cell: Cell = { feature, value: row['value'] as Buffer | null };
          if (eventTs === null) {
            reject(state, entityKey, cell, null, 'the row has no event_ts');
            continue;
          }
          const eventMillis = eventTs.getTime();
          if (group && (group.entityKey !== entityKey || group.eventMillis !== eventMillis)) {
            await emit(state, rangeIndex, group);
            group = undefined;
          }
          group ??= { entityKey, eventMillis, cells: [] };
          group.cells.push(cell);
        }
        pageState = page.pageState ?? undefined;
        if (pageState && run.stopRequested()) {
          interrupted = true;
          return;
        }
      } while (pageState);
      if (group) await emit(state, rangeIndex, group);
      state.readDone = true;
      if (state.outstanding > 0) await Promise.race([allWritten, failed]);
      // Whole: its rejects, counts and place in the checkpoint go in together.
      for (const entry of state.rejects) run.rejects.append(entry);
      addCounts(run.totals, state.counts);
      run.done.add(rangeIndex);
    } finally {
      run.live.delete(state);
    }
  };

  let failure: { error: unknown } | undefined;
  try {
    await runBounded(todo.length, options.readConcurrency, migrateRange);
  } catch (error) {
    failure = { error };
  }
  // Nothing of this sink may still be running when the view is left; a failed write's own error
  // (rather than the ranges' "a write failed") says what went wrong.
  try {
    await sink.flush();
  } catch (error) {
    failure = { error };
  }
  if (failure) throw failure.error;
  return interrupted;
}
