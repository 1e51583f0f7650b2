export {
  CODECS,
  SCALAR_CODECS,
  codecOf,
  scalarCodecOf,
  type ParquetForm,
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
export { entityKeyString, isUnstorableKey, partitionKeyBytes, MAX_PARTITION_KEY_BYTES } from './key.js';
export { valueFromJson, valueToJson, decodedValueFromJson } from './json.js';
export { valueFromText } from './text.js';
export { MAX_UNIX_SECONDS } from '../time/index.js';
