export {
  connectSession,
  consistencyOf,
  type CassandraClient,
  type SessionOptions,
  type SessionProfile,
} from './session.js';
export { OnlineStore, type StoredRow, type FeatureWrite, type RowWrite } from './online-store.js';
export {
  applyRegistry,
  loadRegistry,
  registryVersion,
  ensureKeyspace,
  REGISTRY_TABLE,
  type ApplyResult,
  type KeyspaceSettings,
  type StoredRegistry,
} from '../registry/storage.js';
export { cqlType, insertStatement } from './cql.js';
export { storeError, isClientTimeout, isTransientWriteError } from './errors.js';
