import { statSync } from 'node:fs';
import { resolve } from 'node:path';

import { CassetteError } from '../errors/index.js';
import type { FeatureRow__Output } from '../generated/cassette/v1/FeatureRow.js';
import { validateRow, type WritePolicy, type WriteRow } from '../write/index.js';
import type { Logger } from '../observability/logger.js';
import type { FeatureViewDef } from '../registry/index.js';
import {
  CheckpointError,
  fileProgress,
  readCheckpoint,
  resumeProblems,
  writeCheckpoint,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type InputFile,
  type JobSettings,
} from './checkpoint.js';
import { openCsvSource } from './sources/csv-source.js';
import { timestampFromMicros, type EventTimeUnit } from './event-time.js';
import { openJsonlSource } from './sources/jsonl-source.js';
import { ColumnResolver, type ColumnPlan, type MappingOptions } from './mapping.js';
import { rejectLimitExceeded, type RejectLimit } from './max-rejects.js';
import { openParquetSource } from './sources/parquet-source.js';
import type { ProgressReporter } from './progress.js';
import { RejectWriter } from './rejects.js';
import {
  detectFormat,
  isRecordError,
  START,
  type FileFormat,
  type FileSource,
  type Position,
  type RowContext,
} from './sources/source.js';
import { Outcome, WatermarkTracker, type Counts, type Watermark } from './watermark.js';

/** Where rows go: the shared write path (src/ingest/sink.ts) or anything with its shape. */
export interface RowWriter {
  /**
   * null: taken, room for more; a promise: wait for it before pushing more. Throws once a write
   * failed for good. `source` is the row before validation (for writers that send it on).
   */
  push(row: WriteRow, tag: number, source?: FeatureRow__Output): Promise<void> | null;
  /** Resolves when every pushed row is written. */
  flush(): Promise<void>;
}

export interface IngestJobOptions {
  readonly files: readonly string[];
  readonly view: FeatureViewDef;
  readonly keyspace: string;
  /** Overrides detection by extension. */
  readonly format?: FileFormat;
  readonly mapping: MappingOptions;
  readonly eventTimeUnit: EventTimeUnit;
  readonly delimiter: string;
  readonly rejectsPath?: string;
  readonly maxRejects?: RejectLimit;
  readonly checkpointPath?: string;
  readonly resume: boolean;
  /** Start over even if an unfinished checkpoint exists. */
  readonly restart: boolean;
  /** Validate only: nothing is written, no checkpoint is kept. */
  readonly dryRun: boolean;
  readonly policy: WritePolicy;
  readonly maxRecordBytes: number;
  readonly checkpointIntervalMs: number;
  /** Records read but not yet passed by the watermark, at most (bounds memory and rework after a crash). */
  readonly maxOutstanding: number;
}

export interface IngestDeps {
  /** Opens the write path; `onWritten(tag)` must be called once per row whose write succeeded. */
  openWriter(onWritten: (tag: number) => void): RowWriter;
  readonly logger: Logger;
  readonly progress?: ProgressReporter;
  /** True once the job should stop (Ctrl-C): it saves its checkpoint and returns. */
  readonly stopRequested?: () => boolean;
}

export type IngestStatus = 'finished' | 'already finished' | 'failed' | 'interrupted';

export interface IngestSummary {
  readonly status: IngestStatus;
  readonly view: string;
  readonly files: number;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly rowsRejected: number;
  readonly rowsExpired: number;
  /** Duration of this run. */
  readonly durationMs: number;
  /** Records processed by this run per second. */
  readonly rowsPerSecond: number;
  readonly peakRssBytes: number;
  readonly resumed: boolean;
  readonly dryRun: boolean;
  readonly rejectsFile: string | null;
  readonly checkpointFile: string | null;
  readonly error?: string;
}

/** A problem with the job's setup, reported before anything is written. */
export class IngestSetupError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_INGEST_SETUP', message);
    this.name = 'IngestSetupError';
  }
}

