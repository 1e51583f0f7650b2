import type { Long as ProtoLong } from '@grpc/proto-loader';
import cassandra from 'cassandra-driver';

import { quoteInput } from '../errors/index.js';
import type { Value, Value__Output } from '../generated/cassette/v1/Value.js';
import { VALUE_TYPES, type ScalarType, type ValueType } from '../registry/index.js';
import { secondsOfBigMicros, unixSeconds } from '../time/index.js';
import {
  boolFromText,
  bytesFromBase64,
  dateFromBigSeconds,
  dateFromJson,
  int32FromBigInt,
  int32FromJson,
  int64FromJson,
  int64TextToInt32,
  integerText,
  invalidValue,
  longFromBigInt,
  numberFromJson,
  numberFromText,
  parseInt64,
  scalarToJson,
  toFloat32,
  unixSecondsFromJson,
  unixSecondsToDate,
} from './parse.js';
import {
  ARROW_BINARY,
  ARROW_BOOL,
  ARROW_UTF8,
  arrowFloat,
  arrowInt,
  arrowTimestamp,
  listColumn,
  scalarColumn,
  type ArrowColumnDoor,
  type ArrowScalarDoor,
  utf8Length,
  writeUtf8,
} from './arrow.js';
import { bufferOf, ParquetTimestamp, parquetMismatch, textFromUtf8 } from './parquet.js';
import {
  FIXED32,
  FIXED64,
  int32Size,
  LEN,
  lengthDelimitedSize,
  measured,
  numberVarintSize,
  tag,
  VARINT,
  varint64Size,
  varintSize,
  type WireWriter,
} from './protobuf.js';

/**
 * One codec per value type: everything Cassette knows about a type, in one table (CODECS).
 * Generic code looks a type's codec up (once per column, not per cell) and dispatches through
 * it. Adding a value type means adding a scalar entry below; its list comes from listCodec, and
 * the compiler names every table that needs the new type.
 */

type Long = cassandra.types.Long;
const Long = cassandra.types.Long;

/** Each scalar type as the Cassandra driver binds and returns it. */
export interface ScalarValues {
  int32: number;
  int64: Long;
  float: number;
  double: number;
  string: string;
  bytes: Buffer;
  bool: boolean;
  unix_timestamp: Date;
}

/** A value of `T` as the driver binds and returns it; a list is an array of its elements. */
export type ValueOf<T extends ValueType> = T extends ScalarType
  ? ScalarValues[T]
  : T extends `${infer E extends ScalarType}_list`
    ? ScalarValues[E][]
    : never;

/** A feature value as the driver binds and returns it (see ScalarValues). */
export type StoredScalar = ScalarValues[ScalarType];
export type StoredValue = StoredScalar | StoredScalar[];

/** A set case of Value's oneof (null_val aside). */
export type ValueCase = Exclude<NonNullable<Value__Output['val']>, 'null_val'>;

/** A scalar in a decoded proto Value (int64 and timestamps as decimal text, as proto-loader gives them). */
type ProtoOf<S extends ScalarType> = NonNullable<Value__Output[`${S}_val`]>;

/**
 * Everything about one value type. `V` is the type's stored (driver) form. Methods are
 * declared as methods so that a codec of one type can stand for any type's (codecOf): a column
 * of type T only ever holds ValueOf<T>, which decode produced.
 */
