import type { Value } from '../generated/cassette/v1/Value.js';
import type { ValueType } from '../registry/index.js';
import { codecOf, type StoredValue } from './codecs.js';

/**
 * Converts a stored (driver) value into a proto Value for the response. Longs are passed
 * through as-is: protobufjs encodes any {low, high} object, so no string round trip is needed.
 */
export function encodeValue(type: ValueType, value: StoredValue): Value {
  return codecOf(type).encode(value);
}
