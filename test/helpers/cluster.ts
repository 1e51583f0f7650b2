import { randomBytes } from 'node:crypto';

import pino from 'pino';
import { inject } from 'vitest';

import { loadConfig, type Config, type ConfigInput } from '../../src/config/index.js';
import type { Logger } from '../../src/observability/logger.js';
import { parseRegistry } from '../../src/registry/index.js';
import { applyRegistry, type ApplyResult } from '../../src/registry/storage.js';
import { connectSession, type CassandraClient } from '../../src/store/index.js';

export const silentLogger: Logger = pino({ level: process.env.CASSETTE_TEST_LOG_LEVEL ?? 'silent' });

/** A keyspace name no other test file uses, so files can run in parallel against one node. */
export function uniqueKeyspace(prefix: string): string {
  return `t_${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Config pointing at the test Cassandra, with a fresh keyspace and a free port. */
export function testConfig(keyspace: string, overrides: ConfigInput = {}): Config {
  const cassandra = inject('cassandra');
  return loadConfig({
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      ...overrides,
      http: { listen: '127.0.0.1:0', ...overrides.http },
      cassandra: {
        contactPoints: cassandra.contactPoints,
        localDataCenter: cassandra.localDataCenter,
        keyspace,
        ...overrides.cassandra,
      },
      log: { statsIntervalMs: 0, ...overrides.log },
      // Metrics on (so every test exercises them), on a free port: test files run side by side.
      metrics: { listen: '127.0.0.1:0', ...overrides.metrics },
    },
  });
}

export async function connectTestSession(config: Config): Promise<CassandraClient> {
  return connectSession(config.cassandra, silentLogger);
}

export async function applyYaml(client: CassandraClient, config: Config, yaml: string): Promise<ApplyResult> {
  return applyRegistry(
    client,
    {
      keyspace: config.cassandra.keyspace,
      localDataCenter: config.cassandra.localDataCenter,
      replicationFactor: 1,
    },
    parseRegistry(yaml, 'test registry'),
    yaml,
    silentLogger,
  );
}

export async function dropKeyspace(client: CassandraClient, keyspace: string): Promise<void> {
  // DDL waits for schema agreement and a flush: give it the same minute the store gives its DDL.
  await client.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`, [], { readTimeout: 60_000 });
}
