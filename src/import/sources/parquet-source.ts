import { open, type FileHandle } from 'node:fs/promises';

import {
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type FileMetaData,
  type ParquetParsers,
} from 'hyparquet';

import { isoFromMicros } from '../../time/index.js';
import { ParquetTimestamp } from '../../values/index.js';
import type { RecordRow } from '../../write/index.js';
import { eventTimeFromValue } from '../event-time.js';
import { planColumns, type ColumnPlan, type ColumnTarget } from '../mapping.js';
import {
  newRecord,
  placeFeature,
  placeKey,
  truncateRaw,
  type Source,
  type Position,
  type RecordBatch,
  type RecordLocation,
  type RowContext,
} from './source.js';

/** Rows read at once from a row group whose column chunks can be read in slices. */
const BATCH_ROWS = 8192;
/**
 * A column chunk without an offset index is decoded from its start for every slice; up to this
 * size (a few pages) that is cheap, beyond it the row group is read in one go instead.
 */
const SMALL_CHUNK_BYTES = 4 * 1024 * 1024;

/** Timestamps at full precision; everything else as hyparquet decodes it by default. */
const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (millis) => new ParquetTimestamp(BigInt(millis) * 1000n),
  timestampFromMicroseconds: (micros) => new ParquetTimestamp(BigInt(micros)),
  timestampFromNanoseconds: (nanos) => {
    const big = BigInt(nanos);
    // Floor, also before 1970.
    return new ParquetTimestamp(big >= 0n ? big / 1000n : -((-big + 999n) / 1000n));
  },
};

/** A local file as hyparquet reads it: only the byte ranges it asks for, never the whole file. */
function fileBuffer(handle: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const length = Math.max(0, end - start);
      const buffer = new ArrayBuffer(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(new Uint8Array(buffer, done), 0, length - done, start + done);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${start + done}`);
        done += bytesRead;
      }
      return buffer;
    },
  };
}

/** JSON for the reject file: exact integers, base64 bytes, ISO times. */
function rawJson(columns: readonly string[], values: readonly unknown[]): string {
  const object: Record<string, unknown> = {};
  columns.forEach((column, i) => (object[column] = values[i]));
  return JSON.stringify(object, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Uint8Array)
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
    if (value instanceof ParquetTimestamp) return isoFromMicros(value.micros);
    return value;
  });
}

class ParquetBatch implements RecordBatch {
  constructor(
    private readonly rows: unknown[][],
    private readonly firstRow: number,
    private readonly columns: readonly string[],
    /** How errors name each column. */
    private readonly wheres: readonly string[],
    private readonly targets: readonly ColumnTarget[],
    private readonly ctx: RowContext,
  ) {}

  get size(): number {
    return this.rows.length;
  }

  /**
   * Each value goes through its codec's Parquet door (storedFromParquet). A null leaves the
   * feature as it is (a columnar file has every column in every row, so null means "no value
   * here", not "clear"), and a row without an event time takes the job's start time.
   */
  toRow(i: number): RecordRow {
    const values = this.rows[i]!;
    const row = newRecord(this.ctx);
    for (let j = 0; j < this.targets.length; j++) {
      const value = values[j];
      if (value === null || value === undefined) continue;
      const target = this.targets[j]!;
      const where = this.wheres[j]!;
      if (target.kind === 'key') placeKey(row, target, target.codec.fromParquet(value, where));
      else if (target.kind === 'feature') placeFeature(row, target, target.codec.fromParquet(value, where));
      else row.eventTimeMicros = eventTimeFromValue(value, this.ctx.eventTimeUnit, where);
    }
    return row;
  }

  locate(i: number): RecordLocation {
    return { row: this.firstRow + i };
  }

  resumeAt(i: number): Position {
    const next = this.firstRow + i + 1;
    return { offset: next, line: next };
  }

  rawText(i: number): string {
    return truncateRaw(rawJson(this.columns, this.rows[i]!));
  }
}

export interface ParquetSource extends Source {
  readonly columns: readonly string[];
  readonly plan: ColumnPlan;
  readonly rowCount: number;
}

/**
 * Opens a Parquet file: reads its footer, plans its top-level columns, and streams rows from
 * row `start.offset` on, reading only the mapped columns. A row group is read in slices of
 * BATCH_ROWS rows when each of its column chunks has an offset index (pages are then fetched on
 * their own) or is small; otherwise hyparquet would decode a large chunk again for every slice,
 * so the row group is read in one go and memory follows the file's row group size.
 */
export async function openParquetSource(path: string, start: Position, ctx: RowContext): Promise<ParquetSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const file = fileBuffer(handle, size);
    const metadata: FileMetaData = await parquetMetadataAsync(file);
    const allColumns = parquetSchema(metadata).children.map((child) => child.element.name);
    const plan = planColumns(allColumns, ctx.resolver);
    const readColumns: string[] = [];
    const targets: ColumnTarget[] = [];
    plan.targets.forEach((target, i) => {
      if (target) {
        readColumns.push(allColumns[i]!);
        targets.push(target);
      }
    });
    const wheres = readColumns.map((column) => `column "${column}"`);
    const rowCount = Number(metadata.num_rows);
    let rowsDone = start.offset;
    return {
      columns: allColumns,
      plan,
      rowCount,
      bytesDone: () => (rowCount === 0 ? size : Math.round((rowsDone / rowCount) * size)),
      close: () => handle.close(),
      batches: async function* () {
        let groupStart = 0;
        for (const group of metadata.row_groups) {
          const groupRows = Number(group.num_rows);
          const groupEnd = groupStart + groupRows;
          const sliceable = group.columns.every((chunk) => {
            const meta = chunk.meta_data;
            if (!meta || !readColumns.includes(meta.path_in_schema[0] ?? '')) return true;
            return chunk.offset_index_offset !== undefined || Number(meta.total_uncompressed_size) <= SMALL_CHUNK_BYTES;
          });
          const step = sliceable ? BATCH_ROWS : groupRows;
          for (let from = Math.max(groupStart, start.offset); from < groupEnd; from += step) {
            const to = Math.min(groupEnd, from + step);
            let rows: unknown[][] = [];
            await parquetRead({
              file,
              metadata,
              columns: readColumns,
              rowStart: from,
              rowEnd: to,
              useOffsetIndex: true,
              utf8: false,
              parsers: PARSERS,
              onComplete: (result: unknown[][]) => {
                rows = result;
              },
            });
            if (rows.length !== to - from) {
              throw new Error(`${path}: expected ${to - from} rows from row ${from}, read ${rows.length}`);
            }
            rowsDone = to;
            yield new ParquetBatch(rows, from, readColumns, wheres, targets, ctx);
          }
          groupStart = groupEnd;
        }
      },
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
