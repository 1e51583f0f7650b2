/**
 * Arrow columns written straight from stored values: the types (as Schema metadata describes
 * them), a record batch body measured then written into one buffer, and the column writers each
 * value codec carries as its `arrow` door (src/values/codecs.ts). Nothing is built per value:
 * a column is handed over as an array of the values already read (null for a missing one).
 *
 * Layouts follow the Arrow columnar format: a validity bitmap (omitted, length 0, when a column
 * has no nulls), then the type's buffers; a list adds int32 offsets and its child column;
 * every buffer starts on an 8-byte boundary.
 */
import { fbTable, type FbField, type FbTable } from './flatbuffer.js';

/** Arrow's Type union (Schema.fbs), the members used here. */
export const ARROW_TYPE = { Int: 2, FloatingPoint: 3, Binary: 4, Utf8: 5, Bool: 6, Timestamp: 10, List: 12 } as const;

/** A column's type as Schema metadata writes it: the union member, its table, and children. */
export interface ArrowType {
  readonly typeId: number;
  readonly table: FbTable;
  /** A list's element type. */
  readonly element?: ArrowType;
}

const EMPTY_TABLE = fbTable();

function typeOf(typeId: number, ...fields: FbField[]): ArrowType {
  return { typeId, table: fields.length === 0 ? EMPTY_TABLE : fbTable(...fields) };
}

export const arrowInt = (bitWidth: number, signed: boolean): ArrowType =>
  typeOf(ARROW_TYPE.Int, { slot: 0, kind: 'i32', value: bitWidth }, { slot: 1, kind: 'u8', value: signed ? 1 : 0 });
/** precision: 1 single, 2 double. */
export const arrowFloat = (precision: 1 | 2): ArrowType =>
  typeOf(ARROW_TYPE.FloatingPoint, { slot: 0, kind: 'i16', value: precision });
export const ARROW_UTF8 = typeOf(ARROW_TYPE.Utf8);
export const ARROW_BINARY = typeOf(ARROW_TYPE.Binary);
export const ARROW_BOOL = typeOf(ARROW_TYPE.Bool);
/** unit: 0 seconds, 2 microseconds; always UTC. */
export const arrowTimestamp = (unit: 0 | 2): ArrowType =>
  typeOf(
    ARROW_TYPE.Timestamp,
    { slot: 0, kind: 'i16', value: unit },
    { slot: 1, kind: 'offset', child: { t: 'string', value: 'UTC' } },
  );
export const arrowList = (element: ArrowType): ArrowType => ({ ...typeOf(ARROW_TYPE.List), element });

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** Typed arrays write in the platform's byte order; Arrow buffers here are little-endian. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const NO_MEMORY = new ArrayBuffer(8);

/**
 * The body of one record batch. Measuring: columns declare their nodes (length, null count) and
 * buffer lengths in schema order. Writing: columns take their buffers back in the same order
 * (nextBuffer), into `out` at `base`; padding stays zero (the buffer is zero-filled).
 *
 * Fixed-width values are written through typed arrays over `out`'s memory (i32, f32, f64, indexed
 * by absolute byte offset / width), not Buffer's per-call checked writers: `out` is laid out so
 * that the body starts 8-aligned in its ArrayBuffer, so every buffer is aligned for any width.
 */
export class BatchBody {
  nodes: number[] = [];
  /** Offset and length of each buffer, relative to the body's start. */
  buffers: number[] = [];
  size = 0;
  out: Buffer = Buffer.alloc(0);
  base = 0;
  /** `out`'s offset in its ArrayBuffer: out position p is byte memoryOffset + p of the views. */
  memoryOffset = 0;
  i32: Int32Array = new Int32Array(NO_MEMORY);
  f32: Float32Array = new Float32Array(NO_MEMORY);
  f64: Float64Array = new Float64Array(NO_MEMORY);
  private cursor = 0;

  reset(): void {
    this.nodes.length = 0;
    this.buffers.length = 0;
    this.size = 0;
    this.cursor = 0;
  }

  node(length: number, nullCount: number): void {
    this.nodes.push(length, nullCount);
  }

  buffer(length: number): void {
    this.buffers.push(this.size, length);
    this.size += pad8(length);
  }

