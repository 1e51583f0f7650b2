import type { Logger } from '../observability/logger.js';
import type { FeatureViewDef } from '../registry/index.js';
import { validateRecord, type WritePolicy } from '../write/index.js';
import type { InputFile } from './checkpoint.js';
import { RejectLimitError } from './errors.js';
import type { ImportJobOptions } from './job.js';
import type { ColumnResolver } from './mapping.js';
import { rejectLimitExceeded, type RejectLimit } from './max-rejects.js';
import type { ProgressSample } from './progress.js';
import type { RejectWriter } from './rejects.js';
import type { ImportSink } from './sinks/sink.js';
import { openSource } from './sources/index.js';
import { isRecordError, START, type Position, type RowContext, type Source } from './sources/source.js';
import { Outcome, type Watermark, type WatermarkTracker } from './watermark.js';

export interface RecordLoopOptions {
  readonly inputs: readonly InputFile[];
  /** Where reading starts: the watermark the tracker started from. */
  readonly from: Watermark;
  readonly view: FeatureViewDef;
  readonly policy: WritePolicy;
  readonly rowContext: RowContext;
  /** null: a dry run, rows are validated and counted as written. */
  readonly sink: ImportSink | null;
  readonly tracker: WatermarkTracker;
  readonly rejects: RejectWriter;
  readonly maxRejects: RejectLimit | undefined;
  /** Records read but not yet passed by the watermark, at most. */
  readonly maxOutstanding: number;
  readonly stopRequested: (() => boolean) | undefined;
  readonly logger: Logger;
  /** For the note on a file without an event-time column. */
  readonly eventTimeColumn: string;
  readonly startedAt: string;
}

/**
 * The job's record loop: reads every input from the watermark on, turns each record into a row
 * and validates it, pushes valid rows to the sink (waiting when it pushes back, so memory stays
 * flat), sends bad records to the reject file, and hands every record to the watermark tracker
 * in read order.
 */
export class RecordLoop {
  /** Counted as records are read (the watermark's counts trail behind): the reject limit and progress use these. */
  private read: number;
  private rejected: number;
  private expired: number;
  private readonly readBefore: number;
  /** Bytes of the files finished, and the file being read. */
  private bytesBefore: number;
  private current: Source | undefined;
  private readonly bytesTotal: number;

  constructor(private readonly job: RecordLoopOptions) {
    const { counts } = job.from;
    this.read = counts.read;
    this.rejected = counts.rejected;
    this.expired = counts.expired;
    this.readBefore = counts.read;
    this.bytesTotal = job.inputs.reduce((sum, input) => sum + input.size, 0);
    this.bytesBefore = job.inputs.slice(0, job.from.file).reduce((sum, input) => sum + input.size, 0);
  }

  /** Records read by this run. */
  get recordsRead(): number {
    return this.read - this.readBefore;
  }

  progress(): ProgressSample {
    return {
      rowsRead: this.read,
      rowsWritten: this.job.tracker.watermark.counts.written,
      rejected: this.rejected,
      expired: this.expired,
      bytesDone: this.bytesBefore + (this.current?.bytesDone() ?? 0),
      bytesTotal: this.bytesTotal,
    };
  }

  /**
   * Reads to the end of the inputs ('finished') or until a stop is requested ('interrupted'),
   * then flushes the sink. Throws when the job fails: a write failed for good, the reject limit
   * was passed, a file could not be read.
   */
  async run(): Promise<'finished' | 'interrupted'> {
    const { inputs, from, sink, maxRejects } = this.job;
    let interrupted = false;
    for (let f = from.file; f < inputs.length; f++) {
      const start: Position = f === from.file ? { offset: from.offset, line: from.line } : START;
      if (!(await this.readFile(f, start))) {
        interrupted = true;
        break;
      }
    }
    await sink?.flush();
    if (interrupted) return 'interrupted';
    const exceeded = rejectLimitExceeded(maxRejects, this.rejected, this.read, true);
    if (exceeded) throw new RejectLimitError(exceeded);
    return 'finished';
  }

  /** Reads file `f` from `start`; false when a stop was requested before its end. */
  private async readFile(f: number, start: Position): Promise<boolean> {
    const { inputs, view, policy, sink, tracker, rejects, maxRejects, maxOutstanding, stopRequested } = this.job;
    const input = inputs[f]!;
    const source = await openSource(input, start, this.job.rowContext);
    this.current = source;
    this.noteOpened(input, source, start);
    try {
      for await (const batch of source.batches()) {
        const now = Date.now();
        for (let i = 0; i < batch.size; i++) {
          if (stopRequested?.()) return false;
          const at = batch.resumeAt(i);
          this.read++;
          let validated;
          try {
            validated = validateRecord(view, batch.toRow(i), 'row', now, policy);
          } catch (error) {
            if (!isRecordError(error)) throw error;
            rejects.append({
              file: input.path,
              location: batch.locate(i),
              reason: error.message,
              record: batch.rawText(i),
            });
            this.rejected++;
            tracker.add(f, at.offset, at.line, rejects.bytes, Outcome.Rejected);
            const exceeded = rejectLimitExceeded(maxRejects, this.rejected, this.read, false);
            if (exceeded) throw new RejectLimitError(exceeded);
            continue;
          }
          if (validated.kind === 'expired') {
            this.expired++;
            tracker.add(f, at.offset, at.line, rejects.bytes, Outcome.Expired);
            continue;
          }
          const tag = tracker.add(f, at.offset, at.line, rejects.bytes, Outcome.Pending);
          if (sink) {
            const wait = sink.push(validated.row, tag);
            if (wait) await wait;
          } else {
            tracker.complete(tag);
          }
          if (tracker.outstanding > maxOutstanding) await tracker.outstandingAtMost(maxOutstanding / 2);
        }
      }
    } finally {
      await source.close();
    }
    this.bytesBefore += input.size;
    this.current = undefined;
    tracker.add(f + 1, 0, 0, rejects.bytes, Outcome.FileEnd);
    return true;
  }

  private noteOpened(input: InputFile, source: Source, start: Position): void {
    const { logger } = this.job;
    const { plan } = source;
    if (plan) {
      if (plan.ignored.length > 0) logger.warn({ file: input.path, columns: plan.ignored }, 'ignoring unknown columns');
      if (!plan.hasEventTime) {
        logger.info(
          { file: input.path, eventTimeColumn: this.job.eventTimeColumn, eventTime: this.job.startedAt },
          "no event-time column: the file's rows take the job's start time",
        );
      }
    }
    if (start !== START) logger.info({ file: input.path, ...start }, 'resuming');
  }
}

/** How records become rows in this run: the column resolver, the event-time rules and limits. */
export function rowContext(
  resolver: ColumnResolver,
  options: Pick<ImportJobOptions, 'eventTimeUnit' | 'maxRecordBytes' | 'delimiter'>,
  startedAtMicros: number,
  logger: Logger,
): RowContext {
  const warned = new Set<string>();
  return {
    resolver,
    eventTimeUnit: options.eventTimeUnit,
    defaultEventMicros: BigInt(startedAtMicros),
    maxRecordBytes: options.maxRecordBytes,
    delimiter: options.delimiter,
    onIgnoredColumn: (column: string) => {
      if (warned.has(column) || warned.size >= 20) return;
      warned.add(column);
      logger.warn({ column }, 'ignoring a field that is neither a join key nor a feature (--ignore-unknown-columns)');
    },
  };
}
