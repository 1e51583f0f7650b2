import { parse as csvParse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CsvParser, type CsvRecord } from '../../../../src/import/sources/csv-parser.js';

function parseAll(
  text: string | Buffer,
  chunkSizes: number[] = [],
  options: Partial<ConstructorParameters<typeof CsvParser>[0]> = {},
): CsvRecord[] {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const parser = new CsvParser({ delimiter: ',', maxRecordBytes: 1 << 20, startOffset: 0, startLine: 0, ...options });
  const out: CsvRecord[] = [];
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const size = chunkSizes.length > 0 ? Math.max(1, chunkSizes[i++ % chunkSizes.length]!) : bytes.length;
    out.push(...parser.push(bytes.subarray(pos, pos + size)));
    pos += size;
  }
  out.push(...parser.end());
  return out;
}

const summary = (records: CsvRecord[]) =>
  records.map((r) => ({
    fields: r.fields,
    quoted: r.quoted,
    line: r.line,
    end: r.end,
    endLine: r.endLine,
    error: r.error,
  }));

describe('CsvParser', () => {
  it('parses fields, quoting, escaped quotes, embedded line breaks, CRLF and a last line without a break', () => {
    const text = 'a,b,c\r\n1,"x ""y""\nz",\r\n"",\\N,3';
    const records = parseAll(text);
    expect(records.map((r) => r.fields)).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x "y"\nz', ''],
      ['', '\\N', '3'],
    ]);
    expect(records.map((r) => r.quoted)).toEqual([
      [false, false, false],
      [false, true, false],
      [true, false, false],
    ]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 4]);
    expect(records.map((r) => r.endLine)).toEqual([1, 3, 4]);
    expect(records.map((r) => [r.start, r.end])).toEqual([
      [0, 7],
      [7, 23],
      [23, text.length],
    ]);
    expect(records[1]!.raw.toString()).toBe('1,"x ""y""\nz",\r\n');
  });

  it('skips empty lines but counts them, and drops a byte order mark', () => {
    const records = parseAll('\uFEFFid,v\n\n\r\n1,2\n\n');
    expect(records.map((r) => [r.fields, r.line])).toEqual([
      [['id', 'v'], 1],
      [['1', '2'], 4],
    ]);
  });

  it('gives the same records whatever the chunk boundaries (property, against csv-parse as the oracle)', () => {
    const field = fc.oneof(
      fc.string({ maxLength: 6 }).filter((s) => !/[",\r\n]/.test(s) && s.length > 0),
      fc
        .string({ maxLength: 8, unit: fc.constantFrom('a', 'é', ',', '"', '\n', '\r\n', ' ') })
        .map((s) => `"${s.replaceAll('"', '""')}"`),
    );
    const record = fc.array(field, { minLength: 2, maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }),
        (records, eol, chunks) => {
          const text = records.map((r) => r.join(',')).join(eol) + eol;
          const expected = csvParse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][];
          const whole = parseAll(text);
          expect(whole.map((r) => r.fields)).toEqual(expected);
          expect(summary(parseAll(text, chunks))).toEqual(summary(whole));
          // Each record's end is where the next one starts, and the last ends with the text.
          whole.forEach((r, i) => expect(r.start).toBe(i === 0 ? 0 : whole[i - 1]!.end));
          expect(whole.at(-1)!.end).toBe(Buffer.byteLength(text));
        },
      ),
    );
  });

  it('resumes at a record end with the same records as reading through', () => {
    const text = 'h1,h2\n1,"a\nb"\n2,x\n\n3,"y"\n';
    const all = parseAll(text);
    for (const cut of all) {
      const rest = parseAll(Buffer.from(text).subarray(cut.end), [3], { startOffset: cut.end, startLine: cut.endLine });
      expect(summary(rest)).toEqual(summary(all.filter((r) => r.start >= cut.end)));
    }
  });

  it('rejects a stray character after a closing quote and carries on with the next line', () => {
    const records = parseAll('a,b\n"x"y,1\n2,3\n', [4]);
    expect(records.map((r) => [r.line, r.error ?? r.fields])).toEqual([
      [1, ['a', 'b']],
      [2, 'unexpected "y" after the closing quote of field 1'],
      [3, ['2', '3']],
    ]);
  });

  it('rejects only the first line of a record whose quote never closes', () => {
    const records = parseAll('a,b\n"open,1\n2,3\n4,5');
    expect(records.map((r) => [r.line, r.error ?? r.fields])).toEqual([
      [1, ['a', 'b']],
      [2, 'a quoted field is never closed'],
      [3, ['2', '3']],
      [4, ['4', '5']],
    ]);
  });

  it('rejects a record longer than the limit without holding it, and carries on after its first line', () => {
    const long = '"' + 'x'.repeat(200) + '\n' + 'y'.repeat(200);
    const text = `a,b\n${long}\n1,2\n`;
    const records = parseAll(text, [16], { maxRecordBytes: 64 });
    expect(records.map((r) => [r.line, r.error?.slice(0, 30) ?? r.fields])).toEqual([
      [1, ['a', 'b']],
      [2, 'the record is longer than 64 b'],
      // The rest of the runaway record is a line of its own, too long as well.
      [3, 'the record is longer than 64 b'],
      [4, ['1', '2']],
    ]);
    expect(records[1]!.end).toBe(4 + 202);
    expect(records[1]!.raw.length).toBeLessThanOrEqual(4096);
  });

  it('takes another delimiter', () => {
    expect(parseAll('a;b\n"x;y";2\n', [], { delimiter: ';' }).map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['x;y', '2'],
    ]);
    expect(() => new CsvParser({ delimiter: '"', maxRecordBytes: 10, startOffset: 0, startLine: 0 })).toThrow(
      /delimiter/,
    );
  });
});
