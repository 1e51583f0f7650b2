/**
 * Protobuf wire primitives: sizes, and a writer into a buffer measured to fit exactly. The value
 * codecs use them for Value messages, src/read/wire.ts for the response around them.
 */

// Wire types.
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

export function tag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

export function varintSize(value: number): number {
  // `value` is a non-negative integer below 2^32 (lengths, tags, statuses, nanos).
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Size of a 64-bit varint given as two's-complement halves. */
export function varint64Size(low: number, high: number): number {
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

// Halves of the last number split by splitNumber (module scratch: encoding is synchronous).
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

/** Size of an integral JS number (|n| < 2^63) as an int64 varint. */
export function numberVarintSize(n: number): number {
  if (n >= 0 && n < 0x100000000) return varintSize(n);
  splitNumber(n);
  return varint64Size(splitLow, splitHigh);
}

/** int32 is sign-extended to 64 bits on the wire: a negative one always takes 10 bytes. */
export function int32Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

export function lengthDelimitedSize(size: number): number {
  return varintSize(size) + size;
}

/**
 * What the last size measurement found of a length-delimited payload (a string's UTF-8 length,
 * a list message's size), so the writer need not measure it again. Module scratch, like the
 * encoders that use it: measuring and writing are synchronous.
 */
export const measured = { inner: 0 };

/** Writes protobuf primitives into a buffer measured to fit exactly. */
export class WireWriter {
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

  bool(value: boolean): void {
    this.buf[this.pos++] = value ? 1 : 0;
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
}
