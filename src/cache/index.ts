export { RowCache, type RowCacheOptions, type RowCacheStats } from './row-cache.js';
export { estimateValueBytes } from './size.js';
