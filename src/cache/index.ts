export { RowCache, type RowCacheOptions, type RowCacheStats } from './row-cache.js';
export { estimateValueBytes } from './size.js';
export {
  CacheInvalidation,
  LATE_WRITE_WINDOW_MS,
  PeerInvalidations,
  rowCacheKey,
  WriteInvalidations,
  type PeerCaches,
} from './invalidation.js';
