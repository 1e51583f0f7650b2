import { estimateValueBytes, type RowCache } from '../cache/index.js';
import type { CallContext } from '../concurrency/call.js';
import type { FeatureViewDef } from '../registry/index.js';
import { isClientTimeout, type Projection } from '../store/index.js';
import type { StoredScalar } from '../values/index.js';
import type { RowReader } from './row-reader.js';
import { encodeCells, type ServedRow } from './wire.js';

/** The cache's size estimate of a row: its values, write times and encoded cells. */
export function servedRowBytes(row: ServedRow): number {
  let bytes = 64 + row.writeTimesMicros.byteLength;
  for (const value of row.values) bytes += estimateValueBytes(value);
  if (row.cells) bytes += 64 + row.cells.bytes.length + row.cells.offsets.byteLength;
  return bytes;
}

/**
 * The cache layer over another reader (the store's): answers from the RowCache when it can,
 * shares one read among concurrent misses of a row (RowCache.get), and keeps each row it reads
 * with its cells encoded once, so each hit copies bytes (see wire.ts). A write's invalidation
 * stops a read already in flight from putting its older row back (see RowCache.invalidate).
 *
 * A miss that joined a read started by another request runs on that request's (maybe shorter)
 * deadline: if that read times out and this request's deadline has time left, it reads again
 * rather than fail for someone else. Its own reads are not retried.
 */
export class CachedRowReader implements RowReader {
  readonly caching = true;

  constructor(
    private readonly cache: RowCache<ServedRow>,
    private readonly inner: RowReader,
  ) {}

  peek(cacheKey: string, minReadAtMs: number): ServedRow | null | undefined {
    return this.cache.peek(cacheKey, minReadAtMs);
  }

  get peekedReadAtMs(): number {
    return this.cache.peekedReadAtMs;
  }

  /** Always whole rows: a cached row must serve any later feature list. */
  projection(): undefined {
    return undefined;
  }

  read(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    cacheKey: string,
    call: CallContext,
    _projection: Projection | undefined,
    minReadAtMs: number,
  ): Promise<ServedRow | null> {
    const load = (readAtMs: number) => this.load(view, key, cacheKey, call, readAtMs);
    // Our own read (the common case) is not retried, so its promise is passed on as it is.
    if (!this.cache.isLoading(cacheKey)) return this.cache.get(cacheKey, load, minReadAtMs);
    return this.cache.get(cacheKey, load, minReadAtMs).catch((error: unknown) => {
      if (!isClientTimeout(error) || Date.now() >= call.deadline) throw error;
      return this.cache.get(cacheKey, load, minReadAtMs);
    });
  }

  private async load(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    cacheKey: string,
    call: CallContext,
    readAtMs: number,
  ): Promise<ServedRow | null> {
    const row = await this.inner.read(view, key, cacheKey, call, undefined, Number.NEGATIVE_INFINITY);
    return (
      row && { values: row.values, writeTimesMicros: row.writeTimesMicros, cells: encodeCells(view, row), readAtMs }
    );
  }
}
