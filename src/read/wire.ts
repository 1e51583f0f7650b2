import type { FeatureViewDef } from '../registry/index.js';
import type { StoredRow } from '../store/index.js';
import { nanosOfMicros, secondsOfMicros } from '../time/index.js';
import { codecOf, scalarCodecOf } from '../values/index.js';
import {
  LEN,
  lengthDelimitedSize,
  measured,
  numberVarintSize,
  tag,
  VARINT,
  varintSize,
  WireWriter,
} from '../values/protobuf.js';
import type { LookupPlan, PlannedKeyColumn } from './plan.js';
import { presentStatus, STATUS } from './status.js';

/**
 * GetOnlineFeaturesResponse written straight from stored rows to protobuf bytes.
 *
 * Why not protobufjs: its path builds a Value and a Timestamp object per cell, copies each
 * again in fromObject, then queues one writer op per field. For a batch of 100 × 50 that is
 * tens of thousands of short-lived objects per response, and garbage collection was the
 * largest single cost of the server under load. Here a first pass measures every message and
 * a second writes them into one buffer of the exact size.
 *
 * The bytes decode to the message protobufjs encodes from the same rows in object form
 * (test/unit/read/wire.test.ts checks this for every value type); fields are written in
 * field-number order, scalars in proto3 form, numeric lists packed. Each Value is measured and
 * written by its type's codec (src/values/codecs.ts), looked up once per feature.
 */

/** A null_val Value (field 19): its two-byte tag and the enum's zero. */
const NULL_VAL_TAG = tag(19, VARINT);
const NULL_VALUE_SIZE = 3;

/** Size of the Timestamp message for a write time in microseconds (zero fields are not written). */
function timestampSize(micros: number): number {
  const seconds = secondsOfMicros(micros);
  const nanos = nanosOfMicros(micros);
  return (seconds === 0 ? 0 : 1 + numberVarintSize(seconds)) + (nanos === 0 ? 0 : 1 + varintSize(nanos));
}

function writeTimestamp(out: WireWriter, micros: number): void {
  const seconds = secondsOfMicros(micros);
  const nanos = nanosOfMicros(micros);
  if (seconds !== 0) {
    out.varint(tag(1, VARINT));
    out.numberVarint(seconds);
  }
  if (nanos !== 0) {
    out.varint(tag(2, VARINT));
    out.varint(nanos);
  }
}

/**
 * A row's cells already in wire form, made once when the row enters the cache so that every
 * hit copies bytes instead of encoding values: for feature i, the Value message body is
 * `bytes[offsets[2i], offsets[2i+1])` and the Timestamp body `bytes[offsets[2i+1], offsets[2i+2])`.
 */
export interface EncodedCells {
  readonly bytes: Buffer;
  readonly offsets: Int32Array;
}

/** A stored row as the encoder takes it: cached rows carry their cells in wire form. */
export interface ServedRow extends StoredRow {
  readonly cells?: EncodedCells;
}

/** Encodes every feature of `row` (a whole row of `view`) for the cache; see EncodedCells. */
export function encodeCells(view: FeatureViewDef, row: StoredRow): EncodedCells {
  const count = view.features.length;
  const offsets = new Int32Array(2 * count + 1);
  let size = 0;
  for (let i = 0; i < count; i++) {
    const value = row.values[i];
    offsets[2 * i] = size;
    if (value === null || value === undefined) {
      size += NULL_VALUE_SIZE;
      offsets[2 * i + 1] = size;
    } else {
      size += codecOf(view.features[i]!.type).wireSize(value);
      offsets[2 * i + 1] = size;
      size += timestampSize(row.writeTimesMicros[i]!);
    }
  }
  offsets[2 * count] = size;
  const out = new WireWriter(Buffer.allocUnsafe(size));
  for (let i = 0; i < count; i++) {
    const value = row.values[i];
    if (value === null || value === undefined) {
      out.varint(NULL_VAL_TAG);
      out.varint(0);
    } else {
      const codec = codecOf(view.features[i]!.type);
      // The string's byte length (or list's size), as wireSize leaves it.
      codec.wireSize(value);
      codec.writeWire(out, value, measured.inner);
      writeTimestamp(out, row.writeTimesMicros[i]!);
    }
  }
  if (out.pos !== size) throw new Error(`cell encoder wrote ${out.pos} bytes of ${size} measured`);
  return { bytes: out.buf, offsets };
}

/**
 * Size of the FeatureVector that answers join key `column` back: each row's key part as a Value,
 * PRESENT, and an empty Timestamp (a key has no event time; Feast sends the epoch).
 */
