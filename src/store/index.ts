export {
  connectSession,
  consistencyOf,
  type CassandraClient,
  type SessionOptions,
  type SessionProfile,
} from './session.js';
export { OnlineStore, type StoredRow, type FeatureWrite, type RowWrite } from './online-store.js';
export { cqlType } from './cql.js';
export { storeError, isClientTimeout, isInvalidRequest, isTransientWriteError } from './errors.js';
