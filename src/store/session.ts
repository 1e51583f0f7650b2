import cassandra from 'cassandra-driver';

import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { cassandraSecurityOptions } from './credentials.js';
import {
  CountingMetrics,
  DeadlineRetryPolicy,
  FailoverBudget,
  HedgingPolicy,
  SlowHostAwareLoadBalancing,
  SlowHosts,
  StoreCounters,
} from './failover.js';

export type CassandraClient = cassandra.Client;

export const DEFUNCT_READ_TIMEOUT_THRESHOLD = 1024;

/**
 * How long a connection may sit idle before the driver sends it a heartbeat (an OPTIONS request
 * that must answer within the socket read timeout, requestTimeoutMs). A connection carrying
 * traffic never idles; for one that does, a frozen node then loses its connections, and is
 * marked down, within about 1 s + requestTimeoutMs instead of the driver's 30 s + requestTimeoutMs.
 * (A node under traffic that stops answering is moved to the back of each query plan by the
 * driver's load balancing within a few hundred milliseconds: 10 requests in flight and no
 * answer for 200 ms; a killed node's sockets close at once, which marks it down.)
 */
export const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * Reconnection to a node marked down, for its connection pool and for the control connection:
 * exponential from 250 ms, capped at 2 s (the driver adds ±15 % jitter). Attempts to a dead node
 * fail fast (connection refused) and cost almost nothing, and the cap keeps a node that comes back
 * after a long outage from waiting up to the driver's default 10 minutes: it is used again within
 * about 2.3 s of answering CQL, so health is SERVING again a probe later (the bound is 10 s).
 */
export const RECONNECT_BASE_MS = 250;
export const RECONNECT_MAX_MS = 2000;

export const consistencies = cassandra.types.consistencies;

export function consistencyOf(
  name: Config['cassandra']['readConsistency'] | Config['cassandra']['writeConsistency'],
): number {
  return consistencies[name];
}

/**
 * The time a store operation with `remainingMs` left before its caller's deadline may take, all
 * its attempts included: what is left, kept within the configured bounds (see minDriverTimeoutMs
 * and requestTimeoutMs in config). The store splits it into attempts (see failover.ts).
 */
export function driverTimeout(
  remainingMs: number,
  bounds: Pick<Config['cassandra'], 'minDriverTimeoutMs' | 'requestTimeoutMs'>,
): number {
  return Math.max(bounds.minDriverTimeoutMs, Math.min(remainingMs, bounds.requestTimeoutMs));
}

/**
 * What a session is for. `serving` (the default) tunes for many small reads with tight deadlines;
 * `bulk` for an ingestion job keeping many writes in flight (see BULK below).
 */
export type SessionProfile = 'serving' | 'bulk';

/** How the store uses a session, fixed when it connects (see connectSession). */
export interface SessionTuning {
  /** Cap on one attempt of a store operation; 0 = an attempt may take the whole budget. */
  readonly attemptTimeoutMs: number;
  /** What retries and hedges may still add (shared with the session's policies). */
  readonly budget: FailoverBudget;
  readonly counters: StoreCounters;
}

const tunings = new WeakMap<CassandraClient, SessionTuning>();

/**
 * The tuning of a session made by connectSession; for any other client, attempts that take the
 * whole budget and counters nobody increments.
 */
export function sessionTuning(client: CassandraClient): SessionTuning {
  return tunings.get(client) ?? { attemptTimeoutMs: 0, budget: new FailoverBudget(), counters: new StoreCounters() };
}

/** The failover counters of a session made by connectSession (retries, hedges), for metrics. */
export function sessionCounters(client: CassandraClient): StoreCounters {
  return sessionTuning(client).counters;
}

/**
 * The port of the contact points when they all name the same one. cassandra-driver 4.x connects
 * to the peers it discovers on protocolOptions.port, not on the contact points' port.
 */
function commonPort(contactPoints: readonly string[]): number | undefined {
  const ports = new Set(contactPoints.map((point) => /:(\d+)$/.exec(point)?.[1]));
  const [port] = ports;
  return ports.size === 1 && port !== undefined ? Number(port) : undefined;
}

export interface SessionOptions {
  profile?: SessionProfile;
  /** Overrides the profile's socketOptions.coalescingThreshold (bytes; for measurements). */
  coalescingThreshold?: number;
}

/**
 * Driver settings of the `bulk` profile. Measured with bench/ingest.ts (bench/README.md): the
 * pool as configured (2 connections x 2048 requests) beat 1 and 4 connections, and the driver's
 * 64 KiB write coalescing beat 16 KiB and matched 256 KiB, so the profile keeps those; what it
 * changes is the session's default consistency, which is the write consistency.
 */
const BULK = {
  coalescingThreshold: 65536,
} as const;

