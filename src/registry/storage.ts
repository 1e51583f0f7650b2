import { setTimeout as sleep } from 'node:timers/promises';

import { coherenceTableStatements } from '../coherence/log-tables.js';
import { CassetteError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { cqlType, q } from '../store/cql.js';
import { isInvalidRequest } from '../store/errors.js';
import type { CassandraClient } from '../store/session.js';
import { describeRegistry } from './describe.js';
import { parseRegistry } from './parse.js';
import type { FeatureViewDef, Registry } from './types.js';

/** The table holding the applied registry, so every replica serves the same definitions. */
export const REGISTRY_TABLE = 'cassette_registry';
const REGISTRY_ROW = 'current';
/** Schema changes wait for every node to agree; on a busy cluster that takes seconds. */
const DDL_OPTIONS = { readTimeout: 60_000 };
/** Longest wait for the nodes to agree on a schema change before the next statement. */
const SCHEMA_AGREEMENT_WAIT_MS = 60_000;
const SCHEMA_AGREEMENT_POLL_MS = 250;

/**
 * Whether a statement failed because its coordinator has not heard yet of a keyspace or table
 * created just before (on another node): Cassandra answers Invalid, and only the message tells.
 */
function isSchemaNotYetKnown(error: unknown): boolean {
  return isInvalidRequest(error) && /doesn't exist|does not exist|unconfigured table/i.test(error.message);
}

/**
 * Runs one schema change, then waits until every node the session knows reports the same schema
 * version. The driver's own wait asks one node, for 10 s, and that node's list of peers may lag on
 * a cluster that just started; the next statement, sent to another node, then found no keyspace
 * (seen in the fault suite's setup on a fresh 3-node cluster). A statement that meets a
 * coordinator not yet aware of the schema it builds on is sent again: every statement here is
 * CREATE … IF NOT EXISTS or an ALTER that failed without effect.
 */
async function changeSchema(client: CassandraClient, statement: string): Promise<void> {
  const giveUpAt = Date.now() + SCHEMA_AGREEMENT_WAIT_MS;
  for (;;) {
    try {
      await client.execute(statement, [], DDL_OPTIONS);
      break;
    } catch (error) {
      if (!isSchemaNotYetKnown(error) || Date.now() > giveUpAt) throw error;
      await sleep(SCHEMA_AGREEMENT_POLL_MS);
    }
  }
  await untilSchemaAgrees(client, giveUpAt);
}

/** Waits until every node that is up reports the same schema version, until `giveUpAt` (Date.now() ms). */
async function untilSchemaAgrees(client: CassandraClient, giveUpAt: number): Promise<void> {
  if (client.hosts.length <= 1) return;
  for (;;) {
    const versions = new Set<string>();
    for (const host of client.hosts.values()) {
      if (!host.isUp()) continue;
      const result = await client
        .execute('SELECT schema_version FROM system.local', [], { host, readTimeout: 10_000 })
        .catch(() => undefined);
      versions.add(String((result?.first() as { schema_version?: unknown } | null)?.schema_version ?? 'unknown'));
    }
    if (versions.size <= 1 && !versions.has('unknown')) return;
    if (Date.now() > giveUpAt) {
      throw new CassetteError(
        'CST_ERR_STORE_UNAVAILABLE',
        `the Cassandra nodes did not agree on the schema within ${SCHEMA_AGREEMENT_WAIT_MS / 1000} s ` +
          `(${versions.size} versions among the nodes that are up); check that every node is reachable, then apply again`,
      );
    }
    await sleep(SCHEMA_AGREEMENT_POLL_MS);
  }
}

export interface KeyspaceSettings {
  keyspace: string;
  localDataCenter: string;
  replicationFactor: number;
}

export interface StoredRegistry {
  version: number;
  source: string;
  registry: Registry;
}

export interface ApplyResult {
  version: number;
  /** False when the stored registry already described the same definitions. */
  changed: boolean;
  createdTables: string[];
  addedColumns: string[];
  warnings: string[];
}

interface ColumnInfo {
  kind: string;
  type: string;
  position: number;
}

async function existingColumns(
  client: CassandraClient,
  keyspace: string,
): Promise<Map<string, Map<string, ColumnInfo>>> {
  const result = await client.execute(
    'SELECT table_name, column_name, kind, type, position FROM system_schema.columns WHERE keyspace_name = ?',
    [keyspace],
    { prepare: true },
  );
  const tables = new Map<string, Map<string, ColumnInfo>>();
  for (const row of result.rows) {
    const table = row.get('table_name') as string;
    let columns = tables.get(table);
    if (!columns) tables.set(table, (columns = new Map()));
    columns.set(row.get('column_name') as string, {
      kind: row.get('kind') as string,
      type: row.get('type') as string,
      position: row.get('position') as number,
    });
  }
  return tables;
}

function createTableStatement(keyspace: string, view: FeatureViewDef): string {
  const columns = [
    ...view.entities.map((e) => `${q(e.joinKey)} ${cqlType(e.type)}`),
    ...view.features.map((f) => `${q(f.name)} ${cqlType(f.type)}`),
  ];
  const partitionKey = view.entities.map((e) => q(e.joinKey)).join(', ');
  // Leveled compaction keeps each partition in few SSTables: reads of frequently
  // overwritten feature rows touch one or two files instead of many.
  // A coordinator asks one more replica when one has not answered within its p99 or 50 ms,
  // whichever is shorter: a replica just killed is still thought alive for several seconds, and
  // the plain p99 of a busy cluster can exceed a caller's whole deadline.
  return (
    `CREATE TABLE IF NOT EXISTS ${q(keyspace)}.${q(view.name)} (${columns.join(', ')}, PRIMARY KEY ((${partitionKey}))) ` +
    `WITH compaction = {'class': 'LeveledCompactionStrategy'} AND speculative_retry = 'MIN(99p,50ms)'`
  );
}

/**
 * Works out the DDL that brings Cassandra to `registry` without losing data: new views get
 * tables, new features get columns. A change Cassandra cannot make in place (a feature's type,
 * a view's entities) is refused with every conflict listed. Nothing is ever dropped.
 */
function planMigration(
  keyspace: string,
  registry: Registry,
  tables: Map<string, Map<string, ColumnInfo>>,
): { statements: string[]; createdTables: string[]; addedColumns: string[]; warnings: string[] } {
  const conflicts: string[] = [];
  const statements: string[] = [];
  const createdTables: string[] = [];
  const addedColumns: string[] = [];
  const warnings: string[] = [];
  for (const view of registry.featureViews.values()) {
    const columns = tables.get(view.name);
    if (!columns) {
      statements.push(createTableStatement(keyspace, view));
      createdTables.push(view.name);
      continue;
    }
    const partitionKey = [...columns.entries()]
      .filter(([, c]) => c.kind === 'partition_key')
      .sort((a, b) => a[1].position - b[1].position);
    const expectedKey = view.entities.map((e) => `${e.joinKey} ${cqlType(e.type)}`).join(', ');
    const actualKey = partitionKey.map(([name, c]) => `${name} ${c.type}`).join(', ');
    if (expectedKey !== actualKey || [...columns.values()].some((c) => c.kind === 'clustering')) {
      conflicts.push(
        `feature view "${view.name}": its entities key the table as (${expectedKey}) but the existing table is keyed by (${actualKey}); ` +
          "changing a view's entities needs a new view name",
      );
      continue;
    }
    for (const feature of view.features) {
      const column = columns.get(feature.name);
      const type = cqlType(feature.type);
      if (!column) {
        statements.push(`ALTER TABLE ${q(keyspace)}.${q(view.name)} ADD ${q(feature.name)} ${type}`);
        addedColumns.push(`${view.name}.${feature.name}`);
      } else if (column.kind !== 'regular' || column.type !== type) {
        conflicts.push(
          `feature "${view.name}:${feature.name}" is declared ${feature.type} (${type}) but the stored column is ${column.type}; ` +
            "a feature's type cannot change in place: add a feature with a new name instead",
        );
      }
    }
    const declared = new Set([...view.features.map((f) => f.name), ...view.entities.map((e) => e.joinKey)]);
    for (const [name] of columns) {
      if (!declared.has(name)) {
        warnings.push(`column ${view.name}.${name} is no longer declared; its data is kept but not served`);
      }
    }
  }
  if (conflicts.length > 0) {
    throw new CassetteError('CST_ERR_REGISTRY_CONFLICT', `cannot apply the registry:\n  ${conflicts.join('\n  ')}`);
  }
  return { statements, createdTables, addedColumns, warnings };
}

export async function ensureKeyspace(client: CassandraClient, settings: KeyspaceSettings): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(settings.localDataCenter)) {
    throw new CassetteError(
      'CST_ERR_CONFIG',
      `data center name ${JSON.stringify(settings.localDataCenter)} is not valid`,
    );
  }
  await changeSchema(
    client,
    `CREATE KEYSPACE IF NOT EXISTS ${q(settings.keyspace)} WITH replication = ` +
      `{'class': 'NetworkTopologyStrategy', '${settings.localDataCenter}': ${Math.trunc(settings.replicationFactor)}}`,
  );
  await changeSchema(
    client,
    `CREATE TABLE IF NOT EXISTS ${q(settings.keyspace)}.${q(REGISTRY_TABLE)} ` +
      '(id text PRIMARY KEY, version bigint, spec text, source text, applied_at timestamp)',
  );
  // The invalidation log and view generations that keep the replicas' caches coherent.
  for (const statement of coherenceTableStatements(settings.keyspace)) await changeSchema(client, statement);
}

