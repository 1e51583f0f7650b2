import type { Logger } from '../observability/logger.js';
import type { FeatureViewDef } from '../registry/index.js';
import type { WritePolicy } from '../write/index.js';
import { CheckpointKeeper } from './checkpoint.js';
import { RejectLimitError } from './errors.js';
import type { EventTimeUnit } from './event-time.js';
import type { MappingOptions } from './mapping.js';
import type { RejectLimit } from './max-rejects.js';
import type { ProgressReporter, ProgressSample } from './progress.js';
import { RecordLoop, rowContext } from './record-loop.js';
import { setUpJob, startRun } from './setup.js';
import type { OpenImportSink } from './sinks/sink.js';
import { isRecordError, type FileFormat } from './sources/source.js';
import { summarizeRun, type ImportStatus, type ImportSummary, type RunFacts } from './summary.js';
import { WatermarkTracker } from './watermark.js';

/** Where the rows go: this process writes them to a keyspace, or a server at `address` does. */
export type ImportTarget =
  { readonly kind: 'cassandra'; readonly keyspace: string } | { readonly kind: 'server'; readonly address: string };

export interface ImportJobOptions {
  readonly files: readonly string[];
  readonly view: FeatureViewDef;
  /** Recorded in the checkpoint: a job resumes only against the same target. */
  readonly target: ImportTarget;
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

export interface ImportJobDeps {
  /** Opens the sink for `options.target` (sinks/); not called for a dry run. */
  readonly openSink: OpenImportSink;
  readonly logger: Logger;
  readonly progress?: ProgressReporter;
  /** Given the job's progress counters once it starts, e.g. to serve them as metrics. */
  readonly watchProgress?: (sample: () => ProgressSample) => void;
  /** True once the job should stop (Ctrl-C): it saves its checkpoint and returns. */
  readonly stopRequested?: () => boolean;
}

/**
 * Runs the resumable file import job: streams every input, converts and validates each record
 * against the view, pushes valid rows to the sink, sends bad records to the reject file, and
 * keeps a checkpoint at the low watermark so a job killed at any point resumes where it stood.
 */
export async function runImportJob(options: ImportJobOptions, deps: ImportJobDeps): Promise<ImportSummary> {
  const startedMs = Date.now();
  const { logger } = deps;
  const setup = setUpJob(options);
  const facts: RunFacts = {
    view: options.view.name,
    files: setup.inputs.length,
    startedMs,
    resumed: setup.resumed !== undefined,
    dryRun: options.dryRun,
    rejectsPath: setup.rejectsPath,
    checkpointPath: setup.checkpointPath,
  };
  if (setup.resumed?.finished) {
    logger.info({ checkpoint: setup.checkpointPath }, 'the job already finished; nothing to do');
    return summarizeRun(facts, 'already finished', setup.resumed.counts, 0, setup.resumed.failure);
  }

  const start = startRun(setup, startedMs, logger);
  const tracker = new WatermarkTracker(start.mark);
  const checkpoint = new CheckpointKeeper(
    setup.checkpointPath,
    {
      settings: setup.settings,
      inputs: setup.inputs,
      startedAt: start.startedAt,
      startedAtMicros: start.startedAtMicros,
      runs: start.runs,
      rejectsFile: setup.rejectsPath,
    },
    tracker,
    start.rejects,
  );
  checkpoint.save();
  checkpoint.saveEvery(options.checkpointIntervalMs, (error) =>
    logger.error({ err: error }, 'cannot write the checkpoint'),
  );

  const sink = options.dryRun ? null : deps.openSink((tag) => tracker.complete(tag));
  const loop = new RecordLoop({
    inputs: setup.inputs,
    from: start.mark,
    view: options.view,
    policy: options.policy,
    rowContext: rowContext(setup.resolver, options, start.startedAtMicros, logger),
    sink,
    tracker,
    rejects: start.rejects,
    maxRejects: options.maxRejects,
    maxOutstanding: options.maxOutstanding,
    stopRequested: deps.stopRequested,
    logger,
    eventTimeColumn: options.mapping.eventTimeColumn,
    startedAt: start.startedAt,
  });
  deps.progress?.start(() => loop.progress());
  deps.watchProgress?.(() => loop.progress());

  let status: ImportStatus = 'failed'; // unless the loop returns
  let failure: string | undefined;
  try {
    status = await loop.run();
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    if (!(error instanceof RejectLimitError) && !isRecordError(error)) {
      logger.error({ err: error }, 'the ingestion job failed');
    }
    // Let the writes in flight settle, so the checkpoint covers all that was written.
    await sink?.flush().catch(() => undefined);
  } finally {
    checkpoint.stopSaving();
    deps.progress?.stop();
  }

  // A job that failed only once it had read everything still counts as finished.
  const finished = tracker.watermark.file >= setup.inputs.length;
  try {
    checkpoint.save(finished, failure);
  } finally {
    start.rejects.close();
  }
  return summarizeRun(facts, status, tracker.watermark.counts, loop.recordsRead, failure);
}
