import type { Logger } from 'pino';
import { DEFAULT_CQL_PORT, parseContactPoints } from './contact-points.js';
import { prepareLocalJvm } from './local-jvm.js';
import { ManagedCluster } from './managed-cluster.js';
import { isPortOpen, tryCql } from './probe.js';
import { startCassandraContainer } from './testcontainers.js';

export { parseContactPoints } from './contact-points.js';
export type { NodeSecurity } from './config.js';
export {
  ManagedCluster,
  NODE_SIGNALS,
  type ClusterLocation,
  type ManagedClusterOptions,
  type NodeSignal,
  type NodeStatus,
  type StartClusterOptions,
} from './managed-cluster.js';

export interface CassandraEndpoint {
  /**
   * "host:port" strings, ready for cassandra-driver's contactPoints. (cassandra-driver
   * 4.x assumes its own protocolOptions.port, default 9042, for peers it discovers, so
   * a multi-node cluster on another port also needs protocolOptions.port set.)
   */
  contactPoints: string[];
  localDataCenter: string;
  source: 'env' | 'existing' | 'local-jvm' | 'testcontainers';
  /** Stops what this call started; a no-op for env/existing. Safe to call twice. */
  stop(): Promise<void>;
}

export interface FindOrStartOptions {
  logger: Logger;
  /** Where to look for / bind a local Cassandra. Default 127.0.0.1. */
  host?: string;
  /** Native transport (CQL) port. Default 9042; a started node's storage port is port - 2042. */
  port?: number;
  /** Node data root; default `.cassette/cassandra` under process.cwd(). */
  dataDir?: string;
  /** Local-JVM path only: cluster size, nodes on 127.0.0.1..3. Default 1. */
  nodes?: 1 | 2 | 3;
  /** Local-JVM heap per node (-Xms = -Xmx), e.g. "1g" (the default). */
  heap?: string;
  /** Local-JVM path: per node, JVM spawn to first successful CQL query. Default 180 s. */
  startTimeoutMs?: number;
  /** Where Cassandra's jars are cached; default CASSETTE_CASSANDRA_HOME or ~/.cache/cassette/cassandra-<version>. */
  cassandraHome?: string;
  /** Environment to read settings from and pass to child processes. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

const noop = (): Promise<void> => Promise.resolve();
const LOOPBACK_V4 = /^127\.\d+\.\d+\.\d+$/;

function formatContactPoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Finds a Cassandra to talk to, starting one if necessary, in this order:
 *  1. CASSANDRA_CONTACT_POINTS (+ CASSANDRA_LOCAL_DC) from the environment;
 *  2. a Cassandra already answering CQL at host:port (reused, never stopped);
 *  3. Cassandra 5.0 in child JVMs (needs Java 17+, and Maven once to fetch the jars);
 *  4. the cassandra:5.0 image via testcontainers, if a Docker engine is reachable.
 * Throws one error explaining the options if none is available.
 */
export async function findOrStartCassandra(opts: FindOrStartOptions): Promise<CassandraEndpoint> {
  const env = opts.env ?? process.env;
  const logger = opts.logger.child({ component: 'cassandra' });

  const fromEnv = env.CASSANDRA_CONTACT_POINTS?.trim();
  if (fromEnv) {
    const contactPoints = parseContactPoints(fromEnv);
    const localDataCenter = env.CASSANDRA_LOCAL_DC?.trim() || 'datacenter1';
    logger.info({ contactPoints, localDataCenter }, 'using cassandra from CASSANDRA_CONTACT_POINTS');
    return { contactPoints, localDataCenter, source: 'env', stop: noop };
  }

  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? DEFAULT_CQL_PORT;
  const nodes = opts.nodes ?? 1;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`Invalid Cassandra port: ${port}`);
  if (![1, 2, 3].includes(nodes)) throw new Error(`Invalid number of Cassandra nodes: ${String(nodes)}`);
  const contactPoint = formatContactPoint(host, port);

  if (await isPortOpen(host, port)) {
    const info = await tryCql(contactPoint, 10_000);
    if (!info) {
      throw new Error(
        `${contactPoint} accepts connections but does not answer CQL; stop whatever listens there or choose another port`,
      );
    }
    logger.info({ contactPoint, version: info.releaseVersion }, 'reusing running cassandra');
    return { contactPoints: [contactPoint], localDataCenter: info.dataCenter, source: 'existing', stop: noop };
  }

  const missing: string[] = [];
  const baseAddress = host === 'localhost' ? '127.0.0.1' : host;
  const jvm = LOOPBACK_V4.test(baseAddress)
    ? await prepareLocalJvm({ env, logger, cassandraHome: opts.cassandraHome })
    : { missing: `a local JVM is only started on a 127.x.y.z address, not ${host}` };
  if ('missing' in jvm) {
    missing.push(jvm.missing);
  } else {
    // Tied to this process: the nodes go when it does, even if it is SIGKILLed.
    const cluster = await ManagedCluster.start({
      jvm,
      dataDir: opts.dataDir ?? '.cassette/cassandra',
      baseAddress,
      nativePort: port,
      nodes,
      heap: opts.heap ?? '1g',
      startTimeoutMs: opts.startTimeoutMs ?? 180_000,
      env,
      logger,
    });
    let stopping: Promise<void> | undefined;
    return {
      contactPoints: cluster.contactPoints,
      localDataCenter: cluster.localDataCenter,
      source: 'local-jvm',
      stop: () => (stopping ??= cluster.stop()),
    };
  }

  const container = await startCassandraContainer(logger);
  if (container) return { ...container, source: 'testcontainers' };
  missing.push('no Docker engine reachable');

  throw new Error(
    `No Cassandra available at ${contactPoint} and none could be started (${missing.join('; ')}). ` +
      'Provide one of: CASSANDRA_CONTACT_POINTS=host[:port],... (and CASSANDRA_LOCAL_DC) for an existing cluster; ' +
      'Java 17 and Maven on PATH to run Cassandra locally; or a running Docker engine.',
  );
}
