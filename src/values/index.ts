export { decodeValue, decodeEntityKey, MAX_UNIX_SECONDS, type StoredValue, type StoredScalar } from './decode.js';
export { encodeValue } from './encode.js';
export { entityKeyString, isUnstorableKey, partitionKeyBytes, MAX_PARTITION_KEY_BYTES } from './key.js';
export { valueFromJson, valueToJson, decodedValueFromJson } from './json.js';
export { valueFromText } from './text.js';
