/**
 * A streaming CSV parser (RFC 4180: fields separated by a delimiter, records by LF or CRLF,
 * quoted fields with "" for a quote) that reports each record's exact byte range and lines.
 *
 * Written here rather than taken from csv-parse because a resumable job needs, in read order
 * and independent of chunk boundaries: the byte offset after every record (to resume there),
 * whether each field was quoted (an unquoted empty cell leaves a feature unset, a quoted one is
 * an empty string), and malformed records reported in place with parsing carrying on at the
 * next line, so one stray quote costs one row rather than the rest of the file.
 */

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

export interface CsvRecord {
  readonly fields: string[];
  /** quoted[i]: field i was written in quotes. */
  readonly quoted: boolean[];
  /** Byte offset of the record's first byte. */
  readonly start: number;
  /** Byte offset just past the record and its line break: where the next record starts. */
  readonly end: number;
  /** 1-based line the record starts on. */
  readonly line: number;
  /** Lines consumed up to `end` (the last line of the record, counting skipped empty lines). */
  readonly endLine: number;
  /** The record's bytes, for a reject file. */
  readonly raw: Buffer;
  /** Set when the record is malformed: why. Its fields are then meaningless. */
  readonly error?: string;
}

export interface CsvParserOptions {
  /** One ASCII character. */
  delimiter: string;
  /** A record longer than this is rejected (and bounds the memory one record may take). */
  maxRecordBytes: number;
  /** Absolute byte offset of the first byte pushed. */
  startOffset: number;
  /** Lines before the first byte pushed. */
  startLine: number;
}

type Parsed =
  | { kind: 'record'; fields: string[]; quoted: boolean[]; end: number }
  | { kind: 'error'; reason: string; resync: number }
  | { kind: 'incomplete' };

const INCOMPLETE: Parsed = { kind: 'incomplete' };

/** How much of a skipped record is kept for the reject file. */
const RAW_KEPT_BYTES = 4096;

export class CsvParser {
  private readonly delimiter: number;
  private pending: Buffer | null = null;
  /** A line being skipped because its record was too long. */
  private skipping: { start: number; line: number; raw: Buffer } | null = null;
  /** Absolute offset of pending[0] (or of the next chunk when nothing is pending). */
  private offset: number;
  private line: number;
  private atFileStart: boolean;

  constructor(private readonly options: CsvParserOptions) {
    if (options.delimiter.length !== 1 || options.delimiter.charCodeAt(0) > 0x7f) {
      throw new Error(`the CSV delimiter must be one ASCII character, got ${JSON.stringify(options.delimiter)}`);
    }
    this.delimiter = options.delimiter.charCodeAt(0);
    if (this.delimiter === QUOTE || this.delimiter === LF || this.delimiter === CR) {
      throw new Error('the CSV delimiter cannot be a quote or a line break');
    }
    this.offset = options.startOffset;
    this.line = options.startLine;
    this.atFileStart = options.startOffset === 0;
  }

  /** Parses the records a chunk completes; a record cut by the chunk's end waits for the next one. */
  push(chunk: Buffer): CsvRecord[] {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    return this.parse(buf, false);
  }

  /** End of input: whatever is left is the last record. */
  end(): CsvRecord[] {
    const buf = this.pending ?? Buffer.alloc(0);
    return this.parse(buf, true);
  }

  private parse(buf: Buffer, final: boolean): CsvRecord[] {
    const out: CsvRecord[] = [];
    let pos = 0;
    if (this.skipping) {
      pos = this.skip(buf, pos, final, out);
      if (pos < 0) return this.keep(buf, buf.length, out);
    }
    if (this.atFileStart) {
      if (buf.length < 3 && !final) return this.keep(buf, pos, out);
      // A UTF-8 byte order mark is not part of the first column's name.
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
      this.atFileStart = false;
    }
    while (pos < buf.length) {
      // Empty lines separate nothing; skip them (counting the line).
      if (buf[pos] === LF) {
        pos++;
        this.line++;
        continue;
      }
      if (buf[pos] === CR && (pos + 1 >= buf.length ? final : buf[pos + 1] === LF)) {
        pos += pos + 1 < buf.length ? 2 : 1;
        this.line++;
        continue;
      }
      const parsed = this.parseRecord(buf, pos, final);
      if (parsed.kind === 'incomplete') {
        if (buf.length - pos <= this.options.maxRecordBytes) break;
        // Too long to be a record (most likely an unclosed quote): reject the line it starts
        // on and carry on after it, without holding the rest in memory.
        this.skipping = {
          start: this.offset + pos,
          line: this.line + 1,
          raw: Buffer.from(buf.subarray(pos, pos + RAW_KEPT_BYTES)),
        };
        pos = this.skip(buf, pos, final, out);
        if (pos < 0) return this.keep(buf, buf.length, out);
        continue;
      }
      if (parsed.kind === 'error') {
        out.push(this.record(buf, pos, parsed.resync, [], [], parsed.reason));
        pos = parsed.resync;
        continue;
      }
      out.push(this.record(buf, pos, parsed.end, parsed.fields, parsed.quoted));
      pos = parsed.end;
    }
    return this.keep(buf, pos, out);
  }