  /** Starts writing into `out` at `base` (8-aligned in out's ArrayBuffer). */
  startWriting(out: Buffer, base: number): void {
    const memory = out.buffer;
    if ((out.byteOffset + base) % 8 !== 0) throw new Error('the record batch body is not 8-aligned');
    this.out = out;
    this.base = base;
    this.memoryOffset = out.byteOffset;
    this.i32 = new Int32Array(memory, 0, memory.byteLength >> 2);
    this.f32 = new Float32Array(memory, 0, memory.byteLength >> 2);
    this.f64 = new Float64Array(memory, 0, memory.byteLength >> 3);
    this.cursor = 0;
  }

  /** Where the next buffer starts in `out`. */
  nextBuffer(): number {
    const at = this.base + this.buffers[2 * this.cursor]!;
    this.cursor++;
    return at;
  }

  /** Where the next buffer starts in the typed views' memory (bytes). */
  nextAligned(): number {
    return this.memoryOffset + this.nextBuffer();
  }

  /** Writes an integral number (|n| < 2^53) as a little-endian int64 at aligned byte `at`. */
  int64(at: number, n: number): void {
    const i = at >> 2;
    // Int32Array stores each word modulo 2^32: two's complement for negative numbers too.
    this.i32[i] = n % 4294967296;
    this.i32[i + 1] = Math.floor(n / 4294967296);
  }

  /** Releases the response buffer (the body is module scratch; the buffer belongs to the caller). */
  finishWriting(): void {
    this.out = Buffer.alloc(0);
    this.i32 = new Int32Array(NO_MEMORY);
    this.f32 = new Float32Array(NO_MEMORY);
    this.f64 = new Float64Array(NO_MEMORY);
  }

  /** Declares a validity buffer: none (length 0) without nulls, else one bit per row. */
  validity(length: number, nullCount: number): void {
    this.buffer(nullCount === 0 ? 0 : (length + 7) >> 3);
  }

  /** Writes the validity bitmap declared by validity(): bit r set when values[r] is not null. */
  writeValidity(values: ArrayLike<unknown>, length: number, nullCount: number): void {
    const at = this.nextBuffer();
    if (nullCount === 0) return;
    const out = this.out;
    for (let r = 0; r < length; r++) if (values[r] !== null) out[at + (r >> 3)]! |= 1 << (r & 7);
  }
}

/**
 * UTF-8 length and writer for strings, with a loop for short ASCII text (feature strings are mostly
 * that): Buffer.byteLength and Buffer.write cost a native call each, which at a few hundred
 * strings per response is most of a string column's time.
 */
const SHORT_STRING = 64;

export function utf8Length(text: string): number {
  const length = text.length;
  if (length > SHORT_STRING) return Buffer.byteLength(text);
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  return length;
}

/** Writes `text` as UTF-8 at `at` (room measured by utf8Length); returns the bytes written. */
export function writeUtf8(out: Buffer, at: number, text: string): number {
  const length = text.length;
  if (length > SHORT_STRING) return out.write(text, at, 'utf8');
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    // Not ASCII after all: write it whole the usual way (over what was copied).
    if (code >= 0x80) return out.write(text, at, 'utf8');
    out[at + i] = code;
  }
  return length;
}

/** How a scalar type's values are laid out in an Arrow column. */
export type ArrowScalarDoor<V> =
  | {
      readonly layout: 'fixed';
      readonly type: ArrowType;
      /** Bytes per value. */
      readonly width: number;
      /** Writes the value at byte `at` of `body`'s typed views (aligned to the width). */
      put(body: BatchBody, at: number, value: V): void;
    }
  | { readonly layout: 'bits'; readonly type: ArrowType; isSet(value: V): boolean }
  | {
      readonly layout: 'binary';
      readonly type: ArrowType;
      byteLength(value: V): number;
      /** Writes the value's bytes at `at`; returns how many. */
      put(out: Buffer, at: number, value: V): number;
    };

/** A value type's Arrow column writer: measure(), then write() with the same values. */
export interface ArrowColumnDoor<V> {
  readonly type: ArrowType;
  /** Declares the column's nodes and buffers for `values[0, length)` (null = a null). */
  measure(body: BatchBody, values: ArrayLike<V | null>, length: number): void;
  write(body: BatchBody, values: ArrayLike<V | null>, length: number): void;
}

