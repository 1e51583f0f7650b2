import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { readRegistryFile } from '../registry/index.js';
import { applyRegistry, type ApplyResult } from '../registry/storage.js';
import type { CassandraClient } from '../store/index.js';

/** Validates a registry file and applies it; throws RegistryValidationError listing every problem. */
export async function applyRegistryFile(
  file: string,
  client: CassandraClient,
  config: Config,
  logger: Logger,
): Promise<ApplyResult> {
  const { source, registry } = readRegistryFile(file);
  return applyRegistry(
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
