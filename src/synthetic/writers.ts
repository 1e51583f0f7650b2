import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';

import type { SchemaElement } from 'hyparquet';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';

import { elementType, isListType, type FeatureViewDef, type ScalarType, type ValueType } from '../registry/index.js';
import { isoFromMicros } from '../time/index.js';
import type { SyntheticRow, SyntheticScalar, SyntheticValue } from './rows.js';

/** A sink for generated rows in one file format. */
export interface RowFileWriter {
  write(rows: readonly SyntheticRow[]): Promise<void>;
  close(): Promise<void>;
}

/** A value as JSON: int64 as a number when exact, else as text; bytes as base64. */
function jsonScalar(value: SyntheticScalar): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}

function jsonValue(value: SyntheticValue): unknown {
  return Array.isArray(value) ? value.map(jsonScalar) : jsonScalar(value);
}

const NEEDS_QUOTES = /[",\r\n]/;

function quoteCsv(text: string): string {
  // Quoted, "" is an empty string and "\N" two characters; unquoted they would mean "not set" and null.
  if (text === '' || text === '\\N' || NEEDS_QUOTES.test(text)) return `"${text.replaceAll('"', '""')}"`;
  return text;
}

/** A value as a CSV cell (see valueFromText): lists as JSON arrays, bytes as base64. */
export function csvCell(value: SyntheticValue): string {
  if (Array.isArray(value)) return quoteCsv(JSON.stringify(value.map(jsonScalar)));
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return quoteCsv(String(value));
}

/** The feature a wrong-type bad row spoils: one whose text form can be wrong (not a string). */
function spoilable(view: FeatureViewDef): number {
  return view.features.findIndex((f) => f.type !== 'string');
}

async function writeText(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

function textOutput(path: string): { stream: Writable; done: Promise<void> } {
  const file = createWriteStream(path);
  const done = once(file, 'finish').then(() => undefined);
  if (!path.endsWith('.gz')) return { stream: file, done };
  const gzip = createGzip();
  gzip.pipe(file);
  return { stream: gzip, done };
}

export function csvWriter(path: string, view: FeatureViewDef, eventTimeColumn: string): RowFileWriter {
  const { stream, done } = textOutput(path);
  const header = [...view.entities.map((e) => e.joinKey), ...view.features.map((f) => f.name), eventTimeColumn];
  let started = false;
  const spoil = spoilable(view);
  return {
    async write(rows) {
      let text = started ? '' : header.map(quoteCsv).join(',') + '\n';
      started = true;
      for (const row of rows) {
        const cells = [...row.key.map(csvCell), ...row.features.map((f) => (f === undefined ? '' : csvCell(f)))];
        cells.push(isoFromMicros(row.eventMicros));
        const keys = view.entities.length;
        switch (row.bad) {
          case 'wrong-type':
            if (spoil >= 0) cells[keys + spoil] = 'not-a-number';
            else cells[0] = '';
            break;
          case 'missing-key':
            cells[0] = '';
            break;
          case 'bad-event-time':
            cells[cells.length - 1] = 'not-a-time';
            break;
          case 'unparsable':
            cells.pop();
            break;
        }
        text += cells.join(',') + '\n';
      }
      await writeText(stream, text);
    },
    async close() {
      if (!started) await writeText(stream, header.map(quoteCsv).join(',') + '\n');
      stream.end();
      await done;
    },
  };
}

export function jsonlWriter(path: string, view: FeatureViewDef, eventTimeColumn: string): RowFileWriter {
  const { stream, done } = textOutput(path);
  const spoil = spoilable(view);
  return {
    async write(rows) {
      let text = '';
      for (const row of rows) {
        const object: Record<string, unknown> = {};
        view.entities.forEach((e, i) => (object[e.joinKey] = jsonValue(row.key[i]!)));
        view.features.forEach((f, i) => {
          const value = row.features[i];
          if (value !== undefined) object[f.name] = jsonValue(value);
        });
        object[eventTimeColumn] = isoFromMicros(row.eventMicros);
        switch (row.bad) {
          case 'wrong-type':
            if (spoil >= 0) object[view.features[spoil]!.name] = 'not-a-number';
            else delete object[view.entities[0]!.joinKey];
            break;
          case 'missing-key':
            delete object[view.entities[0]!.joinKey];
            break;
          case 'bad-event-time':
            object[eventTimeColumn] = 'not-a-time';
            break;
        }
        const line = JSON.stringify(object);
        // A cut-off line is what a crashed exporter leaves behind.
        text += (row.bad === 'unparsable' ? line.slice(0, Math.max(1, line.length >> 1)) : line) + '\n';
      }
      await writeText(stream, text);
    },
    async close() {
      stream.end();
      await done;
    },
  };
}

/** The Parquet column each scalar type is written as. */
const PARQUET_LEAF: { [S in ScalarType]: Pick<SchemaElement, 'type' | 'converted_type'> } = {
  int32: { type: 'INT32' },
  int64: { type: 'INT64' },
  float: { type: 'FLOAT' },
  double: { type: 'DOUBLE' },
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  bytes: { type: 'BYTE_ARRAY' },
  bool: { type: 'BOOLEAN' },
  unix_timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' },
};

function leafElement(name: string, type: ScalarType, repetition: 'OPTIONAL' | 'REQUIRED'): SchemaElement {
  return { name, ...PARQUET_LEAF[type], repetition_type: repetition };
}

/** The Parquet schema of a view's rows: native types, 3-level LISTs, event time as TIMESTAMP(MICROS). */
export function parquetSchemaFor(view: FeatureViewDef, eventTimeColumn: string): SchemaElement[] {
  const columns: SchemaElement[][] = [
    ...view.entities.map((e) => [leafElement(e.joinKey, e.type, 'OPTIONAL')]),
    ...view.features.map((f) =>
      isListType(f.type)
        ? [
            { name: f.name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 } as SchemaElement,
            { name: 'list', repetition_type: 'REPEATED', num_children: 1 } as SchemaElement,
            leafElement('element', elementType(f.type), 'REQUIRED'),
          ]
        : [leafElement(f.name, f.type, 'OPTIONAL')],
    ),
    [{ name: eventTimeColumn, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', repetition_type: 'OPTIONAL' }],
  ];
  return [{ name: 'root', num_children: columns.length }, ...columns.flat()];
}

/** A generated value in its Parquet column: unix_timestamp seconds become TIMESTAMP_MILLIS. */
function parquetScalar(type: ScalarType, value: SyntheticScalar): unknown {
  return type === 'unix_timestamp' && typeof value === 'number' ? BigInt(value) * 1000n : value;
}

function parquetValue(type: ValueType, value: SyntheticValue | undefined): unknown {
  if (value === undefined) return null;
  const scalarType = isListType(type) ? elementType(type) : type;
  return Array.isArray(value) ? value.map((v) => parquetScalar(scalarType, v)) : parquetScalar(scalarType, value);
}

/** Far enough ahead to be refused as an event time. */
const FUTURE_MICROS = 4_102_444_800_000_000n; // 2100-01-01

/**
 * Parquet, one row group per write() call. Wrong types cannot be expressed in typed columns, so
 * bad rows have a null join key or an event time in the future.
 */
export function parquetRowWriter(path: string, view: FeatureViewDef, eventTimeColumn: string): RowFileWriter {
  const writer = new ParquetWriter({ writer: fileWriter(path), schema: parquetSchemaFor(view, eventTimeColumn) });
  return {
    async write(rows) {
      if (rows.length === 0) return;
      const nullKey = (row: SyntheticRow) => row.bad === 'missing-key' || row.bad === 'wrong-type';
      const futureTime = (row: SyntheticRow) => row.bad === 'bad-event-time' || row.bad === 'unparsable';
      const columnData = [
        ...view.entities.map((e, i) => ({
          name: e.joinKey,
          data: rows.map((row) => (i === 0 && nullKey(row) ? null : row.key[i])),
        })),
        ...view.features.map((f, i) => ({
          name: f.name,
          data: rows.map((row) => parquetValue(f.type, row.features[i])),
        })),
        { name: eventTimeColumn, data: rows.map((row) => (futureTime(row) ? FUTURE_MICROS : row.eventMicros)) },
      ];
      await writer.write({ columnData, rowGroupSize: rows.length });
    },
    async close() {
      await writer.finish();
    },
  };
}
