import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import type { FeatureRow } from '../../src/generated/cassette/v1/FeatureRow.js';
import type { WriteFeaturesResponse__Output } from '../../src/generated/cassette/v1/WriteFeaturesResponse.js';
import { parseRegistry } from '../../src/registry/index.js';
import { applyRegistry } from '../../src/registry/storage.js';
import type { CassandraClient } from '../../src/store/index.js';
import { quoteIdentifier } from './cql.js';
import { entityFeatures, JOIN_KEY, REGISTRY_YAML, VIEW } from './dataset.js';
import { benchClientSecurity } from './security.js';

/** Rows per WriteFeatures call, and calls in flight at once on each server. */
const ROWS_PER_CALL = 250;
const CALLS_PER_SERVER = 3;
const MARKER_TABLE = 'bench_dataset';

/** Applies the benchmark registry (idempotent) and creates the table recording what was loaded. */
export async function prepareKeyspace(
  session: CassandraClient,
  keyspace: string,
  localDataCenter: string,
  logger: Logger,
): Promise<void> {
  await applyRegistry(
    session,
    { keyspace, localDataCenter, replicationFactor: 1 },
    parseRegistry(REGISTRY_YAML, 'bench registry'),
    REGISTRY_YAML,
    logger,
  );
  await session.execute(
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(keyspace)}.${MARKER_TABLE} (feature_view text PRIMARY KEY, fingerprint text, loaded_at timestamp)`,
  );
}

/** The fingerprint recorded by the last complete load into this keyspace, if any. */
export async function loadedFingerprint(session: CassandraClient, keyspace: string): Promise<string | undefined> {
  const result = await session.execute(
    `SELECT fingerprint FROM ${quoteIdentifier(keyspace)}.${MARKER_TABLE} WHERE feature_view = ?`,
    [VIEW],
    { prepare: true },
  );
  const fingerprint: unknown = result.first()?.get('fingerprint');
  return typeof fingerprint === 'string' ? fingerprint : undefined;
}

export async function setLoaded(session: CassandraClient, keyspace: string, fingerprint: string | null): Promise<void> {
  const table = `${quoteIdentifier(keyspace)}.${MARKER_TABLE}`;
  if (fingerprint === null) {
    await session.execute(`DELETE FROM ${table} WHERE feature_view = ?`, [VIEW], { prepare: true });
  } else {
    await session.execute(
      `INSERT INTO ${table} (feature_view, fingerprint, loaded_at) VALUES (?, ?, ?)`,
      [VIEW, fingerprint, new Date()],
      { prepare: true },
    );
  }
}

const RETRIES = 5;

/**
 * A write that Cassandra could not take in time (a fresh node, a busy machine) is sent again:
 * rewriting the same values is harmless.
 */
async function writeWithRetries<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const transient = code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
      if (!transient || attempt > RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/**
 * Writes entities from..entities-1 through WriteFeatures, spread over the given servers (each one
 * process doing its own decoding and validation), CALLS_PER_SERVER calls of ROWS_PER_CALL rows in
 * flight on each. Every row gets the default event time (now), so a reload with another seed
 * overwrites the previous values.
 */
export async function loadDataset(
  addresses: readonly string[],
  seed: number,
  from: number,
  entities: number,
  progress: (done: number) => void,
): Promise<void> {
  const servers = addresses.map((address) =>
    connectClients(address, { 'grpc.max_send_message_length': 64 * 1024 * 1024 }, benchClientSecurity(address)),
  );
  let nextStart = from;
  let written = 0;
  const worker = async (server: CassetteClients): Promise<void> => {
    while (nextStart < entities) {
      const start = nextStart;
      const end = Math.min(entities, start + ROWS_PER_CALL);
      nextStart = end;
      const rows: FeatureRow[] = [];
      for (let id = start; id < end; id++) {
        rows.push({ entity_keys: { [JOIN_KEY]: { int64_val: String(id) } }, features: entityFeatures(seed, id) });
      }
      const response = await writeWithRetries(() =>
        call<WriteFeaturesResponse__Output>((cb) =>
          server.ingestion.WriteFeatures({ feature_view: VIEW, rows }, deadlineIn(120_000), cb),
        ),
      );
      written += Number(response.rows_written);
      progress(written);
    }
  };
  try {
    await Promise.all(servers.flatMap((server) => Array.from({ length: CALLS_PER_SERVER }, () => worker(server))));
  } finally {
    for (const server of servers) server.close();
  }
  if (written !== entities - from) throw new Error(`loaded ${written} rows, expected ${entities - from}`);
}
