import { findOrStartCassandra, type CassandraEndpoint } from '../cassandra/index.js';
import { loadConfig, type Config, type ConfigInput } from '../config/index.js';
import { createLogger, type Logger } from '../observability/logger.js';

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
  keyspace?: string;
}

export interface CommandContext {
  config: Config;
  logger: Logger;
}

/** Config (defaults < file < environment < flags) and the logger every command uses. */
export function commandContext(global: GlobalOptions, overrides: ConfigInput = {}): CommandContext {
  const flags: ConfigInput = { ...overrides };
  if (global.keyspace) flags.cassandra = { ...flags.cassandra, keyspace: global.keyspace };
  if (global.logLevel) flags.log = { ...flags.log, level: global.logLevel as Config['log']['level'] };
  const config = loadConfig({ file: global.config, overrides: flags });
  return { config, logger: createLogger(config.log.level, 'cassette', config.log.format) };
}

/**
 * The Cassandra this command should use: the configured contact points (CASSANDRA_CONTACT_POINTS),
 * or a local node that is already running or gets started now.
 */
export async function resolveCassandra(ctx: CommandContext): Promise<{ config: Config; endpoint: CassandraEndpoint }> {
  const { config, logger } = ctx;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (config.cassandra.contactPoints.length > 0) {
    env.CASSANDRA_CONTACT_POINTS = config.cassandra.contactPoints.join(',');
    env.CASSANDRA_LOCAL_DC = config.cassandra.localDataCenter;
  } else {
    delete env.CASSANDRA_CONTACT_POINTS;
  }
  const endpoint = await findOrStartCassandra({
    logger,
    port: config.cassandra.localPort,
    dataDir: config.cassandra.localDataDir,
    env,
  });
  return {
    endpoint,
    config: {
      ...config,
      cassandra: {
        ...config.cassandra,
        contactPoints: endpoint.contactPoints,
        localDataCenter: endpoint.localDataCenter,
      },
    },
  };
}
