import type { Logger } from 'pino';

import { call, connectClients, deadlineIn } from '../../src/client/index.js';
import type { FeatureRow } from '../../src/generated/cassette/v1/FeatureRow.js';
import type { WriteFeaturesResponse__Output } from '../../src/generated/cassette/v1/WriteFeaturesResponse.js';
import { parseRegistry } from '../../src/registry/index.js';
import { applyRegistry, type CassandraClient } from '../../src/store/index.js';
import { quoteIdentifier } from './cql.js';
import { datasetFingerprint, entityFeatures, JOIN_KEY, REGISTRY_YAML, VIEW } from './dataset.js';

/** Rows per WriteFeatures call, and calls in flight at once. */
const ROWS_PER_CALL = 250;
const CALLS_IN_FLIGHT = 6;
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

/** True when the dataset with this seed and size was loaded completely before. */
export async function isLoaded(
  session: CassandraClient,
  keyspace: string,
  seed: number,
  entities: number,
): Promise<boolean> {
  const result = await session.execute(
    `SELECT fingerprint FROM ${quoteIdentifier(keyspace)}.${MARKER_TABLE} WHERE feature_view = ?`,
    [VIEW],
    { prepare: true },
  );
  return result.first()?.get('fingerprint') === datasetFingerprint(seed, entities);
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

/**
 * Writes entities 0..entities-1 through the server's WriteFeatures, CALLS_IN_FLIGHT calls of
 * ROWS_PER_CALL rows at a time. Every row gets the default event time (now), so a reload with
 * another seed overwrites the previous values.
 */
export async function loadDataset(
  address: string,
  seed: number,
  entities: number,
  progress: (done: number) => void,
): Promise<void> {
  const clients = connectClients(address, { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  let nextStart = 0;
  let written = 0;
  const worker = async (): Promise<void> => {
    while (nextStart < entities) {
      const start = nextStart;
      const end = Math.min(entities, start + ROWS_PER_CALL);
      nextStart = end;
      const rows: FeatureRow[] = [];
      for (let id = start; id < end; id++) {
        rows.push({ entity_keys: { [JOIN_KEY]: { int64_val: String(id) } }, features: entityFeatures(seed, id) });
      }
      const response = await call<WriteFeaturesResponse__Output>((cb) =>
        clients.ingestion.WriteFeatures({ feature_view: VIEW, rows }, deadlineIn(120_000), cb),
      );
      written += Number(response.rows_written);
      progress(written);
    }
  };
  try {
    await Promise.all(Array.from({ length: CALLS_IN_FLIGHT }, worker));
  } finally {
    clients.close();
  }
  if (written !== entities) throw new Error(`loaded ${written} rows, expected ${entities}`);
}
