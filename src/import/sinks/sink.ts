import type { WriteRow } from '../../write/index.js';

/**
 * Where the import job's rows go: straight to Cassandra (cassandra-sink.ts) or through a
 * server's StreamWriteFeatures (server-sink.ts). The job treats both alike.
 */
export interface ImportSink {
  /**
   * Takes one validated row. null: taken, room for more; a promise: wait for it before pushing
   * more. Throws once a write failed for good. `tag` goes back through `onWritten` once the row
   * is written.
   */
  push(row: WriteRow, tag: number): Promise<void> | null;
  /** Resolves when every pushed row is written. */
  flush(): Promise<void>;
}

/** Opens a sink; it must call `onWritten(tag)` once per row whose write succeeded. */
export type OpenImportSink = (onWritten: (tag: number) => void) => ImportSink;
