import type { RecordRow } from '../../write/index.js';
import { eventTimeFromValue } from '../event-time.js';
import type { ColumnTarget } from '../mapping.js';
import {
  newRecord,
  placeFeature,
  placeKey,
  readChunks,
  RejectedRecord,
  truncateRaw,
  type FileKind,
  type Source,
  type Position,
  type RecordBatch,
  type RecordLocation,
  type RowContext,
} from './source.js';

const LF = 0x0a;
const CR = 0x0d;

export interface Line {
  /** The line without its line break. */
  readonly text: Buffer;
  readonly line: number;
  /** Byte offset just past the line break. */
  readonly end: number;
  readonly error?: string;
}

/** Splits a byte stream into lines (LF or CRLF), skipping blank ones, with exact positions. */
export class LineSplitter {
  private pending: Buffer | null = null;
  private offset: number;
  private line: number;
  private atFileStart: boolean;
  /** A line being dropped because it is too long: its number and first bytes. */
  private skipping: { line: number; head: Buffer } | null = null;

  constructor(
    start: Position,
    private readonly maxLineBytes: number,
  ) {
    this.offset = start.offset;
    this.line = start.line;
    this.atFileStart = start.offset === 0;
  }

  push(chunk: Buffer): Line[] {
    return this.split(this.pending ? Buffer.concat([this.pending, chunk]) : chunk, false);
  }

  end(): Line[] {
    return this.split(this.pending ?? Buffer.alloc(0), true);
  }

  private split(buf: Buffer, final: boolean): Line[] {
    const out: Line[] = [];
    let pos = 0;
    if (this.atFileStart) {
      if (buf.length < 3 && !final) return this.keep(buf, 0, out);
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
      this.atFileStart = false;
    }
    while (pos < buf.length) {
      const lf = buf.indexOf(LF, pos);
      if (this.skipping) {
        if (lf === -1 && !final) return this.keep(buf, buf.length, out, true);
        const end = lf === -1 ? buf.length : lf + 1;
        this.line++;
        out.push({
          text: this.skipping.head,
          line: this.skipping.line,
          end: this.offset + end,
          error: `the line is longer than ${this.maxLineBytes} bytes; skipped`,
        });
        this.skipping = null;
        pos = end;
        continue;
      }
      if (lf === -1 && !final) {
        if (buf.length - pos > this.maxLineBytes) {
          this.skipping = { line: this.line + 1, head: Buffer.from(buf.subarray(pos, pos + 4096)) };
          continue;
        }
        break;
      }
      const end = lf === -1 ? buf.length : lf + 1;
      let textEnd = lf === -1 ? buf.length : lf;
      if (textEnd > pos && buf[textEnd - 1] === CR) textEnd--;
      this.line++;
      if (textEnd - pos > this.maxLineBytes) {
        out.push({
          text: buf.subarray(pos, pos + 4096),
          line: this.line,
          end: this.offset + end,
          error: `the line is longer than ${this.maxLineBytes} bytes; skipped`,
        });
      } else if (!isBlank(buf, pos, textEnd)) {
        out.push({ text: buf.subarray(pos, textEnd), line: this.line, end: this.offset + end });
      }
      pos = end;
    }
    return this.keep(buf, pos, out);
  }

  private keep(buf: Buffer, pos: number, out: Line[], drop = false): Line[] {
    this.offset += pos;
    this.pending = !drop && pos < buf.length ? Buffer.from(buf.subarray(pos)) : null;
    return out;
  }
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}

/** Where a JSON field goes, and how errors name it; null: nowhere (ignored); undefined: unknown. */
type FieldTarget = { readonly target: ColumnTarget; readonly where: string } | null | undefined;

class JsonlBatch implements RecordBatch {
  constructor(
    private readonly lines: Line[],
    private readonly ctx: RowContext,
    /** Resolved once per distinct field name, for the whole file. */
    private readonly targets: Map<string, FieldTarget>,
  ) {}

  get size(): number {
    return this.lines.length;
  }

  private target(key: string): FieldTarget {
    let field = this.targets.get(key);
    if (field === undefined && !this.targets.has(key)) {
      const target = this.ctx.resolver.resolve(key);
      field = target ? { target, where: `field "${key}"` } : target;
      this.targets.set(key, field);
    }
    return field;
  }

  toRow(i: number): RecordRow {
    const line = this.lines[i]!;
    if (line.error !== undefined) throw new RejectedRecord(line.error);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.text.toString('utf8'));
    } catch (error) {
      throw new RejectedRecord(`not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new RejectedRecord(`expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
    }
    const row = newRecord(this.ctx);
    for (const key in parsed) {
      const value = (parsed as Record<string, unknown>)[key];
      const field = this.target(key);
      if (field === null) continue;
      if (field === undefined) {
        if (this.ctx.resolver.options.ignoreUnknown) {
          this.ctx.onIgnoredColumn(key);
          continue;
        }
        throw new RejectedRecord(
          `"${key.slice(0, 64)}" is neither a join key nor a feature of view "${this.ctx.resolver.view.name}" ` +
            `nor the event-time field "${this.ctx.resolver.options.eventTimeColumn}"`,
        );
      }
      const { target, where } = field;
      // null: a key given as null (refused by validation), a feature cleared, no event time.
      if (target.kind === 'key')
        placeKey(row, target, value === null ? null : target.codec.fromJsonValue(value, where));
      else if (target.kind === 'feature') {
        placeFeature(row, target, value === null ? null : target.codec.fromJsonValue(value, where));
      } else if (value !== null) row.eventTimeMicros = eventTimeFromValue(value, this.ctx.eventTimeUnit, where);
    }
    return row;
  }

  locate(i: number): RecordLocation {
    return { line: this.lines[i]!.line };
  }

  resumeAt(i: number): Position {
    const line = this.lines[i]!;
    return { offset: line.end, line: line.line };
  }

  rawText(i: number): string {
    return truncateRaw(this.lines[i]!.text.toString('utf8'));
  }
}

/**
 * JSON Lines: one JSON object per line, keys named like CSV columns, values as in
 * `cassette write` (storedFromJson). A missing key leaves the feature as it is; null clears it.
 * Blank lines are skipped.
 */
export function openJsonlSource(path: string, kind: FileKind, start: Position, ctx: RowContext): Source {
  const reader = readChunks(path, kind.gzip, start.offset);
  const splitter = new LineSplitter(start, ctx.maxRecordBytes);
  const targets = new Map<string, FieldTarget>();
  return {
    plan: null,
    bytesDone: () => reader.bytesRead(),
    close: async () => reader.close(),
    batches: async function* () {
      try {
        for await (const chunk of reader.chunks) {
          const lines = splitter.push(chunk as Buffer);
          if (lines.length > 0) yield new JsonlBatch(lines, ctx, targets);
        }
        const last = splitter.end();
        if (last.length > 0) yield new JsonlBatch(last, ctx, targets);
      } finally {
        reader.close();
      }
    },
  };
}
