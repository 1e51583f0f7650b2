import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { findOrStartCassandra, type CassandraEndpoint } from '../../src/cassandra/index.js';
import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { connectSession } from '../../src/store/index.js';
import { applyYaml, silentLogger } from '../helpers/cluster.js';
import { grpcError } from '../helpers/server.js';

const REGISTRY = `
project: fault
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: profile
    entities: [user]
    features: [{ name: age, type: int32 }]
`;

/**
 * Cassandra going away under a running server: this file starts a Cassandra node of its own
 * (so it can kill it) and checks that callers get UNAVAILABLE and the server keeps running.
 */
describe('when Cassandra goes down', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cassette-fault-'));
  let node: CassandraEndpoint;
  let server: RunningServer;
  let clients: CassetteClients;
  const request = { features: { val: ['profile:age'] }, entities: { user_id: { val: [{ int64_val: '1' }] } } };

  beforeAll(async () => {
    node = await findOrStartCassandra({ logger: silentLogger, port: 9342, dataDir, heap: '512m', env: {} });
    const config = loadConfig({
      env: {},
      overrides: {
        listen: '127.0.0.1:0',
        http: { listen: '127.0.0.1:0' },
        // The cache would answer from memory; this test is about the store path.
        cache: { enabled: false },
        cassandra: {
          contactPoints: node.contactPoints,
          localDataCenter: node.localDataCenter,
          keyspace: 'fault',
          requestTimeoutMs: 1000,
        },
        log: { statsIntervalMs: 0 },
        metrics: { listen: '127.0.0.1:0' },
      },
    });
    const setupSession = await connectSession(config.cassandra, silentLogger);
    await applyYaml(setupSession, config, REGISTRY);
    await setupSession.shutdown();
    server = await startServer(config, silentLogger);
    clients = connectClients(server.address);
  });

  afterAll(async () => {
    clients?.close();
    await server?.close();
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers UNAVAILABLE, keeps running, and never leaves a rejection unhandled', async () => {
    await call((cb) =>
      clients.ingestion.WriteFeatures(
        {
          feature_view: 'profile',
          rows: [{ entity_keys: { user_id: { int64_val: '1' } }, features: { age: { int32_val: 3 } } }],
        },
        deadlineIn(5000),
        cb,
      ),
    );
    const ok = await call<{ results: { values: { int32_val?: number }[] }[] }>((cb) =>
      clients.serving.GetOnlineFeatures(request, deadlineIn(5000), cb as never),
    );
    expect(ok.results[0]!.values[0]!.int32_val).toBe(3);

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await node.stop();
      for (let i = 0; i < 3; i++) {
        const error = await grpcError(call((cb) => clients.serving.GetOnlineFeatures(request, deadlineIn(5000), cb)));
        expect(error.code).toBe(status.UNAVAILABLE);
        expect(error.details).toMatch(/Cassandra/);
      }
      const writeError = await grpcError(
        call((cb) =>
          clients.ingestion.WriteFeatures(
            {
              feature_view: 'profile',
              rows: [{ entity_keys: { user_id: { int64_val: '2' } }, features: { age: { int32_val: 4 } } }],
            },
            deadlineIn(5000),
            cb,
          ),
        ),
      );
      expect(writeError.code).toBe(status.UNAVAILABLE);
      // The server itself is still up and answering what needs no Cassandra.
      const views = await call<{ feature_views: unknown[] }>((cb) =>
        clients.registry.ListFeatureViews({}, deadlineIn(5000), cb as never),
      );
      expect(views.feature_views).toHaveLength(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});