export interface ValueCodec<V extends StoredValue> {
  readonly type: ValueType;
  /** The CQL column type. */
  readonly cql: string;
  /** The Value oneof case that carries it. */
  readonly protoCase: ValueCase;
  /** A set (non-null) proto Value -> stored form, with the widenings accepted; throws CST_ERR_INVALID_VALUE naming `where`. */
  decode(value: Value__Output, where: string): V;
  /** Stored form -> proto Value (int64 as a long.js-shaped object, timestamps as seconds). */
  encode(value: V): Value;
  /** The Value message body's size when it is the same for every value (double, float, bool), else 0. */
  readonly fixedWireSize: number;
  /** Size of the Value message body for `value`; leaves its length-delimited payload's length in `measured.inner`. */
  wireSize(value: V): number;
  /** Writes the Value message body; `inner` is what wireSize left in `measured.inner`. */
  writeWire(out: WireWriter, value: V, inner: number): void;
  /** Plain JSON (not null) -> decoded proto Value, as a client sends it (int64 and times as exact text). */
  fromJson(json: unknown, where: string): Value__Output;
  /**
   * The record doors, for values read from files: each goes straight to the stored form with
   * every limit checked (no proto Value in between), and throws CST_ERR_INVALID_VALUE naming
   * `where`. This one takes plain JSON (not null), as a JSON Lines record holds it.
   */
  fromJsonValue(json: unknown, where: string): V;
  /** Text (a CSV cell); see storedFromText. */
  fromTextValue(text: string, where: string): V;
  /** A Parquet reader's value (not null; see parquet.ts); text is read as fromTextValue reads it. */
  fromParquet(native: unknown, where: string): V;
  /** The proto Value in this codec's case -> plain JSON (int64 stays exact text). */
  toJson(value: Value): unknown;
  /** The Arrow door: the column type and writer for the Arrow response (src/read/arrow.ts). */
  readonly arrow: ArrowColumnDoor<V>;
}

/** A scalar codec: a ValueCodec with what its list needs of each element. */
export interface ScalarCodec<S extends ScalarType> extends ValueCodec<ScalarValues[S]> {
  readonly type: S;
  /** The table entry the codec was built from; its list codec is built from it too. */
  readonly spec: ScalarSpec<S>;
  /** JSON -> the proto scalar; throws INVALID_ARGUMENT naming `where`. */
  jsonItem(json: unknown, where: string): ProtoOf<S>;
}

/** What an entry of the table says about a scalar type. */
interface ScalarSpec<S extends ScalarType> {
  readonly cql: string;
  /** The field number of `${S}_val` in Value; its list's is 10 more. */
  readonly field: number;
  /** How an element is written: VARINT, FIXED64, FIXED32 or LEN (only LEN lists are not packed). */
  readonly wireType: number;
  /** Payload bytes when every value takes the same number, else 0. */
  readonly fixedSize: number;
  /** The cases this type accepts -> stored form; undefined for any other case. */
  decode(value: Value__Output, where: string): ScalarValues[S] | undefined;
  /** A decoded list message's elements -> stored form. */
  decodeList(value: Value__Output, where: string): ScalarValues[S][];
  /** Builds the decoded Value holding a scalar, and the one holding a list (fixed shapes). */
  proto(inner: ProtoOf<S>): Value__Output;
  protoList(items: ProtoOf<S>[]): Value__Output;
  encode(value: ScalarValues[S]): Value;
  encodeList(values: ScalarValues[S][]): Value;
  /** Bytes after the tag; a LEN payload's includes its length prefix, and leaves the length in `measured.inner`. */
  payloadSize(value: ScalarValues[S]): number;
  writePayload(out: WireWriter, value: ScalarValues[S], inner: number): void;
  /** JSON -> the proto scalar; undefined when the JSON is not of this type at all. */
  fromJson(json: unknown, where: string): ProtoOf<S> | undefined;
  /** JSON -> the stored form; undefined when the JSON is not of this type at all. */
  fromJsonValue(json: unknown, where: string): ScalarValues[S] | undefined;
  /** Text -> the stored form; by default, trimmed text read as JSON (integers, times). */
  fromTextValue?(text: string, where: string): ScalarValues[S];
  /** A Parquet value that is not text nor a list -> the stored form; undefined when it is not of this type. */
  fromParquet(native: unknown, where: string): ScalarValues[S] | undefined;
  /** How a value is laid out in an Arrow column (a list's elements too). */
  readonly arrow: ArrowScalarDoor<ScalarValues[S]>;
}

/** Names a list element in an error message. */
function elementWhere(where: string, index: number): string {
  return `${where}[${index}]`;
}

function describeCase(value: Value__Output): string {
  return value.val ?? 'no value';
}

/** The driver's Long and proto-loader's are both long.js shapes; protobufjs encodes either as is. */
function asProtoLong(value: Long): ProtoLong {
  return value as unknown as ProtoLong;
}