  /**
   * Drops bytes up to the end of the line being skipped. Returns where parsing goes on, or -1
   * when buf ends before the line does.
   */
  private skip(buf: Buffer, pos: number, final: boolean, out: CsvRecord[]): number {
    const skipping = this.skipping!;
    const lf = buf.indexOf(LF, pos);
    if (lf === -1 && !final) return -1;
    const end = lf === -1 ? buf.length : lf + 1;
    this.skipping = null;
    this.line++;
    out.push({
      fields: [],
      quoted: [],
      start: skipping.start,
      end: this.offset + end,
      line: skipping.line,
      endLine: this.line,
      raw: skipping.raw,
      error: `the record is longer than ${this.options.maxRecordBytes} bytes (an unclosed quote?); its first line was skipped`,
    });
    return end;
  }

  private keep(buf: Buffer, pos: number, out: CsvRecord[]): CsvRecord[] {
    this.offset += pos;
    // Copy the tail so the chunk it came from can be freed.
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null;
    return out;
  }

  private record(
    buf: Buffer,
    start: number,
    end: number,
    fields: string[],
    quoted: boolean[],
    error?: string,
  ): CsvRecord {
    const line = this.line + 1;
    let breaks = 0;
    for (let i = buf.indexOf(LF, start); i !== -1 && i < end; i = buf.indexOf(LF, i + 1)) breaks++;
    // A last record without a line break still takes a line.
    this.line += end > start && buf[end - 1] === LF ? breaks : breaks + 1;
    return {
      fields,
      quoted,
      start: this.offset + start,
      end: this.offset + end,
      line,
      endLine: this.line,
      raw: buf.subarray(start, end),
      ...(error !== undefined ? { error } : {}),
    };
  }

  /** The offset after the next line break from pos, or -1 when there is none in buf. */
  private skipLine(buf: Buffer, pos: number): number {
    const lf = buf.indexOf(LF, pos);
    return lf === -1 ? -1 : lf + 1;
  }

  /**
   * Parses one record starting at pos. `final`: no more input follows buf.
   */
  private parseRecord(buf: Buffer, pos: number, final: boolean): Parsed {
    const n = buf.length;
    const delimiter = this.delimiter;
    const fields: string[] = [];
    const quoted: boolean[] = [];
    let i = pos;
    for (;;) {
      if (i < n && buf[i] === QUOTE) {
        let j = i + 1;
        let escaped = false;
        let close: number;
        for (;;) {
          const q = buf.indexOf(QUOTE, j);
          if (q === -1) {
            if (!final) return INCOMPLETE;
            return this.malformed(buf, pos, 'a quoted field is never closed');
          }
          if (q + 1 >= n && !final) return INCOMPLETE; // "" could still follow
          if (q + 1 < n && buf[q + 1] === QUOTE) {
            escaped = true;
            j = q + 2;
            continue;
          }
          close = q;
          break;
        }
        const text = buf.toString('utf8', i + 1, close);
        fields.push(escaped ? text.replaceAll('""', '"') : text);
        quoted.push(true);
        const k = close + 1;
        if (k >= n) return { kind: 'record', fields, quoted, end: n };
        const c = buf[k];
        if (c === delimiter) {
          i = k + 1;
          continue;
        }
        if (c === LF) return { kind: 'record', fields, quoted, end: k + 1 };
        if (c === CR) {
          if (k + 1 >= n) return final ? { kind: 'record', fields, quoted, end: n } : INCOMPLETE;
          if (buf[k + 1] === LF) return { kind: 'record', fields, quoted, end: k + 2 };
        }
        const lineEnd = buf.indexOf(LF, k);
        if (lineEnd === -1 && !final) return INCOMPLETE;
        return {
          kind: 'error',
          reason: `unexpected ${describeByte(c!)} after the closing quote of field ${fields.length}`,
          resync: lineEnd === -1 ? n : lineEnd + 1,
        };
      }
      let j = i;
      while (j < n) {
        const c = buf[j];
        if (c === delimiter || c === LF) break;
        j++;
      }
      if (j >= n && !final) return INCOMPLETE;
      let e = j;
      // The CR of a CRLF line break is not part of the last field.
      if (e > i && buf[e - 1] === CR && (j >= n || buf[j] === LF)) e--;
      fields.push(buf.toString('utf8', i, e));
      quoted.push(false);
      if (j < n && buf[j] === delimiter) {
        i = j + 1;
        continue;
      }
      return { kind: 'record', fields, quoted, end: j < n ? j + 1 : n };
    }
  }

  /**
   * A quote that is never closed: only the line it starts on is rejected, and parsing goes on
   * with the next line (otherwise the rest of the file would be one field).
   */
  private malformed(buf: Buffer, pos: number, reason: string): Parsed {
    const lineEnd = buf.indexOf(LF, pos);
    return { kind: 'error', reason, resync: lineEnd === -1 ? buf.length : lineEnd + 1 };
  }
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `byte 0x${c.toString(16).padStart(2, '0')}`;
}
