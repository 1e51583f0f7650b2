import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';

import { assertSafeListen, type Config, type ConfigInput } from '../config/index.js';
import { isCassetteError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { startMetricsListener, workerGroupMetrics } from '../observability/metrics-listener.js';
import { startTracingFromEnvironment } from '../observability/tracing.js';
import {
  exitOnFatalErrors,
  exitWithin,
  FATAL_EXIT_CODE,
  flushAndExit,
  isWorkerProcess,
  joinWorkerGroup,
  reportWorkerReady,
  shutdownSession,
  startServer,
  startWorkerGroup,
  type RunningServer,
} from '../server/index.js';
import { connectSession } from '../store/index.js';
import { applyRegistryFile, describeApply } from './apply.js';
import { directBackend, serverBackend, type Backend } from './backend.js';
import { cassandraCommands } from './cassandra.js';
import { clientSecurity, withClientSecurity, tokenCommand, type ClientSecurityOptions } from './security.js';
import { commandContext, resolveCassandra, type GlobalOptions } from './context.js';
import { loadDemoRows } from './demo-data.js';
import {
  importFeastCommand,
  importFeastCommandDefinition,
  migrateFromFeastCommand,
  migrateFromFeastCommandDefinition,
  type ImportFeastOptions,
  type MigrateFromFeastOptions,
} from './feast.js';
import { generateCommand, generateCommandDefinition, type GenerateCommandOptions } from './generate.js';
import { buildGetRequest, renderTable, responseRows, type GetOptions } from './get.js';
import { ingestCommand, ingestCommandDefinition, type IngestOptions } from './ingest.js';
import { readJsonRows, rowsFromJson } from './write.js';

const DEMO_REGISTRY = new URL('../../schema/example.yaml', import.meta.url).pathname;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

interface ServeOptions {
  listen?: string;
  httpListen?: string;
  http: boolean;
  cache: boolean;
  workers?: string;
  drainMs?: string;
  metricsListen?: string;
  insecure?: boolean;
  reflection?: boolean;
}

/** Past the shutdown timeout, how long a stopping process may still take before it is made to exit. */
const EXIT_MARGIN_MS = 1000;
/** Once a server command is done, how long open handles (driver timers after an outage) may keep it alive. */
const LINGER_MS = 500;

function serveOverrides(options: ServeOptions): ConfigInput {
  const overrides: ConfigInput = {};
  const serving: NonNullable<ConfigInput['serving']> = {};
  if (options.listen) overrides.listen = options.listen;
  if (options.httpListen) overrides.http = { listen: options.httpListen };
  if (!options.http) overrides.http = { ...overrides.http, enabled: false };
  if (!options.cache) overrides.cache = { enabled: false };
  if (options.insecure) overrides.insecure = true;
  if (options.reflection === false) serving.reflection = false;
  if (options.workers !== undefined) {
    const workers = Number(options.workers);
    if (!Number.isInteger(workers) || workers < 1)
      throw new Error(`--workers ${options.workers}: expected a count >= 1`);
    serving.workers = workers;
  }
  if (options.drainMs !== undefined) {
    const drainMs = Number(options.drainMs);
    if (!Number.isInteger(drainMs) || drainMs < 0)
      throw new Error(`--drain-ms ${options.drainMs}: expected milliseconds >= 0`);
    serving.drainMs = drainMs;
  }
  if (Object.keys(serving).length > 0) overrides.serving = serving;
  if (options.metricsListen) overrides.metrics = { enabled: true, listen: options.metricsListen };
  return overrides;
}

/**
 * Stops a server that was asked to: drains for serving.drainMs, stops, and makes sure the
 * process exits within serving.shutdownTimeoutMs even if something hangs.
 */
async function stopServer(server: RunningServer, config: Config, logger: Logger, cause: string): Promise<void> {
  logger.info({ cause, drainMs: config.serving.drainMs }, 'shutting down');
  let finished = false;
  exitWithin(config.serving.shutdownTimeoutMs + EXIT_MARGIN_MS, logger, () => finished);
  await server.close(config.serving.drainMs);
  finished = true;
}

/** The end of a server command: nothing left open (after an outage, the driver's timers) keeps the process. */
function exitSoon(logger: Logger): void {
  exitWithin(LINGER_MS, logger, () => true);
}

/** One serving process; in a worker group, one of its workers. */
async function serveInProcess(config: Config, logger: Logger): Promise<void> {
  exitOnFatalErrors(logger);
  const stopTracing = await startTracingFromEnvironment(process.env, logger);
  try {
    await (isWorkerProcess() ? serveAsWorker(config, logger) : serveAlone(config, logger));
  } finally {
    await stopTracing();
  }
}

async function serveAlone(config: Config, logger: Logger): Promise<void> {
  const server = await startServer(config, logger);
  // A stats line on demand, so a benchmark can read exact cache counters around its window.
  const logStats = () => server.logStats();
  process.on('SIGUSR2', logStats);
  const signal = await untilSignal();
  process.off('SIGUSR2', logStats);
  await stopServer(server, config, logger, signal);
}

async function serveAsWorker(config: Config, logger: Logger): Promise<void> {
  const current: { server?: RunningServer } = {};
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const peers = joinWorkerGroup((keys) => current.server?.core.invalidation.dropLocal(keys), stop);
  // The primary handles signals for the group; it tells workers to stop.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', stop);
  let server: RunningServer;
  try {
    server = await startServer(config, logger, { peers, metricsToPrimary: true });
  } catch (error) {
    // The IPC channel would keep a failed worker alive; the primary starts another.
    logger.error({ err: error }, 'serving worker could not start');
    flushAndExit(logger, FATAL_EXIT_CODE);
    return;
  }
  current.server = server;
  process.on('SIGUSR2', () => server.logStats());
  reportWorkerReady(server.address);
  await stopped;
  await stopServer(server, config, logger, 'asked by the primary');
  process.disconnect?.();
  exitSoon(logger);
}

/** The primary of a worker group: forks the workers, relays between them, stops them. */
async function serveWithWorkers(config: Config, logger: Logger): Promise<void> {
  exitOnFatalErrors(logger);
  const group = await startWorkerGroup({
    count: config.serving.workers,
    shutdownTimeoutMs: config.serving.shutdownTimeoutMs + EXIT_MARGIN_MS,
    // Workers use the Cassandra the primary found or started; they never start one.
    env: {
      CASSANDRA_CONTACT_POINTS: config.cassandra.contactPoints.join(','),
      CASSANDRA_LOCAL_DC: config.cassandra.localDataCenter,
    },
    logger,
  });
  // One metrics endpoint for the group: the primary asks every worker at each scrape and sums.
  const metrics = config.metrics.enabled
    ? await startMetricsListener(config.metrics.listen, workerGroupMetrics(), logger).catch(async (error: unknown) => {
        await group.close();
        throw error;
      })
    : undefined;
  logger.info(
    { address: group.address, workers: group.pids.length, pids: group.pids, cache: config.cache.enabled },
    'Cassette is serving',
  );
  // Each worker logs its own stats line.
  const forwardStats = () => group.signal('SIGUSR2');
  process.on('SIGUSR2', forwardStats);
  let finished = false;
  try {
    const signal = await untilSignal();
    logger.info({ signal }, 'shutting down');
  } finally {
    process.off('SIGUSR2', forwardStats);
    // Each worker drains and stops within the shutdown timeout; the group kills one that does not.
    exitWithin(config.serving.shutdownTimeoutMs + 3 * EXIT_MARGIN_MS, logger, () => finished);
    await group.close();
    await metrics?.close();
    finished = true;
    logger.info('Cassette stopped');
  }
}

interface ClientOptions extends ClientSecurityOptions {
  server: string;
  direct?: boolean;
  timeout: string;
}

async function openBackend(program: Command, options: ClientOptions): Promise<Backend> {
  const timeoutMs = Number(options.timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new Error(`--timeout ${options.timeout}: expected milliseconds`);
  if (options.direct) return directBackend(commandContext(program.opts<GlobalOptions>()), timeoutMs);
  return serverBackend(options.server, timeoutMs, clientSecurity(options));
}

export function buildProgram(): Command {
  const program = new Command('cassette')
    .description('Cassette: batched online features from Apache Cassandra over gRPC')
    .option('-c, --config <file>', 'config file (YAML); also $CASSETTE_CONFIG')
    .option('--keyspace <name>', 'Cassandra keyspace (default "cassette")')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .showHelpAfterError();

  const clientOptions = (command: Command): Command =>
    withClientSecurity(command)
      .option('--server <host:port>', 'Cassette server to call', '127.0.0.1:6566')
      .option('--direct', 'skip the server: run the pipeline in this process against Cassandra')
      .option('--timeout <ms>', 'deadline for each call', '5000');

  program
    .command('serve')
    .description("serve the applied registry over gRPC (Cassette's API and Feast's) and Feast's HTTP/JSON API")
    .option('--listen <host:port>', 'listen address (default 127.0.0.1:6566)')
    .option('--http-listen <host:port>', "Feast's HTTP/JSON API address (default 127.0.0.1:6567)")
    .option('--no-http', "serve no HTTP (Feast's HTTP/JSON API)")
    .option('--no-cache', 'turn the row cache off')
    .option('--workers <count>', 'server processes sharing the port, one session and cache each (default 1)')
    .option('--drain-ms <ms>', 'after SIGTERM, how long health says NOT_SERVING while calls are still taken')
    .option('--metrics-listen <host:port>', 'Prometheus metrics on GET /metrics (default 127.0.0.1:9464)')
    .option('--insecure', 'allow a non-loopback listen address without TLS (e.g. TLS ends at a sidecar)')
    .option('--no-reflection', 'turn gRPC server reflection off')
    .action(async (options: ServeOptions) => {
      const ctx = commandContext(program.opts<GlobalOptions>(), serveOverrides(options));
      // Refused before a local Cassandra is started or workers are forked.
      assertSafeListen(ctx.config);
      const { config, endpoint } = await resolveCassandra(ctx);
      try {
        if (config.serving.workers > 1 && !isWorkerProcess()) await serveWithWorkers(config, ctx.logger);
        else await serveInProcess(config, ctx.logger);
      } finally {
        await endpoint.stop();
        exitSoon(ctx.logger);
      }
    });

  program
    .command('apply')
    .description('validate a registry file and apply it to Cassandra (idempotent)')
    .argument('<file>', 'registry YAML, e.g. schema/example.yaml')
    .action(async (file: string) => {
      const ctx = commandContext(program.opts<GlobalOptions>());
      const { config, endpoint } = await resolveCassandra(ctx);
      try {
        const client = await connectSession(config.cassandra, ctx.logger);
        try {
          const result = await applyRegistryFile(file, client, config, ctx.logger);
          process.stdout.write(describeApply(file, config.cassandra.keyspace, result) + '\n');
        } finally {
          await client.shutdown();
        }
      } finally {
        await endpoint.stop();
      }
    });

  clientOptions(
    program
      .command('get')
      .description('fetch features for entities and print them')
      .option('--service <name>', 'feature service to fetch')
      .option('--features <refs>', 'comma-separated view:feature references')
      .option('-e, --entity <key=values>', 'join key and comma-separated values; repeat per join key', collect, [])
      .option('--full-names', 'name columns view__feature')
      .option('--json', 'print JSON instead of a table'),
  ).action(async (options: GetOptions & ClientOptions) => {
    const backend = await openBackend(program, options);
    try {
      const request = await buildGetRequest(backend, options);
      const response = await backend.getOnlineFeatures(request);
      process.stdout.write(
        (options.json ? JSON.stringify(responseRows(request, response), null, 2) : renderTable(request, response)) +
          '\n',
      );
    } finally {
      await backend.close();
    }
  });

  clientOptions(
    program
      .command('write')
      .description('write feature rows given as JSON: {join keys…, features…, event_timestamp?}')
      .requiredOption('--view <name>', 'feature view to write')
      .argument('<rows>', 'a JSON object or array, a file holding one, or - for standard input'),
  ).action(async (rows: string, options: { view: string } & ClientOptions) => {
    const backend = await openBackend(program, options);
    try {
      const { feature_views: views } = await backend.listFeatureViews();
      const view = views.find((v) => v.name === options.view);
      if (!view)
        throw new Error(
          `--view: unknown feature view "${options.view}" (known: ${views.map((v) => v.name).join(', ')})`,
        );
      const result = await backend.writeFeatures({
        feature_view: view.name,
        rows: rowsFromJson(view, readJsonRows(rows)),
      });
      process.stdout.write(
        `wrote ${result.rows_written} row(s) to ${view.name}` +
          (Number(result.rows_expired) > 0 ? `; ${result.rows_expired} already expired and skipped` : '') +
          '\n',
      );
    } finally {
      await backend.close();
    }
  });

  ingestCommandDefinition(program, collect).action((files: string[], options: IngestOptions) =>
    ingestCommand(program, files, options),
  );

  importFeastCommandDefinition(program).action((path: string, options: ImportFeastOptions) =>
    importFeastCommand(path, options),
  );
  migrateFromFeastCommandDefinition(program, collect).action((path: string, options: MigrateFromFeastOptions) =>
    migrateFromFeastCommand(program, path, options),
  );

  generateCommandDefinition(program).action((options: GenerateCommandOptions) => generateCommand(program, options));

  cassandraCommands(program);
  tokenCommand(program);

  program
    .command('demo')
    .description('find or start Cassandra, apply schema/example.yaml, load demo rows and serve')
    .option('--listen <host:port>', 'listen address (default 127.0.0.1:6566)')
    .option('--http-listen <host:port>', "Feast's HTTP/JSON API address (default 127.0.0.1:6567)")
    .option('--no-http', "serve no HTTP (Feast's HTTP/JSON API)")
    .option('--no-cache', 'turn the row cache off')
    .option('--drain-ms <ms>', 'after SIGTERM, how long health says NOT_SERVING while calls are still taken')
    .option('--metrics-listen <host:port>', 'Prometheus metrics on GET /metrics (default 127.0.0.1:9464)')
    .action(async (options: ServeOptions) => {
      const ctx = commandContext(program.opts<GlobalOptions>(), serveOverrides(options));
      const { config, endpoint } = await resolveCassandra(ctx);
      exitOnFatalErrors(ctx.logger);
      const stopTracing = await startTracingFromEnvironment(process.env, ctx.logger);
      try {
        const client = await connectSession(config.cassandra, ctx.logger);
        // Until the server takes the session over (and shuts it down within its own bound).
        let clientHandedOver = false;
        try {
          const applied = await applyRegistryFile(DEMO_REGISTRY, client, config, ctx.logger);
          ctx.logger.info({ version: applied.version, changed: applied.changed }, 'demo registry applied');
          clientHandedOver = true;
          const server = await startServer(config, ctx.logger, { client, closeClient: true });
          let stopCause = 'failure';
          try {
            const backend = serverBackend(server.address, 30_000);
            const written = await loadDemoRows(backend).finally(() => backend.close());
            const serverFlag = server.address === '127.0.0.1:6566' ? '' : ` --server ${server.address}`;
            process.stdout.write(
              `\nCassette is serving the demo registry on ${server.address} (${written} demo rows loaded).\n` +
                'Try, in another terminal:\n\n' +
                `  npx cassette get${serverFlag} --service ranking_v1 --entity user_id=1001,1002,1100 --entity item_id=item_001,item_002,item_003\n\n` +
                (server.metricsAddress ? `Metrics: curl http://${server.metricsAddress}/metrics\n\n` : '') +
                'Press Ctrl-C to stop.\n',
            );
            stopCause = await untilSignal();
          } finally {
            await stopServer(server, config, ctx.logger, stopCause);
          }
        } finally {
          if (!clientHandedOver) await shutdownSession(client, config.serving.shutdownTimeoutMs, ctx.logger);
        }
      } finally {
        await stopTracing();
        await endpoint.stop();
        exitSoon(ctx.logger);
      }
    });

  return program;
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).details === 'string' && 'code' in error;
}

/** Prints a failure the way an operator wants to read it, and sets the exit code. */
function report(error: unknown): void {
  if (isCassetteError(error)) {
    process.stderr.write(`cassette: ${error.message}\n`);
  } else if (isServiceError(error)) {
    process.stderr.write(`cassette: the server answered ${grpc.status[error.code]}: ${error.details}\n`);
  } else {
    process.stderr.write(`cassette: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exitCode = 1;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv as string[]);
  } catch (error) {
    report(error);
  }
}