function keyVectorSize(plan: LookupPlan, column: PlannedKeyColumn): number {
  const { batchSize } = plan;
  const lookup = plan.views[column.viewSlot]!;
  const codec = scalarCodecOf(column.type);
  let size = batchSize === 0 ? 0 : 1 + lengthDelimitedSize(batchSize) + 2 * batchSize;
  for (let r = 0; r < batchSize; r++) {
    size += 1 + lengthDelimitedSize(codec.wireSize(lookup.keys[lookup.rowToKey[r]!]![column.part]!));
  }
  return size;
}

function writeKeyVector(out: WireWriter, plan: LookupPlan, column: PlannedKeyColumn, size: number): void {
  const { batchSize } = plan;
  const lookup = plan.views[column.viewSlot]!;
  const codec = scalarCodecOf(column.type);
  out.varint(tag(2, LEN));
  out.varint(size);
  for (let r = 0; r < batchSize; r++) {
    const part = lookup.keys[lookup.rowToKey[r]!]![column.part]!;
    out.varint(tag(1, LEN));
    // Measured again here: wireSize leaves a string's byte length for writeWire.
    out.varint(codec.wireSize(part));
    codec.writeWire(out, part, measured.inner);
  }
  if (batchSize > 0) {
    out.varint(tag(2, LEN));
    out.varint(batchSize);
    out.buf.fill(STATUS.PRESENT, out.pos, out.pos + batchSize);
    out.pos += batchSize;
  }
  for (let r = 0; r < batchSize; r++) {
    out.varint(tag(3, LEN));
    out.varint(0);
  }
}

// Cassette's own responses have no key columns: nothing to allocate for them.
const NO_KEY_COLUMNS: readonly PlannedKeyColumn[] = [];
const NO_SIZES = new Int32Array(0);

// Per-cell scratch, reused across responses (encoding is synchronous). Cell = feature * batch + row.
let cellValueSize = new Int32Array(1024);
let cellInnerSize = new Int32Array(1024);
let cellStatus = new Uint8Array(1024);

function ensureScratch(cells: number): void {
  if (cellValueSize.length >= cells) return;
  const size = Math.max(cells, cellValueSize.length * 2);
  cellValueSize = new Int32Array(size);
  cellInnerSize = new Int32Array(size);
  cellStatus = new Uint8Array(size);
}

/**
 * Encodes the GetOnlineFeaturesResponse for `plan` from the rows read for it, as protobuf bytes.
 * Column-major: one FeatureVector per requested feature, one entry per batch row in request
 * order. A missing row is NOT_FOUND, a null value NULL_VALUE, and a value older than its view's
 * ttl OUTSIDE_MAX_AGE (see presentStatus). A plan with keyColumns answers those join keys first.
 */
