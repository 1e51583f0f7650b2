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
  /**
   * Lookups that found an entry (or a read in flight) read too long ago for them: before the
   * caller's consistency token, or with the cache not known to be coherent (see coherence). They
   * read again, and count as misses too.
   */
  tooOld: number;
  /** Entries dropped to stay within maxBytes (not those expired or invalidated). */
  evictions: number;
  entries: number;
  bytes: number;
}

/** A cached row (null: the store has no such row, so known misses are cached too) and when it was read. */
interface Entry<Row> {
  readonly row: Row | null;
  /** Date.now() when the read that produced it started: it reflects every write acknowledged before. */
  readonly readAtMs: number;
}

interface InFlight<Row> {
  readonly promise: Promise<Row | null>;
  readonly startedAtMs: number;
  /** Set when a write, a registry change or a newer read superseded the read while it ran. */
  readonly state: { superseded: boolean };
}

/**
 * An in-process cache of store rows in front of Cassandra, keyed by (view, entity).
 *
 * - Bounded by bytes (each entry's size is estimated once, when it is stored) and by a TTL.
 * - Misses are cached as rows of null, so a hot unknown entity does not hit Cassandra every time.
 * - Concurrent misses for one key share one read.
 * - `invalidate` drops the entry, and a read already in flight for that key is not allowed to
 *   put its (pre-write) result back, so the next lookup after a write reads the store.
 * - Each entry records when its read started; a lookup may ask for entries read no earlier than
 *   a given time (`minReadAtMs`), and reads again when the entry (or the read in flight) is older.
 */
export class RowCache<Row extends object> {
  private readonly lru: LRUCache<string, Entry<Row>> | undefined;
  private readonly inFlight = new Map<string, InFlight<Row>>();
  private hits = 0;
  private misses = 0;
  private coalesced = 0;
  private tooOld = 0;
  /** When the entry the last answering peek() returned was read; see peekedReadAtMs. */
  private lastPeekReadAtMs = 0;
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
          sizeCalculation: (entry, key) => key.length * 2 + 64 + (entry.row === null ? 0 : this.sizeOf(entry.row)),
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
   * exist, or `undefined` when nothing (fresh) is cached, or only an entry read before
   * `minReadAtMs`. Counts a hit when it answers.
   */
  peek(key: string, minReadAtMs = Number.NEGATIVE_INFINITY): Row | null | undefined {
    const cached = this.lru?.get(key);
    if (cached === undefined) return undefined;
    if (cached.readAtMs < minReadAtMs) {
      this.tooOld++;
      return undefined;
    }
    this.hits++;
    this.lastPeekReadAtMs = cached.readAtMs;
    return cached.row;
  }

  /** When the entry the last answering peek() returned was read (Date.now() ms); read it right after. */
  get peekedReadAtMs(): number {
    return this.lastPeekReadAtMs;
  }

  /**
   * Returns the row for `key`: from memory when cached (and read no earlier than `minReadAtMs`),
   * otherwise from `load` (shared with any concurrent lookup of the same key whose read started
   * no earlier than `minReadAtMs`). `load` is given the Date.now() its read starts at. `null`
   * means the store has no such row.
   */
  get(
    key: string,
    load: (readAtMs: number) => Promise<Row | null>,
    minReadAtMs = Number.NEGATIVE_INFINITY,
  ): Promise<Row | null> {
    const lru = this.lru;
    if (lru === undefined) return load(Date.now());
    const cached = this.peek(key, minReadAtMs);
    if (cached !== undefined) return Promise.resolve(cached);
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      if (pending.startedAtMs >= minReadAtMs) {
        this.coalesced++;
        return pending.promise;
      }
      // Too old for this caller: a newer read replaces it, and it may not fill the cache.
      this.tooOld++;
      pending.state.superseded = true;
    }
    this.misses++;
    const state = { superseded: false };
    const startedAtMs = Date.now();
    const promise = load(startedAtMs).then(
      (row) => {
        if (!state.superseded) {
          this.inFlight.delete(key);
          lru.set(key, { row, readAtMs: startedAtMs });
        }
        return row;
      },
      (error: unknown) => {
        // Failures are not cached: the next lookup tries the store again.
        if (!state.superseded) this.inFlight.delete(key);
        throw error;
      },
    );
    this.inFlight.set(key, { promise, startedAtMs, state });
    return promise;
  }

  /** True while a read for `key` is in flight: a get() now would join it. */
  isLoading(key: string): boolean {
    return this.inFlight.has(key);
  }

  /**
   * Forgets `key`, e.g. after a write to that entity row. With `readBeforeMs`, only an entry (or a
   * read in flight) that started before then: a later read already reflects the write.
   */
  invalidate(key: string, readBeforeMs = Number.POSITIVE_INFINITY): void {
    const lru = this.lru;
    if (lru === undefined) return;
    const cached = lru.peek(key, { allowStale: true });
    if (cached !== undefined && cached.readAtMs < readBeforeMs) lru.delete(key);
    const flight = this.inFlight.get(key);
    if (flight && flight.startedAtMs < readBeforeMs) {
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

  stats(): RowCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      coalesced: this.coalesced,
      tooOld: this.tooOld,
      evictions: this.evicted,
      entries: this.lru?.size ?? 0,
      bytes: this.lru?.calculatedSize ?? 0,
    };
  }
}
