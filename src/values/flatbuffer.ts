/**
 * A small FlatBuffers writer, enough for Arrow IPC metadata (Schema and RecordBatch messages):
 * tables of scalars and offsets, strings, vectors of tables and vectors of 16-byte structs.
 *
 * Objects are laid out front to back: a table comes first and the objects it points at after it,
 * because an offset (uoffset) must point forward. Each table's vtable sits just before it. Every
 * scalar is aligned to its size from the buffer's start, as FlatBuffers verifiers (Arrow C++'s
 * among them) require.
 *
 * Repetition is written once, as FlatBuffers allows: equal vtables are shared (a table's vtable
 * offset is signed, so it may point back), and an object referred to as `shared` (a column type,
 * an empty vector) is written once after everything else, where every reference points forward.
 * A schema of 150 columns is half the size that way.
 */

export type FbScalarKind = 'u8' | 'i16' | 'i32' | 'i64';

export type FbField =
  | { readonly slot: number; readonly kind: FbScalarKind; readonly value: number }
  /** `shared`: the same object referred to from many places is written once (see FbWriter). */
  | { readonly slot: number; readonly kind: 'offset'; readonly child: FbObject; readonly shared?: boolean };

export interface FbTable {
  readonly t: 'table';
  readonly fields: readonly FbField[];
}

export type FbObject =
  | FbTable
  | { readonly t: 'string'; readonly value: string }
  | { readonly t: 'tables'; readonly items: readonly FbTable[] }
  /** A vector of structs of two int64 each (Arrow's FieldNode and Buffer): pairs flattened. */
  | { readonly t: 'pairs'; readonly values: ArrayLike<number>; readonly count: number };

const SIZE: Record<FbScalarKind, number> = { u8: 1, i16: 2, i32: 4, i64: 8 };

export function fbTable(...fields: (FbField | undefined)[]): FbTable {
  return { t: 'table', fields: fields.filter((field): field is FbField => field !== undefined) };
}

/** Writes a little-endian int64 from an integral JS number (|n| < 2^53). */
function writeInt64(buf: Buffer, at: number, n: number): void {
  const low = n % 0x100000000;
  buf.writeInt32LE(low | 0, at);
  buf.writeInt32LE(Math.floor(n / 0x100000000) | 0, at + 4);
}

class FbWriter {
  buf: Buffer;
  pos = 4;
  /** Written vtables by their bytes. */
  private readonly vtables = new Map<string, number>();
  /** Shared objects still to write, with the offset slots that point at each. */
  private readonly pending = new Map<FbObject, number[]>();

  constructor(initial: number) {
    this.buf = Buffer.alloc(initial);
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  private align(to: number, shift = 0): void {
    while ((this.pos + shift) % to !== 0) this.pos++;
  }

  object(object: FbObject): number {
    switch (object.t) {
      case 'table':
        return this.table(object);
      case 'string': {
        const length = Buffer.byteLength(object.value);
        this.align(4);
        this.reserve(length + 5);
        const at = this.pos;
        this.buf.writeUInt32LE(length, at);
        this.buf.write(object.value, at + 4, length, 'utf8');
        this.pos = at + 4 + length + 1;
        return at;
      }
      case 'tables': {
        this.align(4);
        const count = object.items.length;
        this.reserve(4 + 4 * count);
        const at = this.pos;
        this.buf.writeUInt32LE(count, at);
        this.pos = at + 4 + 4 * count;
        for (let i = 0; i < count; i++) {
          const slot = at + 4 + 4 * i;
          const child = this.table(object.items[i]!);
          this.buf.writeUInt32LE(child - slot, slot);
        }
        return at;
      }
      case 'pairs': {
        // The length word precedes 8-aligned elements.
        this.align(8, 4);
        this.reserve(4 + 16 * object.count);
        const at = this.pos;
        this.buf.writeUInt32LE(object.count, at);
        for (let i = 0; i < 2 * object.count; i++) writeInt64(this.buf, at + 4 + 8 * i, object.values[i]!);
        this.pos = at + 4 + 16 * object.count;
        return at;
      }
    }
  }

  private table(table: FbTable): number {
    const fields = table.fields;
    let slots = 0;
    for (const field of fields) slots = Math.max(slots, field.slot + 1);
    // Layout within the table: the vtable offset, then 4-byte fields, then 8, 2 and 1-byte ones.
    const offsets = new Array<number>(fields.length);
    let size = 4;
    for (const width of [4, 8, 2, 1]) {
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i]!;
        const fieldSize = field.kind === 'offset' ? 4 : SIZE[field.kind];
        if (fieldSize !== width) continue;
        while (size % width !== 0) size++;
        offsets[i] = size;
        size += width;
      }
    }
    const vtableSize = 4 + 2 * slots;
    const entries = new Array<number>(slots).fill(0);
    for (let i = 0; i < fields.length; i++) entries[fields[i]!.slot] = offsets[i]!;
    const vtableKey = `${size}:${entries.join(',')}`;
    let vtable = this.vtables.get(vtableKey);
    if (vtable === undefined) {
      this.align(2);
      this.reserve(vtableSize);
      vtable = this.pos;
      this.buf.writeUInt16LE(vtableSize, vtable);
      this.buf.writeUInt16LE(size, vtable + 2);
      for (let s = 0; s < slots; s++) this.buf.writeUInt16LE(entries[s]!, vtable + 4 + 2 * s);
      this.pos = vtable + vtableSize;
      this.vtables.set(vtableKey, vtable);
    }
    this.align(8);
    this.reserve(size);
    const start = this.pos;
    this.buf.writeInt32LE(start - vtable, start);
    this.pos = start + size;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      const at = start + offsets[i]!;
      if (field.kind === 'u8') this.buf.writeUInt8(field.value, at);
      else if (field.kind === 'i16') this.buf.writeInt16LE(field.value, at);
      else if (field.kind === 'i32') this.buf.writeInt32LE(field.value, at);
      else if (field.kind === 'i64') writeInt64(this.buf, at, field.value);
    }
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      if (field.kind !== 'offset') continue;
      const at = start + offsets[i]!;
      if (field.shared) {
        const slots = this.pending.get(field.child);
        if (slots) slots.push(at);
        else this.pending.set(field.child, [at]);
        continue;
      }
      const child = this.object(field.child);
      this.buf.writeUInt32LE(child - at, at);
    }
    return start;
  }

  /** Writes each pending shared object once, after every slot that refers to it. */
  flushShared(): void {
    while (this.pending.size > 0) {
      const [object, slots] = this.pending.entries().next().value!;
      this.pending.delete(object);
      const at = this.object(object);
      for (const slot of slots) this.buf.writeUInt32LE(at - slot, slot);
    }
  }
}

/** The FlatBuffer whose root is `root`, padded with zeros to a multiple of 8 bytes. */
export function finishFlatBuffer(root: FbTable, sizeHint = 256): Buffer {
  const writer = new FbWriter(sizeHint);
  const at = writer.object(root);
  writer.flushShared();
  writer.buf.writeUInt32LE(at, 0);
  const size = Math.ceil(writer.pos / 8) * 8;
  if (size > writer.buf.length) {
    const grown = Buffer.alloc(size);
    writer.buf.copy(grown, 0, 0, writer.pos);
    return grown;
  }
  return writer.buf.subarray(0, size);
}