function nullCountOf(values: ArrayLike<unknown>, length: number): number {
  let nulls = 0;
  for (let r = 0; r < length; r++) if (values[r] === null) nulls++;
  return nulls;
}

// The data buffers of a run of values without nulls, shared by scalar columns and list children.
// A list's child takes its elements from `lists`; scalars use `values` directly.

function measureData<V>(door: ArrowScalarDoor<V>, body: BatchBody, values: ArrayLike<V | null>, length: number): void {
  if (door.layout === 'fixed') {
    body.buffer(door.width * length);
  } else if (door.layout === 'bits') {
    body.buffer((length + 7) >> 3);
  } else {
    let bytes = 0;
    for (let r = 0; r < length; r++) {
      const value = values[r];
      if (value !== null && value !== undefined) bytes += door.byteLength(value);
    }
    body.buffer(4 * (length + 1));
    body.buffer(bytes);
  }
}

function writeData<V>(door: ArrowScalarDoor<V>, body: BatchBody, values: ArrayLike<V | null>, length: number): void {
  const out = body.out;
  if (door.layout === 'fixed') {
    const at = body.nextAligned();
    const width = door.width;
    for (let r = 0; r < length; r++) {
      const value = values[r];
      if (value !== null && value !== undefined) door.put(body, at + width * r, value);
    }
  } else if (door.layout === 'bits') {
    const at = body.nextBuffer();
    for (let r = 0; r < length; r++) {
      const value = values[r];
      if (value !== null && value !== undefined && door.isSet(value)) out[at + (r >> 3)]! |= 1 << (r & 7);
    }
  } else {
    const offsets = body.nextAligned() >> 2;
    const dataAt = body.nextBuffer();
    const i32 = body.i32;
    let pos = 0;
    for (let r = 0; r < length; r++) {
      i32[offsets + r] = pos;
      const value = values[r];
      if (value !== null && value !== undefined) pos += door.put(out, dataAt + pos, value);
    }
    i32[offsets + length] = pos;
  }
}

/** The column writer of a scalar type. */
export function scalarColumn<V>(door: ArrowScalarDoor<V>): ArrowColumnDoor<V> {
  return {
    type: door.type,
    measure(body, values, length) {
      const nulls = nullCountOf(values, length);
      body.node(length, nulls);
      body.validity(length, nulls);
      measureData(door, body, values, length);
    },
    write(body, values, length) {
      body.writeValidity(values, length, nullCountOf(values, length));
      writeData(door, body, values, length);
    },
  };
}

/**
 * A list's elements flattened into one reused array, so the child column is written by the
 * element type's own data writer. Module scratch: encoding is synchronous.
 */
const flattened: unknown[] = [];

function flatten<V>(lists: ArrayLike<readonly V[] | null>, length: number): number {
  let count = 0;
  for (let r = 0; r < length; r++) {
    const list = lists[r];
    if (list) for (let i = 0; i < list.length; i++) flattened[count++] = list[i];
  }
  return count;
}

/** The column writer of a list of `element`s: list<element>, elements never null. */
export function listColumn<V>(element: ArrowScalarDoor<V>): ArrowColumnDoor<V[]> {
  return {
    type: arrowList(element.type),
    measure(body, lists, length) {
      const nulls = nullCountOf(lists, length);
      body.node(length, nulls);
      body.validity(length, nulls);
      body.buffer(4 * (length + 1));
      const count = flatten(lists, length);
      body.node(count, 0);
      body.validity(count, 0);
      measureData(element, body, flattened as V[], count);
      flattened.length = 0;
    },
    write(body, lists, length) {
      const nulls = nullCountOf(lists, length);
      body.writeValidity(lists, length, nulls);
      const offsets = body.nextAligned() >> 2;
      const i32 = body.i32;
      let count = 0;
      for (let r = 0; r < length; r++) {
        i32[offsets + r] = count;
        const list = lists[r];
        if (list) count += list.length;
      }
      i32[offsets + length] = count;
      flatten(lists, length);
      body.writeValidity(flattened, count, 0);
      writeData(element, body, flattened as V[], count);
      flattened.length = 0;
    },
  };
}
