import { CassetteError } from '../../errors/index.js';
import type { Value__Output } from '../../generated/cassette/v1/Value.js';

/**
 * Feast's serialized entity key (sdk/python/feast/infra/key_encoding_utils.py,
 * serialize_entity_key), which its Cassandra online store keeps as hex text. Join keys are sorted
 * by name; all integers are little-endian unsigned 32-bit unless said otherwise:
 *
 *   version 3:  count, then per key: type (STRING = 2), length, UTF-8 name;
 *               then per value: type, length, bytes
 *   version 2:  per key: type (2) and the UTF-8 name with no length (so the names must be known);
 *               then the values as in version 3
 *   version 1:  as version 2, but an INT64 value takes 4 bytes
 *
 * A value is a STRING (UTF-8), BYTES, INT32 (4 bytes), INT64 (8) or UNIX_TIMESTAMP (8), the
 * integers signed little-endian.
 */

/** feast.types.ValueType numbers that occur in serialized keys. */
const BYTES = 1;
const STRING = 2;
const INT32 = 3;
const INT64 = 4;
const UNIX_TIMESTAMP = 8;

export class EntityKeyError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_REJECTED_RECORD', message);
    this.name = 'EntityKeyError';
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

class KeyReader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  uint32(what: string): number {
    if (this.offset + 4 > this.bytes.length) throw new EntityKeyError(`the entity key ends inside ${what}`);
    const n = this.bytes.readUInt32LE(this.offset);
    this.offset += 4;
    return n;
  }

  take(length: number, what: string): Buffer {
    if (this.offset + length > this.bytes.length) throw new EntityKeyError(`the entity key ends inside ${what}`);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }
}

function keyValue(type: number, bytes: Buffer, joinKey: string): Value__Output {
  switch (type) {
    case STRING:
      return { val: 'string_val', string_val: bytes.toString('utf8') };
    case BYTES:
      return { val: 'bytes_val', bytes_val: Buffer.from(bytes) };
    case INT32:
      if (bytes.length !== 4) break;
      return { val: 'int32_val', int32_val: bytes.readInt32LE(0) };
    case INT64:
    case UNIX_TIMESTAMP: {
      // Version 1 wrote INT64 in 4 bytes.
      let text: string;
      if (bytes.length === 8) text = bytes.readBigInt64LE(0).toString();
      else if (bytes.length === 4 && type === INT64) text = String(bytes.readInt32LE(0));
      else break;
      return type === INT64
        ? { val: 'int64_val', int64_val: text }
        : { val: 'unix_timestamp_val', unix_timestamp_val: text };
    }
    default:
      throw new EntityKeyError(`join key "${joinKey}" has value type ${type}, which Feast does not serialize in keys`);
  }
  throw new EntityKeyError(`join key "${joinKey}": a value of type ${type} cannot be ${bytes.length} bytes long`);
}

/**
 * Decodes one entity key of Feast's online table into join key -> value, as Cassette's
 * write path takes entity keys. `joinKeys` are the view's join keys sorted by name (needed for
 * versions 1 and 2, checked for version 3). Throws EntityKeyError saying what is wrong.
 */
export function decodeFeastEntityKey(
  hex: string,
  version: number,
  joinKeys: readonly string[],
): Record<string, Value__Output> {
  if (!HEX.test(hex)) throw new EntityKeyError('the entity key is not hex text');
  const reader = new KeyReader(Buffer.from(hex, 'hex'));
  const names: string[] = [];
  if (version >= 3) {
    const count = reader.uint32('the key count');
    if (count !== joinKeys.length) {
      throw new EntityKeyError(`the entity key has ${count} join keys; the view has ${joinKeys.length}`);
    }
    for (let i = 0; i < count; i++) {
      const type = reader.uint32('a join key type');
      if (type !== STRING) throw new EntityKeyError(`join key ${i} has type ${type}, not STRING`);
      names.push(reader.take(reader.uint32('a join key length'), 'a join key name').toString('utf8'));
    }
  } else {
    for (const expected of joinKeys) {
      const type = reader.uint32('a join key type');
      if (type !== STRING) throw new EntityKeyError(`join key "${expected}" has type ${type}, not STRING`);
      const name = reader.take(Buffer.byteLength(expected), `join key "${expected}"`).toString('utf8');
      if (name !== expected) throw new EntityKeyError(`expected join key "${expected}", found "${name}"`);
      names.push(name);
    }
  }
  const keys: Record<string, Value__Output> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name !== joinKeys[i]) {
      throw new EntityKeyError(`the entity key has join keys ${names.join(', ')}; the view has ${joinKeys.join(', ')}`);
    }
    const type = reader.uint32(`the type of "${name}"`);
    const bytes = reader.take(reader.uint32(`the length of "${name}"`), `the value of "${name}"`);
    keys[name] = keyValue(type, bytes, name);
  }
  if (!reader.done) throw new EntityKeyError('the entity key has bytes after its last value');
  return keys;
}
