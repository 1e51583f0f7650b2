import type { ChangedRow } from '../coherence/log-tables.js';
import { RowCache } from './row-cache.js';

/**
 * How long after a client-side write timeout Cassandra may still apply the write: its own
 * write_request_timeout (2 s by default) bounds how long a coordinator keeps a write pending.
 */
export const LATE_WRITE_WINDOW_MS = 5_000;

/** Invalidations queued before a batch goes to the sibling workers. */
const PEER_BATCH_KEYS = 1024;

/** Changed rows queued before they go to the invalidation log. */
const LOG_SEND_ROWS = 500;
/**
 * Rows one call logs by key at most; past it (a long stream, a bulk load through a server) the
 * call bumps the generation of the views it wrote instead, which drops them whole everywhere.
 */
export const MAX_LOGGED_ROWS_PER_CALL = 10_000;

/**
 * Where writes are logged for the other replicas' caches (src/coherence, InvalidationLogWriter);
 * absent when coherence is off.
 */
export interface ChangeLog {
  /**
   * Resolves once `rows` are logged within the coherence bound; rejects when they could not be
   * by `deadline` (the call's, Date.now() ms; Infinity for none; undefined when no call waits).
   */
  append(rows: readonly ChangedRow[], deadline?: number): Promise<void>;
  /** Resolves once each view's generation has been bumped; rejects when one could not be by `deadline`. */
  bumpGenerations(views: Iterable<string>, deadline?: number): Promise<void>;
}

/**
 * The cache key of one entity row. Entries are scoped by registry version as well as
 * (view, entity): a row read with one version's statement has that version's feature
 * positions, and must never be served to a request planned against another version.
 */
export function rowCacheKey(version: number, view: string, entityKey: string): string {
  return RowCache.key(`${version}:${view}`, entityKey);
}

/** The worker side of a worker group: how this process tells its siblings which cache keys a write changed. */
export interface PeerCaches {
  /** Resolves once every other worker has dropped `keys` (or has exited). */
  invalidate(keys: string[]): Promise<void>;
}

/**
 * The cache keys one call's writes changed, handed to the sibling workers in batches as they
 * come (so a long stream holds none for long) and waited for at the end of the call.
 */
export class PeerInvalidations {
  private pending: string[] = [];
  private sent: Promise<void> = Promise.resolve();

  constructor(private readonly peers: PeerCaches | undefined) {}

  add(key: string): void {
    if (this.peers === undefined) return;
    this.pending.push(key);
    if (this.pending.length >= PEER_BATCH_KEYS) this.send();
  }

  /** Resolves once every key added so far is gone from every sibling's cache. */
  async flush(): Promise<void> {
    if (this.peers === undefined) return;
    if (this.pending.length > 0) this.send();
    await this.sent;
  }

  private send(): void {
    const batch = this.peers!.invalidate(this.pending);
    this.pending = [];
    // invalidate() never rejects; one chained promise keeps a long stream's memory flat.
    this.sent = this.sent.then(() => batch);
  }
}

/**
 * The rows one call changed, appended to the invalidation log in batches as they come, and
 * waited for at the end of the call; past MAX_LOGGED_ROWS_PER_CALL rows, the views are bumped instead.
 */
export class LoggedChanges {
  private pending: ChangedRow[] = [];
  private logged = 0;
  private readonly bumped = new Set<string>();
  private readonly appends: Promise<void>[] = [];
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly log: ChangeLog | undefined,
    /** The call's deadline (Date.now() ms; Infinity for none): the log is retried until then. */
    private readonly deadline: number = Number.POSITIVE_INFINITY,
  ) {}

  add(view: string, key: string): void {
    if (this.log === undefined) return;
    if (this.logged >= MAX_LOGGED_ROWS_PER_CALL) {
      this.bumped.add(view);
      return;
    }
    this.logged++;
    this.pending.push({ view, key });
    if (this.pending.length >= LOG_SEND_ROWS) this.send();
  }

  /** Resolves once every row added so far is logged (or its view bumped); rejects when one could not be. */
  async flush(): Promise<void> {
    if (this.log === undefined) return;
    if (this.pending.length > 0) this.send();
    await Promise.all(this.appends);
    if (this.failure !== undefined) throw this.failure.error;
    if (this.bumped.size > 0) await this.log.bumpGenerations(this.bumped, this.deadline);
  }

  private send(): void {
    const rows = this.pending;
    this.pending = [];
    this.appends.push(
      this.log!.append(rows, this.deadline).catch((error: unknown) => {
        this.failure ??= { error };
      }),
    );
  }
}