/**
 * Creates and connects the process-wide Cassandra session. Connecting costs hundreds of
 * milliseconds, so this happens once at start-up and never per request.
 *
 * Routing: the driver's default policy is token-aware within the local data center, so each
 * prepared single-partition statement goes straight to a replica of its partition, the less
 * busy of two, and one that stopped answering or just let an attempt time out moved behind the
 * others.
 *
 * Failover (see failover.ts): store operations are retried on the next host within their budget,
 * each attempt capped at attemptTimeoutMs (`serving` profile; a `bulk` session keeps many writes
 * queued in the driver, where waiting is normal, so its attempts take the whole budget and
 * RowSink's backoff handles failures), and slow reads (and a serving session's writes) are hedged
 * after speculativeDelayMs.
 */
export async function connectSession(
  settings: Config['cassandra'] & { contactPoints: string[] },
  logger: Logger,
  options: SessionOptions = {},
): Promise<CassandraClient> {
  const bulk = options.profile === 'bulk';
  const { distance } = cassandra.types;
  const pooling: NonNullable<cassandra.ClientOptions['pooling']> = {
    coreConnectionsPerHost: { [distance.local]: settings.coreConnectionsPerHost, [distance.remote]: 1 },
    maxRequestsPerConnection: settings.maxRequestsPerConnection,
    heartBeatInterval: HEARTBEAT_INTERVAL_MS,
  };
  const counters = new StoreCounters();
  const budget = new FailoverBudget();
  const slowHosts = new SlowHosts(counters);
  const failoverLogger = logger.child({ component: 'cassandra-failover' });
  const port = commonPort(settings.contactPoints);
  const hedging =
    settings.speculativeDelayMs > 0
      ? new HedgingPolicy(settings.speculativeDelayMs, settings.maxSpeculativeExecutions, budget, {
          hedgeWrites: !bulk,
        })
      : undefined;
  const client = new cassandra.Client({
    ...cassandraSecurityOptions(settings),
    contactPoints: settings.contactPoints,
    localDataCenter: settings.localDataCenter,
    ...(port !== undefined ? { protocolOptions: { port } } : {}),
    pooling,
    socketOptions: {
      connectTimeout: settings.connectTimeoutMs,
      // The default wait for requests that set none: heartbeats, prepares, registry reads.
      readTimeout: settings.requestTimeoutMs,
      tcpNoDelay: true,
      // The driver closes a connection once this many of its requests have timed out and not
      // been answered since. Under a burst of tight deadlines many can be outstanding on a healthy
      // connection, so tolerate many more than 64; a dead node is noticed otherwise (its closed
      // sockets at once, a frozen one by the load balancing and heartbeats above).
      defunctReadTimeoutThreshold: DEFUNCT_READ_TIMEOUT_THRESHOLD,
      ...(bulk || options.coalescingThreshold
        ? { coalescingThreshold: options.coalescingThreshold ?? BULK.coalescingThreshold }
        : {}),
    },
    queryOptions: {
      prepare: true,
      consistency: consistencyOf(bulk ? settings.writeConsistency : settings.readConsistency),
    },
    policies: {
      // The driver's default routing, with hosts that just let an attempt time out moved behind
      // the others (see SlowHosts).
      loadBalancing: new SlowHostAwareLoadBalancing(settings.localDataCenter, slowHosts),
      retry: new DeadlineRetryPolicy(settings.maxAttempts, budget, counters, failoverLogger, slowHosts),
      reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(
        RECONNECT_BASE_MS,
        RECONNECT_MAX_MS,
        false,
      ),
      ...(hedging !== undefined ? { speculativeExecution: hedging } : {}),
    },
    metrics: new CountingMetrics(budget, counters, failoverLogger),
  });
  hedging?.watchHosts(client.hosts, settings.localDataCenter);
  tunings.set(client, { attemptTimeoutMs: bulk ? 0 : settings.attemptTimeoutMs, budget, counters });
  client.on('hostDown', (host: cassandra.Host) => logger.warn({ host: host.address }, 'Cassandra host down'));
  client.on('hostUp', (host: cassandra.Host) => logger.info({ host: host.address }, 'Cassandra host up'));
  const started = performance.now();
  try {
    await client.connect();
  } catch (error) {
    await client.shutdown().catch(() => undefined);
    throw error;
  }
  logger.info(
    {
      contactPoints: settings.contactPoints,
      localDataCenter: settings.localDataCenter,
      hosts: client.hosts.length,
      ms: Math.round(performance.now() - started),
      profile: options.profile ?? 'serving',
      attemptTimeoutMs: bulk ? 0 : settings.attemptTimeoutMs,
      maxAttempts: settings.maxAttempts,
      speculativeDelayMs: settings.speculativeDelayMs,
      // Who logs in and whether the connection is encrypted; never the password.
      user: settings.username,
      tls: Boolean(settings.tls),
    },
    'connected to Cassandra',
  );
  return client;
}
