export * from './types.js';
export { parseRegistry, parseFeatureRef, RegistryValidationError, type RegistryProblem } from './parse.js';
export { parseDurationSeconds, formatDurationSeconds } from './duration.js';
export { describeRegistry } from './describe.js';