function scalarCodec<S extends ScalarType>(type: S, spec: ScalarSpec<S>): ScalarCodec<S> {
  const valueTag = tag(spec.field, spec.wireType);
  const scalarCase = `${type}_val` as const;
  function jsonMismatch(json: unknown, where: string) {
    return invalidValue(where, `expected ${type}, got ${JSON.stringify(json)}`);
  }
  function jsonItem(json: unknown, where: string): ProtoOf<S> {
    const inner = spec.fromJson(json, where);
    if (inner === undefined) throw jsonMismatch(json, where);
    return inner;
  }
  function fromJsonValue(json: unknown, where: string): ScalarValues[S] {
    const stored = spec.fromJsonValue(json, where);
    if (stored === undefined) throw jsonMismatch(json, where);
    return stored;
  }
  function fromTextValue(text: string, where: string): ScalarValues[S] {
    return spec.fromTextValue ? spec.fromTextValue(text, where) : fromJsonValue(text.trim(), where);
  }
  return {
    type,
    cql: spec.cql,
    protoCase: scalarCase,
    spec,
    jsonItem,
    fixedWireSize: spec.fixedSize > 0 ? 1 + spec.fixedSize : 0,
    decode(value, where) {
      const stored = spec.decode(value, where);
      if (stored === undefined) throw invalidValue(where, `expected ${type}, got ${describeCase(value)}`);
      return stored;
    },
    encode: spec.encode,
    wireSize(value) {
      // Fields 1-8: one-byte tags.
      return 1 + spec.payloadSize(value);
    },
    writeWire(out, value, inner) {
      out.varint(valueTag);
      spec.writePayload(out, value, inner);
    },
    fromJson(json, where) {
      return spec.proto(jsonItem(json, where));
    },
    fromJsonValue,
    fromTextValue,
    fromParquet(native, where) {
      if (typeof native === 'string') return fromTextValue(native, where);
      const stored = Array.isArray(native) ? undefined : spec.fromParquet(native, where);
      if (stored === undefined) throw parquetMismatch(type, native, where);
      return stored;
    },
    toJson(value) {
      return scalarToJson(value[scalarCase]);
    },
    arrow: scalarColumn(spec.arrow),
  };
}

