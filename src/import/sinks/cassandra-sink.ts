import { GenerationBumpingSink, type ViewGenerations } from '../../coherence/generations.js';
import { CoherenceTables } from '../../coherence/log-tables.js';
import type { Config } from '../../config/index.js';
import type { FeatureViewDef } from '../../registry/index.js';
import type { CassandraClient, OnlineStore } from '../../store/index.js';
import { RowSink } from '../../write/index.js';
import type { ImportSink } from './sink.js';

/** The write settings of an import job (config `ingest`). */
export type CassandraSinkSettings = Pick<
  Config['ingest'],
  'writeConcurrency' | 'maxRowsPerSecond' | 'writeTimeoutMs' | 'writeAttempts' | 'partitionBatchRows'
>;

/**
 * Rows written straight to Cassandra by this process, through the shared write path's RowSink.
 * With `generations`, the view's generation is bumped as the rows are written and once they all
 * are, so that every server's cache drops the view's older rows (see GenerationBumpingSink).
 */
export function openCassandraSink(
  store: OnlineStore,
  view: FeatureViewDef,
  settings: CassandraSinkSettings,
  onWritten: (tag: number) => void,
  generations?: ViewGenerations,
): ImportSink {
  const sink = new RowSink(store, view, {
    concurrency: settings.writeConcurrency,
    maxRowsPerSecond: settings.maxRowsPerSecond,
    writeTimeoutMs: settings.writeTimeoutMs,
    maxAttempts: settings.writeAttempts,
    partitionBatchRows: settings.partitionBatchRows,
    onWritten: (_row, tag) => onWritten(tag),
  });
  return generations ? new GenerationBumpingSink(sink, generations) : sink;
}

/**
 * The generation bumps of a direct job writing to `view` (every maxStaleness / 2), or undefined
 * when the job's config turns cache coherence off.
 */
export function viewGenerations(
  client: CassandraClient,
  keyspace: string,
  view: string,
  config: Pick<Config, 'cache'>,
): ViewGenerations | undefined {
  const { enabled, maxStalenessMs } = config.cache.coherence;
  if (!enabled) return undefined;
  const tables = new CoherenceTables(client, keyspace);
  return {
    bump: () => tables.bumpGeneration(view, maxStalenessMs),
    intervalMs: Math.max(1, Math.floor(maxStalenessMs / 2)),
  };
}
