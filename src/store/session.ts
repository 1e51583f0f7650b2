import cassandra from 'cassandra-driver';

import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';

export type CassandraClient = cassandra.Client;

export const DEFUNCT_READ_TIMEOUT_THRESHOLD = 1024;

/**
 * The driver's default policy, except that a client-side timeout is not retried on the next
 * host: the timeout is what is left of the caller's deadline, so a retry would outlive it.
 */
class NoRetryOnClientTimeout extends cassandra.policies.retry.RetryPolicy {
  override onRequestError(
    info: cassandra.policies.retry.OperationInfo,
    consistency: number,
    err: Error,
  ): cassandra.policies.retry.DecisionInfo {
    if (err instanceof cassandra.errors.OperationTimedOutError) return this.rethrowResult();
    return super.onRequestError(info, consistency, err);
  }
}

export const consistencies = cassandra.types.consistencies;

export function consistencyOf(
  name: Config['cassandra']['readConsistency'] | Config['cassandra']['writeConsistency'],
): number {
  return consistencies[name];
}

/**
 * The driver timeout for a request with `remainingMs` left before its caller's deadline: what is
 * left, kept within the configured bounds (see minDriverTimeoutMs and requestTimeoutMs in config).
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
 * Routing: the driver's default policy is token-aware over DC-aware round robin, so each
 * prepared single-partition statement goes straight to a replica of its partition.
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
  };
  const client = new cassandra.Client({
    contactPoints: settings.contactPoints,
    localDataCenter: settings.localDataCenter,
    pooling,
    socketOptions: {
      connectTimeout: settings.connectTimeoutMs,
      readTimeout: settings.requestTimeoutMs,
      tcpNoDelay: true,
      // The driver closes a connection once this many of its requests have timed out. Timeouts
      // here mostly mean a caller's deadline was short, not that the connection died (a closed
      // socket is noticed at once, an idle one by heartbeats), so tolerate many more than 64.
      defunctReadTimeoutThreshold: DEFUNCT_READ_TIMEOUT_THRESHOLD,
      ...(bulk || options.coalescingThreshold
        ? { coalescingThreshold: options.coalescingThreshold ?? BULK.coalescingThreshold }
        : {}),
    },
    queryOptions: {
      prepare: true,
      consistency: consistencyOf(bulk ? settings.writeConsistency : settings.readConsistency),
    },
    policies: { retry: new NoRetryOnClientTimeout() },
  });
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
    },
    'connected to Cassandra',
  );
  return client;
}
