import type { CacheInvalidation, WriteInvalidations } from '../cache/index.js';
import type { AdmissionGate } from '../concurrency/admission.js';
import type { CallContext } from '../concurrency/call.js';
import { withDeadline } from '../concurrency/index.js';
import type { Config } from '../config/index.js';
import { CassetteError, invalidArgument, isCassetteError, quoteInput } from '../errors/index.js';
import type { WriteFeaturesRequest__Output } from '../generated/cassette/v1/WriteFeaturesRequest.js';
import type { WriteFeaturesResponse } from '../generated/cassette/v1/WriteFeaturesResponse.js';
import type { Logger } from '../observability/logger.js';
import type { FeatureViewDef } from '../registry/index.js';
import type { RegistrySync } from '../registry/sync.js';
import { driverTimeout, storeError, type OnlineStore } from '../store/index.js';
import { validateRow, type WriteRow } from './rows.js';
import { RowSink } from './sink.js';
import { newStreamCounts, writeMessageStream, type ValidatedMessage } from './stream.js';

/**
 * WriteFeatures and StreamWriteFeatures without a transport: validates each message whole
 * against the registry serving now, writes its rows through a RowSink whose driver timeouts
 * follow the caller's deadline, and acknowledges only once every cache has dropped the rows.
 */
export class FeatureWriter {
  constructor(
    private readonly store: OnlineStore,
    private readonly registry: Pick<RegistrySync, 'current'>,
    /** Told of every row written, so no cache keeps serving its older values. */
    private readonly invalidation: Pick<CacheInvalidation, 'forCall'>,
    private readonly config: Pick<Config, 'ingest' | 'cassandra'>,
    private readonly logger: Logger,
    /** The process-wide bound on rows being written; a stream counts its write window. */
    private readonly admission: Pick<AdmissionGate, 'enter' | 'leave'>,
  ) {}

  async writeFeatures(request: WriteFeaturesRequest__Output, call: CallContext): Promise<WriteFeaturesResponse> {
    // Validate everything before writing anything: a bad request changes nothing.
    const { view, version, rows, expired } = this.validateMessage(request, '');
    const cost = rows.length;
    const admitted = this.admission.enter(cost, call.deadline, Date.now());
    if (admitted !== undefined) await admitted;
    const changed = this.invalidation.forCall(call.deadline);
    let failure: { error: unknown } | undefined;
    try {
      const sink = this.rowSink(version, view, call, changed);
      await withDeadline(
        this.admitted(pushAll(sink, rows), cost),
        call.deadline,
        () => new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed before all rows were written'),
      );
    } catch (error) {
      failure = { error: storeError(error, Date.now() >= call.deadline) };
    }
    // Acknowledge (or fail) only once no cache anywhere can serve the old rows past the bound.
    await settleInvalidations(changed, failure);
    this.logger.debug({ view: view.name, rows: rows.length, expired }, 'wrote feature rows');
    return {
      rows_written: rows.length,
      rows_expired: expired,
      messages_received: 1,
      rows_received: request.rows.length,
      consistency_token: consistencyToken(),
    };
  }

  /**
   * Writes a client stream of WriteFeatures requests: each validated whole, as WriteFeatures
   * validates one, and written through the same sink, with its cache invalidation. The next
   * message is read only once the previous one's rows are all in the sink's window.
   */
  async streamWriteFeatures(
    messages: AsyncIterable<WriteFeaturesRequest__Output>,
    call: CallContext,
  ): Promise<WriteFeaturesResponse> {
    const counts = newStreamCounts();
    const cost = this.config.ingest.writeConcurrency;
    const admitted = this.admission.enter(cost, call.deadline, Date.now());
    if (admitted !== undefined) await admitted;
    const changed = this.invalidation.forCall(call.deadline);
    const work = this.admitted(
      writeMessageStream(
        messages,
        (message, index) => this.validateMessage(message, `messages[${index}].`),
        (view, version) => this.rowSink(version, view, call, changed),
        counts,
      ),
      cost,
    );
    let failure: { error: unknown } | undefined;
    try {
      // A stream without a deadline runs as long as its sender keeps it open.
      await (Number.isFinite(call.deadline)
        ? withDeadline(
            work,
            call.deadline,
            () => new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed before the stream was written'),
          )
        : work);
    } catch (error) {
      failure = { error: streamError(error, call, counts) };
    }
    await settleInvalidations(changed, failure);
    this.logger.debug({ ...counts }, 'wrote a stream of feature rows');
    return {
      rows_written: counts.rowsWritten,
      rows_expired: counts.rowsExpired,
      messages_received: counts.messages,
      rows_received: counts.rowsReceived,
      consistency_token: consistencyToken(),
    };
  }

