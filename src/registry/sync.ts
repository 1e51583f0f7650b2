import type { RowCache } from '../cache/index.js';
import type { Logger } from '../observability/logger.js';
import type { CassandraClient, OnlineStore, StoredRow } from '../store/index.js';
import { loadAppliedRegistry, registryVersion } from './storage.js';
import type { Registry } from './types.js';

export interface RegistrySnapshot {
  readonly version: number;
  readonly registry: Registry;
}

/**
 * Keeps this process serving the registry most recently applied to Cassandra. A new version is
 * prepared in full before it replaces the old one, so requests never see half a registry.
 */
export class RegistrySync {
  private snapshot: RegistrySnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** Polls that could not check for (or load) a new registry, for metrics. */
  failedRefreshes = 0;

  constructor(
    private readonly client: CassandraClient,
    private readonly keyspace: string,
    private readonly store: OnlineStore,
    private readonly cache: RowCache<StoredRow>,
    private readonly logger: Logger,
  ) {}

  /** Loads and prepares the applied registry; fails when none has been applied. */
  async load(): Promise<RegistrySnapshot> {
    const stored = await loadAppliedRegistry(this.client, this.keyspace);
    await this.store.prepare(stored.registry);
    const previous = this.snapshot;
    this.snapshot = { version: stored.version, registry: stored.registry };
    // Cached rows have the previous registry's shape.
    if (previous) this.cache.clear();
    this.logger.info(
      { version: stored.version, project: stored.registry.project, views: stored.registry.featureViews.size },
      previous ? 'serving a newly applied feature registry' : 'loaded the feature registry',
    );
    return this.snapshot;
  }

  get current(): RegistrySnapshot {
    if (!this.snapshot) throw new Error('the registry has not been loaded');
    return this.snapshot;
  }

  /** Checks for a newer registry now; concurrent calls share one check. */
  refresh(): Promise<void> {
    this.refreshing ??= this.checkForChange().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async checkForChange(): Promise<void> {
    const version = await registryVersion(this.client, this.keyspace);
    if (version !== undefined && version !== this.snapshot?.version) await this.load();
  }

  /** Polls for a newer registry every `intervalMs`, until stop(). */
  startPolling(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => {
        this.failedRefreshes++;
        // Keep serving the registry we have; the next poll tries again.
        this.logger.warn({ err: error }, 'could not check for a new feature registry');
      });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