export function defaultCheckpointPath(firstFile: string, view: string): string {
  return `${resolve(firstFile)}.${view}.checkpoint.json`;
}

export function defaultRejectsPath(firstFile: string, view: string): string {
  return `${resolve(firstFile)}.${view}.rejects.jsonl`;
}

function describeInputs(files: readonly string[], format: FileFormat | undefined): InputFile[] {
  if (files.length === 0) throw new IngestSetupError('give at least one input file');
  return files.map((file) => {
    const path = resolve(file);
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      throw new IngestSetupError(`cannot read ${file}: ${(error as Error).message}`);
    }
    if (!stat.isFile()) throw new IngestSetupError(`${file} is not a file`);
    const kind = detectFormat(path, format);
    return { path, size: stat.size, mtimeMs: stat.mtimeMs, format: kind.format, gzip: kind.gzip };
  });
}

const ZERO: Counts = { read: 0, written: 0, rejected: 0, expired: 0 };

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Runs one ingestion job: streams every input, converts and validates each record against
 * the view, pushes valid rows to the writer (waiting when it pushes back, so memory stays flat),
 * sends bad records to the reject file, and keeps a checkpoint at the low watermark so a job
 * killed at any point resumes where it stood.
 */
export async function runIngestJob(options: IngestJobOptions, deps: IngestDeps): Promise<IngestSummary> {
  const started = Date.now();
  const { logger } = deps;
  const { view } = options;
  const inputs = describeInputs(options.files, options.format);
  const settings: JobSettings = {
    view: view.name,
    keyspace: options.keyspace,
    maps: [...options.mapping.maps.entries()],
    eventTimeColumn: options.mapping.eventTimeColumn,
    eventTimeUnit: options.eventTimeUnit,
    ignoreUnknownColumns: options.mapping.ignoreUnknown,
    delimiter: options.delimiter,
  };
  const checkpointPath = options.dryRun
    ? null
    : (options.checkpointPath ?? defaultCheckpointPath(inputs[0]!.path, view.name));
  const rejectsPath = options.rejectsPath
    ? resolve(options.rejectsPath)
    : defaultRejectsPath(inputs[0]!.path, view.name);
  const resolver = new ColumnResolver(view, options.mapping);

  // Where to start: a fresh job, or the watermark of a checkpoint.
  let previous: Checkpoint | undefined;
  if (checkpointPath) {
    previous = readCheckpoint(checkpointPath);
    if (options.resume) {
      if (!previous) throw new IngestSetupError(`--resume: there is no checkpoint at ${checkpointPath}`);
      const problems = resumeProblems(previous, inputs, settings);
      if (problems) throw new CheckpointError(`cannot resume from ${checkpointPath}: ${problems}`);
    } else if (previous && !previous.finished && !options.restart) {
      throw new IngestSetupError(
        `an unfinished job left a checkpoint at ${checkpointPath} ` +
          `(${previous.counts.read} records done); pass --resume to continue it or --restart to start over`,
      );
    }
  } else if (options.resume) {
    throw new IngestSetupError('--resume cannot be combined with --dry-run');
  }
  const resuming = options.resume && previous !== undefined;

  const summarize = (status: IngestStatus, counts: Counts, runRecords: number, error?: string): IngestSummary => {
    const durationMs = Date.now() - started;
    return {
      status,
      view: view.name,
      files: inputs.length,
      rowsRead: counts.read,
      rowsWritten: counts.written,
      rowsRejected: counts.rejected,
      rowsExpired: counts.expired,
      durationMs,
      rowsPerSecond: durationMs > 0 ? Math.round((runRecords / durationMs) * 1000) : 0,
      peakRssBytes: peakRssBytes(),
      resumed: resuming,
      dryRun: options.dryRun,
      rejectsFile: counts.rejected > 0 ? rejectsPath : null,
      checkpointFile: checkpointPath,
      ...(error !== undefined ? { error } : {}),
    };
  };

  if (resuming && previous!.finished) {
    logger.info({ checkpoint: checkpointPath }, 'the job already finished; nothing to do');
    return summarize('already finished', previous!.counts, 0, previous!.failure);
  }

  const startedAtMicros = resuming ? previous!.startedAtMicros : started * 1000;
  const startedAt = resuming ? previous!.startedAt : new Date(started).toISOString();
  const runs = (resuming ? previous!.runs : 0) + 1;
  const startMark: Watermark = resuming
    ? {
        file: previous!.position.file,
        offset: previous!.position.offset,
        line: previous!.position.line,
        rejectBytes: previous!.rejectsBytes,
        counts: { ...previous!.counts },
      }
    : { file: 0, offset: 0, line: 0, rejectBytes: 0, counts: { ...ZERO } };

  let rejects: RejectWriter;
  if (resuming) {
    const resumed = RejectWriter.resume(rejectsPath, startMark.rejectBytes);
    if (resumed.warning) logger.warn(resumed.warning);
    rejects = resumed.writer;
  } else {
    rejects = RejectWriter.fresh(rejectsPath);
  }

  const tracker = new WatermarkTracker(startMark);
  // Counted as records are read (the watermark's counts trail behind): the reject limit and
  // progress use these.
  const live = { read: startMark.counts.read, rejected: startMark.counts.rejected, expired: startMark.counts.expired };
  const runStartRead = live.read;

  const checkpointOf = (watermark: Watermark, finished: boolean, failure?: string): Checkpoint => ({
    version: CHECKPOINT_VERSION,
    settings,
    inputs,
    startedAt,
    startedAtMicros,
    updatedAt: new Date().toISOString(),
    runs,
    position: { file: watermark.file, offset: watermark.offset, line: watermark.line },
    files: fileProgress(inputs, watermark),
    counts: watermark.counts,
    rejectsFile: rejectsPath,
    rejectsBytes: watermark.rejectBytes,
    finished,
    ...(failure !== undefined ? { failure } : {}),
  });
  let saved: Watermark | undefined;
  const save = (finished = false, failure?: string) => {
    if (!checkpointPath) return;
    const watermark = tracker.watermark;
    if (!finished && failure === undefined && watermark === saved) return;
    // The reject file must hold at least what the checkpoint says it does.
    rejects.sync();
    writeCheckpoint(checkpointPath, checkpointOf(watermark, finished, failure));
    saved = watermark;
  };
  save();
  const ticker = setInterval(() => {
    try {
      save();
    } catch (error) {
      logger.error({ err: error }, 'cannot write the checkpoint');
    }
  }, options.checkpointIntervalMs);
  ticker.unref();

  const ctx: RowContext = {
    resolver,
    eventTimeUnit: options.eventTimeUnit,
    defaultEventTime: timestampFromMicros(BigInt(startedAtMicros)),
    maxRecordBytes: options.maxRecordBytes,
    delimiter: options.delimiter,
    onIgnoredColumn: (() => {
      const warned = new Set<string>();
      return (column: string) => {
        if (warned.has(column) || warned.size >= 20) return;
        warned.add(column);
        logger.warn({ column }, 'ignoring a field that is neither a join key nor a feature (--ignore-unknown-columns)');
      };
    })(),
  };

  const writer = options.dryRun ? null : deps.openWriter((tag) => tracker.complete(tag));
  const bytesTotal = inputs.reduce((sum, input) => sum + input.size, 0);
  let bytesBefore = inputs.slice(0, startMark.file).reduce((sum, input) => sum + input.size, 0);
  let current: FileSource | undefined;
  deps.progress?.start(() => ({
    rowsRead: live.read,
    rowsWritten: tracker.watermark.counts.written,
    rejected: live.rejected,
    expired: live.expired,
    bytesDone: bytesBefore + (current?.bytesDone() ?? 0),
    bytesTotal,
  }));

  let failure: string | undefined;
  let interrupted = false;
  try {
    for (let f = startMark.file; f < inputs.length; f++) {
      const input = inputs[f]!;
      const from: Position = f === startMark.file ? { offset: startMark.offset, line: startMark.line } : START;
      current = await openSource(input, from, ctx);
      const plan = (current as { plan?: ColumnPlan }).plan;
      if (plan) {
        if (plan.ignored.length > 0)
          logger.warn({ file: input.path, columns: plan.ignored }, 'ignoring unknown columns');
        if (!plan.hasEventTime) {
          logger.info(
            { file: input.path, eventTimeColumn: options.mapping.eventTimeColumn, eventTime: startedAt },
            "no event-time column: the file's rows take the job's start time",
          );
        }
      }
      if (from !== START) logger.info({ file: input.path, ...from }, 'resuming');
      try {
        for await (const batch of current.batches()) {
          const now = Date.now();
          for (let i = 0; i < batch.size; i++) {
            if (deps.stopRequested?.()) {
              interrupted = true;
              break;
            }
            const at = batch.resumeAt(i);
            live.read++;
            let validated;
            let source: FeatureRow__Output;
            try {
              source = batch.toRow(i);
              validated = validateRow(view, source, 'row', now, options.policy);
            } catch (error) {
              if (!isRecordError(error)) throw error;
              rejects.append({
                file: input.path,
                location: batch.locate(i),
                reason: error.message,
                record: batch.rawText(i),
              });
              live.rejected++;
              tracker.add(f, at.offset, at.line, rejects.bytes, Outcome.Rejected);
              const exceeded = rejectLimitExceeded(options.maxRejects, live.rejected, live.read, false);
              if (exceeded) throw new RejectLimitError(exceeded);
              continue;
            }
            if (validated.kind === 'expired') {
              live.expired++;
              tracker.add(f, at.offset, at.line, rejects.bytes, Outcome.Expired);
              continue;
            }
            const tag = tracker.add(f, at.offset, at.line, rejects.bytes, Outcome.Pending);
            if (writer) {
              const wait = writer.push(validated.row, tag, source);
              if (wait) await wait;
            } else {
              tracker.complete(tag);
            }
            if (tracker.outstanding > options.maxOutstanding)
              await tracker.outstandingAtMost(options.maxOutstanding / 2);
          }
          if (interrupted) break;
        }
      } finally {
        await current.close();
      }
      if (interrupted) break;
      bytesBefore += input.size;
      current = undefined;
      tracker.add(f + 1, 0, 0, rejects.bytes, Outcome.FileEnd);
    }
    await writer?.flush();
    if (!interrupted) {
      const exceeded = rejectLimitExceeded(options.maxRejects, live.rejected, live.read, true);
      if (exceeded) throw new RejectLimitError(exceeded);
    }
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    if (!(error instanceof RejectLimitError) && !isRecordError(error)) {
      logger.error({ err: error }, 'the ingestion job failed');
    }
    // Let the writes in flight settle, so the checkpoint covers all that was written.
    await writer?.flush().catch(() => undefined);
  } finally {
    clearInterval(ticker);
    deps.progress?.stop();
  }

  const done = failure === undefined && !interrupted;
  // A job that failed only once it had read everything still counts as finished.
  const finished = tracker.watermark.file >= inputs.length;
  try {
    save(finished, failure);
  } finally {
    rejects.close();
  }
  const counts = tracker.watermark.counts;
  const runRecords = live.read - runStartRead;
  if (failure !== undefined) return summarize('failed', counts, runRecords, failure);
  if (!done) return summarize('interrupted', counts, runRecords);
  return summarize('finished', counts, runRecords);
}

class RejectLimitError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_REJECT_LIMIT', message);
    this.name = 'RejectLimitError';
  }
}

async function openSource(input: InputFile, from: Position, ctx: RowContext): Promise<FileSource> {
  const kind = { format: input.format, gzip: input.gzip };
  switch (input.format) {
    case 'csv':
      return openCsvSource(input.path, kind, from, ctx);
    case 'jsonl':
      return openJsonlSource(input.path, kind, from, ctx);
    case 'parquet':
      return openParquetSource(input.path, from, ctx);
  }
}
