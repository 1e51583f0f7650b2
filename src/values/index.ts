export {
  CODECS,
  SCALAR_CODECS,
  codecOf,
  scalarCodecOf,
  type ScalarCodec,
  type ScalarValues,
  type StoredScalar,
  type StoredValue,
  type ValueCase,
  type ValueCodec,
  type ValueOf,
} from './codecs.js';
export { decodeValue, decodeEntityKey } from './decode.js';
export { encodeValue } from './encode.js';
export {
  entityKeyString,
  invalidEntityKey,
  isStorableKeyPart,
  isUnstorableKey,
  keyPartProblem,
  partitionKeyBytes,
  MAX_PARTITION_KEY_BYTES,
} from './key.js';
export { valueFromJson, valueToJson } from './json.js';
export { storedFromJson, storedFromParquet, storedFromText } from './record.js';
export { ParquetTimestamp } from './parquet.js';
export { MAX_UNIX_SECONDS } from '../time/index.js';