/** Reads the registry applied to `keyspace`, or undefined when none has been applied. */
export async function loadRegistry(client: CassandraClient, keyspace: string): Promise<StoredRegistry | undefined> {
  const result = await client.execute(
    `SELECT version, source FROM ${q(keyspace)}.${q(REGISTRY_TABLE)} WHERE id = ?`,
    [REGISTRY_ROW],
    { prepare: true },
  );
  const row = result.first();
  if (!row) return undefined;
  const source = row.get('source') as string;
  return {
    version: Number(row.get('version')),
    source,
    registry: parseRegistry(source, `${keyspace}.${REGISTRY_TABLE}`),
  };
}

/**
 * The registry applied to `keyspace` (what servers serve). Fails with a message saying how to
 * apply one when there is none, or when the keyspace or registry table does not exist yet.
 */
export async function loadAppliedRegistry(client: CassandraClient, keyspace: string): Promise<StoredRegistry> {
  const stored = await loadRegistry(client, keyspace).catch((error: unknown) => {
    const missingTable = isInvalidRequest(error);
    throw new CassetteError(
      missingTable ? 'CST_ERR_REGISTRY_NOT_APPLIED' : 'CST_ERR_REGISTRY_UNAVAILABLE',
      `cannot read the feature registry from keyspace "${keyspace}": ${(error as Error).message}` +
        (missingTable ? '; run `cassette apply <registry.yaml>` first' : ''),
      { cause: error },
    );
  });
  if (!stored) {
    throw new CassetteError(
      'CST_ERR_REGISTRY_NOT_APPLIED',
      `no feature registry has been applied to keyspace "${keyspace}"; run \`cassette apply <registry.yaml>\` first`,
    );
  }
  return stored;
}

