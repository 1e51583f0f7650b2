import type { Metadata, ServiceError } from '@grpc/grpc-js';

import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import type { Config, ConfigInput } from '../../src/config/index.js';
import type { GetOnlineFeaturesRequest } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { WriteFeaturesRequest } from '../../src/generated/cassette/v1/WriteFeaturesRequest.js';
import type { WriteFeaturesResponse__Output } from '../../src/generated/cassette/v1/WriteFeaturesResponse.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { CassandraClient } from '../../src/store/index.js';
import { applyYaml, connectTestSession, dropKeyspace, silentLogger, testConfig, uniqueKeyspace } from './cluster.js';

export interface TestServer {
  readonly config: Config;
  readonly session: CassandraClient;
  readonly server: RunningServer;
  readonly clients: CassetteClients;
  get(request: GetOnlineFeaturesRequest, timeoutMs?: number): Promise<GetOnlineFeaturesResponse__Output>;
  write(request: WriteFeaturesRequest, timeoutMs?: number): Promise<WriteFeaturesResponse__Output>;
  close(): Promise<void>;
}

/**
 * Applies `yaml` to a fresh keyspace of the test Cassandra, starts a real Cassette server on a
 * free port, and connects a real gRPC client to it.
 */
export async function startTestServer(prefix: string, yaml: string, overrides: ConfigInput = {}): Promise<TestServer> {
  const config = testConfig(uniqueKeyspace(prefix), overrides);
  const session = await connectTestSession(config);
  await applyYaml(session, config, yaml);
  const server = await startServer(config, silentLogger, { client: session });
  const clients = connectClients(server.address);
  return {
    config,
    session,
    server,
    clients,
    get: (request, timeoutMs = 10_000) =>
      call((cb) => clients.serving.GetOnlineFeatures(request, deadlineIn(timeoutMs), cb)),
    write: (request, timeoutMs = 10_000) =>
      call((cb) => clients.ingestion.WriteFeatures(request, deadlineIn(timeoutMs), cb)),
    close: async () => {
      clients.close();
      await server.close();
      await dropKeyspace(session, config.cassandra.keyspace);
      await session.shutdown();
    },
  };
}

/** The gRPC error a promise rejected with (fails the test if it resolved). */
export async function grpcError(promise: Promise<unknown>): Promise<ServiceError & { metadata: Metadata }> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError & { metadata: Metadata };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Seconds+nanos for a Date, as WriteFeatures takes it. */
export function ts(date: Date | number): { seconds: number; nanos: number } {
  const millis = typeof date === 'number' ? date : date.getTime();
  const seconds = Math.floor(millis / 1000);
  return { seconds, nanos: (millis - seconds * 1000) * 1e6 };
}
