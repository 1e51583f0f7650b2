import cassandra from 'cassandra-driver';

import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';

export type CassandraClient = cassandra.Client;

export const consistencies = cassandra.types.consistencies;

export function consistencyOf(name: Config['cassandra']['readConsistency']): number {
  return consistencies[name];
}

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
): Promise<CassandraClient> {
  const { distance } = cassandra.types;
  const client = new cassandra.Client({
    contactPoints: settings.contactPoints,
    localDataCenter: settings.localDataCenter,
    pooling: {
      coreConnectionsPerHost: { [distance.local]: settings.coreConnectionsPerHost, [distance.remote]: 1 },
      maxRequestsPerConnection: settings.maxRequestsPerConnection,
    },
    socketOptions: {
      connectTimeout: settings.connectTimeoutMs,
      readTimeout: settings.requestTimeoutMs,
      tcpNoDelay: true,
    },
    queryOptions: { prepare: true, consistency: consistencyOf(settings.readConsistency) },
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
    },
    'connected to Cassandra',
  );
  return client;
}