/** The codec of a list of `element`s: a frozen CQL list, a list message in the proto (packed unless LEN). */
function listCodec<S extends ScalarType>(element: ScalarCodec<S>): ValueCodec<ScalarValues[S][]> {
  const spec = element.spec;
  const type = `${element.type}_list` as const;
  const field = spec.field + 10;
  const listCase = `${type}_val` as const;
  // Fields 11-18: one-byte tags up to 15, two from 16.
  const valueTag = tag(field, LEN);
  const valueTagSize = varintSize(valueTag);
  const packed = spec.wireType !== LEN;
  const itemTag = tag(1, LEN);

  function packedSize(list: readonly ScalarValues[S][]): number {
    if (spec.fixedSize > 0) return spec.fixedSize * list.length;
    let size = 0;
    for (let i = 0; i < list.length; i++) size += spec.payloadSize(list[i]!);
    return size;
  }

  /** Size of the list message (field 1 repeated; an empty one is not written at all). */
  function messageSize(list: readonly ScalarValues[S][]): number {
    const count = list.length;
    if (count === 0) return 0;
    if (packed) return 1 + lengthDelimitedSize(packedSize(list));
    let size = 0;
    for (let i = 0; i < count; i++) size += 1 + spec.payloadSize(list[i]!);
    return size;
  }

  // The element's index is named only when something is wrong (building that text per element is
  // not free): an element that fails is converted again, naming it.

  function itemFromJson(json: unknown, where: string, index: number): ProtoOf<S> {
    try {
      return element.jsonItem(json, where);
    } catch {
      return element.jsonItem(json, elementWhere(where, index));
    }
  }

  function storedItemFromJson(json: unknown, where: string, index: number): ScalarValues[S] {
    try {
      return element.fromJsonValue(json, where);
    } catch {
      return element.fromJsonValue(json, elementWhere(where, index));
    }
  }

  /** A Parquet list element: text as in JSON (a list's text form), anything else as its native value. */
  function storedItemFromParquet(native: unknown, where: string, index: number): ScalarValues[S] {
    if (native === null || native === undefined) {
      throw invalidValue(elementWhere(where, index), 'a list cannot hold a null');
    }
    if (typeof native === 'string') return storedItemFromJson(native, where, index);
    let stored: ScalarValues[S] | undefined;
    try {
      stored = Array.isArray(native) ? undefined : spec.fromParquet(native, where);
    } catch {
      stored = spec.fromParquet(native, elementWhere(where, index));
    }
    if (stored === undefined) throw parquetMismatch(element.type, native, elementWhere(where, index));
    return stored;
  }

  function expectArray(json: unknown, where: string): unknown[] {
    if (!Array.isArray(json)) throw invalidValue(where, `expected ${type} (an array), got ${JSON.stringify(json)}`);
    return json;
  }

  function fromJson(json: unknown, where: string): Value__Output {
    const array = expectArray(json, where);
    const items = new Array<ProtoOf<S>>(array.length);
    for (let i = 0; i < array.length; i++) items[i] = itemFromJson(array[i], where, i);
    return spec.protoList(items);
  }

  function fromJsonValue(json: unknown, where: string): ScalarValues[S][] {
    const array = expectArray(json, where);
    const list = new Array<ScalarValues[S]>(array.length);
    for (let i = 0; i < array.length; i++) list[i] = storedItemFromJson(array[i], where, i);
    return list;
  }

  function fromTextValue(text: string, where: string): ScalarValues[S][] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalidValue(where, `expected ${type} as a JSON array, got ${quoteInput(text)}`);
    }
    if (!Array.isArray(parsed)) throw invalidValue(where, `expected ${type} as a JSON array, got ${quoteInput(text)}`);
    return fromJsonValue(parsed, where);
  }

  return {
    type,
    cql: `frozen<list<${spec.cql}>>`,
    protoCase: listCase,
    decode(value, where) {
      if (value.val !== listCase) {
        throw invalidValue(where, `expected ${type} (${listCase}), got ${describeCase(value)}`);
      }
      return spec.decodeList(value, where);
    },
    encode: spec.encodeList,
    fixedWireSize: 0,
    wireSize(list) {
      const inner = messageSize(list);
      measured.inner = inner;
      return valueTagSize + lengthDelimitedSize(inner);
    },
    writeWire(out, list, inner) {
      out.varint(valueTag);
      out.varint(inner);
      const count = list.length;
      if (count === 0) return;
      if (packed) {
        // One tag and length, then the elements back to back.
        out.varint(itemTag);
        out.varint(packedSize(list));
        for (let i = 0; i < count; i++) spec.writePayload(out, list[i]!, 0);
      } else {
        for (let i = 0; i < count; i++) {
          const item = list[i]!;
          out.varint(itemTag);
          spec.payloadSize(item);
          spec.writePayload(out, item, measured.inner);
        }
      }
    },
    fromJson,
    fromJsonValue,
    fromTextValue,
    fromParquet(native, where) {
      if (typeof native === 'string') return fromTextValue(native, where);
      if (!Array.isArray(native)) throw parquetMismatch(type, native, where);
      const list = new Array<ScalarValues[S]>(native.length);
      for (let i = 0; i < native.length; i++) list[i] = storedItemFromParquet(native[i], where, i);
      return list;
    },
    toJson(value) {
      const list = value[listCase];
      return (list?.val ?? []).map(scalarToJson);
    },
    arrow: listColumn(spec.arrow),
  };
}

// What the JSON, text and Parquet forms of the number, string, bytes and bool types share with
// their proto scalars, which are their stored forms too.
const floatFromJson = (json: unknown, where: string) => numberFromJson(json, where, 'float');
const doubleFromJson = (json: unknown, where: string) => numberFromJson(json, where, 'double');
const stringFromJson = (json: unknown) => (typeof json === 'string' ? json : undefined);
const bytesFromJson = (json: unknown, where: string) =>
  typeof json === 'string' ? bytesFromBase64(json, where) : undefined;
const boolFromJson = (json: unknown) => (typeof json === 'boolean' ? json : undefined);

/** A Parquet FLOAT or DOUBLE, or an integer column read as a number. */
function numberFromParquet(native: unknown): number | undefined {
  if (typeof native === 'number') return native;
  return typeof native === 'bigint' ? Number(native) : undefined;
}

