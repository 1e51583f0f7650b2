import type { Command } from 'commander';

import type { ConfigInput } from '../config/index.js';
import {
  DEFAULT_EVENT_TIME_COLUMN,
  EVENT_TIME_UNITS,
  FILE_FORMATS,
  formatBytes,
  parseMaps,
  parseMaxRejects,
  openCassandraSink,
  ProgressReporter,
  runImportJob,
  ServerSink,
  type EventTimeUnit,
  type FileFormat,
  type ImportSummary,
  type ImportTarget,
  type OpenImportSink,
  viewGenerations,
} from '../import/index.js';
import { call, connectClients, deadlineIn, type ClientSecurity } from '../client/index.js';
import { clientSecurity, withClientSecurity, type ClientSecurityOptions } from './security.js';
import type { ListFeatureViewsResponse__Output } from '../api/index.js';
import { featureViewFromSpec, viewNamed, type FeatureViewDef } from '../registry/index.js';
import { loadAppliedRegistry } from '../registry/storage.js';
import {
  StoreMetrics,
  watchBuild,
  watchCassandraClient,
  watchIngest,
  type IngestCounts,
} from '../observability/catalogue.js';
import { InstrumentedStore } from '../observability/instrumented-store.js';
import { startMetricsListener, type MetricsListener } from '../observability/metrics-listener.js';
import { MetricsRegistry } from '../observability/metrics.js';
import { CassandraStore, connectSession } from '../store/index.js';
import { commandContext, resolveCassandra, type CommandContext, type GlobalOptions } from './context.js';
import { stopOnSignals } from './job-signals.js';

export interface IngestOptions extends ClientSecurityOptions {
  view: string;
  format?: string;
  map: string[];
  eventTimeColumn: string;
  eventTimeUnit: string;
  ignoreUnknownColumns?: boolean;
  delimiter: string;
  rejects?: string;
  maxRejects?: string;
  checkpoint?: string;
  resume?: boolean;
  restart?: boolean;
  concurrency?: string;
  maxRowsPerSecond?: string;
  dryRun?: boolean;
  json?: boolean;
  progress: boolean;
  progressEvery: string;
  progressEveryRows?: string;
  server?: string;
  metricsListen?: string;
}

/** A record longer than this is rejected; it also bounds the memory one record can take. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** Records read ahead of the watermark, at most (see WatermarkTracker). */
const MAX_OUTSTANDING = 262_144;

