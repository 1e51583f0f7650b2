import { setTimeout as sleep } from 'node:timers/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { AccessGuard, AuditLog, Authenticator, SecurityCounters } from '../auth/index.js';
import { assertSafeListen, type Config } from '../config/index.js';
import { FeastHttpServer } from '../feast/http/server.js';
import {
  RequestMetrics,
  StoreMetrics,
  watchAdmission,
  watchAvailability,
  watchBuild,
  watchCache,
  watchCoherence,
  watchCassandraClient,
  watchHttp,
  watchRegistry,
  watchSecurity,
} from '../observability/catalogue.js';
import type { Logger } from '../observability/logger.js';
import {
  reportMetricsToPrimary,
  startMetricsListener,
  type MetricsListener,
} from '../observability/metrics-listener.js';
import { MetricsRegistry } from '../observability/metrics.js';
import { RpcObserver } from '../observability/requests.js';
import { LAG_BUCKETS_MS } from '../coherence/index.js';
import { CassandraAvailability } from '../store/availability.js';
import { connectSession, type CassandraClient } from '../store/index.js';
import { composeServingCore, type ServingCore } from './compose.js';
import { GrpcTransport } from './grpc-transport.js';
import { shutdownSession } from './lifecycle.js';
import { ServerTls } from './tls.js';
import type { PeerCaches } from './workers.js';

export { composeServingCore, type ServingCore } from './compose.js';
export type { CallContext } from '../concurrency/call.js';
export { GrpcTransport, SERVICE_NAMES } from './grpc-transport.js';
export { exitOnFatalErrors, exitWithin, flushAndExit, shutdownSession, FATAL_EXIT_CODE } from './lifecycle.js';
export { loadCassetteProtos, LOADER_OPTIONS, PROTO_DIR, PROTO_FILES } from '../api/proto.js';
export { planLookup, type LookupPlan } from '../read/plan.js';
export { STATUS } from '../read/status.js';
export {
  isWorkerProcess,
  joinWorkerGroup,
  reportWorkerReady,
  startWorkerGroup,
  type PeerCaches,
  type WorkerGroup,
} from './workers.js';

export interface RunningServer {
  /** Address the gRPC server listens on. */
  readonly address: string;
  readonly core: ServingCore;
  readonly transport: GrpcTransport;
  /** This process's metrics, when metrics.enabled. */
  readonly metrics: MetricsRegistry | undefined;
  /** Where GET /metrics answers (host:port), when this process serves them itself. */
  readonly metricsAddress: string | undefined;
  /** Feast's HTTP/JSON API and its address, unless http.enabled is false. */
  readonly http?: FeastHttpServer;
  readonly httpAddress?: string;
  /** Logs a `stats` line now (counters since the previous line), e.g. when a benchmark asks on SIGUSR2. */
  logStats(): void;
  /**
   * Stops, within serving.shutdownTimeoutMs: health says NOT_SERVING at once; calls are still
   * taken for `drainMs` (0 by default; a signal handler passes serving.drainMs) so load balancers
   * can move away; then no new calls, running ones finish, and the Cassandra session (if this
   * server made it) is shut down, or given up on when that does not finish in time.
   */
  close(drainMs?: number): Promise<void>;
}

/** Of the shutdown timeout, what is kept for shutting the Cassandra session down. */
const SESSION_SHUTDOWN_SHARE = 0.1;

/**
 * Starts a Cassette server: connects the one Cassandra session of this process (unless one is
 * given), composes the serving core over it (which loads the registry and prepares every
 * statement), puts the gRPC transport in front, then binds and reports SERVING. Nothing is
 * answered before all of that is done.
 */
