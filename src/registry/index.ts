// The registry's model, parsing and API mapping. What talks to Cassandra is imported from its
// own module (storage.ts: apply, DDL and load; sync.ts: polling), so this barrel stays free of
// the driver and of src/store, which itself depends on the model.
export * from './types.js';
export { parseRegistry, parseFeatureRef, RegistryValidationError, type RegistryProblem } from './parse.js';
export { parseDurationSeconds, formatDurationSeconds } from './duration.js';
export { describeRegistry } from './describe.js';
export { readRegistryFile, type RegistryFile } from './file.js';
export { viewNamed } from './lookup.js';
export {
  entitySpec,
  featureServiceSpec,
  featureSpec,
  featureViewFromSpec,
  featureViewSpec,
  formatFeatureRef,
  listFeatureServicesResponse,
  listFeatureViewsResponse,
} from './api-mapping.js';