function isIntegerNumber(native: unknown): native is number {
  return typeof native === 'number' && Number.isInteger(native);
}

const INT32 = scalarCodec('int32', {
  cql: 'int',
  field: 3,
  wireType: VARINT,
  fixedSize: 0,
  decode(value, where) {
    if (value.val === 'int32_val') return value.int32_val;
    if (value.val === 'int64_val' && value.int64_val !== undefined) return int64TextToInt32(value.int64_val, where);
    return undefined;
  },
  decodeList: (value) => value.int32_list_val?.val ?? [],
  proto: (int32_val) => ({ val: 'int32_val', int32_val }),
  protoList: (val) => ({ val: 'int32_list_val', int32_list_val: { val } }),
  encode: (int32_val) => ({ int32_val }),
  encodeList: (val) => ({ int32_list_val: { val } }),
  payloadSize: int32Size,
  writePayload: (out, n) => out.int32(n),
  fromJson: int32FromJson,
  fromJsonValue: int32FromJson,
  fromParquet(native, where) {
    if (typeof native === 'bigint') return int32FromBigInt(native, where);
    return isIntegerNumber(native) ? int32FromJson(native, where) : undefined;
  },
  arrow: { layout: 'fixed', type: arrowInt(32, true), width: 4, put: (body, at, n) => void (body.i32[at >> 2] = n) },
});

const INT64 = scalarCodec('int64', {
  cql: 'bigint',
  field: 4,
  wireType: VARINT,
  fixedSize: 0,
  decode(value, where) {
    if (value.val === 'int64_val' && value.int64_val !== undefined) return parseInt64(value.int64_val, where);
    if (value.val === 'int32_val' && value.int32_val !== undefined) return Long.fromInt(value.int32_val);
    return undefined;
  },
  decodeList: (value, where) =>
    (value.int64_list_val?.val ?? []).map((text, i) => parseInt64(text, elementWhere(where, i))),
  proto: (int64_val) => ({ val: 'int64_val', int64_val }),
  protoList: (val) => ({ val: 'int64_list_val', int64_list_val: { val } }),
  // No string round trip: protobufjs encodes the driver's Long as it is.
  encode: (long) => ({ int64_val: asProtoLong(long) }),
  encodeList: (longs) => ({ int64_list_val: { val: longs.map(asProtoLong) } }),
  payloadSize: (long) => varint64Size(long.low, long.high),
  writePayload: (out, long) => out.varint64(long.low, long.high),
  fromJson: (json, where) => integerText(json, where, 'int64'),
  fromJsonValue: int64FromJson,
  // A Parquet INT64 is a bigint: it becomes the driver's Long as it is, without a detour through text.
  fromParquet(native, where) {
    if (typeof native === 'bigint') return longFromBigInt(native, where);
    return isIntegerNumber(native) ? int64FromJson(native, where) : undefined;
  },
  arrow: {
    layout: 'fixed',
    type: arrowInt(64, true),
    width: 8,
    put(body, at, long) {
      body.i32[at >> 2] = long.low;
      body.i32[(at >> 2) + 1] = long.high;
    },
  },
});

const FLOAT = scalarCodec('float', {
  cql: 'float',
  field: 6,
  wireType: FIXED32,
  fixedSize: 4,
  decode(value, where) {
    if (value.val === 'float_val') return value.float_val;
    if (value.val === 'double_val' && value.double_val !== undefined) return toFloat32(value.double_val, where);
    return undefined;
  },
  decodeList: (value) => value.float_list_val?.val ?? [],
  proto: (float_val) => ({ val: 'float_val', float_val }),
  protoList: (val) => ({ val: 'float_list_val', float_list_val: { val } }),
  encode: (float_val) => ({ float_val }),
  encodeList: (val) => ({ float_list_val: { val } }),
  payloadSize: () => 4,
  writePayload: (out, n) => out.float(n),
  fromJson: floatFromJson,
  fromJsonValue: floatFromJson,
  fromTextValue: (text, where) => numberFromText(text, 'float', where),
  fromParquet: numberFromParquet,
  arrow: { layout: 'fixed', type: arrowFloat(1), width: 4, put: (body, at, n) => void (body.f32[at >> 2] = n) },
});