  /** `work`, giving its `cost` back to admission once settled (not when the deadline gives up on it). */
  private admitted<T>(work: Promise<T>, cost: number): Promise<T> {
    return work.finally(() => this.admission.leave(cost));
  }

  /**
   * Validates one write request against the current registry and converts every row; throws
   * INVALID_ARGUMENT naming the field under `prefix` ('' or e.g. `messages[3].`).
   */
  private validateMessage(request: WriteFeaturesRequest__Output, prefix: string): ValidatedMessage {
    const { version, registry } = this.registry.current;
    const view = registry.featureViews.get(request.feature_view);
    if (!view) {
      throw invalidArgument(
        `${prefix}feature_view: unknown feature view ${quoteInput(request.feature_view)}`,
        'CST_ERR_UNKNOWN_FEATURE_VIEW',
        { field: `${prefix}feature_view` },
      );
    }
    const limit = this.config.ingest.maxRowsPerRequest;
    if (request.rows.length > limit) {
      throw invalidArgument(
        `${prefix}rows: ${request.rows.length} rows exceed the limit of ${limit} per request; split the batch`,
        'CST_ERR_BATCH_TOO_LARGE',
        { field: `${prefix}rows` },
      );
    }
    const now = Date.now();
    const rows: WriteRow[] = [];
    let expired = 0;
    for (let i = 0; i < request.rows.length; i++) {
      const validated = validateRow(view, request.rows[i]!, `${prefix}rows[${i}]`, now, this.config.ingest);
      if (validated.kind === 'write') rows.push(validated.row);
      else expired++;
    }
    return { view, version, rows, received: request.rows.length, expired };
  }

  /**
   * The write path of one call for rows of `view` validated under registry `version`: the
   * driver timeout follows the caller's deadline, and each row's cache entry is dropped as soon
   * as its write settles.
   */
  private rowSink(version: number, view: FeatureViewDef, call: CallContext, changed: WriteInvalidations): RowSink {
    const { writeConcurrency, writeAttempts, partitionBatchRows } = this.config.ingest;
    const bounds = this.config.cassandra;
    return new RowSink(this.store, view, {
      concurrency: writeConcurrency,
      partitionBatchRows,
      maxRowsPerSecond: 0,
      writeTimeoutMs: (remaining) => driverTimeout(remaining, bounds),
      maxAttempts: writeAttempts,
      deadline: call.deadline,
      isCancelled: call.isCancelled,
      onSettled: (row, timedOut) => changed.rowSettled(version, view.name, row.keyString, timedOut),
    });
  }
}

/** What a failed stream answers: its invalid message as it is, anything else with the counts so far. */
function streamError(error: unknown, call: CallContext, counts: ReturnType<typeof newStreamCounts>): unknown {
  if (isCassetteError(error) && error.status === 'INVALID_ARGUMENT') return error;
  // The transport ends the messages early (with an error of its own) when the caller goes away.
  const cause = call.isCancelled() ? new CassetteError('CANCELLED', 'the caller cancelled the stream') : error;
  const mapped = storeError(cause, Date.now() >= call.deadline);
  return new CassetteError(
    mapped.code,
    `${mapped.message} (after ${counts.messages} messages; ${counts.rowsWritten} rows were written)`,
    { cause: mapped.cause ?? error },
  );
}

/**
 * Waits for a call's invalidations (whatever the call's outcome: a failed write may still have
 * reached some replicas), then throws the call's failure, or else the invalidations' own.
 */
async function settleInvalidations(
  changed: WriteInvalidations,
  failure: { error: unknown } | undefined,
): Promise<void> {
  try {
    await changed.flush();
  } catch (error) {
    failure ??= { error };
  }
  if (failure !== undefined) throw failure.error;
}

/**
 * A write's consistency token: this server's clock (µs) once the write is settled and logged, so
 * that a read started after it, anywhere, finds the write in Cassandra (see README, Consistency).
 */
function consistencyToken(): number {
  return Date.now() * 1000;
}

/** Pushes `rows` into `sink` as its window allows, then waits until all are written. */
async function pushAll(sink: RowSink, rows: readonly WriteRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i++) {
    const room = sink.push(rows[i]!, i);
    if (room !== null) await room;
  }
  await sink.flush();
}
