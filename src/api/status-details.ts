/**
 * google.rpc.Status with google.rpc.ErrorInfo details (proto/google/rpc), encoded and decoded by
 * hand: three small messages on the error path only, so a generic protobuf runtime would buy
 * nothing. Fields are written in field-number order and default values are left out, as
 * protobuf's canonical encoding does; decoding skips fields it does not know.
 */

export interface ErrorInfo {
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** google.protobuf.Any: a message with the URL naming its type. */
export interface AnyMessage {
  readonly typeUrl: string;
  readonly value: Buffer;
}

export interface RpcStatus {
  readonly code: number;
  readonly message: string;
  readonly details: readonly AnyMessage[];
}

export const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

class MessageWriter {
  private readonly parts: Buffer[] = [];

  private varint(value: number): void {
    const bytes: number[] = [];
    let rest = value;
    while (rest > 0x7f) {
      bytes.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    bytes.push(rest);
    this.parts.push(Buffer.from(bytes));
  }

  /** A non-negative integer field (int32 codes here are never negative). */
  uint(field: number, value: number): this {
    if (value !== 0) {
      this.varint((field << 3) | VARINT);
      this.varint(value);
    }
    return this;
  }

  bytes(field: number, value: Buffer, keepEmpty = false): this {
    if (value.length > 0 || keepEmpty) {
      this.varint((field << 3) | LENGTH_DELIMITED);
      this.varint(value.length);
      this.parts.push(value);
    }
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

type FieldValue =
  | { readonly wireType: typeof VARINT; readonly value: number }
  | { readonly wireType: typeof LENGTH_DELIMITED; readonly value: Buffer };

/** Calls `onField` for each varint and length-delimited field; throws on malformed input. */
function readFields(bytes: Buffer, onField: (field: number, value: FieldValue) => void): void {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= bytes.length || scale > 2 ** 63) throw new RangeError('truncated varint');
      const byte = bytes[pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  };
  const skip = (length: number): number => {
    const start = pos;
    pos += length;
    if (pos > bytes.length) throw new RangeError('truncated field');
    return start;
  };
  while (pos < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (wireType === VARINT) onField(field, { wireType, value: varint() });
    else if (wireType === LENGTH_DELIMITED) {
      const length = varint();
      const start = skip(length);
      onField(field, { wireType, value: bytes.subarray(start, start + length) });
    } else if (wireType === FIXED64) skip(8);
    else if (wireType === FIXED32) skip(4);
    else throw new RangeError(`unsupported wire type ${wireType}`);
  }
}

const text = (value: FieldValue): string => (value.wireType === LENGTH_DELIMITED ? value.value.toString('utf8') : '');

export function encodeErrorInfo(info: ErrorInfo): Buffer {
  const writer = new MessageWriter().string(1, info.reason).string(2, info.domain);
  for (const [key, value] of Object.entries(info.metadata)) {
    // A map entry is a message of its own, written even when both halves are empty.
    writer.bytes(3, new MessageWriter().string(1, key).string(2, value).finish(), true);
  }
  return writer.finish();
}

export function decodeErrorInfo(bytes: Buffer): ErrorInfo {
  let reason = '';
  let domain = '';
  const metadata: Record<string, string> = {};
  readFields(bytes, (field, value) => {
    if (field === 1) reason = text(value);
    else if (field === 2) domain = text(value);
    else if (field === 3 && value.wireType === LENGTH_DELIMITED) {
      let key = '';
      let entry = '';
      readFields(value.value, (entryField, entryValue) => {
        if (entryField === 1) key = text(entryValue);
        else if (entryField === 2) entry = text(entryValue);
      });
      metadata[key] = entry;
    }
  });
  return { reason, domain, metadata };
}

export function encodeRpcStatus(status: RpcStatus): Buffer {
  const writer = new MessageWriter().uint(1, status.code).string(2, status.message);
  for (const detail of status.details) {
    writer.bytes(3, new MessageWriter().string(1, detail.typeUrl).bytes(2, detail.value).finish(), true);
  }
  return writer.finish();
}

export function decodeRpcStatus(bytes: Buffer): RpcStatus {
  let code = 0;
  let message = '';
  const details: AnyMessage[] = [];
  readFields(bytes, (field, value) => {
    if (field === 1 && value.wireType === VARINT) code = value.value;
    else if (field === 2) message = text(value);
    else if (field === 3 && value.wireType === LENGTH_DELIMITED) {
      let typeUrl = '';
      let packed: Buffer = Buffer.alloc(0);
      readFields(value.value, (anyField, anyValue) => {
        if (anyField === 1) typeUrl = text(anyValue);
        else if (anyField === 2 && anyValue.wireType === LENGTH_DELIMITED) packed = anyValue.value;
      });
      details.push({ typeUrl, value: packed });
    }
  });
  return { code, message, details };
}
