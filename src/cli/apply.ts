import { userInfo } from 'node:os';

import { ANONYMOUS, AuditLog } from '../auth/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { readRegistryFile } from '../registry/index.js';
import { applyRegistry, type ApplyResult } from '../registry/storage.js';
import type { CassandraClient } from '../store/index.js';

/**
 * Validates a registry file and applies it; throws RegistryValidationError listing every problem.
 * The change is audited: by the operating-system user and the Cassandra user, who made it.
 */
export async function applyRegistryFile(
  file: string,
  client: CassandraClient,
  config: Config,
  logger: Logger,
): Promise<ApplyResult> {
  const { source, registry } = readRegistryFile(file);
  const audit = new AuditLog(logger, config.log.audit);
  const who = `local:${userInfo().username}${config.cassandra.username ? `/cassandra:${config.cassandra.username}` : ''}`;
  const entry = {
    principal: { ...ANONYMOUS, name: who },
    method: 'cassette apply',
    views: [...registry.featureViews.keys()],
  };
  try {
    const result = await applyRegistry(
      client,
      {
        keyspace: config.cassandra.keyspace,
        localDataCenter: config.cassandra.localDataCenter,
        replicationFactor: config.cassandra.replicationFactor,
      },
      registry,
      source,
      logger,
    );
    audit.record({ ...entry, rows: 0, outcome: result.changed ? 'OK' : 'UNCHANGED' });
    return result;
  } catch (error) {
    audit.record({ ...entry, rows: 0, outcome: 'FAILED' });
    throw error;
  }
}

export function describeApply(file: string, keyspace: string, result: ApplyResult): string {
  const lines = [
    result.changed
      ? `applied ${file} to keyspace "${keyspace}" as registry version ${result.version}`
      : `${file} is already applied to keyspace "${keyspace}" (registry version ${result.version}); nothing changed`,
  ];
  for (const table of result.createdTables) lines.push(`  created table ${table}`);
  for (const column of result.addedColumns) lines.push(`  added column ${column}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  return lines.join('\n');
}