/** The version of the applied registry; a cheap poll for changes. */
export async function registryVersion(client: CassandraClient, keyspace: string): Promise<number | undefined> {
  const result = await client.execute(
    `SELECT version FROM ${q(keyspace)}.${q(REGISTRY_TABLE)} WHERE id = ?`,
    [REGISTRY_ROW],
    { prepare: true },
  );
  const row = result.first();
  return row ? Number(row.get('version')) : undefined;
}

/**
 * Applies a validated registry: creates the keyspace and tables, adds new feature columns,
 * then records the registry. Running it twice with the same file changes nothing.
 */
export async function applyRegistry(
  client: CassandraClient,
  settings: KeyspaceSettings,
  registry: Registry,
  source: string,
  logger: Logger,
): Promise<ApplyResult> {
  await ensureKeyspace(client, settings);
  const tables = await existingColumns(client, settings.keyspace);
  const plan = planMigration(settings.keyspace, registry, tables);
  for (const statement of plan.statements) {
    logger.info({ cql: statement }, 'applying schema change');
    await changeSchema(client, statement);
  }
  for (const warning of plan.warnings) logger.warn(warning);

  const current = await loadRegistry(client, settings.keyspace).catch((error: unknown) => {
    // A stored registry that no longer parses must not block fixing it by applying a new one.
    logger.warn({ err: error }, 'the stored registry could not be read; replacing it');
    return undefined;
  });
  for (const view of registry.featureViews.values()) {
    const before = current?.registry.featureViews.get(view.name);
    if (before && before.ttlSeconds !== view.ttlSeconds) {
      const warning =
        `the ttl of feature view "${view.name}" changes from ${before.ttlSeconds || 'none'} to ${view.ttlSeconds || 'none'} ` +
        '(seconds); values already stored keep the expiry they were written with';
      plan.warnings.push(warning);
      logger.warn(warning);
    }
  }
  const spec = JSON.stringify(describeRegistry(registry));
  if (current && JSON.stringify(describeRegistry(current.registry)) === spec) {
    return { version: current.version, changed: false, ...plan };
  }
  const version = (current?.version ?? 0) + 1;
  const table = `${q(settings.keyspace)}.${q(REGISTRY_TABLE)}`;
  // A lightweight transaction, so two concurrent applies cannot both claim the same version.
  const result = current
    ? await client.execute(
        `UPDATE ${table} SET version = ?, spec = ?, source = ?, applied_at = ? WHERE id = ? IF version = ?`,
        [version, spec, source, new Date(), REGISTRY_ROW, current.version],
        { prepare: true },
      )
    : await client.execute(
        `INSERT INTO ${table} (id, version, spec, source, applied_at) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`,
        [REGISTRY_ROW, version, spec, source, new Date()],
        { prepare: true },
      );
  if (!result.wasApplied()) {
    throw new CassetteError(
      'CST_ERR_REGISTRY_CONFLICT',
      'another apply changed the registry at the same time; run apply again',
    );
  }
  return { version, changed: true, ...plan };
}