const DOUBLE = scalarCodec('double', {
  cql: 'double',
  field: 5,
  wireType: FIXED64,
  fixedSize: 8,
  decode(value) {
    if (value.val === 'double_val') return value.double_val;
    if (value.val === 'float_val') return value.float_val;
    return undefined;
  },
  decodeList: (value) => value.double_list_val?.val ?? [],
  proto: (double_val) => ({ val: 'double_val', double_val }),
  protoList: (val) => ({ val: 'double_list_val', double_list_val: { val } }),
  encode: (double_val) => ({ double_val }),
  encodeList: (val) => ({ double_list_val: { val } }),
  payloadSize: () => 8,
  writePayload: (out, n) => out.double(n),
  fromJson: doubleFromJson,
  fromJsonValue: doubleFromJson,
  fromTextValue: (text, where) => numberFromText(text, 'double', where),
  fromParquet: numberFromParquet,
  arrow: { layout: 'fixed', type: arrowFloat(2), width: 8, put: (body, at, n) => void (body.f64[at >> 3] = n) },
});

const STRING = scalarCodec('string', {
  cql: 'text',
  field: 2,
  wireType: LEN,
  fixedSize: 0,
  decode: (value) => (value.val === 'string_val' ? value.string_val : undefined),
  decodeList: (value) => value.string_list_val?.val ?? [],
  proto: (string_val) => ({ val: 'string_val', string_val }),
  protoList: (val) => ({ val: 'string_list_val', string_list_val: { val } }),
  encode: (string_val) => ({ string_val }),
  encodeList: (val) => ({ string_list_val: { val } }),
  payloadSize(text) {
    const length = Buffer.byteLength(text);
    measured.inner = length;
    return lengthDelimitedSize(length);
  },
  writePayload: (out, text, length) => out.string(text, length),
  fromJson: stringFromJson,
  fromJsonValue: stringFromJson,
  // Strings are taken as they are, surrounding spaces included.
  fromTextValue: (text) => text,
  // UTF-8 byte arrays (the reader leaves them undecoded).
  fromParquet: (native, where) => (native instanceof Uint8Array ? textFromUtf8(native, where) : undefined),
  arrow: {
    layout: 'binary',
    type: ARROW_UTF8,
    byteLength: utf8Length,
    put: writeUtf8,
  },
});

const BYTES = scalarCodec('bytes', {
  cql: 'blob',
  field: 1,
  wireType: LEN,
  fixedSize: 0,
  decode: (value) => (value.val === 'bytes_val' ? value.bytes_val : undefined),
  decodeList: (value) => value.bytes_list_val?.val ?? [],
  proto: (bytes_val) => ({ val: 'bytes_val', bytes_val }),
  protoList: (val) => ({ val: 'bytes_list_val', bytes_list_val: { val } }),
  encode: (bytes_val) => ({ bytes_val }),
  encodeList: (val) => ({ bytes_list_val: { val } }),
  payloadSize(bytes) {
    measured.inner = bytes.length;
    return lengthDelimitedSize(bytes.length);
  },
  writePayload: (out, bytes) => out.bytes(bytes),
  fromJson: bytesFromJson,
  fromJsonValue: bytesFromJson,
  fromTextValue: bytesFromBase64,
  fromParquet: (native) => (native instanceof Uint8Array ? bufferOf(native) : undefined),
  arrow: {
    layout: 'binary',
    type: ARROW_BINARY,
    byteLength: (bytes) => bytes.length,
    put: (out, at, bytes) => bytes.copy(out, at),
  },
});

const BOOL = scalarCodec('bool', {
  cql: 'boolean',
  field: 7,
  wireType: VARINT,
  fixedSize: 1,
  decode: (value) => (value.val === 'bool_val' ? value.bool_val : undefined),
  decodeList: (value) => value.bool_list_val?.val ?? [],
  proto: (bool_val) => ({ val: 'bool_val', bool_val }),
  protoList: (val) => ({ val: 'bool_list_val', bool_list_val: { val } }),
  encode: (bool_val) => ({ bool_val }),
  encodeList: (val) => ({ bool_list_val: { val } }),
  payloadSize: () => 1,
  writePayload: (out, value) => out.bool(value),
  fromJson: boolFromJson,
  fromJsonValue: boolFromJson,
  fromTextValue: boolFromText,
  fromParquet: boolFromJson,
  arrow: { layout: 'bits', type: ARROW_BOOL, isSet: (value) => value },
});

