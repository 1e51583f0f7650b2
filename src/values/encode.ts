import type cassandra from 'cassandra-driver';

import type { Value } from '../generated/cassette/v1/Value.js';
import type { ValueType } from '../registry/index.js';
import type { StoredValue } from './decode.js';

import type { Long as ProtoLong } from '@grpc/proto-loader';

type Long = cassandra.types.Long;

/**
 * The driver's Long and proto-loader's Long are both long.js shapes ({low, high, unsigned});
 * protobufjs encodes any such object, so the driver's value goes out without a string round trip.
 */
const asProtoLong = (value: Long): ProtoLong => value as unknown as ProtoLong;

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * Converts a stored (driver) value into a proto Value for the response. Longs are passed
 * through as-is: protobufjs encodes any {low, high} object, so no string round trip is needed.
 */
export function encodeValue(type: ValueType, value: StoredValue): Value {
  switch (type) {
    case 'int32':
      return { int32_val: value as number };
    case 'int64':
      return { int64_val: asProtoLong(value as Long) };
    case 'float':
      return { float_val: value as number };
    case 'double':
      return { double_val: value as number };
    case 'string':
      return { string_val: value as string };
    case 'bytes':
      return { bytes_val: value as Buffer };
    case 'bool':
      return { bool_val: value as boolean };
    case 'unix_timestamp':
      return { unix_timestamp_val: unixSeconds(value as Date) };
    case 'int32_list':
      return { int32_list_val: { val: value as number[] } };
    case 'int64_list':
      return { int64_list_val: { val: value as unknown as ProtoLong[] } };
    case 'float_list':
      return { float_list_val: { val: value as number[] } };
    case 'double_list':
      return { double_list_val: { val: value as number[] } };
    case 'string_list':
      return { string_list_val: { val: value as string[] } };
    case 'bytes_list':
      return { bytes_list_val: { val: value as Buffer[] } };
    case 'bool_list':
      return { bool_list_val: { val: value as boolean[] } };
    case 'unix_timestamp_list':
      return { unix_timestamp_list_val: { val: (value as Date[]).map(unixSeconds) } };
  }
}
