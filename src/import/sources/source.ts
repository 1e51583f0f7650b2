import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { CassetteError, invalidArgument } from '../../errors/index.js';
import type { FeatureWrite } from '../../store/index.js';
import type { StoredScalar } from '../../values/index.js';
import { newRecordRow, type RecordRow } from '../../write/index.js';
import type { EventTimeUnit } from '../event-time.js';
import type { ColumnPlan, ColumnResolver, FeatureTarget, KeyTarget } from '../mapping.js';

export type FileFormat = 'csv' | 'jsonl' | 'parquet';
export const FILE_FORMATS: readonly FileFormat[] = ['csv', 'jsonl', 'parquet'];

export interface FileKind {
  readonly format: FileFormat;
  /** Gzip-compressed (CSV and JSON Lines only). */
  readonly gzip: boolean;
}

/** The format by extension (.csv, .jsonl/.ndjson, .parquet, each text one optionally .gz), or `override`. */
export function detectFormat(path: string, override?: FileFormat): FileKind {
  const name = basename(path).toLowerCase();
  const gzip = name.endsWith('.gz');
  const bare = gzip ? name.slice(0, -3) : name;
  let format: FileFormat | undefined = override;
  if (!format) {
    if (bare.endsWith('.csv')) format = 'csv';
    else if (bare.endsWith('.jsonl') || bare.endsWith('.ndjson')) format = 'jsonl';
    else if (bare.endsWith('.parquet')) format = 'parquet';
  }
  if (!format) {
    throw invalidArgument(
      `${path}: cannot tell the format from the extension (.csv, .jsonl, .ndjson, .parquet); pass --format`,
    );
  }
  if (gzip && format === 'parquet')
    throw invalidArgument(`${path}: a gzipped Parquet file is not supported (Parquet compresses itself)`);
  return { format, gzip };
}

/**
 * Where a job is in a file. Text formats: `offset` bytes (of the decompressed text, for .gz)
 * and `line` lines are done. Parquet: `offset` and `line` are both the index of the next row.
 */
export interface Position {
  readonly offset: number;
  readonly line: number;
}

export const START: Position = { offset: 0, line: 0 };

/** Where a reject file says a record is. */
export type RecordLocation = { readonly line: number } | { readonly row: number };

/** A bad record: the reason goes to the reject file, the job carries on. */
export class RejectedRecord extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_REJECTED_RECORD', message);
    this.name = 'RejectedRecord';
  }
}

/** True for errors that reject one record rather than fail the job. */
export function isRecordError(error: unknown): error is Error {
  return error instanceof RejectedRecord || (error instanceof CassetteError && error.status === 'INVALID_ARGUMENT');
}

/** Records read from a file, converted on demand. */
export interface RecordBatch {
  readonly size: number;
  /** Record i with its values in stored form, for validateRecord; throws (see isRecordError) when a value is bad. */
  toRow(i: number): RecordRow;
  locate(i: number): RecordLocation;
  /** Where to resume once records ..i are done. */
  resumeAt(i: number): Position;
  /** The record as it appears in the file, for the reject file. */
  rawText(i: number): string;
}

/** An open input file, whatever its format: every reader (csv, jsonl, parquet) returns one. */
export interface Source {
  /**
   * The file's columns matched to the view, for formats that plan them before any record (the
   * CSV header, the Parquet schema); null where fields are resolved record by record (JSON Lines).
   */
  readonly plan: ColumnPlan | null;
  batches(): AsyncIterable<RecordBatch>;
  /** Progress, in bytes of the file on disk. */
  bytesDone(): number;
  close(): Promise<void>;
}

/** What every format needs to turn records into rows. */
export interface RowContext {
  readonly resolver: ColumnResolver;
  readonly eventTimeUnit: EventTimeUnit;
  /** For rows without an event time: the job's start, in µs. */
  readonly defaultEventMicros: bigint;
  readonly maxRecordBytes: number;
  /** CSV only. */
  readonly delimiter: string;
  /** Called once per distinct unknown JSON key that is ignored. */
  readonly onIgnoredColumn: (column: string) => void;
}

/** An empty record for the view, at the job's start time until the file says otherwise. */
export function newRecord(ctx: RowContext): RecordRow {
  return newRecordRow(ctx.resolver.view, ctx.defaultEventMicros);
}

// Only JSON Lines can place a value twice (two keys mapped to one target); a header is checked up front.

function placedTwice(target: KeyTarget | FeatureTarget): RejectedRecord {
  return new RejectedRecord(`two fields map to "${target.name}"`);
}

/** Puts a join key's value (null: given as null, which validation refuses) into the record. */
export function placeKey(record: RecordRow, target: KeyTarget, value: StoredScalar | null): void {
  if (record.key[target.index] !== undefined) throw placedTwice(target);
  record.key[target.index] = value;
}

/** Puts a feature's value (null: clear it) into the record. */
export function placeFeature(record: RecordRow, target: FeatureTarget, value: FeatureWrite): void {
  if (record.features[target.index] !== undefined) throw placedTwice(target);
  record.features[target.index] = value;
}

export interface ChunkReader {
  chunks: AsyncIterable<Buffer>;
  /** Bytes of the file on disk read so far (compressed bytes for .gz). */
  bytesRead(): number;
  close(): void;
}

const CHUNK_BYTES = 256 * 1024;

/**
 * The file's bytes from `offset` on. A .gz file cannot be entered in the middle: it is
 * decompressed from the start and the first `offset` bytes of text are dropped.
 */
export function readChunks(path: string, gzip: boolean, offset: number): ChunkReader {
  if (!gzip) {
    const stream = createReadStream(path, { start: offset, highWaterMark: CHUNK_BYTES });
    return { chunks: stream, bytesRead: () => offset + stream.bytesRead, close: () => stream.destroy() };
  }
  const file = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  // Errors reach the consumer through gunzip, which pipeline destroys with them.
  pipeline(file, gunzip, () => undefined);
  return {
    chunks: skipBytes(gunzip, offset),
    bytesRead: () => file.bytesRead,
    close: () => {
      gunzip.destroy();
      file.destroy();
    },
  };
}

async function* skipBytes(chunks: AsyncIterable<Buffer>, skip: number): AsyncGenerator<Buffer> {
  let left = skip;
  for await (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
  if (left > 0) throw new Error(`the file is shorter than the checkpoint's position (${skip} bytes of text)`);
}

/** Cuts a raw record for the reject file. */
export function truncateRaw(text: string, max = 1024): string {
  const trimmed = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  return trimmed.length > max ? `${trimmed.slice(0, max)}…` : trimmed;
}
