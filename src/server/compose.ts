import { CacheInvalidation, LATE_WRITE_WINDOW_MS, RowCache, type ChangeLog, type PeerCaches } from '../cache/index.js';
import { CacheCoherence, coherenceSettings, CoherenceTables, InvalidationLogWriter } from '../coherence/index.js';
import { AdmissionGate } from '../concurrency/admission.js';
import type { Config } from '../config/index.js';
import { FeastReader } from '../feast/serving/reader.js';
import type { StoreMetrics } from '../observability/catalogue.js';
import { InstrumentedStore } from '../observability/instrumented-store.js';
import type { Logger } from '../observability/logger.js';
import { CachedRowReader, servedRowBytes } from '../read/cached-reader.js';
import { FeatureReader, type CacheFreshness } from '../read/feature-reader.js';
import { StoreRowReader } from '../read/row-reader.js';
import type { ServedRow } from '../read/wire.js';
import { RegistrySync } from '../registry/sync.js';
import { CassandraStore, type CassandraClient, type OnlineStore } from '../store/index.js';
import { FeatureWriter } from '../write/index.js';
import { RegistryListing } from './registry-listing.js';

/** The request-handling pieces of the serving core, over a store and a registry. */
export interface ServingPieces {
  readonly cache: RowCache<ServedRow>;
  readonly invalidation: CacheInvalidation;
  /** GetOnlineFeatures. */
  readonly reader: FeatureReader;
  /** WriteFeatures and StreamWriteFeatures. */
  readonly writer: FeatureWriter;
  /** ListFeatureViews and ListFeatureServices. */
  readonly listing: RegistryListing;
  /** Admission of reads (in entity reads) and writes (in rows), over all calls of this process. */
  readonly admission: { readonly reads: AdmissionGate; readonly writes: AdmissionGate };
  /** Feast's GetOnlineFeatures (gRPC and HTTP), over the same reader. */
  readonly feast: FeastReader;
}

/** Cache coherence across replicas (src/coherence), as the pieces use it. */
export interface CoherencePieces {
  /** Where writes are logged for the other replicas. */
  readonly log: ChangeLog;
  /** Which cached rows may be served (absent without a cache to keep coherent). */
  readonly freshness?: CacheFreshness;
}

/**
 * The serving core, transport-independent: the gRPC transport (see startServer) and the CLI's
 * direct mode both call these pieces.
 */
export interface ServingCore extends ServingPieces {
  readonly store: OnlineStore;
  readonly registry: RegistrySync;
  /** This replica's side of cache coherence (polling the log), when the cache and coherence are on. */
  readonly coherence?: CacheCoherence;
  /** What this process logs for the other replicas, when coherence is on. */
  readonly changeLog?: InvalidationLogWriter;
  /** Stops polling for registry changes. */
  close(): void;
}

/**
 * Wires the pieces over `store` and `registry`: the read layers (store, then cache when it is
 * enabled), the writer and the cache invalidation. Pure wiring: nothing is read or started.
 */
export function assembleServing(
  store: OnlineStore,
  registry: Pick<RegistrySync, 'current'>,
  cache: RowCache<ServedRow>,
  config: Config,
  logger: Logger,
  peers?: PeerCaches,
  coherence?: CoherencePieces,
): ServingPieces {
  const invalidation = new CacheInvalidation(cache, registry, peers, LATE_WRITE_WINDOW_MS, coherence?.log);
  const storeReader = new StoreRowReader(store, config.cassandra);
  const rows = cache.enabled ? new CachedRowReader(cache, storeReader) : storeReader;
  const { maxInFlightReads, maxInFlightWriteRows, maxQueueWaitMs, minTimeLeftMs } = config.serving;
  const admission = {
    reads: new AdmissionGate(
      { maxInFlight: maxInFlightReads, maxQueueWaitMs, minTimeLeftMs },
      'serving.maxInFlightReads',
      'entity reads',
    ),
    writes: new AdmissionGate(
      { maxInFlight: maxInFlightWriteRows, maxQueueWaitMs, minTimeLeftMs },
      'serving.maxInFlightWriteRows',
      'rows being written',
    ),
  };
  const reader = new FeatureReader(
    registry,
    rows,
    config.serving,
    admission.reads,
    coherence?.freshness,
    config.cache.coherence.maxClockSkewMs,
  );
  return {
    cache,
    invalidation,
    reader,
    writer: new FeatureWriter(store, registry, invalidation, config, logger, admission.writes),
    listing: new RegistryListing(registry),
    admission,
    feast: new FeastReader(registry, reader, config.serving),
  };
}

/**
 * The composition root of the serving core: the Cassandra store, the row cache and the registry
 * sync over one Cassandra session, and the pieces over them (assembleServing). Resolves once the
 * registry is loaded and every statement prepared.
 */
export async function composeServingCore(
  config: Config,
  client: CassandraClient,
  logger: Logger,
  options: {
    /** Set in a serving worker: the sibling workers' caches, kept coherent on writes. */
    peers?: PeerCaches;
    /** Poll for a newly applied registry (default true; a one-shot CLI command does not). */
    pollRegistry?: boolean;
    /** Set when metrics are on: every read and write of the store is timed. */
    storeMetrics?: StoreMetrics;
  } = {},
): Promise<ServingCore> {
  const cassandraStore = new CassandraStore(client, config.cassandra.keyspace, config.cassandra);
  const store = options.storeMetrics ? new InstrumentedStore(cassandraStore, options.storeMetrics) : cassandraStore;
  const cache = new RowCache<ServedRow>(config.cache, servedRowBytes);
  const registry = new RegistrySync(client, config.cassandra.keyspace, store, cache, logger);
  const polling = options.pollRegistry ?? true;
  // Writes are logged whenever coherence is on (other replicas may cache); the log is polled only
  // by a long-lived process with a cache (a one-shot command's cache starts empty and ends soon).
  const settings = coherenceSettings(config);
  const tables = config.cache.coherence.enabled ? new CoherenceTables(client, config.cassandra.keyspace) : undefined;
  const changeLog = tables && new InvalidationLogWriter(tables, settings);
  const coherence =
    tables && cache.enabled && polling
      ? new CacheCoherence(tables, cache, registry, { ...settings, ownWriter: changeLog?.writer }, logger)
      : undefined;
  const core: ServingCore = {
    store,
    registry,
    ...(coherence ? { coherence } : {}),
    ...(changeLog ? { changeLog } : {}),
    ...assembleServing(
      store,
      registry,
      cache,
      config,
      logger,
      options.peers,
      changeLog && { log: changeLog, ...(coherence ? { freshness: coherence } : {}) },
    ),
    close: () => {
      registry.stop();
      coherence?.stop();
    },
  };
  await registry.load();
  if (polling) registry.startPolling(config.registry.refreshIntervalMs);
  if (coherence) {
    try {
      await coherence.start();
    } catch (error) {
      registry.stop();
      throw error;
    }
  }
  return core;
}
