import { auth, Client, policies } from 'cassandra-driver';

import type { NodeSecurity } from './config.js';
import { connect, isIPv4 } from 'node:net';

/** True when something accepts TCP connections on host:port (cheap pre-check before CQL). */
export function isPortOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface CqlInfo {
  releaseVersion: string;
  dataCenter: string;
}

/**
 * Connects with cassandra-driver and runs `SELECT release_version FROM system.local`
 * on the node at `contactPoint`. Round-robin balancing avoids having to know the
 * cluster's data center up front; it is read from system.local instead. Rejects
 * with the driver's error.
 */
export async function queryCql(contactPoint: string, timeoutMs: number, security?: NodeSecurity): Promise<CqlInfo> {
  const login = security?.probeLogin ?? { username: 'cassandra', password: 'cassandra' };
  const separator = contactPoint.lastIndexOf(':');
  const host = contactPoint.slice(0, separator);
  const port = Number(contactPoint.slice(separator + 1));
  const roundRobin = new policies.loadBalancing.RoundRobinPolicy();
  const client = new Client({
    contactPoints: [contactPoint],
    // The driver discovers the other nodes of a cluster and would send the query to any of
    // them: an IPv4 contact point is pinned, so the answer is this node's. (The driver
    // resolves a hostname to addresses this list cannot name in advance.)
    policies: {
      loadBalancing: isIPv4(host) ? new policies.loadBalancing.AllowListPolicy(roundRobin, [contactPoint]) : roundRobin,
    },
    protocolOptions: { port },
    socketOptions: { connectTimeout: timeoutMs, readTimeout: timeoutMs },
    ...(security?.passwordAuthentication && {
      authProvider: new auth.PlainTextAuthProvider(login.username, login.password),
    }),
    // A readiness probe of a local node: it checks that CQL answers, not who answers.
    ...(security?.clientEncryption && { sslOptions: { rejectUnauthorized: false } }),
    // Only system.local is read: no need to fetch the whole schema.
    isMetadataSyncEnabled: false,
    pooling: { warmup: false },
  });
  try {
    await client.connect();
    const result = await client.execute('SELECT release_version, data_center FROM system.local');
    const row = result.first();
    return {
      releaseVersion: String(row.get('release_version')),
      dataCenter: String(row.get('data_center')),
    };
  } finally {
    await client.shutdown();
  }
}

/** Like queryCql, but resolves undefined instead of rejecting. */
export async function tryCql(
  contactPoint: string,
  timeoutMs: number,
  security?: NodeSecurity,
): Promise<CqlInfo | undefined> {
  try {
    return await queryCql(contactPoint, timeoutMs, security);
  } catch {
    return undefined;
  }
}

/**
 * Polls until a CQL query succeeds. `abort` is checked between attempts and
 * may throw (e.g. the JVM exited) to give up early. Rejects after `timeoutMs`
 * with the last driver error.
 */
export async function waitForCql(options: {
  host: string;
  port: number;
  timeoutMs: number;
  abort?: () => void;
  security?: NodeSecurity;
}): Promise<CqlInfo> {
  const { host, port, timeoutMs, abort, security } = options;
  const deadline = Date.now() + timeoutMs;
  const contactPoint = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  let lastError: unknown = new Error('native transport port never opened');
  for (;;) {
    abort?.();
    // The native port opens only once the node is fully up, so poll it cheaply first.
    if (await isPortOpen(host, port)) {
      try {
        return await queryCql(contactPoint, 5_000, security);
      } catch (err) {
        lastError = err;
      }
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`Cassandra at ${contactPoint} did not answer CQL within ${timeoutMs} ms: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
