export { decodeValue, decodeEntityKey, type StoredValue, type StoredScalar } from './decode.js';
export { encodeValue } from './encode.js';
export { entityKeyString } from './key.js';
export { valueFromJson, valueToJson } from './json.js';