export async function startServer(
  config: Config,
  logger: Logger,
  options: {
    client?: CassandraClient;
    /** Set in a serving worker: the sibling workers' caches, kept coherent on writes. */
    peers?: PeerCaches;
    /** The server shuts the given client down when it stops (or fails to start), as one it made. */
    closeClient?: boolean;
    /**
     * In a serving worker: metrics go to the worker group's primary, which serves them for all
     * workers on one endpoint, instead of this process listening itself.
     */
    metricsToPrimary?: boolean;
  } = {},
): Promise<RunningServer> {
  if (!options.client && config.cassandra.contactPoints.length === 0) {
    throw new Error('no Cassandra contact points configured (set CASSANDRA_CONTACT_POINTS)');
  }
  // Before anything connects: a config that would serve the network in clear text does not start.
  assertSafeListen(config);
  const metrics = config.metrics.enabled ? new MetricsRegistry() : undefined;
  // Early, so the primary's first scrape finds this worker answering.
  if (metrics && options.metricsToPrimary) reportMetricsToPrimary(metrics);
  const ownsClient = options.client === undefined || options.closeClient === true;
  const client = options.client ?? (await connectSession(config.cassandra, logger));
  let core: ServingCore | undefined;
  let http: FeastHttpServer | undefined;
  let metricsListener: MetricsListener | undefined;
  let authenticator: Authenticator | undefined;
  let tls: ServerTls | undefined;
  try {
    const securityCounters = new SecurityCounters();
    // The files are read before the core is composed: a bad certificate or tokens file fails fast.
    tls = config.tls ? await ServerTls.load(config.tls, logger, securityCounters) : undefined;
    authenticator = Authenticator.required(config)
      ? await Authenticator.create(config, logger, securityCounters)
      : undefined;
    if (!authenticator) logger.info('authentication off: every caller may read and write every view');
    core = await composeServingCore(config, client, logger, {
      peers: options.peers,
      ...(metrics && { storeMetrics: new StoreMetrics(metrics) }),
    });
    const observer = new RpcObserver({
      metrics: metrics && new RequestMetrics(metrics),
      logger,
      slowRequestMs: config.log.slowRequestMs,
    });
    const registry = core.registry;
    const guard = authenticator && new AccessGuard(authenticator, () => registry.current.registry);
    const audit = new AuditLog(logger, config.log.audit);
    const security = { guard, tls, audit };
    const transport = new GrpcTransport(core, config, logger, observer, security);
    http = config.http.enabled ? new FeastHttpServer(core, config, logger, security) : undefined;
    const availability = new CassandraAvailability(client, logger, {
      probeIntervalMs: config.serving.healthProbeIntervalMs,
      probeTimeoutMs: config.serving.healthProbeTimeoutMs,
    });
    if (metrics) {
      const serving = core;
      watchCache(metrics, () => serving.cache.stats());
      watchAdmission(metrics, serving.admission);
      if (serving.changeLog || serving.coherence) {
        watchCoherence(metrics, LAG_BUCKETS_MS, () => ({
          replica: serving.coherence?.stats(),
          cacheTooOld: serving.cache.stats().tooOld,
          logged: serving.changeLog?.stats,
        }));
      }
      watchRegistry(metrics, serving.registry);
      watchCassandraClient(metrics, client);
      watchAvailability(metrics, () => availability.canServe);
      if (http) watchHttp(metrics, http.counters);
      watchSecurity(metrics, securityCounters);
      watchBuild(metrics);
      if (!options.metricsToPrimary) {
        metricsListener = await startMetricsListener(config.metrics.listen, metrics, logger);
      }
    }
    const httpAddress = await http?.listen();
    const address = await transport.listen();
    availability.onChange((available) => {
      transport.setStoreAvailable(available);
      http?.setStoreAvailable(available);
    });
    availability.start();
    transport.setStoreAvailable(availability.canServe);
    http?.setStoreAvailable(availability.canServe);
    const logStats = statsLogger(core, transport, logger, http);
    const stats =
      config.log.statsIntervalMs > 0 ? setInterval(logStats, config.log.statsIntervalMs).unref() : undefined;
    logger.info(
      { address, http: httpAddress, cache: config.cache.enabled, keyspace: config.cassandra.keyspace },
      options.peers ? 'serving worker ready' : 'Cassette is serving',
    );
    let closing: Promise<void> | undefined;
    const serverCore = core;
    const httpServer = http;
    return {
      address,
      core: serverCore,
      transport,
      metrics,
      metricsAddress: metricsListener?.address,
      http: httpServer,
      httpAddress,
      logStats,
      close: (drainMs = 0) =>
        (closing ??= (async () => {
          const timeoutMs = config.serving.shutdownTimeoutMs;
          const deadline = Date.now() + timeoutMs;
          transport.drain();
          httpServer?.setServing(false);
          if (drainMs > 0) {
            logger.info({ drainMs }, 'draining: health says NOT_SERVING, calls are still taken');
            await sleep(Math.min(drainMs, deadline - Date.now()));
          }
          if (stats) clearInterval(stats);
          availability.stop();
          const sessionShare = ownsClient ? Math.round(timeoutMs * SESSION_SHUTDOWN_SHARE) : 0;
          const stopWithin = Math.max(0, deadline - sessionShare - Date.now());
          await Promise.all([transport.stop(stopWithin), httpServer?.close(stopWithin)]);
          serverCore.close();
          guard?.close();
          tls?.close();
          await metricsListener?.close();
          if (ownsClient) await shutdownSession(client, deadline - Date.now(), logger);
          logger.info('Cassette stopped');
        })()),
    };
  } catch (error) {
    await http?.close().catch(() => undefined);
    core?.close();
    authenticator?.close();
    tls?.close();
    await metricsListener?.close();
    if (ownsClient) await shutdownSession(client, config.serving.shutdownTimeoutMs, logger);
    throw error;
  }
}

