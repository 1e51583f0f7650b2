import { open, type FileHandle } from 'node:fs/promises';

import {
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type FileMetaData,
  type ParquetParsers,
} from 'hyparquet';

import type { FeatureRow__Output } from '../../generated/cassette/v1/FeatureRow.js';
import type { Value__Output } from '../../generated/cassette/v1/Value.js';
import { elementType, isListType, type ScalarType, type ValueType } from '../../registry/index.js';
import { secondsOfBigMicros, unixSeconds } from '../../time/index.js';
import { codecOf, decodedValueFromJson, SCALAR_CODECS, valueFromText } from '../../values/index.js';
import { eventTimeFromValue, ParquetTimestamp } from '../event-time.js';
import { isoFromMicros } from '../../time/index.js';
import { planColumns, type ColumnPlan, type ColumnTarget } from '../mapping.js';
import {
  newRow,
  place,
  RejectedRecord,
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

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Date || value instanceof ParquetTimestamp) return 'a timestamp';
  if (Array.isArray(value)) return 'a list';
  return typeof value;
}

function mismatch(type: string, value: unknown, where: string): RejectedRecord {
  return new RejectedRecord(`${where}: expected ${type}, got ${describe(value)}`);
}

function toBuffer(value: unknown, where: string): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return valueFromText('bytes', value, where).bytes_val!;
  throw mismatch('bytes', value, where);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A Parquet integer as valueFromJson takes it: INT64 (bigint) as exact text. */
function integerJson(value: unknown): string | number | undefined {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  return undefined;
}

/**
 * One Parquet scalar as the JSON value valueFromJson expects for `type`, by the Parquet form its
 * codec takes: INT64 (bigint) as exact integer text, timestamps and dates as unix seconds,
 * integral doubles for integer types, UTF-8 bytes for strings. Anything else does not fit.
 */
function normalize(type: ScalarType, value: unknown, where: string): unknown {
  if (typeof value === 'string') return value;
  let json: unknown;
  switch (SCALAR_CODECS[type].parquet) {
    case 'integer':
      json = integerJson(value);
      break;
    case 'time':
      if (value instanceof ParquetTimestamp) json = secondsOfBigMicros(value.micros).toString();
      else if (value instanceof Date) json = unixSeconds(value);
      else json = integerJson(value);
      break;
    case 'number':
      if (typeof value === 'number') json = value;
      else if (typeof value === 'bigint') json = Number(value);
      break;
    case 'bool':
      if (typeof value === 'boolean') json = value;
      break;
    case 'utf8':
      if (value instanceof Uint8Array) {
        try {
          json = strictUtf8.decode(value);
        } catch {
          throw new RejectedRecord(`${where}: the bytes are not valid UTF-8 text`);
        }
      }
      break;
    case 'bytes':
      // Bytes are not JSON (base64): see toBuffer.
      break;
  }
  if (json === undefined) throw mismatch(type, value, where);
  return json;
}

function listItems<T>(list: readonly unknown[], where: string, convert: (item: unknown, at: string) => T): T[] {
  return list.map((item, i) => {
    const at = `${where}[${i}]`;
    if (item === null || item === undefined) throw new RejectedRecord(`${at}: a list cannot hold a null`);
    return convert(item, at);
  });
}

/**
 * A Parquet value -> proto Value of a registry type. A null leaves the feature as it is (a
 * columnar file has every column in every row, so null means "no value here", not "clear").
 * Text columns are read like CSV cells (valueFromText), so a number or a list may come as text.
 */
export function valueFromParquet(type: ValueType, value: unknown, where: string): Value__Output | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return valueFromText(type, value, where);
  const bytes = codecOf(type).parquet === 'bytes';
  if (isListType(type)) {
    if (!Array.isArray(value)) throw mismatch(type, value, where);
    if (bytes) return { val: 'bytes_list_val', bytes_list_val: { val: listItems(value, where, toBuffer) } };
    const element = elementType(type);
    return decodedValueFromJson(
      type,
      listItems(value, where, (item, at) => normalize(element, item, at)),
      where,
    );
  }
  if (bytes) return { val: 'bytes_val', bytes_val: toBuffer(value, where) };
  if (Array.isArray(value)) throw mismatch(type, value, where);
  return decodedValueFromJson(type, normalize(type, value, where), where);
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
    private readonly targets: readonly ColumnTarget[],
    private readonly ctx: RowContext,
  ) {}

  get size(): number {
    return this.rows.length;
  }

  toRow(i: number): FeatureRow__Output {
    const values = this.rows[i]!;
    const row = newRow();
    for (let j = 0; j < this.targets.length; j++) {
      const target = this.targets[j]!;
      const value = values[j];
      const where = `column "${this.columns[j]}"`;
      if (target.kind === 'eventTime') {
        if (value !== null && value !== undefined) {
          row.event_timestamp = eventTimeFromValue(value, this.ctx.eventTimeUnit, where);
        }
        continue;
      }
      const converted = valueFromParquet(target.type, value, where);
      if (converted !== undefined) place(row, target, converted);
    }
    row.event_timestamp ??= this.ctx.defaultEventTime;
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
            yield new ParquetBatch(rows, from, readColumns, targets, ctx);
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
