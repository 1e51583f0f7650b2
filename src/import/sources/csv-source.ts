import type { RecordRow } from '../../write/index.js';
import { CsvParser, type CsvRecord } from './csv-parser.js';
import { eventTimeFromText } from '../event-time.js';
import { planColumns, type ColumnPlan, type ColumnTarget } from '../mapping.js';
import {
  newRecord,
  placeFeature,
  placeKey,
  readChunks,
  RejectedRecord,
  START,
  truncateRaw,
  type ChunkReader,
  type FileKind,
  type Source,
  type Position,
  type RecordBatch,
  type RecordLocation,
  type RowContext,
} from './source.js';

/**
 * CSV cells: an unquoted empty cell leaves the feature as it is (nothing is written for it);
 * an unquoted \N clears it (null); everything else is converted by its codec's text door
 * (storedFromText). A quoted cell is always text, so "" is an empty string and "\N" the two
 * characters.
 */
export const CSV_NULL = '\\N';

class CsvBatch implements RecordBatch {
  constructor(
    private readonly records: CsvRecord[],
    /** How errors name each column. */
    private readonly wheres: readonly string[],
    private readonly targets: readonly (ColumnTarget | null)[],
    private readonly ctx: RowContext,
  ) {}

  get size(): number {
    return this.records.length;
  }

  toRow(i: number): RecordRow {
    const record = this.records[i]!;
    if (record.error !== undefined) throw new RejectedRecord(record.error);
    const { fields, quoted } = record;
    const targets = this.targets;
    if (fields.length !== targets.length) {
      throw new RejectedRecord(`expected ${targets.length} fields (as in the header), got ${fields.length}`);
    }
    const row = newRecord(this.ctx);
    for (let j = 0; j < fields.length; j++) {
      const target = targets[j];
      if (!target) continue;
      const cell = fields[j]!;
      const where = this.wheres[j]!;
      if (!quoted[j]) {
        if (cell === '') continue;
        if (cell === CSV_NULL) {
          if (target.kind === 'key') placeKey(row, target, null);
          else if (target.kind === 'feature') placeFeature(row, target, null);
          continue;
        }
      }
      if (target.kind === 'key') placeKey(row, target, target.codec.fromTextValue(cell, where));
      else if (target.kind === 'feature') placeFeature(row, target, target.codec.fromTextValue(cell, where));
      else row.eventTimeMicros = eventTimeFromText(cell, this.ctx.eventTimeUnit, where);
    }
    return row;
  }

  locate(i: number): RecordLocation {
    return { line: this.records[i]!.line };
  }

  resumeAt(i: number): Position {
    const record = this.records[i]!;
    return { offset: record.end, line: record.endLine };
  }

  rawText(i: number): string {
    return truncateRaw(this.records[i]!.raw.toString('utf8'));
  }
}

export interface CsvSource extends Source {
  readonly columns: readonly string[];
  readonly plan: ColumnPlan;
}

/**
 * Opens a CSV file: reads its header (the first record), plans its columns (failing before any
 * row is read if they do not fit the view) and streams records from `start`.
 */
export async function openCsvSource(
  path: string,
  kind: FileKind,
  start: Position,
  ctx: RowContext,
): Promise<CsvSource> {
  const parserAt = (position: Position) =>
    new CsvParser({
      delimiter: ctx.delimiter,
      maxRecordBytes: ctx.maxRecordBytes,
      startOffset: position.offset,
      startLine: position.line,
    });
  let reader: ChunkReader = readChunks(path, kind.gzip, 0);
  let parser = parserAt(START);
  const early: CsvRecord[] = [];
  let header: CsvRecord | undefined;
  const iterator = reader.chunks[Symbol.asyncIterator]();
  try {
    while (!header) {
      const next = await iterator.next();
      const records = next.done ? parser.end() : parser.push(next.value as Buffer);
      header = records[0];
      if (header) early.push(...records.slice(1));
      if (next.done) break;
    }
  } catch (error) {
    reader.close();
    throw error;
  }
  if (header?.error !== undefined) {
    reader.close();
    throw new RejectedRecord(`${path}: line ${header.line}: cannot read the header: ${header.error}`);
  }
  const columns = header ? header.fields : [];
  const plan = header ? planColumns(columns, ctx.resolver) : { targets: [], ignored: [], hasEventTime: false };
  const headerEnd = header?.end ?? 0;

  let fromStart = start.offset <= headerEnd;
  if (!fromStart) {
    reader.close();
    reader = readChunks(path, kind.gzip, start.offset);
    parser = parserAt(start);
  }

  return {
    columns,
    plan,
    bytesDone: () => reader.bytesRead(),
    close: async () => reader.close(),
    batches: async function* () {
      if (!header) return;
      try {
        const wheres = columns.map((column) => `column "${column}"`);
        const make = (records: CsvRecord[]) => new CsvBatch(records, wheres, plan.targets, ctx);
        if (fromStart && early.length > 0) yield make(early.splice(0));
        const chunks = fromStart ? { [Symbol.asyncIterator]: () => iterator } : reader.chunks;
        fromStart = false;
        for await (const chunk of chunks) {
          const records = parser.push(chunk as Buffer);
          if (records.length > 0) yield make(records);
        }
        const last = parser.end();
        if (last.length > 0) yield make(last);
      } finally {
        reader.close();
      }
    },
  };
}
