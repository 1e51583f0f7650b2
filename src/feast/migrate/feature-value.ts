import { CassetteError } from '../../errors/index.js';
import type { Value__Output } from '../../generated/cassette/v1/Value.js';
import { VALUE_TYPES } from '../../registry/index.js';
import { codecOf } from '../../values/index.js';
import { decodeFeastValue } from '../registry-import/index.js';

/** The cases of feast.types.Value that Cassette's Value has too (same field numbers and shapes). */
const SHARED_CASES: ReadonlySet<string> = new Set([...VALUE_TYPES.map((t) => codecOf(t).protoCase), 'null_val']);

/** A null Value: clears the stored value, as Feast's empty Value stands for a null feature. */
const NULL_VALUE: Value__Output = { val: 'null_val', null_val: 'NULL' };

export class FeatureValueError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_REJECTED_RECORD', message);
    this.name = 'FeatureValueError';
  }
}

/**
 * A cell of Feast's online table (a serialized feast.types.Value) as Cassette's Value, which
 * the write path then converts to the stored form of the feature's type (src/values codecs),
 * with the same widenings and checks as any write. An empty Value (Feast writes one for a null
 * feature) is null. A case Cassette has no type for (maps, sets, JSON, ...) is refused.
 */
export function feastCellValue(bytes: Buffer | null): Value__Output {
  if (bytes === null || bytes.length === 0) return NULL_VALUE;
  let value;
  try {
    value = decodeFeastValue(bytes);
  } catch (error) {
    throw new FeatureValueError(`the value is not a serialized feast.types.Value: ${(error as Error).message}`);
  }
  if (value.val === undefined) return NULL_VALUE;
  if (!SHARED_CASES.has(value.val)) throw new FeatureValueError(`a ${value.val} value has no Cassette type`);
  // The shared cases have the same names and decoded shapes in both protos.
  return value as Value__Output;
}
