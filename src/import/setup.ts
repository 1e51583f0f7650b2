import { statSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Logger } from '../observability/logger.js';
import {
  CheckpointError,
  readCheckpoint,
  resumeProblems,
  type Checkpoint,
  type InputFile,
  type JobSettings,
} from './checkpoint.js';
import { IngestSetupError } from './errors.js';
import type { ImportJobOptions, ImportTarget } from './job.js';
import { ColumnResolver } from './mapping.js';
import { RejectWriter } from './rejects.js';
import { detectFormat, type FileFormat } from './sources/source.js';
import type { Watermark } from './watermark.js';

export function defaultCheckpointPath(firstFile: string, view: string): string {
  return `${resolve(firstFile)}.${view}.checkpoint.json`;
}

export function defaultRejectsPath(firstFile: string, view: string): string {
  return `${resolve(firstFile)}.${view}.rejects.jsonl`;
}

/**
 * How a checkpoint names the target, in `settings.keyspace` (the field kept its old name so that
 * checkpoints stay readable): a job resumes only against the same target.
 */
export function targetLabel(target: ImportTarget): string {
  return target.kind === 'cassandra' ? target.keyspace : `server ${target.address}`;
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

/** A job checked before anything is read or written. */
export interface JobSetup {
  readonly inputs: readonly InputFile[];
  readonly settings: JobSettings;
  readonly resolver: ColumnResolver;
  /** null for a dry run, which keeps no checkpoint. */
  readonly checkpointPath: string | null;
  readonly rejectsPath: string;
  /** The checkpoint this run continues (--resume); undefined for a fresh start. */
  readonly resumed: Checkpoint | undefined;
}

/**
 * Checks the inputs, the mapping and any checkpoint left by an earlier run: --resume needs one
 * that matches the inputs and settings, and a fresh start refuses to overwrite an unfinished one
 * unless --restart. Throws IngestSetupError or CheckpointError.
 */
export function setUpJob(options: ImportJobOptions): JobSetup {
  const { view } = options;
  const inputs = describeInputs(options.files, options.format);
  const settings: JobSettings = {
    view: view.name,
    keyspace: targetLabel(options.target),
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
  return {
    inputs,
    settings,
    resolver,
    checkpointPath,
    rejectsPath,
    resumed: options.resume ? previous : undefined,
  };
}

/** Where a run starts, and what it carries over from the runs before it. */
export interface RunStart {
  /** When the job first started (rows without an event time get this time on every run). */
  readonly startedAt: string;
  readonly startedAtMicros: number;
  /** Runs of the job so far, this one included. */
  readonly runs: number;
  /** The watermark to read from: the checkpoint's, or the start of the first file. */
  readonly mark: Watermark;
  readonly rejects: RejectWriter;
}

/**
 * Starts a run at `nowMs`: from the resumed checkpoint's watermark, with its reject file cut back
 * to the length the checkpoint recorded (the records after the watermark are read again), or
 * from the start with a fresh reject file.
 */
export function startRun(setup: JobSetup, nowMs: number, logger: Logger): RunStart {
  const previous = setup.resumed;
  if (!previous) {
    return {
      startedAt: new Date(nowMs).toISOString(),
      startedAtMicros: nowMs * 1000,
      runs: 1,
      mark: { file: 0, offset: 0, line: 0, rejectBytes: 0, counts: { read: 0, written: 0, rejected: 0, expired: 0 } },
      rejects: RejectWriter.fresh(setup.rejectsPath),
    };
  }
  const resumed = RejectWriter.resume(setup.rejectsPath, previous.rejectsBytes);
  if (resumed.warning) logger.warn(resumed.warning);
  return {
    startedAt: previous.startedAt,
    startedAtMicros: previous.startedAtMicros,
    runs: previous.runs + 1,
    mark: {
      file: previous.position.file,
      offset: previous.position.offset,
      line: previous.position.line,
      rejectBytes: previous.rejectsBytes,
      counts: { ...previous.counts },
    },
    rejects: resumed.writer,
  };
}
