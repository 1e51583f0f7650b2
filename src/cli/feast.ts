import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Command } from 'commander';

import type { ConfigInput } from '../config/index.js';
import { runMigration, type MigrationSummary } from '../feast/migrate/index.js';
import { convertFeastRegistry, readFeastRepo, renderRegistryYaml } from '../feast/registry-import/index.js';
import { formatDuration, parseMaxRejects, ProgressReporter, viewGenerations } from '../import/index.js';
import { loadAppliedRegistry } from '../registry/storage.js';
import { CassandraStore, connectSession } from '../store/index.js';
import { commandContext, resolveCassandra, type GlobalOptions } from './context.js';
import { stopOnSignals } from './job-signals.js';

export interface ImportFeastOptions {
  output?: string;
  registry?: string;
}

/** `cassette import-feast PATH`: a Feast repository's registry as Cassette registry YAML. */
export function importFeastCommand(path: string, options: ImportFeastOptions): void {
  const repo = readFeastRepo(path, options.registry);
  const converted = convertFeastRegistry(repo.registry, repo.project);
  const yaml = renderRegistryYaml(converted, {
    repoPath: repo.path,
    project: repo.project,
    registryPath: repo.registryPath,
  });
  if (options.output) writeFileSync(options.output, yaml);
  else process.stdout.write(yaml);
  const { notImported, changed } = converted;
  const counts = converted.document;
  process.stderr.write(
    `import-feast: ${counts.entities.length} entities, ${counts.feature_views.length} feature views, ` +
      `${counts.feature_services.length} feature services from project ${repo.project}` +
      (options.output ? ` written to ${options.output}` : '') +
      '\n',
  );
  if (notImported.length > 0) {
    process.stderr.write(`not imported (${notImported.length}):\n${notImported.map((l) => `  - ${l}\n`).join('')}`);
  }
  if (changed.length > 0) {
    process.stderr.write(`imported differently:\n${changed.map((l) => `  - ${l}\n`).join('')}`);
  }
}

export function importFeastCommandDefinition(program: Command): Command {
  return program
    .command('import-feast')
    .description("print a Feast repository's registry as Cassette registry YAML (what cannot be imported is listed)")
    .argument('<path>', 'the Feast feature repository (the folder holding feature_store.yaml)')
    .option('-o, --output <file>', 'write the YAML to this file instead of standard output')
    .option('--registry <file>', 'read this registry.db instead of the one feature_store.yaml names');
}

export interface MigrateFromFeastOptions {
  feastKeyspace: string;
  view: string[];
  registry?: string;
  checkpoint?: string;
  rejects?: string;
  resume?: boolean;
  restart?: boolean;
  maxRejects?: string;
  concurrency?: string;
  maxRowsPerSecond?: string;
  readConcurrency: string;
  ranges: string;
  pageSize: string;
  json?: boolean;
  progress: boolean;
  progressEvery: string;
}