/**
 * Keeps cached rows from outliving the writes that changed them: each written row is dropped from
 * this process's cache and from the sibling workers' (if any) before the write is acknowledged,
 * and again once a write the driver gave up on can no longer be applied late.
 */
export class CacheInvalidation {
  constructor(
    private readonly cache: { invalidate(key: string): void },
    /** The registry version serving now. */
    private readonly registry: { readonly current: { readonly version: number } },
    private readonly peers: PeerCaches | undefined,
    private readonly lateWriteWindowMs: number = LATE_WRITE_WINDOW_MS,
    /** The invalidation log the other replicas read (undefined: coherence off). */
    private readonly log?: ChangeLog,
  ) {}

  /**
   * The invalidations of one write call due by `deadline` (Date.now() ms; Infinity for none);
   * flush() them before the call is acknowledged.
   */
  forCall(deadline: number): WriteInvalidations {
    return new WriteInvalidations(this, new PeerInvalidations(this.peers), new LoggedChanges(this.log, deadline));
  }

  /** Drops keys a sibling worker's write changed (they come already scoped, see rowCacheKey). */
  dropLocal(keys: readonly string[]): void {
    for (const key of keys) this.cache.invalidate(key);
  }

  /**
   * Drops one row of `view` written under registry `version`, here and (through `peers`) in the
   * sibling workers. Under the version serving now as well, in case a new registry was picked up
   * while the row was being written.
   */
  invalidateRow(version: number, view: string, entityKey: string, peers: PeerInvalidations): void {
    const key = rowCacheKey(version, view, entityKey);
    this.cache.invalidate(key);
    peers.add(key);
    const current = this.registry.current.version;
    if (current !== version) {
      const currentKey = rowCacheKey(current, view, entityKey);
      this.cache.invalidate(currentKey);
      peers.add(currentKey);
    }
  }

  /**
   * The coordinator may still apply a write the driver gave up on: drop whatever a read cached in
   * between once that can no longer happen.
   */
  invalidateAfterLateWrites(version: number, view: string, entityKey: string): void {
    setTimeout(() => {
      const late = new PeerInvalidations(this.peers);
      this.invalidateRow(version, view, entityKey, late);
      void late.flush();
      // No call waits for this one: a failure leaves the other replicas to their cache's ttl.
      this.log?.append([{ view, key: entityKey }]).catch(() => undefined);
    }, this.lateWriteWindowMs).unref();
  }
}

/**
 * The rows one write call changed: dropped here and in the sibling workers as each write
 * settles, logged for the other replicas, all waited for at the end.
 */
export class WriteInvalidations {
  constructor(
    private readonly invalidation: CacheInvalidation,
    private readonly peers: PeerInvalidations,
    private readonly logged: LoggedChanges = new LoggedChanges(undefined),
  ) {}

  /**
   * A row's write settled (succeeded or failed for good: a failed write may still have reached
   * some replicas). `timedOut`: some attempt ended with the driver giving up.
   */
  rowSettled(version: number, view: string, entityKey: string, timedOut: boolean): void {
    this.invalidation.invalidateRow(version, view, entityKey, this.peers);
    this.logged.add(view, entityKey);
    if (timedOut) this.invalidation.invalidateAfterLateWrites(version, view, entityKey);
  }

  /**
   * Resolves once no sibling worker can serve the old rows from its cache and every other
   * replica will drop them within the coherence bound; rejects (CST_ERR_COHERENCE_LOG) when the
   * rows could not be logged.
   */
  async flush(): Promise<void> {
    const peers = this.peers.flush();
    try {
      await this.logged.flush();
    } finally {
      await peers;
    }
  }
}
