import { deadlineIn, streamWriteFeatures, type FeatureIngestionClient } from '../../client/index.js';
import type { FeatureRow } from '../../generated/cassette/v1/FeatureRow.js';
import type { WriteFeaturesRequest } from '../../generated/cassette/v1/WriteFeaturesRequest.js';
import type { FeatureViewDef } from '../../registry/index.js';
import { featureRowOf, type WriteRow } from '../../write/index.js';
import type { ImportSink } from './sink.js';

export interface ServerSinkOptions {
  /** The view as the server describes it: rows are encoded by its join keys and features. */
  readonly view: FeatureViewDef;
  /** Rows per WriteFeaturesRequest message. */
  readonly rowsPerMessage: number;
  /** Rows per StreamWriteFeatures call: they count as written when the call succeeds. */
  readonly rowsPerStream: number;
  /** Calls in flight at once. */
  readonly streams: number;
  /** Deadline of one call. */
  readonly timeoutMs: number;
}

interface Chunk {
  rows: FeatureRow[];
  tags: number[];
}

/**
 * Sends rows through a server's StreamWriteFeatures instead of writing them here: each row goes
 * as it was validated (values encoded by their codecs, the event time it was validated with, so
 * a row that gave none keeps the job's start time); the server validates it again (it must),
 * writes it with its own RowSink and invalidates its cache for it.
 * The call only answers at its end, so rows go in chunks of `rowsPerStream`, each its own call,
 * and a chunk's rows count as written (for the checkpoint) when its call succeeds; a few calls
 * run at once so the server always has rows. The first failed call fails the job.
 */
export class ServerSink implements ImportSink {
  private chunk: Chunk = { rows: [], tags: [] };
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly ingestion: FeatureIngestionClient,
    private readonly options: ServerSinkOptions,
    private readonly onWritten: (tag: number) => void,
  ) {}

  push(row: WriteRow, tag: number): Promise<void> | null {
    if (this.failure) throw this.failure.error;
    this.chunk.rows.push(featureRowOf(this.options.view, row));
    this.chunk.tags.push(tag);
    if (this.chunk.rows.length < this.options.rowsPerStream) return null;
    this.send();
    return this.running.size < this.options.streams ? null : this.oneDone();
  }

  async flush(): Promise<void> {
    if (this.chunk.rows.length > 0 && !this.failure) this.send();
    while (this.running.size > 0) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
  }

  private async oneDone(): Promise<void> {
    await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
  }

  private send(): void {
    const { rows, tags } = this.chunk;
    this.chunk = { rows: [], tags: [] };
    const { view, rowsPerMessage, timeoutMs } = this.options;
    function* messages(): Generator<WriteFeaturesRequest> {
      for (let i = 0; i < rows.length; i += rowsPerMessage) {
        yield { feature_view: view.name, rows: rows.slice(i, i + rowsPerMessage) };
      }
    }
    const call: Promise<void> = streamWriteFeatures(this.ingestion, messages(), deadlineIn(timeoutMs)).then(
      () => {
        for (const tag of tags) this.onWritten(tag);
      },
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    const tracked = call.finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }
}
