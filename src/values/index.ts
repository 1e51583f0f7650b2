export { decodeValue, decodeEntityKey, MAX_KEY_PART_BYTES, type StoredValue, type StoredScalar } from './decode.js';
export { encodeValue } from './encode.js';
export { entityKeyString, isUnstorableKey } from './key.js';
export { valueFromJson, valueToJson } from './json.js';
