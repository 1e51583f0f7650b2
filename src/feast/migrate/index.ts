export {
  feastTableName,
  planMigration,
  runMigration,
  type MigrationDeps,
  type MigrationOptions,
  type MigrationStatus,
  type MigrationSummary,
  type PlannedView,
} from './job.js';
export { decodeFeastEntityKey, EntityKeyError } from './entity-key.js';
export { feastCellValue, FeatureValueError } from './feature-value.js';
export { splitTokenRing, type TokenRange } from './token-ranges.js';
export { readMigrationCheckpoint, type MigrationCheckpoint, type MigrationCounts } from './checkpoint.js';
