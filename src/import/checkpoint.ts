import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

import { CassetteError } from '../errors/index.js';
import type { EventTimeUnit } from './event-time.js';
import type { FileFormat } from './sources/source.js';
import type { Counts, Watermark } from './watermark.js';

/** An input as the job saw it: a changed file cannot be resumed. */
export interface InputFile {
  /** Absolute path. */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly format: FileFormat;
  readonly gzip: boolean;
}

/** Everything that decides what a record becomes: a resumed job must use the same. */
export interface JobSettings {
  readonly view: string;
  readonly keyspace: string;
  readonly maps: readonly (readonly [string, string])[];
  readonly eventTimeColumn: string;
  readonly eventTimeUnit: EventTimeUnit;
  readonly ignoreUnknownColumns: boolean;
  readonly delimiter: string;
}

/** Per-file progress, for people reading the checkpoint (the job resumes from `position`). */
export interface FileProgress {
  readonly path: string;
  readonly state: 'done' | 'in progress' | 'not started';
  /** Text formats: bytes and lines done. */
  readonly offset?: number;
  readonly line?: number;
  /** Parquet: rows done. */
  readonly rows?: number;
}

export const CHECKPOINT_VERSION = 1;

export interface Checkpoint {
  readonly version: typeof CHECKPOINT_VERSION;
  readonly settings: JobSettings;
  readonly inputs: readonly InputFile[];
  /** When the job first started; rows without an event time get this time, on every run. */
  readonly startedAt: string;
  readonly startedAtMicros: number;
  readonly updatedAt: string;
  readonly runs: number;
  /** The low watermark: every record before it is written, rejected or expired. */
  readonly position: { readonly file: number; readonly offset: number; readonly line: number };
  readonly files: readonly FileProgress[];
  readonly counts: Counts;
  readonly rejectsFile: string;
  /** The reject file's length at the watermark. */
  readonly rejectsBytes: number;
  readonly finished: boolean;
  /** Why the job stopped, when it failed. */
  readonly failure?: string;
}

export function fileProgress(inputs: readonly InputFile[], watermark: Watermark): FileProgress[] {
  return inputs.map((input, i) => {
    if (i < watermark.file) return { path: input.path, state: 'done' };
    if (i > watermark.file || (watermark.offset === 0 && watermark.line === 0)) {
      return { path: input.path, state: 'not started' };
    }
    return input.format === 'parquet'
      ? { path: input.path, state: 'in progress', rows: watermark.offset }
      : { path: input.path, state: 'in progress', offset: watermark.offset, line: watermark.line };
  });
}

/** Writes the checkpoint atomically (a temporary file, synced, renamed over the old one). */
export function writeCheckpoint(path: string, checkpoint: Checkpoint): void {
  writeJsonAtomically(path, checkpoint);
}

/** Writes `value` as JSON so that `path` always holds a whole file: the old one or the new one. */
export function writeJsonAtomically(path: string, value: unknown): void {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, 'w');
  try {
    const data = Buffer.from(JSON.stringify(value, null, 2) + '\n');
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export class CheckpointError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_CHECKPOINT', message);
    this.name = 'CheckpointError';
  }
}