/** Logs one line with request and cache counters: the delta since the previous line. */
function statsLogger(
  core: ServingCore,
  transport: GrpcTransport,
  logger: Logger,
  http: FeastHttpServer | undefined,
): () => void {
  let last = { requests: 0, hits: 0, misses: 0, coalesced: 0, httpRequests: 0 };
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let lastLoop = performance.eventLoopUtilization();
  return () => {
    const loopNow = performance.eventLoopUtilization();
    const eventLoop = {
      utilization: Math.round(performance.eventLoopUtilization(loopNow, lastLoop).utilization * 1000) / 1000,
      delayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      delayMaxMs: Math.round(loopDelay.max / 1e4) / 100,
    };
    lastLoop = loopNow;
    loopDelay.reset();
    const cache = core.cache.stats();
    const now = {
      requests: transport.counters.requests,
      hits: cache.hits,
      misses: cache.misses,
      coalesced: cache.coalesced,
      httpRequests: http?.counters.requests ?? 0,
    };
    logger.info(
      {
        requests: now.requests - last.requests,
        cacheHits: now.hits - last.hits,
        cacheMisses: now.misses - last.misses,
        cacheCoalesced: now.coalesced - last.coalesced,
        cacheEntries: cache.entries,
        cacheBytes: cache.bytes,
        errors: transport.counters.errors,
        // Since the previous line: the share of time the event loop was busy, and how late timers ran.
        eventLoop,
        // Feast's HTTP API: requests since the previous line, errors (by HTTP status) since start.
        ...(http ? { httpRequests: now.httpRequests - last.httpRequests, httpErrors: http.counters.errors } : {}),
        // Totals since start: requests admitted, made to wait, refused for load or for too little time.
        readAdmission: core.admission.reads.counters,
        writeAdmission: core.admission.writes.counters,
        // Totals since start: cache coherence across replicas (drops, lag, falling behind) and what this process logged.
        coherence: core.coherence && {
          ...core.coherence.stats(),
          cacheTooOld: cache.tooOld,
          logged: core.changeLog?.stats,
        },
      },
      'stats',
    );
    last = now;
  };
}