function integerOption(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${flag} ${text}: expected an integer of at least ${min}`);
  return n;
}

export function describeMigration(summary: MigrationSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  if (summary.status === 'already finished') {
    return `the migration already finished earlier (${summary.checkpointFile}); nothing to do`;
  }
  const lines = [
    `migrated ${summary.views.join(', ')}: ${n(summary.feastRowsRead)} Feast rows read, ${n(summary.cellsWritten)} written ` +
      `as ${n(summary.entityRowsWritten)} Cassette rows, ${n(summary.rejected)} rejected, ${n(summary.expired)} expired, ` +
      `${n(summary.skipped)} skipped`,
    `${formatDuration(summary.durationMs / 1000)}, ${n(summary.feastRowsPerSecond)} Feast rows/s ` +
      `(${n(summary.entityRowsPerSecond)} Cassette rows/s), peak RSS ${Math.round(summary.peakRssBytes / 2 ** 20)} MiB`,
  ];
  for (const line of summary.notMigrated) lines.push(`not migrated: ${line}`);
  if (summary.rejectsFile) lines.push(`rejects: ${summary.rejectsFile}`);
  if (summary.status === 'interrupted') lines.push(`interrupted; continue with --resume (${summary.checkpointFile})`);
  return lines.join('\n');
}

/** `cassette migrate-from-feast PATH --feast-keyspace K`: Feast's online rows into Cassette's tables. */
export async function migrateFromFeastCommand(
  program: Command,
  path: string,
  options: MigrateFromFeastOptions,
): Promise<void> {
  if (options.resume && options.restart) throw new Error('--resume and --restart exclude each other');
  const maxRejects = options.maxRejects === undefined ? undefined : parseMaxRejects(options.maxRejects);
  const concurrency = integerOption('--concurrency', options.concurrency, 1);
  const maxRowsPerSecond = integerOption('--max-rows-per-second', options.maxRowsPerSecond, 0);
  const readConcurrency = integerOption('--read-concurrency', options.readConcurrency, 1)!;
  const ranges = integerOption('--ranges', options.ranges, 1)!;
  const pageSize = integerOption('--page-size', options.pageSize, 1)!;
  const progressEverySeconds = Number(options.progressEvery);
  if (!(progressEverySeconds > 0)) throw new Error(`--progress-every ${options.progressEvery}: expected seconds`);
  const repo = readFeastRepo(path, options.registry);

  const overrides: ConfigInput = { ingest: {} };
  if (concurrency !== undefined) overrides.ingest!.writeConcurrency = concurrency;
  if (maxRowsPerSecond !== undefined) overrides.ingest!.maxRowsPerSecond = maxRowsPerSecond;
  const ctx = commandContext(program.opts<GlobalOptions>(), overrides);
  const { logger } = ctx;
  const { config, endpoint } = await resolveCassandra(ctx);
  const stop = stopOnSignals(logger);
  try {
    const client = await connectSession(config.cassandra, logger, { profile: 'bulk' });
    try {
      const keyspace = config.cassandra.keyspace;
      const { registry } = await loadAppliedRegistry(client, keyspace);
      const store = new CassandraStore(client, keyspace, config.cassandra);
      await store.prepare(registry);
      const stem = join(repo.path, `cassette-migrate.${options.feastKeyspace}`);
      const progress = options.progress
        ? new ProgressReporter({
            stream: process.stderr,
            logger,
            logEveryMs: progressEverySeconds * 1000,
            label: 'migration progress',
            formatAmount: (ranges) => `${ranges} ranges`,
          })
        : undefined;
      const summary = await runMigration(
        {
          repo,
          feastKeyspace: options.feastKeyspace,
          cassetteKeyspace: keyspace,
          registry,
          ...(options.view.length > 0 ? { views: options.view } : {}),
          ranges,
          readConcurrency,
          pageSize,
          readTimeoutMs: config.ingest.writeTimeoutMs,
          checkpointPath: options.checkpoint ?? `${stem}.checkpoint.json`,
          rejectsPath: options.rejects ?? `${stem}.rejects.jsonl`,
          resume: options.resume === true,
          restart: options.restart === true,
          ...(maxRejects ? { maxRejects } : {}),
          policy: config.ingest,
          writes: config.ingest,
          checkpointIntervalMs: 1000,
        },
        {
          client,
          store,
          logger,
          ...(progress ? { progress } : {}),
          stopRequested: stop.requested,
          generations: (view) => viewGenerations(client, keyspace, view, config),
        },
      );
      logger.info({ ...summary }, 'migration summary');
      process.stdout.write((options.json ? JSON.stringify(summary, null, 2) : describeMigration(summary)) + '\n');
      if (summary.status === 'failed') {
        if (!options.json) process.stderr.write(`cassette: the migration failed: ${summary.error}\n`);
        process.exitCode = 1;
      } else if (summary.status === 'interrupted') {
        process.exitCode = 130;
      }
    } finally {
      await client.shutdown();
    }
  } finally {
    stop.release();
    await endpoint.stop();
  }
}

export function migrateFromFeastCommandDefinition(
  program: Command,
  collect: (value: string, previous: string[]) => string[],
): Command {
  return program
    .command('migrate-from-feast')
    .description("copy Feast's Cassandra online tables into Cassette's, each value with its event time (resumable)")
    .argument('<path>', 'the Feast feature repository (for its project, views and entity-key serialization)')
    .requiredOption('--feast-keyspace <name>', "the keyspace of Feast's online tables, on the cluster Cassette uses")
    .option(
      '--view <name>',
      'migrate this feature view (repeatable; default: every Feast view Cassette has)',
      collect,
      [],
    )
    .option('--registry <file>', 'read this registry.db instead of the one feature_store.yaml names')
    .option('--checkpoint <file>', 'checkpoint file (default: <path>/cassette-migrate.<keyspace>.checkpoint.json)')
    .option('--rejects <file>', 'reject file (default: <path>/cassette-migrate.<keyspace>.rejects.jsonl)')
    .option('--resume', 'continue the migration recorded in the checkpoint')
    .option('--restart', 'start over even though an unfinished checkpoint exists')
    .option('--max-rejects <N|P%>', 'fail once more than N Feast rows (or P percent) are rejected')
    .option('--concurrency <n>', 'row writes in flight (default ingest.writeConcurrency, 64)')
    .option('--max-rows-per-second <n>', 'rate limit for writes, 0 = none (default ingest.maxRowsPerSecond)')
    .option('--read-concurrency <n>', 'token ranges read at once', '4')
    .option('--ranges <n>', 'token ranges each table is read in (the unit a resumed run redoes)', '256')
    .option('--page-size <n>', 'Feast rows per page of a read', '1000')
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar or progress log lines')
    .option('--progress-every <seconds>', 'interval of the progress log lines when stderr is not a terminal', '5');
}
