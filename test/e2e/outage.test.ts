import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { findOrStartCassandra, type CassandraEndpoint } from '../../src/cassandra/index.js';
import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { connectSession } from '../../src/store/index.js';
import { startServe, type ServeProcess } from '../helpers/cli.js';
import { applyYaml, silentLogger } from '../helpers/cluster.js';
import { waitForHealth } from '../helpers/health.js';
import { grpcError } from '../helpers/server.js';

const REGISTRY = `
project: outage
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: profile
    entities: [user]
    features: [{ name: age, type: int32 }]
`;

/** This file's own Cassandra node: it is frozen, killed and restarted here. */
const PORT = 9542;
const KEYSPACE = 'outage';
const SERVICES = ['', 'cassette.v1.FeatureServing', 'cassette.v1.FeatureIngestion', 'cassette.v1.Registry'];
/** The target: health says NOT_SERVING within 5 s of Cassandra becoming unable to serve. */
const NOT_SERVING_WITHIN_MS = 5000;
const SHUTDOWN_TIMEOUT_MS = 5000;

/** The pid of the Cassandra JVM whose data lives under `dataDir` (not its sh wrapper). */
function cassandraJvmPid(dataDir: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[0]?.endsWith('java') && argv.some((arg) => arg.startsWith(`-Dcassandra.storagedir=${dataDir}`))) {
      return Number(entry);
    }
  }
  throw new Error(`no Cassandra JVM found for ${dataDir}`);
}

/**
 * Cassandra going away under running servers, and coming back: health follows it (overall and
 * per service), lookups fail UNAVAILABLE meanwhile and succeed again after, and a `cassette serve`
 * process asked to stop during the outage exits within its shutdown timeout.
 */
describe('when Cassandra freezes, dies and comes back', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cassette-outage-'));
  let node: CassandraEndpoint | undefined;
  let server: RunningServer;
  let clients: CassetteClients;
  let serve: ServeProcess | undefined;
  const request = { features: { val: ['profile:age'] }, entities: { user_id: { val: [{ int64_val: '1' }] } } };
  const lookup = () =>
    call<GetOnlineFeaturesResponse__Output>((cb) =>
      clients.serving.GetOnlineFeatures(request, deadlineIn(5000), cb as never),
    );
  const startNode = () => findOrStartCassandra({ logger: silentLogger, port: PORT, dataDir, heap: '512m', env: {} });

  beforeAll(async () => {
    node = await startNode();
    const config = loadConfig({
      env: {},
      overrides: {
        listen: '127.0.0.1:0',
        http: { listen: '127.0.0.1:0' },
        cache: { enabled: false },
        cassandra: {
          contactPoints: node.contactPoints,
          localDataCenter: node.localDataCenter,
          keyspace: KEYSPACE,
          requestTimeoutMs: 1000,
        },
        log: { statsIntervalMs: 0 },
        metrics: { listen: '127.0.0.1:0' },
      },
    });
    const setup = await connectSession(config.cassandra, silentLogger);
    await applyYaml(setup, config, REGISTRY);
    await setup.shutdown();
    server = await startServer(config, silentLogger);
    clients = connectClients(server.address);
    await call((cb) =>
      clients.ingestion.WriteFeatures(
        {
          feature_view: 'profile',
          rows: [{ entity_keys: { user_id: { int64_val: '1' } }, features: { age: { int32_val: 7 } } }],
        },
        deadlineIn(5000),
        cb,
      ),
    );
    serve = await startServe(['--drain-ms', '0'], {
      ...process.env,
      CASSANDRA_CONTACT_POINTS: node.contactPoints.join(','),
      CASSANDRA_LOCAL_DC: node.localDataCenter,
      CASSETTE_KEYSPACE: KEYSPACE,
      CASSETTE_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
  });

  afterAll(async () => {
    clients?.close();
    await server?.close();
    serve?.child.kill('SIGKILL');
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says SERVING for the server and each service while Cassandra answers', async () => {
    await waitForHealth(server.address, 'SERVING', 5000, SERVICES);
    expect((await lookup()).results[0]!.values[0]!.int32_val).toBe(7);
  });

  it('says NOT_SERVING while the node is frozen, and SERVING again once it answers', async () => {
    const pid = cassandraJvmPid(dataDir);
    process.kill(pid, 'SIGSTOP');
    try {
      // A frozen node keeps its connections open: only the probe notices.
      const tookMs = await waitForHealth(server.address, 'NOT_SERVING', 30_000, SERVICES);
      expect(tookMs).toBeLessThanOrEqual(NOT_SERVING_WITHIN_MS);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitForHealth(server.address, 'SERVING', 30_000, SERVICES);
    expect((await lookup()).results[0]!.values[0]!.int32_val).toBe(7);
  });

  it('says NOT_SERVING when the node dies and answers lookups UNAVAILABLE', async () => {
    process.kill(cassandraJvmPid(dataDir), 'SIGKILL');
    const tookMs = await waitForHealth(server.address, 'NOT_SERVING', 30_000, SERVICES);
    expect(tookMs).toBeLessThanOrEqual(NOT_SERVING_WITHIN_MS);
    await waitForHealth(serve!.address, 'NOT_SERVING', 30_000, SERVICES);
    for (let i = 0; i < 3; i++) {
      const error = await grpcError(lookup());
      expect(error.code).toBe(status.UNAVAILABLE);
    }
  });

  it('stops a serve process within its shutdown timeout during the outage', async () => {
    const asked = Date.now();
    serve!.child.kill('SIGTERM');
    const code = await serve!.exited;
    const tookMs = Date.now() - asked;
    serve = undefined;
    expect(code).toBe(0);
    // The shutdown timeout, and the second the process is given past it before it is made to exit.
    expect(tookMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 2000);
  });

  it('says SERVING and answers lookups again once the node is back', { timeout: 300_000 }, async () => {
    node = await startNode();
    // The driver reconnects on its own schedule (growing delays); a restart takes a while too.
    await waitForHealth(server.address, 'SERVING', 240_000, SERVICES);
    expect((await lookup()).results[0]!.values[0]!.int32_val).toBe(7);
  });
});