/** A checkpoint file's JSON, or undefined when there is none. */
export function readCheckpointJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CheckpointError(`the checkpoint ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function readCheckpoint(path: string): Checkpoint | undefined {
  const parsed = readCheckpointJson(path);
  if (parsed === undefined) return undefined;
  const checkpoint = parsed as Partial<Checkpoint>;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    checkpoint.version !== CHECKPOINT_VERSION ||
    !Array.isArray(checkpoint.inputs) ||
    typeof checkpoint.position?.file !== 'number' ||
    typeof checkpoint.startedAtMicros !== 'number' ||
    typeof checkpoint.counts?.read !== 'number' ||
    typeof checkpoint.rejectsBytes !== 'number' ||
    typeof checkpoint.settings?.view !== 'string'
  ) {
    throw new CheckpointError(`${path} is not a cassette ingest checkpoint (version ${CHECKPOINT_VERSION})`);
  }
  return checkpoint as Checkpoint;
}

/**
 * Why `checkpoint` cannot be resumed with these inputs and settings, or null when it can.
 * Every difference is listed.
 */
export function resumeProblems(
  checkpoint: Checkpoint,
  inputs: readonly InputFile[],
  settings: JobSettings,
): string | null {
  const problems: string[] = [];
  const before = checkpoint.inputs;
  if (before.length !== inputs.length || before.some((input, i) => input.path !== inputs[i]!.path)) {
    problems.push(
      `the inputs differ: the checkpoint has ${before.map((i) => i.path).join(', ')}; given ${inputs.map((i) => i.path).join(', ')}`,
    );
  } else {
    inputs.forEach((input, i) => {
      const old = before[i]!;
      if (old.size !== input.size) problems.push(`${input.path} changed size (${old.size} -> ${input.size} bytes)`);
      else if (old.mtimeMs !== input.mtimeMs) {
        problems.push(
          `${input.path} was modified (${new Date(old.mtimeMs).toISOString()} -> ${new Date(input.mtimeMs).toISOString()})`,
        );
      }
    });
  }
  problems.push(...settingDifferences(checkpoint.settings, settings));
  return problems.length > 0 ? problems.join('; ') : null;
}

/** Each setting whose value differs between a checkpoint's and this run's, as "key was X, now Y". */
export function settingDifferences<T extends object>(before: T, now: T): string[] {
  const differences: string[] = [];
  for (const key of Object.keys(now) as (keyof T & string)[]) {
    const was = JSON.stringify(before[key]);
    const is = JSON.stringify(now[key]);
    if (was !== is) differences.push(`${key} was ${was}, now ${is}`);
  }
  return differences;
}

/** The parts of a checkpoint that stay the same for a whole run. */
export type CheckpointBasis = Pick<
  Checkpoint,
  'settings' | 'inputs' | 'startedAt' | 'startedAtMicros' | 'runs' | 'rejectsFile'
>;

/**
 * Keeps a run's checkpoint at the low watermark: on demand, and every interval while the run
 * reads, each time only if the watermark moved. A null path (a dry run) keeps none.
 */
export class CheckpointKeeper {
  private saved: Watermark | undefined;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string | null,
    private readonly basis: CheckpointBasis,
    private readonly progress: { readonly watermark: Watermark },
    /** The reject file, which must hold at least what a checkpoint says it does. */
    private readonly rejects: { sync(): void },
  ) {}

  save(finished = false, failure?: string): void {
    if (!this.path) return;
    const watermark = this.progress.watermark;
    if (!finished && failure === undefined && watermark === this.saved) return;
    this.rejects.sync();
    writeCheckpoint(this.path, {
      version: CHECKPOINT_VERSION,
      settings: this.basis.settings,
      inputs: this.basis.inputs,
      startedAt: this.basis.startedAt,
      startedAtMicros: this.basis.startedAtMicros,
      updatedAt: new Date().toISOString(),
      runs: this.basis.runs,
      position: { file: watermark.file, offset: watermark.offset, line: watermark.line },
      files: fileProgress(this.basis.inputs, watermark),
      counts: watermark.counts,
      rejectsFile: this.basis.rejectsFile,
      rejectsBytes: watermark.rejectBytes,
      finished,
      ...(failure !== undefined ? { failure } : {}),
    });
    this.saved = watermark;
  }

  /** Saves every `intervalMs` until stopSaving(); a failed save is reported and retried next time. */
  saveEvery(intervalMs: number, onError: (error: unknown) => void): void {
    this.ticker = setInterval(() => {
      try {
        this.save();
      } catch (error) {
        onError(error);
      }
    }, intervalMs);
    this.ticker.unref();
  }

  stopSaving(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
