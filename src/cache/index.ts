export { RowCache, type RowCacheOptions, type RowCacheStats } from './row-cache.js';
export { estimateValueBytes } from './size.js';
export {
  CacheInvalidation,
  LATE_WRITE_WINDOW_MS,
  PeerInvalidations,
  rowCacheKey,
  LoggedChanges,
  MAX_LOGGED_ROWS_PER_CALL,
  WriteInvalidations,
  type ChangeLog,
  type PeerCaches,
} from './invalidation.js';