function positiveInteger(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${flag} ${text}: expected an integer of at least ${min}`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`${flag} ${value}: expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function describeSummary(summary: ImportSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines: string[] = [];
  const verb = summary.dryRun ? 'checked' : 'ingested';
  if (summary.status === 'already finished') {
    lines.push(`the job already finished earlier (${summary.checkpointFile}); nothing to do`);
  } else {
    lines.push(
      `${summary.status === 'finished' ? verb : summary.status}: ${summary.files} file(s) into ${summary.view}` +
        (summary.resumed ? ' (resumed)' : '') +
        (summary.dryRun ? ' (dry run: nothing written)' : ''),
    );
  }
  lines.push(
    `  rows read ${n(summary.rowsRead)}, ${summary.dryRun ? 'valid' : 'written'} ${n(summary.rowsWritten)}, ` +
      `rejected ${n(summary.rowsRejected)}, expired ${n(summary.rowsExpired)}`,
  );
  if (summary.status !== 'already finished') {
    lines.push(
      `  ${(summary.durationMs / 1000).toFixed(1)} s, ${n(summary.rowsPerSecond)} rows/s, peak RSS ${formatBytes(summary.peakRssBytes)}`,
    );
  }
  if (summary.rejectsFile) lines.push(`  rejects: ${summary.rejectsFile}`);
  if (summary.status === 'interrupted') lines.push(`  continue with --resume (checkpoint ${summary.checkpointFile})`);
  if (summary.error) lines.push(`  ${summary.status === 'failed' ? 'error' : 'note'}: ${summary.error}`);
  return lines.join('\n');
}

/** Where a job's rows go. */
interface IngestTarget {
  readonly view: FeatureViewDef;
  readonly destination: ImportTarget;
  readonly openSink: OpenImportSink;
  close(): Promise<void>;
}

/** This process's own Cassandra session (bulk profile) and the shared RowSink; its writes timed when metrics are on. */
async function directTarget(
  ctx: CommandContext,
  viewName: string,
  metrics: MetricsRegistry | undefined,
): Promise<IngestTarget> {
  const { config, endpoint } = await resolveCassandra(ctx);
  try {
    const client = await connectSession(config.cassandra, ctx.logger, { profile: 'bulk' });
    try {
      const keyspace = config.cassandra.keyspace;
      const { registry } = await loadAppliedRegistry(client, keyspace);
      const view = viewNamed(registry, viewName);
      const cassandraStore = new CassandraStore(client, keyspace, config.cassandra);
      const store = metrics ? new InstrumentedStore(cassandraStore, new StoreMetrics(metrics)) : cassandraStore;
      if (metrics) watchCassandraClient(metrics, client);
      await store.prepare(registry);
      const generations = viewGenerations(client, keyspace, view.name, config);
      return {
        view,
        destination: { kind: 'cassandra', keyspace },
        openSink: (onWritten) => openCassandraSink(store, view, config.ingest, onWritten, generations),
        close: async () => {
          await client.shutdown();
          await endpoint.stop();
        },
      };
    } catch (error) {
      await client.shutdown();
      throw error;
    }
  } catch (error) {
    await endpoint.stop();
    throw error;
  }
}

/**
 * A Cassette server's StreamWriteFeatures: the server writes the rows with its own settings and
 * invalidates its row cache for each of them, so it serves them at once.
 */
async function serverTarget(address: string, viewName: string, security: ClientSecurity): Promise<IngestTarget> {
  const clients = connectClients(address, {}, security);
  try {
    const { feature_views: views } = await call<ListFeatureViewsResponse__Output>((cb) =>
      clients.registry.ListFeatureViews({}, deadlineIn(30_000), cb),
    );
    const spec = views.find((v) => v.name === viewName);
    if (!spec) {
      throw new Error(`--view: unknown feature view "${viewName}" (known: ${views.map((v) => v.name).join(', ')})`);
    }
    const view = featureViewFromSpec(spec);
    return {
      view,
      destination: { kind: 'server', address },
      openSink: (onWritten) =>
        new ServerSink(
          clients.ingestion,
          { view, rowsPerMessage: 1000, rowsPerStream: 20_000, streams: 2, timeoutMs: 10 * 60_000 },
          onWritten,
        ),
      close: async () => clients.close(),
    };
  } catch (error) {
    clients.close();
    throw error;
  }
}

/** `cassette ingest`: loads files into a feature view, straight into Cassandra or through a server. */
export async function ingestCommand(program: Command, files: string[], options: IngestOptions): Promise<void> {
  const format = options.format === undefined ? undefined : oneOf('--format', options.format, FILE_FORMATS);
  const eventTimeUnit = oneOf<EventTimeUnit>('--event-time-unit', options.eventTimeUnit, EVENT_TIME_UNITS);
  const maps = parseMaps(options.map);
  const maxRejects = options.maxRejects === undefined ? undefined : parseMaxRejects(options.maxRejects);
  const concurrency = positiveInteger('--concurrency', options.concurrency, 1);
  const maxRowsPerSecond = positiveInteger('--max-rows-per-second', options.maxRowsPerSecond, 0);
  if (options.resume && options.restart) throw new Error('--resume and --restart exclude each other');
  if (options.server && (concurrency !== undefined || maxRowsPerSecond !== undefined)) {
    throw new Error("--concurrency and --max-rows-per-second do not apply with --server (the server's settings do)");
  }
  const progressEverySeconds = Number(options.progressEvery);
  if (!(progressEverySeconds > 0)) throw new Error(`--progress-every ${options.progressEvery}: expected seconds`);
  const progressEveryRows = positiveInteger('--progress-every-rows', options.progressEveryRows, 1);

  const overrides: ConfigInput = { ingest: {} };
  if (concurrency !== undefined) overrides.ingest!.writeConcurrency = concurrency;
  if (maxRowsPerSecond !== undefined) overrides.ingest!.maxRowsPerSecond = maxRowsPerSecond;
  if (options.metricsListen) overrides.metrics = { enabled: true, listen: options.metricsListen };
  const ctx = commandContext(program.opts<GlobalOptions>(), overrides);
  const { config, logger } = ctx;
  // A job serves metrics only when asked to (--metrics-listen): most jobs are short.
  const metrics = options.metricsListen ? new MetricsRegistry() : undefined;
  let progressNow: (() => IngestCounts) | undefined;
  let metricsListener: MetricsListener | undefined;
  if (metrics) {
    watchIngest(metrics, () => progressNow?.() ?? { rowsRead: 0, rowsWritten: 0, rejected: 0, expired: 0 });
    watchBuild(metrics);
    metricsListener = await startMetricsListener(config.metrics.listen, metrics, logger);
  }
  const target = await (
    options.server
      ? serverTarget(options.server, options.view, clientSecurity(options))
      : directTarget(ctx, options.view, metrics)
  ).catch(async (error: unknown) => {
    await metricsListener?.close();
    throw error;
  });
  const stop = stopOnSignals(logger);
  try {
    const progress = options.progress
      ? new ProgressReporter({
          stream: process.stderr,
          logger,
          logEveryMs: progressEverySeconds * 1000,
          ...(progressEveryRows !== undefined ? { logEveryRows: progressEveryRows } : {}),
        })
      : undefined;
    const summary = await runImportJob(
      {
        files,
        view: target.view,
        target: target.destination,
        ...(format ? { format: format as FileFormat } : {}),
        mapping: {
          maps,
          eventTimeColumn: options.eventTimeColumn,
          ignoreUnknown: options.ignoreUnknownColumns === true,
        },
        eventTimeUnit,
        delimiter: options.delimiter,
        ...(options.rejects ? { rejectsPath: options.rejects } : {}),
        ...(maxRejects ? { maxRejects } : {}),
        ...(options.checkpoint ? { checkpointPath: options.checkpoint } : {}),
        resume: options.resume === true,
        restart: options.restart === true,
        dryRun: options.dryRun === true,
        policy: config.ingest,
        maxRecordBytes: MAX_RECORD_BYTES,
        checkpointIntervalMs: 1000,
        maxOutstanding: MAX_OUTSTANDING,
      },
      {
        logger,
        ...(progress ? { progress } : {}),
        watchProgress: (sample) => (progressNow = sample),
        stopRequested: stop.requested,
        openSink: target.openSink,
      },
    );
    logger.info({ ...summary }, 'ingestion summary');
    process.stdout.write((options.json ? JSON.stringify(summary, null, 2) : describeSummary(summary)) + '\n');
    if (summary.status === 'failed') {
      if (!options.json) process.stderr.write(`cassette: ingest failed: ${summary.error}\n`);
      process.exitCode = 1;
    } else if (summary.status === 'interrupted') {
      process.exitCode = 130;
    }
  } finally {
    stop.release();
    await target.close();
    await metricsListener?.close();
  }
}

export function ingestCommandDefinition(
  program: Command,
  collect: (value: string, previous: string[]) => string[],
): Command {
  const command = program
    .command('ingest')
    .description('load feature rows from CSV, JSON Lines or Parquet files into a feature view (resumable)')
    .requiredOption('--view <name>', 'feature view to load')
    .argument('<files...>', 'input files: .csv, .jsonl/.ndjson (optionally .gz), .parquet')
    .option('--format <format>', `file format, instead of guessing from the extension (${FILE_FORMATS.join(', ')})`)
    .option(
      '--map <column=target>',
      'read a column into a join key or feature (column= skips it); repeatable',
      collect,
      [],
    )
    .option('--event-time-column <name>', 'column holding event times', DEFAULT_EVENT_TIME_COLUMN)
    .option('--event-time-unit <unit>', 'unit of numeric event times: s, ms or us', 's')
    .option('--ignore-unknown-columns', 'skip columns that match no join key or feature (default: refuse the file)')
    .option('--delimiter <char>', 'CSV field delimiter', ',')
    .option('--rejects <file>', 'reject file (default: <first input>.<view>.rejects.jsonl)')
    .option('--max-rejects <N|P%>', 'fail the job once more than N records (or P percent) are rejected')
    .option('--checkpoint <file>', 'checkpoint file (default: <first input>.<view>.checkpoint.json)')
    .option('--resume', 'continue the job recorded in the checkpoint')
    .option('--restart', 'start over even though an unfinished checkpoint exists')
    .option('--concurrency <n>', 'row writes in flight (default ingest.writeConcurrency, 64)')
    .option('--max-rows-per-second <n>', 'rate limit for writes, 0 = none (default ingest.maxRowsPerSecond)')
    .option('--server <host:port>', "send rows through this server's StreamWriteFeatures (it invalidates its cache)")
    .option('--dry-run', 'read and validate only; write nothing')
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics of the job on GET /metrics while it runs')
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar or progress log lines')
    .option('--progress-every <seconds>', 'interval of the progress log lines when stderr is not a terminal', '5')
    .option('--progress-every-rows <n>', 'instead, a progress log line each time another n rows have been read');
  // With --server: how to reach it (TLS, client certificate, token).
  return withClientSecurity(command);
}
