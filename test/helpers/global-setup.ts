import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pino from 'pino';
import type { TestProject } from 'vitest/node';

import { findOrStartCassandra, type CassandraEndpoint } from '../../src/cassandra/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cassandra: { contactPoints: string[]; localDataCenter: string };
  }
}

/** The tests' own port, so a dev Cassandra on 9042 is left alone. */
const TEST_PORT = 9142;

let endpoint: CassandraEndpoint | undefined;
let dataDir: string | undefined;

/**
 * Finds or starts the Cassandra every integration test uses: CASSANDRA_CONTACT_POINTS if set,
 * a node already answering on the test port, or a fresh node in a temporary directory.
 */
export async function setup(project: TestProject): Promise<void> {
  dataDir = mkdtempSync(join(tmpdir(), 'cassette-test-cassandra-'));
  const logger = pino({ level: process.env.CASSETTE_TEST_LOG_LEVEL ?? 'warn' });
  endpoint = await findOrStartCassandra({ logger, port: TEST_PORT, dataDir, heap: '1g' });
  project.provide('cassandra', { contactPoints: endpoint.contactPoints, localDataCenter: endpoint.localDataCenter });
  console.error(`[tests] Cassandra (${endpoint.source}) at ${endpoint.contactPoints.join(', ')}`);
}

export async function teardown(): Promise<void> {
  await endpoint?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
