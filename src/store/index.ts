export {
  connectSession,
  consistencyOf,
  driverTimeout,
  sessionCounters,
  type CassandraClient,
  type SessionOptions,
  type SessionProfile,
} from './session.js';
export type { OnlineStore, Projection, StoredRow, FeatureWrite, RowWrite } from './online-store.js';
export { CassandraStore, type ReadStatement } from './cassandra-store.js';
export { cqlType, insertStatement } from './cql.js';
export { storeError, isClientTimeout, isInvalidRequest, isTransientWriteError } from './errors.js';
export {
  StoreCounters,
  FailoverBudget,
  mayRetry,
  retryTimeout,
  MIN_RETRY_MS,
  attemptTimeout,
  type AttemptFailure,
  type RetryInput,
} from './failover.js';
