import type cassandra from 'cassandra-driver';

import type { FeatureViewDef, ValueType } from '../registry/index.js';
import type { StoredRow } from '../store/index.js';
import type { StoredValue } from '../values/index.js';
import type { LookupPlan } from './plan.js';
import { presentStatus, STATUS } from './status.js';

type Long = cassandra.types.Long;

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
 * (test/unit/wire.test.ts checks this for every value type); fields are written in
 * field-number order, scalars in proto3 form, numeric lists packed.
 */

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

// Value's oneof field numbers (proto/cassette/v1/types.proto).
const VALUE_FIELD: Record<ValueType, number> = {
  bytes: 1,
  string: 2,
  int32: 3,
  int64: 4,
  double: 5,
  float: 6,
  bool: 7,
  unix_timestamp: 8,
  bytes_list: 11,
  string_list: 12,
  int32_list: 13,
  int64_list: 14,
  double_list: 15,
  float_list: 16,
  bool_list: 17,
  unix_timestamp_list: 18,
};
const NULL_VAL_TAG = tag(19, VARINT);
/** A null_val Value: its two-byte tag and the enum's zero. */
const NULL_VALUE_SIZE = 3;

function varintSize(value: number): number {
  // `value` is a non-negative integer below 2^32 (lengths, tags, statuses, nanos).
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Size of a 64-bit varint given as two's-complement halves. */
function varint64Size(low: number, high: number): number {
  if (high === 0) return varintSize(low >>> 0);
  const hi = high >>> 0;
  // Bits 32 and up: each further 7 bits of `high` adds a byte; a negative number takes all 10.
  if (hi < 0x8) return 5;
  if (hi < 0x400) return 6;
  if (hi < 0x20000) return 7;
  if (hi < 0x1000000) return 8;
  if (hi < 0x80000000) return 9;
  return 10;
}

// Halves of the last number split by splitNumber (module scratch: the encoder is synchronous).
let splitLow = 0;
let splitHigh = 0;

/** Splits an integral JS number (|n| < 2^63) into two's-complement 32-bit halves. */
function splitNumber(n: number): void {
  const negative = n < 0;
  const magnitude = negative ? -n : n;
  let low = magnitude % 0x100000000;
  let high = Math.floor(magnitude / 0x100000000);
  if (negative) {
    // Two's complement: invert and add one, carrying into the high half.
    low = ~low >>> 0;
    high = ~high >>> 0;
    low += 1;
    if (low > 0xffffffff) {
      low = 0;
      high = (high + 1) >>> 0;
    }
  }
  splitLow = low >>> 0;
  splitHigh = high >>> 0;
}

function numberVarintSize(n: number): number {
  if (n >= 0 && n < 0x100000000) return varintSize(n);
  splitNumber(n);
  return varint64Size(splitLow, splitHigh);
}

/** int32 is sign-extended to 64 bits on the wire: a negative one always takes 10 bytes. */
function int32Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function lengthDelimitedSize(size: number): number {
  return varintSize(size) + size;
}

/** The packed payload of a numeric list (field 1's bytes). */
function packedSize(type: ValueType, list: readonly unknown[]): number {
  const count = list.length;
  let size = 0;
  switch (type) {
    case 'int32_list':
      for (let i = 0; i < count; i++) size += int32Size(list[i] as number);
      return size;
    case 'int64_list':
      for (let i = 0; i < count; i++) {
        const long = list[i] as Long;
        size += varint64Size(long.low, long.high);
      }
      return size;
    case 'unix_timestamp_list':
      for (let i = 0; i < count; i++) size += numberVarintSize(unixSeconds(list[i] as Date));
      return size;
    case 'double_list':
      return 8 * count;
    case 'float_list':
      return 4 * count;
    case 'bool_list':
      return count;
    default:
      throw new Error(`not a packed list type: ${type}`);
  }
}

/** Size of a list message (BytesList, Int64List, …) holding `list`. */
function listMessageSize(type: ValueType, list: readonly unknown[]): number {
  const count = list.length;
  // An empty repeated field is not written at all.
  if (count === 0) return 0;
  let size = 0;
  if (type === 'string_list') {
    for (let i = 0; i < count; i++) size += 1 + lengthDelimitedSize(Buffer.byteLength(list[i] as string));
    return size;
  }
  if (type === 'bytes_list') {
    for (let i = 0; i < count; i++) size += 1 + lengthDelimitedSize((list[i] as Buffer).length);
    return size;
  }
  return 1 + lengthDelimitedSize(packedSize(type, list));
}

/**
 * Measures the Value message for `value`: returns its size (without its own tag and length)
 * and leaves the length of its one length-delimited field (string bytes, bytes, list message)
 * in `innerSize`, so the writer need not measure a string twice.
 */
let innerSize = 0;
function valueSize(type: ValueType, value: StoredValue): number {
  switch (type) {
    case 'string':
      innerSize = Buffer.byteLength(value as string);
      return 1 + lengthDelimitedSize(innerSize);
    case 'bytes':
      innerSize = (value as Buffer).length;
      return 1 + lengthDelimitedSize(innerSize);
    case 'int32':
      return 1 + int32Size(value as number);
    case 'int64': {
      const long = value as Long;
      return 1 + varint64Size(long.low, long.high);
    }
    case 'double':
      return 9;
    case 'float':
      return 5;
    case 'bool':
      return 2;
    case 'unix_timestamp':
      return 1 + numberVarintSize(unixSeconds(value as Date));
    default:
      // Lists are fields 11-18: tags of one byte up to field 15, two from 16.
      innerSize = listMessageSize(type, value as unknown[]);
      return varintSize(tag(VALUE_FIELD[type], LEN)) + lengthDelimitedSize(innerSize);
  }
}

function timestampSize(micros: number): number {
  const seconds = Math.floor(micros / 1e6);
  const nanos = (micros - seconds * 1e6) * 1000;
  return (seconds === 0 ? 0 : 1 + numberVarintSize(seconds)) + (nanos === 0 ? 0 : 1 + varintSize(nanos));
}

/** Writes protobuf primitives into a buffer measured to fit exactly. */
class WireWriter {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(value: number): void {
    // Non-negative, below 2^32.
    const buf = this.buf;
    while (value > 0x7f) {
      buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[this.pos++] = value;
  }

  varint64(low: number, high: number): void {
    let lo = low >>> 0;
    let hi = high >>> 0;
    const buf = this.buf;
    while (hi !== 0 || lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  numberVarint(n: number): void {
    if (n >= 0 && n < 0x100000000) {
      this.varint(n);
    } else {
      splitNumber(n);
      this.varint64(splitLow, splitHigh);
    }
  }

  int32(n: number): void {
    if (n >= 0) this.varint(n);
    else this.varint64(n, 0xffffffff);
  }

  string(text: string, byteLength: number): void {
    this.varint(byteLength);
    this.pos += this.buf.write(text, this.pos, byteLength, 'utf8');
  }

  bytes(bytes: Buffer): void {
    this.varint(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  /** Copies `src[start, end)`; short runs byte by byte, which beats Buffer.copy's call overhead. */
  copy(src: Buffer, start: number, end: number): void {
    if (end - start < 32) {
      const buf = this.buf;
      for (let i = start; i < end; i++) buf[this.pos++] = src[i]!;
    } else {
      src.copy(this.buf, this.pos, start, end);
      this.pos += end - start;
    }
  }

  double(n: number): void {
    this.pos = this.buf.writeDoubleLE(n, this.pos);
  }

  float(n: number): void {
    this.pos = this.buf.writeFloatLE(n, this.pos);
  }

  /** A list message of `size` bytes (as measured by listMessageSize), with its length prefix. */
  list(type: ValueType, list: readonly unknown[], size: number): void {
    this.varint(size);
    const count = list.length;
    if (count === 0) return;
    if (type === 'string_list') {
      for (let i = 0; i < count; i++) {
        const text = list[i] as string;
        this.varint(tag(1, LEN));
        this.string(text, Buffer.byteLength(text));
      }
      return;
    }
    if (type === 'bytes_list') {
      for (let i = 0; i < count; i++) {
        this.varint(tag(1, LEN));
        this.bytes(list[i] as Buffer);
      }
      return;
    }
    // Packed: one tag and length, then the elements back to back.
    this.varint(tag(1, LEN));
    this.varint(packedSize(type, list));
    switch (type) {
      case 'int32_list':
        for (let i = 0; i < count; i++) this.int32(list[i] as number);
        return;
      case 'int64_list':
        for (let i = 0; i < count; i++) {
          const long = list[i] as Long;
          this.varint64(long.low, long.high);
        }
        return;
      case 'unix_timestamp_list':
        for (let i = 0; i < count; i++) this.numberVarint(unixSeconds(list[i] as Date));
        return;
      case 'double_list':
        for (let i = 0; i < count; i++) this.double(list[i] as number);
        return;
      case 'float_list':
        for (let i = 0; i < count; i++) this.float(list[i] as number);
        return;
      case 'bool_list':
        for (let i = 0; i < count; i++) this.buf[this.pos++] = list[i] ? 1 : 0;
        return;
    }
  }

  /** The body of a Value message; `inner` is what valueSize left in innerSize. */
  value(type: ValueType, value: StoredValue, inner: number): void {
    const field = VALUE_FIELD[type];
    switch (type) {
      case 'string':
        this.varint(tag(field, LEN));
        this.string(value as string, inner);
        return;
      case 'bytes':
        this.varint(tag(field, LEN));
        this.bytes(value as Buffer);
        return;
      case 'int32':
        this.varint(tag(field, VARINT));
        this.int32(value as number);
        return;
      case 'int64': {
        const long = value as Long;
        this.varint(tag(field, VARINT));
        this.varint64(long.low, long.high);
        return;
      }
      case 'double':
        this.varint(tag(field, FIXED64));
        this.double(value as number);
        return;
      case 'float':
        this.varint(tag(field, FIXED32));
        this.float(value as number);
        return;
      case 'bool':
        this.varint(tag(field, VARINT));
        this.buf[this.pos++] = value ? 1 : 0;
        return;
      case 'unix_timestamp':
        this.varint(tag(field, VARINT));
        this.numberVarint(unixSeconds(value as Date));
        return;
      default:
        this.varint(tag(field, LEN));
        this.list(type, value as unknown[], inner);
    }
  }

  timestamp(micros: number): void {
    const seconds = Math.floor(micros / 1e6);
    const nanos = (micros - seconds * 1e6) * 1000;
    if (seconds !== 0) {
      this.varint(tag(1, VARINT));
      this.numberVarint(seconds);
    }
    if (nanos !== 0) {
      this.varint(tag(2, VARINT));
      this.varint(nanos);
    }
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
      size += valueSize(view.features[i]!.type, value);
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
      const type = view.features[i]!.type;
      // The string's byte length (or list's size), as valueSize leaves it.
      valueSize(type, value);
      out.value(type, value, innerSize);
      out.timestamp(row.writeTimesMicros[i]!);
    }
  }
  if (out.pos !== size) throw new Error(`cell encoder wrote ${out.pos} bytes of ${size} measured`);
  return { bytes: out.buf, offsets };
}

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
 * ttl OUTSIDE_MAX_AGE (see presentStatus).
 */
export function encodeResponse(
  plan: LookupPlan,
  rowsByView: readonly (readonly (ServedRow | null)[])[],
  nowMicros: number,
): Buffer {
  const { batchSize, features } = plan;
  ensureScratch(features.length * batchSize);

  // Pass 1: measure every cell, vector and the whole message.
  let namesSize = 0;
  for (let f = 0; f < features.length; f++) {
    namesSize += 1 + lengthDelimitedSize(Buffer.byteLength(features[f]!.name));
  }
  const metadataSize = 1 + lengthDelimitedSize(namesSize);
  let total = 1 + lengthDelimitedSize(metadataSize);
  const vectorSizes = new Int32Array(features.length);
  for (let f = 0; f < features.length; f++) {
    const feature = features[f]!;
    const lookup = plan.views[feature.viewSlot]!;
    const rows = rowsByView[feature.viewSlot]!;
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
            size = valueSize(feature.type, value);
            cellInnerSize[cell] = innerSize;
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
  for (let f = 0; f < features.length; f++) {
    const name = features[f]!.name;
    out.varint(tag(1, LEN));
    out.string(name, Buffer.byteLength(name));
  }
  for (let f = 0; f < features.length; f++) {
    const feature = features[f]!;
    const lookup = plan.views[feature.viewSlot]!;
    const rows = rowsByView[feature.viewSlot]!;
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
          out.value(feature.type, row.values[feature.featureIndex]!, cellInnerSize[cell]!);
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
          out.timestamp(writtenAt);
        }
      }
    }
  }
  if (out.pos !== total) throw new Error(`response encoder wrote ${out.pos} bytes of ${total} measured`);
  return out.buf;
}
