import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs';

import type { RecordLocation } from './sources/source.js';

export interface RejectEntry {
  readonly file: string;
  /** Where the record is (a file's line or row; a table's key); spread into the line. */
  readonly location: RecordLocation | Readonly<Record<string, string | number>>;
  readonly reason: string;
  /** The record as in the file, already cut short. */
  readonly record: string;
}

const FLUSH_BYTES = 64 * 1024;

/**
 * The reject file: one JSON object per line, {file, line | row, reason, record}, in read
 * order. Appends are buffered; `bytes` counts what was appended (buffered or not), which is
 * what a checkpoint records, so `sync()` must run before a checkpoint is written. The file is
 * only created once there is something to put in it.
 */
export class RejectWriter {
  private fd: number | undefined;
  private buffered: string[] = [];
  private bufferedBytes = 0;
  private written: number;

  private constructor(
    readonly path: string,
    start: number,
  ) {
    this.written = start;
  }

  /** A fresh job: rejects of an earlier run of it go away. */
  static fresh(path: string): RejectWriter {
    if (existsSync(path)) unlinkSync(path);
    return new RejectWriter(path, 0);
  }

  /**
   * A resumed job: the file is cut back to the length its checkpoint recorded, dropping the
   * rejects of records after the watermark, which are read (and rejected) again.
   */
  static resume(path: string, length: number): { writer: RejectWriter; warning?: string } {
    if (!existsSync(path)) {
      return {
        writer: new RejectWriter(path, 0),
        ...(length > 0 ? { warning: `the reject file ${path} is gone; earlier rejects are lost` } : {}),
      };
    }
    const size = statSync(path).size;
    if (size < length) {
      return {
        writer: new RejectWriter(path, size),
        warning: `the reject file ${path} is shorter (${size} bytes) than the checkpoint recorded (${length})`,
      };
    }
    truncateSync(path, length);
    return { writer: new RejectWriter(path, length) };
  }

  get bytes(): number {
    return this.written;
  }

  append(entry: RejectEntry): void {
    const line =
      JSON.stringify({ file: entry.file, ...entry.location, reason: entry.reason, record: entry.record }) + '\n';
    const length = Buffer.byteLength(line);
    this.buffered.push(line);
    this.bufferedBytes += length;
    this.written += length;
    if (this.bufferedBytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.buffered.length === 0) return;
    this.fd ??= openSync(this.path, 'a');
    const data = Buffer.from(this.buffered.join(''));
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done);
    this.buffered = [];
    this.bufferedBytes = 0;
  }

  /** Flushes and makes it durable: a checkpoint may then name this length. */
  sync(): void {
    this.flush();
    if (this.fd !== undefined) fsyncSync(this.fd);
  }

  /** Size on disk, for tests and checks. */
  sizeOnDisk(): number {
    return this.fd !== undefined ? fstatSync(this.fd).size : existsSync(this.path) ? statSync(this.path).size : 0;
  }

  close(): void {
    this.sync();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
