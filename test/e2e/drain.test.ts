import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import { cliEnv, runCli, startServe, type ServeProcess } from '../helpers/cli.js';
import { connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';
import { waitForHealth } from '../helpers/health.js';

const REGISTRY = `
project: drain
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: profile
    entities: [user]
    features: [{ name: age, type: int32 }]
`;

const DRAIN_MS = 2000;
const SHUTDOWN_TIMEOUT_MS = 8000;
/** Clients keep sending this long into the drain, as a load balancer would until it sees NOT_SERVING. */
const SEND_INTO_DRAIN_MS = DRAIN_MS - 500;
const CLIENTS = 4;

/** SIGTERM to a real `cassette serve` under a steady stream of requests. */
describe('stopping a server under load', () => {
  const keyspace = uniqueKeyspace('drain');
  const env = cliEnv(keyspace, {
    CASSETTE_LOG_LEVEL: 'info',
    CASSETTE_DRAIN_MS: String(DRAIN_MS),
    CASSETTE_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });
  let serve: ServeProcess | undefined;
  let clients: CassetteClients[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cassette-drain-'));
    writeFileSync(join(dir, 'registry.yaml'), REGISTRY);
    const applied = await runCli(['apply', join(dir, 'registry.yaml')], env);
    expect(applied.status).toBe(0);
    serve = await startServe(['--no-cache'], env);
    // Separate channels, as separate callers would have.
    clients = Array.from({ length: CLIENTS }, (_, i) =>
      connectClients(serve!.address, { 'grpc.primary_user_agent': `drain-${i}` }),
    );
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    serve?.child.kill('SIGKILL');
    const session = await connectTestSession(testConfig(keyspace));
    await dropKeyspace(session, keyspace);
    await session.shutdown();
  });

  it('says NOT_SERVING at once, fails no request during the drain, and exits in time', async () => {
    const proc = serve!;
    await waitForHealth(proc.address, 'SERVING', 10_000, ['', 'cassette.v1.FeatureServing']);
    let stopSendingAt = Number.POSITIVE_INFINITY;
    let signalledAt = Number.POSITIVE_INFINITY;
    const outcomes = { beforeSignal: 0, duringDrain: 0, failed: [] as string[] };
    // Each client: one request at a time, bounded in count and in time.
    const sender = async (client: CassetteClients, index: number) => {
      for (let i = 0; i < 2000 && Date.now() < stopSendingAt; i++) {
        const sentAt = Date.now();
        try {
          await call((cb) =>
            i % 4 === 3
              ? client.ingestion.WriteFeatures(
                  {
                    feature_view: 'profile',
                    rows: [
                      { entity_keys: { user_id: { int64_val: String(index) } }, features: { age: { int32_val: i } } },
                    ],
                  },
                  deadlineIn(5000),
                  cb,
                )
              : client.serving.GetOnlineFeatures(
                  {
                    features: { val: ['profile:age'] },
                    entities: { user_id: { val: [{ int64_val: String(index) }, { int64_val: String(i) }] } },
                  },
                  deadlineIn(5000),
                  cb as never,
                ),
          );
          if (sentAt >= signalledAt) outcomes.duringDrain++;
          else outcomes.beforeSignal++;
        } catch (error) {
          outcomes.failed.push(`${grpc.status[(error as grpc.ServiceError).code]}: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const senders = clients.map((client, index) => sender(client, index));
    await new Promise((resolve) => setTimeout(resolve, 500));

    signalledAt = Date.now();
    proc.child.kill('SIGTERM');
    stopSendingAt = signalledAt + SEND_INTO_DRAIN_MS;
    // NOT_SERVING at once: well before the drain ends, while requests still succeed.
    const notServingAfterMs = await waitForHealth(proc.address, 'NOT_SERVING', DRAIN_MS, [
      '',
      'cassette.v1.FeatureServing',
      'cassette.v1.FeatureIngestion',
    ]);
    expect(notServingAfterMs).toBeLessThan(DRAIN_MS);
    await Promise.all(senders);

    const code = await proc.exited;
    const exitedAfterMs = Date.now() - signalledAt;
    serve = undefined;
    expect(outcomes.failed).toEqual([]);
    expect(outcomes.beforeSignal).toBeGreaterThan(0);
    expect(outcomes.duringDrain).toBeGreaterThan(0);
    expect(code).toBe(0);
    expect(exitedAfterMs).toBeGreaterThanOrEqual(DRAIN_MS);
    expect(exitedAfterMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(proc.lines.some((line) => line.msg?.startsWith('draining'))).toBe(true);
    expect(proc.lines.some((line) => line.msg === 'Cassette stopped')).toBe(true);
  });
});
