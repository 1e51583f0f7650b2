import type { Config } from '../../config/index.js';
import type { FeatureViewDef } from '../../registry/index.js';
import type { OnlineStore } from '../../store/index.js';
import { RowSink } from '../../write/index.js';
import type { ImportSink } from './sink.js';

/** The write settings of an import job (config `ingest`). */
export type CassandraSinkSettings = Pick<
  Config['ingest'],
  'writeConcurrency' | 'maxRowsPerSecond' | 'writeTimeoutMs' | 'writeAttempts' | 'partitionBatchRows'
>;

/** Rows written straight to Cassandra by this process, through the shared write path's RowSink. */
export function openCassandraSink(
  store: OnlineStore,
  view: FeatureViewDef,
  settings: CassandraSinkSettings,
  onWritten: (tag: number) => void,
): ImportSink {
  return new RowSink(store, view, {
    concurrency: settings.writeConcurrency,
    maxRowsPerSecond: settings.maxRowsPerSecond,
    writeTimeoutMs: settings.writeTimeoutMs,
    maxAttempts: settings.writeAttempts,
    partitionBatchRows: settings.partitionBatchRows,
    onWritten: (_row, tag) => onWritten(tag),
  });
}
