import { LRUCache } from 'lru-cache';

export interface RowCacheOptions {
  enabled: boolean;
  /** Upper bound on the estimated bytes of all cached entries. */
  maxBytes: number;
  /** How long an entry (a row or a known-missing row) may be served from memory. */
  ttlMs: number;
}

export interface RowCacheStats {
  hits: number;
  misses: number;
  /** Lookups that joined a read already in flight for the same key. */
  coalesced: number;
  entries: number;
  bytes: number;
}

/** Stands for "the store has no such row", so known misses are cached too. */
const MISSING: unique symbol = Symbol('missing row');
type Entry<Row> = Row | typeof MISSING;

interface InFlight<Row> {
  readonly promise: Promise<Row | null>;
  /** Set when a write or a registry change invalidated the key while the read was running. */
  readonly state: { superseded: boolean };
}

/**
 * An in-process cache of store rows in front of Cassandra, keyed by (view, entity).
 *
 * - Bounded by bytes (each entry's size is estimated once, when it is stored) and by a TTL.
 * - Misses are cached as MISSING, so a hot unknown entity does not hit Cassandra every time.
 * - Concurrent misses for one key share one read.
 * - `invalidate` drops the entry, and a read already in flight for that key is not allowed to
 *   put its (pre-write) result back, so the next lookup after a write reads the store.
 */
export class RowCache<Row extends object> {
  private readonly lru: LRUCache<string, Entry<Row>> | undefined;
  private readonly inFlight = new Map<string, InFlight<Row>>();
  private hits = 0;
  private misses = 0;
  private coalesced = 0;
  private evicted = 0;

  constructor(
    options: RowCacheOptions,
    private readonly sizeOf: (row: Row) => number,
  ) {
    this.lru = options.enabled
      ? new LRUCache<string, Entry<Row>>({
          maxSize: options.maxBytes,
          ttl: options.ttlMs,
          // TTL is checked on read; no timers per entry.
          ttlAutopurge: false,
          updateAgeOnGet: false,
          sizeCalculation: (entry, key) => key.length * 2 + 64 + (entry === MISSING ? 0 : this.sizeOf(entry)),
          disposeAfter: (_entry, _key, reason) => void (reason === 'evict' && this.evicted++),
        })
      : undefined;
  }

  static key(view: string, entityKey: string): string {
    return `${view}\u0000${entityKey}`;
  }

  get enabled(): boolean {
    return this.lru !== undefined;
  }

  /**
   * The cached row for `key` without reading the store: the row, `null` for a row known not to
   * exist, or `undefined` when nothing (fresh) is cached. Counts a hit when it answers.
   */
  peek(key: string): Row | null | undefined {
    const cached = this.lru?.get(key);
    if (cached === undefined) return undefined;
    this.hits++;
    return cached === MISSING ? null : cached;
  }

  /**
   * Returns the row for `key`: from memory when cached, otherwise from `load` (shared with any
   * concurrent lookup of the same key). `null` means the store has no such row.
   */
  get(key: string, load: () => Promise<Row | null>): Promise<Row | null> {
    const lru = this.lru;
    if (lru === undefined) return load();
    const cached = this.peek(key);
    if (cached !== undefined) return Promise.resolve(cached);
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      this.coalesced++;
      return pending.promise;
    }
    this.misses++;
    const state = { superseded: false };
    const promise = load().then(
      (row) => {
        if (!state.superseded) {
          this.inFlight.delete(key);
          lru.set(key, row ?? MISSING);
        }
        return row;
      },
      (error: unknown) => {
        // Failures are not cached: the next lookup tries the store again.
        if (!state.superseded) this.inFlight.delete(key);
        throw error;
      },
    );
    this.inFlight.set(key, { promise, state });
    return promise;
  }

  /** True while a read for `key` is in flight: a get() now would join it. */
  isLoading(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Forgets `key`, e.g. after a write to that entity row. */
  invalidate(key: string): void {
    this.lru?.delete(key);
    const flight = this.inFlight.get(key);
    if (flight) {
      flight.state.superseded = true;
      this.inFlight.delete(key);
    }
  }

  /** Forgets everything, e.g. when the registry (and so the row shape) changes. */
  clear(): void {
    this.lru?.clear();
    for (const flight of this.inFlight.values()) flight.state.superseded = true;
    this.inFlight.clear();
  }

  /** Entries dropped to stay within maxBytes (not those expired or invalidated), for metrics. */
  get evictions(): number {
    return this.evicted;
  }

  stats(): RowCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      coalesced: this.coalesced,
      entries: this.lru?.size ?? 0,
      bytes: this.lru?.calculatedSize ?? 0,
    };
  }
}