export function encodeResponse(
  plan: LookupPlan,
  rowsByView: readonly (readonly (ServedRow | null)[])[],
  nowMicros: number,
): Buffer {
  const { batchSize, features } = plan;
  ensureScratch(features.length * batchSize);

  // Pass 1: measure every cell, vector and the whole message.
  const keyColumns = plan.keyColumns ?? NO_KEY_COLUMNS;
  const keyVectorSizes = keyColumns.length === 0 ? NO_SIZES : new Int32Array(keyColumns.length);
  let namesSize = 0;
  for (let k = 0; k < keyColumns.length; k++) {
    namesSize += 1 + lengthDelimitedSize(Buffer.byteLength(keyColumns[k]!.name));
  }
  for (let f = 0; f < features.length; f++) {
    namesSize += 1 + lengthDelimitedSize(Buffer.byteLength(features[f]!.name));
  }
  const metadataSize = 1 + lengthDelimitedSize(namesSize);
  let total = 1 + lengthDelimitedSize(metadataSize);
  for (let k = 0; k < keyColumns.length; k++) {
    keyVectorSizes[k] = keyVectorSize(plan, keyColumns[k]!);
    total += 1 + lengthDelimitedSize(keyVectorSizes[k]!);
  }
  const vectorSizes = new Int32Array(features.length);
  for (let f = 0; f < features.length; f++) {
    const feature = features[f]!;
    const lookup = plan.views[feature.viewSlot]!;
    const rows = rowsByView[feature.viewSlot]!;
    const codec = codecOf(feature.type);
    const fixedSize = codec.fixedWireSize;
    const ttlMicros = lookup.view.ttlSeconds * 1e6;
    let valuesSize = 0;
    let timestampsSize = 0;
    for (let r = 0; r < batchSize; r++) {
      const cell = f * batchSize + r;
      const row = rows[lookup.rowToKey[r]!];
      let size: number;
      if (!row) {
        cellStatus[cell] = STATUS.NOT_FOUND;
        size = 0;
        timestampsSize += 2;
      } else {
        const value = row.values[feature.featureIndex];
        if (value === null || value === undefined) {
          cellStatus[cell] = STATUS.NULL_VALUE;
          size = NULL_VALUE_SIZE;
          timestampsSize += 2;
        } else {
          const writtenAt = row.writeTimesMicros[feature.featureIndex]!;
          cellStatus[cell] = presentStatus(writtenAt, ttlMicros, nowMicros);
          const cells = row.cells;
          if (cells) {
            const at = 2 * feature.featureIndex;
            size = cells.offsets[at + 1]! - cells.offsets[at]!;
            timestampsSize += 1 + lengthDelimitedSize(cells.offsets[at + 2]! - cells.offsets[at + 1]!);
          } else {
            // Fixed-size values (double, float, bool) need no measuring call per cell.
            if (fixedSize > 0) {
              size = fixedSize;
            } else {
              size = codec.wireSize(value);
              cellInnerSize[cell] = measured.inner;
            }
            timestampsSize += 1 + lengthDelimitedSize(timestampSize(writtenAt));
          }
        }
      }
      cellValueSize[cell] = size;
      valuesSize += 1 + lengthDelimitedSize(size);
    }
    // Statuses are packed; each (1-4) is a one-byte varint.
    const statusesSize = batchSize === 0 ? 0 : 1 + lengthDelimitedSize(batchSize);
    const vectorSize = valuesSize + statusesSize + timestampsSize;
    vectorSizes[f] = vectorSize;
    total += 1 + lengthDelimitedSize(vectorSize);
  }

  // Pass 2: write.
  const out = new WireWriter(Buffer.allocUnsafe(total));
  out.varint(tag(1, LEN));
  out.varint(metadataSize);
  out.varint(tag(1, LEN));
  out.varint(namesSize);
  for (let k = 0; k < keyColumns.length; k++) {
    const name = keyColumns[k]!.name;
    out.varint(tag(1, LEN));
    out.string(name, Buffer.byteLength(name));
  }
  for (let f = 0; f < features.length; f++) {
    const name = features[f]!.name;
    out.varint(tag(1, LEN));
    out.string(name, Buffer.byteLength(name));
  }
  for (let k = 0; k < keyColumns.length; k++) writeKeyVector(out, plan, keyColumns[k]!, keyVectorSizes[k]!);
  for (let f = 0; f < features.length; f++) {
    const feature = features[f]!;
    const lookup = plan.views[feature.viewSlot]!;
    const rows = rowsByView[feature.viewSlot]!;
    const codec = codecOf(feature.type);
    const base = f * batchSize;
    out.varint(tag(2, LEN));
    out.varint(vectorSizes[f]!);
    for (let r = 0; r < batchSize; r++) {
      const cell = base + r;
      out.varint(tag(1, LEN));
      out.varint(cellValueSize[cell]!);
      const status = cellStatus[cell]!;
      if (status === STATUS.NULL_VALUE) {
        out.varint(NULL_VAL_TAG);
        out.varint(0);
      } else if (status !== STATUS.NOT_FOUND) {
        const row = rows[lookup.rowToKey[r]!]!;
        const cells = row.cells;
        if (cells) {
          const at = 2 * feature.featureIndex;
          out.copy(cells.bytes, cells.offsets[at]!, cells.offsets[at + 1]!);
        } else {
          codec.writeWire(out, row.values[feature.featureIndex]!, cellInnerSize[cell]!);
        }
      }
    }
    if (batchSize > 0) {
      out.varint(tag(2, LEN));
      out.varint(batchSize);
      for (let r = 0; r < batchSize; r++) out.buf[out.pos++] = cellStatus[base + r]!;
    }
    for (let r = 0; r < batchSize; r++) {
      out.varint(tag(3, LEN));
      const status = cellStatus[base + r]!;
      if (status === STATUS.NOT_FOUND || status === STATUS.NULL_VALUE) {
        out.varint(0);
      } else {
        const row = rows[lookup.rowToKey[r]!]!;
        const cells = row.cells;
        if (cells) {
          const at = 2 * feature.featureIndex;
          out.varint(cells.offsets[at + 2]! - cells.offsets[at + 1]!);
          out.copy(cells.bytes, cells.offsets[at + 1]!, cells.offsets[at + 2]!);
        } else {
          const writtenAt = row.writeTimesMicros[feature.featureIndex]!;
          out.varint(timestampSize(writtenAt));
          writeTimestamp(out, writtenAt);
        }
      }
    }
  }
  if (out.pos !== total) throw new Error(`response encoder wrote ${out.pos} bytes of ${total} measured`);
  return out.buf;
}