/** Whole unix seconds; stored as the Date the driver maps a CQL timestamp to. */
const UNIX_TIMESTAMP = scalarCodec('unix_timestamp', {
  cql: 'timestamp',
  field: 8,
  wireType: VARINT,
  fixedSize: 0,
  decode(value, where) {
    if (value.val === 'unix_timestamp_val' && value.unix_timestamp_val !== undefined)
      return unixSecondsToDate(value.unix_timestamp_val, where);
    if (value.val === 'int64_val' && value.int64_val !== undefined) return unixSecondsToDate(value.int64_val, where);
    return undefined;
  },
  decodeList: (value, where) =>
    (value.unix_timestamp_list_val?.val ?? []).map((text, i) => unixSecondsToDate(text, elementWhere(where, i))),
  proto: (unix_timestamp_val) => ({ val: 'unix_timestamp_val', unix_timestamp_val }),
  protoList: (val) => ({ val: 'unix_timestamp_list_val', unix_timestamp_list_val: { val } }),
  encode: (date) => ({ unix_timestamp_val: unixSeconds(date) }),
  encodeList: (dates) => ({ unix_timestamp_list_val: { val: dates.map(unixSeconds) } }),
  payloadSize: (date) => numberVarintSize(unixSeconds(date)),
  writePayload: (out, date) => out.numberVarint(unixSeconds(date)),
  fromJson: unixSecondsFromJson,
  fromJsonValue: dateFromJson,
  // TIMESTAMP (floored to the second), DATE, or integer seconds.
  fromParquet(native, where) {
    if (native instanceof ParquetTimestamp) return dateFromBigSeconds(secondsOfBigMicros(native.micros), where);
    if (native instanceof Date) return dateFromJson(unixSeconds(native), where);
    if (typeof native === 'bigint') return dateFromBigSeconds(native, where);
    return isIntegerNumber(native) ? dateFromJson(native, where) : undefined;
  },
  // timestamp[s, UTC]: whole seconds, as the type holds them.
  arrow: {
    layout: 'fixed',
    type: arrowTimestamp(0),
    width: 8,
    put: (body, at, date) => body.int64(at, unixSeconds(date)),
  },
});

/** Every scalar type's codec. */
export const SCALAR_CODECS = {
  int32: INT32,
  int64: INT64,
  float: FLOAT,
  double: DOUBLE,
  string: STRING,
  bytes: BYTES,
  bool: BOOL,
  unix_timestamp: UNIX_TIMESTAMP,
} satisfies { [S in ScalarType]: ScalarCodec<S> };

/** Every value type's codec: the compiler checks that each type has one, of its own stored form. */
export const CODECS = {
  ...SCALAR_CODECS,
  int32_list: listCodec(INT32),
  int64_list: listCodec(INT64),
  float_list: listCodec(FLOAT),
  double_list: listCodec(DOUBLE),
  string_list: listCodec(STRING),
  bytes_list: listCodec(BYTES),
  bool_list: listCodec(BOOL),
  unix_timestamp_list: listCodec(UNIX_TIMESTAMP),
} satisfies { [T in ValueType]: ValueCodec<ValueOf<T>> };

/** The codec of `type`, for code that handles any type (look it up once per column, not per value). */
export function codecOf(type: ValueType): ValueCodec<StoredValue> {
  return CODECS[type];
}

export function scalarCodecOf(type: ScalarType): ScalarCodec<ScalarType> {
  return SCALAR_CODECS[type];
}

const CODEC_BY_CASE: ReadonlyMap<ValueCase, ValueCodec<StoredValue>> = new Map(
  VALUE_TYPES.map((type) => [CODECS[type].protoCase, codecOf(type)]),
);

/** The codec whose case `valueCase` is. */
export function codecOfCase(valueCase: ValueCase): ValueCodec<StoredValue> {
  return CODEC_BY_CASE.get(valueCase)!;
}
