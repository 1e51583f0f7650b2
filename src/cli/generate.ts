import type { Command } from 'commander';

import { DEFAULT_EVENT_TIME_COLUMN } from '../import/index.js';
import { readRegistryFile, viewNamed, type Registry } from '../registry/index.js';
import { loadAppliedRegistry } from '../registry/storage.js';
import { connectSession } from '../store/index.js';
import { generateFile, type SyntheticFormat } from '../synthetic/index.js';
import { commandContext, resolveCassandra, type GlobalOptions } from './context.js';

export interface GenerateCommandOptions {
  view: string;
  rows: string;
  format?: string;
  out: string;
  seed: string;
  schema?: string;
  badRows: string;
  sparse: string;
  entities: string;
  anchor?: string;
  rowGroupSize: string;
  eventTimeColumn: string;
  json?: boolean;
}

function number(flag: string, text: string, check: (n: number) => boolean, expected: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !check(n)) throw new Error(`${flag} ${text}: expected ${expected}`);
  return n;
}

function formatOf(out: string, given: string | undefined): SyntheticFormat {
  const format =
    given ??
    (/\.csv(\.gz)?$/i.test(out)
      ? 'csv'
      : /\.(jsonl|ndjson)(\.gz)?$/i.test(out)
        ? 'jsonl'
        : /\.parquet$/i.test(out)
          ? 'parquet'
          : undefined);
  if (format !== 'csv' && format !== 'jsonl' && format !== 'parquet') {
    throw new Error(`--format: give csv, jsonl or parquet (cannot tell from ${out})`);
  }
  if (format === 'parquet' && out.endsWith('.gz'))
    throw new Error('--out: Parquet is compressed already; drop the .gz');
  return format;
}

async function registryFor(program: Command, options: GenerateCommandOptions): Promise<Registry> {
  if (options.schema) return readRegistryFile(options.schema).registry;
  const ctx = commandContext(program.opts<GlobalOptions>());
  const { config, endpoint } = await resolveCassandra(ctx);
  try {
    const client = await connectSession(config.cassandra, ctx.logger);
    try {
      return (await loadAppliedRegistry(client, config.cassandra.keyspace)).registry;
    } finally {
      await client.shutdown();
    }
  } finally {
    await endpoint.stop();
  }
}

/** `cassette generate`: synthetic rows for a view, for tests and benchmarks. */
export async function generateCommand(program: Command, options: GenerateCommandOptions): Promise<void> {
  const rows = number('--rows', options.rows, (n) => Number.isSafeInteger(n) && n >= 0, 'a number of rows');
  const seed = number('--seed', options.seed, Number.isSafeInteger, 'an integer');
  const badFraction = number('--bad-rows', options.badRows, (n) => n >= 0 && n <= 1, 'a fraction between 0 and 1');
  const sparseFraction = number('--sparse', options.sparse, (n) => n >= 0 && n < 1, 'a fraction in [0, 1)');
  const entities = number(
    '--entities',
    options.entities,
    (n) => Number.isSafeInteger(n) && n >= 0,
    'a count (0 = one per row)',
  );
  const rowGroupSize = number(
    '--row-group-size',
    options.rowGroupSize,
    (n) => Number.isSafeInteger(n) && n >= 1,
    'a positive number of rows',
  );
  const anchorMillis = options.anchor === undefined ? Date.now() : Date.parse(options.anchor);
  if (Number.isNaN(anchorMillis)) throw new Error(`--anchor ${options.anchor}: expected an ISO-8601 time`);
  const format = formatOf(options.out, options.format);
  const view = viewNamed(await registryFor(program, options), options.view);
  const started = Date.now();
  const result = await generateFile({
    view,
    rows,
    format,
    out: options.out,
    seed,
    badFraction,
    sparseFraction,
    anchorMillis,
    entities,
    rowGroupSize,
    eventTimeColumn: options.eventTimeColumn,
  });
  const summary = { out: options.out, format, view: view.name, ...result, ms: Date.now() - started };
  process.stdout.write(
    options.json
      ? JSON.stringify(summary) + '\n'
      : `wrote ${result.rows} rows (${result.badRows} bad) for ${view.name} to ${options.out}\n`,
  );
}

export function generateCommandDefinition(program: Command): Command {
  return program
    .command('generate')
    .description('write synthetic rows for a feature view (CSV, JSON Lines or Parquet), e.g. for tests and benchmarks')
    .requiredOption('--view <name>', 'feature view')
    .requiredOption('--rows <n>', 'number of rows')
    .requiredOption('--out <file>', 'output file (.csv, .jsonl, .parquet; .csv.gz and .jsonl.gz compress)')
    .option('--format <format>', 'csv, jsonl or parquet (default: from --out)')
    .option('--seed <n>', 'seed: the same seed (and --anchor) gives the same file', '1')
    .option('--schema <registry.yaml>', 'take the view from this registry file instead of Cassandra')
    .option('--bad-rows <fraction>', 'share of invalid rows (wrong type, missing key, bad event time, unparsable)', '0')
    .option('--sparse <fraction>', 'share of features left out of each row', '0')
    .option('--entities <n>', 'distinct entities, so keys repeat (0: one entity per row)', '0')
    .option(
      '--anchor <time>',
      'latest event time, ISO-8601 (default: now); event times spread over the week (or ttl) before it',
    )
    .option('--row-group-size <n>', 'rows per Parquet row group', '20000')
    .option('--event-time-column <name>', 'name of the event-time column', DEFAULT_EVENT_TIME_COLUMN)
    .option('--json', 'print the result as JSON');
}
