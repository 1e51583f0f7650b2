export { readFeastRepo, type FeastRepo } from './feast-repo.js';
export {
  cassetteTypeOf,
  convertFeastRegistry,
  feastViewShapes,
  type ConvertedRegistry,
  type FeastViewShape,
  type RegistryDocument,
} from './convert.js';
export { renderRegistryYaml, type ImportSource } from './render.js';
export { decodeFeastRegistry, decodeFeastValue, encodeFeastRegistry, encodeFeastValue } from './feast-protos.js';
