import { RowCache, estimateValueBytes, type RowCacheStats } from '../cache/index.js';
import { runBounded, timeLeft, withDeadline } from '../concurrency/index.js';
import type { Config } from '../config/index.js';
import { CassetteError, invalidArgument, isCassetteError, quoteInput } from '../errors/index.js';
import type { GetOnlineFeaturesRequest__Output } from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse } from '../generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { ListFeatureServicesResponse } from '../generated/cassette/v1/ListFeatureServicesResponse.js';
import type { ListFeatureViewsResponse } from '../generated/cassette/v1/ListFeatureViewsResponse.js';
import type { WriteFeaturesRequest__Output } from '../generated/cassette/v1/WriteFeaturesRequest.js';
import type { WriteFeaturesResponse } from '../generated/cassette/v1/WriteFeaturesResponse.js';
import {
  newStreamCounts,
  RowSink,
  validateRow,
  writeMessageStream,
  type ValidatedMessage,
  type WriteRow,
} from '../write/index.js';
import type { Logger } from '../observability/logger.js';
import { listFeatureServicesResponse, listFeatureViewsResponse, type FeatureViewDef } from '../registry/index.js';
import { OnlineStore, isClientTimeout, storeError, type CassandraClient } from '../store/index.js';
import { isUnstorableKey } from '../values/index.js';
import { planLookup, type LookupPlan } from '../read/plan.js';
import { RegistrySync } from '../registry/sync.js';
import { assembleResponse } from '../read/response.js';
import { PeerInvalidations, type PeerCaches } from './workers.js';
import { encodeCells, encodeResponse, type ServedRow } from '../read/wire.js';

/**
 * How long after a client-side write timeout Cassandra may still apply the write: its own
 * write_request_timeout (2 s by default) bounds how long a coordinator keeps a write pending.
 */
const LATE_WRITE_WINDOW_MS = 5_000;

/** What a transport knows about one call. */
export interface CallContext {
  /** Absolute deadline, in Date.now() milliseconds. */
  readonly deadline: number;
  /** True once the caller has gone away. */
  readonly isCancelled: () => boolean;
}

function sizeOfRow(row: ServedRow): number {
  let bytes = 64 + row.writeTimesMicros.byteLength;
  for (const value of row.values) bytes += estimateValueBytes(value);
  if (row.cells) bytes += 64 + row.cells.bytes.length + row.cells.offsets.byteLength;
  return bytes;
}

/**
 * The transport-independent core of the service: validates requests against the registry,
 * reads through the cache and the store, and assembles responses. The gRPC layer and the CLI's
 * direct mode both call it.
 */
export class FeatureServer {
  readonly cache: RowCache<ServedRow>;
  readonly registry: RegistrySync;
  private readonly store: OnlineStore;

  private constructor(
    private readonly config: Config,
    client: CassandraClient,
    private readonly logger: Logger,
    private readonly peers: PeerCaches | undefined,
  ) {
    this.store = new OnlineStore(client, config.cassandra.keyspace, config.cassandra);
    this.cache = new RowCache<ServedRow>(config.cache, sizeOfRow);
    this.registry = new RegistrySync(client, config.cassandra.keyspace, this.store, this.cache, logger);
  }

  /** Loads the registry and prepares every statement: the server is ready to answer when this resolves. */
  static async create(
    config: Config,
    client: CassandraClient,
    logger: Logger,
    peers?: PeerCaches,
  ): Promise<FeatureServer> {
    const server = new FeatureServer(config, client, logger, peers);
    await server.registry.load();
    server.registry.startPolling(config.registry.refreshIntervalMs);
    return server;
  }

  close(): void {
    this.registry.stop();
  }

  cacheStats(): RowCacheStats {
    return this.cache.stats();
  }

  async getOnlineFeatures(
    request: GetOnlineFeaturesRequest__Output,
    call: CallContext,
  ): Promise<GetOnlineFeaturesResponse> {
    const { plan, rows } = await this.lookup(request, call);
    return assembleResponse(plan, rows, Date.now() * 1000);
  }

  /** The same answer as getOnlineFeatures, as GetOnlineFeaturesResponse protobuf bytes. */
  async getOnlineFeaturesEncoded(request: GetOnlineFeaturesRequest__Output, call: CallContext): Promise<Buffer> {
    const { plan, rows } = await this.lookup(request, call);
    return encodeResponse(plan, rows, Date.now() * 1000);
  }

  private async lookup(
    request: GetOnlineFeaturesRequest__Output,
    call: CallContext,
  ): Promise<{ plan: LookupPlan; rows: (ServedRow | null)[][] }> {
    const { version, registry } = this.registry.current;
    const plan = planLookup(registry, request, this.config.serving);
    return { plan, rows: await this.readRows(version, plan, call) };
  }

  /**
   * Cache entries are scoped by registry version as well as (view, entity): a row read with one
   * version's statement has that version's feature positions, and must never be served to a
   * request planned against another version.
   */
  private cacheKey(version: number, view: string, entityKey: string): string {
    return RowCache.key(`${version}:${view}`, entityKey);
  }

  /** The deadline as the driver gets it: what is left, kept within the configured bounds. */
  private driverTimeout(remainingMs: number): number {
    const { minDriverTimeoutMs, requestTimeoutMs } = this.config.cassandra;
    return Math.max(minDriverTimeoutMs, Math.min(remainingMs, requestTimeoutMs));
  }

  private async readRows(version: number, plan: LookupPlan, call: CallContext): Promise<(ServedRow | null)[][]> {
    const rowsByView = plan.views.map((lookup) => new Array<ServedRow | null>(lookup.keys.length));
    const cached = this.cache.enabled;
    // Without a cache, each read selects only the requested features (a cached row must serve
    // any later feature list; an uncached one serves just this request).
    const statements = cached
      ? undefined
      : plan.views.map((lookup) => this.store.projection(lookup.view, lookup.featureIndexes));
    // Answer what the cache holds synchronously; only misses become (view, key) read tasks,
    // flattened so one concurrency bound covers the whole request.
    const missSlots: number[] = [];
    const missIndexes: number[] = [];
    const missKeys: string[] = [];
    for (let slot = 0; slot < plan.views.length; slot++) {
      const lookup = plan.views[slot]!;
      const rows = rowsByView[slot]!;
      for (let i = 0; i < lookup.keys.length; i++) {
        if (isUnstorableKey(lookup.keys[i]!)) {
          rows[i] = null;
          continue;
        }
        if (cached) {
          const key = this.cacheKey(version, lookup.view.name, lookup.keyStrings[i]!);
          const row = this.cache.peek(key);
          if (row !== undefined) {
            rows[i] = row;
            continue;
          }
          missKeys.push(key);
        }
        missSlots.push(slot);
        missIndexes.push(i);
      }
    }
    if (missSlots.length === 0) return rowsByView;

    const readTask = async (task: number): Promise<void> => {
      const slot = missSlots[task]!;
      const lookup = plan.views[slot]!;
      const key = lookup.keys[missIndexes[task]!]!;
      // The driver gets what is left of the caller's deadline, within the configured bounds.
      const load = async () => {
        const remaining = timeLeft(call.deadline, call.isCancelled, 'all rows were read');
        return this.store.read(lookup.view, key, this.driverTimeout(remaining), statements?.[slot]);
      };
      if (!cached) {
        rowsByView[slot]![missIndexes[task]!] = await load();
        return;
      }
      // A row entering the cache is encoded once, so each hit copies bytes (see wire.ts).
      const loadForCache = async (): Promise<ServedRow | null> => {
        const row = await load();
        return (
          row && { values: row.values, writeTimesMicros: row.writeTimesMicros, cells: encodeCells(lookup.view, row) }
        );
      };
      const cacheKey = missKeys[task]!;
      // A read started by another request carries that request's (maybe shorter) deadline.
      const joined = this.cache.isLoading(cacheKey);
      let row: ServedRow | null;
      try {
        row = await this.cache.get(cacheKey, loadForCache);
      } catch (error) {
        // If that read timed out and our own deadline has time left, read again rather than
        // fail for someone else. Our own reads are not retried.
        if (!joined || !isClientTimeout(error) || Date.now() >= call.deadline) throw error;
        row = await this.cache.get(cacheKey, loadForCache);
      }
      rowsByView[slot]![missIndexes[task]!] = row;
    };
    try {
      await withDeadline(
        runBounded(missSlots.length, this.config.serving.maxConcurrentReads, readTask),
        call.deadline,
        () => new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed before all rows were read'),
      );
    } catch (error) {
      throw storeError(error, Date.now() >= call.deadline);
    }
    return rowsByView;
  }

  async writeFeatures(request: WriteFeaturesRequest__Output, call: CallContext): Promise<WriteFeaturesResponse> {
    // Validate everything before writing anything: a bad request changes nothing.
    const { view, version, rows, expired } = this.validateMessage(request, '');
    const changed = new PeerInvalidations(this.peers);
    try {
      const sink = this.rowSink(version, view, call, changed);
      await withDeadline(
        this.pushAll(sink, rows),
        call.deadline,
        () => new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed before all rows were written'),
      );
    } catch (error) {
      throw storeError(error, Date.now() >= call.deadline);
    } finally {
      // Acknowledge (or fail) only once no worker can serve the old rows from its cache.
      await changed.flush();
    }
    this.logger.debug({ view: view.name, rows: rows.length, expired }, 'wrote feature rows');
    return {
      rows_written: rows.length,
      rows_expired: expired,
      messages_received: 1,
      rows_received: request.rows.length,
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
    const changed = new PeerInvalidations(this.peers);
    const work = writeMessageStream(
      messages,
      (message, index) => this.validateMessage(message, `messages[${index}].`),
      (view, version) => this.rowSink(version, view, call, changed),
      counts,
    );
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
      if (isCassetteError(error) && error.status === 'INVALID_ARGUMENT') throw error;
      // The transport ends the messages early (with an error of its own) when the caller goes away.
      const cause = call.isCancelled() ? new CassetteError('CANCELLED', 'the caller cancelled the stream') : error;
      const mapped = storeError(cause, Date.now() >= call.deadline);
      throw new CassetteError(
        mapped.status,
        `${mapped.message} (after ${counts.messages} messages; ${counts.rowsWritten} rows were written)`,
        { cause: mapped.cause ?? error },
      );
    } finally {
      await changed.flush();
    }
    this.logger.debug({ ...counts }, 'wrote a stream of feature rows');
    return {
      rows_written: counts.rowsWritten,
      rows_expired: counts.rowsExpired,
      messages_received: counts.messages,
      rows_received: counts.rowsReceived,
    };
  }

  /**
   * Validates one write request against the current registry and converts every row; throws
   * INVALID_ARGUMENT naming the field under `prefix` ('' or e.g. `messages[3].`).
   */
  private validateMessage(request: WriteFeaturesRequest__Output, prefix: string): ValidatedMessage {
    const { version, registry } = this.registry.current;
    const view = registry.featureViews.get(request.feature_view);
    if (!view) throw invalidArgument(`${prefix}feature_view: unknown feature view ${quoteInput(request.feature_view)}`);
    const limit = this.config.ingest.maxRowsPerRequest;
    if (request.rows.length > limit) {
      throw invalidArgument(
        `${prefix}rows: ${request.rows.length} rows exceed the limit of ${limit} per request; split the batch`,
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

  /** Pushes `rows` into `sink` as its window allows, then waits until all are written. */
  private async pushAll(sink: RowSink, rows: readonly WriteRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i++) {
      const room = sink.push(rows[i]!, i);
      if (room !== null) await room;
    }
    await sink.flush();
  }

  /**
   * The write path of one call for rows of `view` validated under registry `version`: the
   * driver timeout follows the caller's deadline, and each row's cache entry is dropped as soon
   * as its write settles.
   */
  private rowSink(version: number, view: FeatureViewDef, call: CallContext, changed: PeerInvalidations): RowSink {
    // Invalidate under the version the rows were validated with and the one serving now, in
    // case a new registry was picked up while the rows were being written; sibling workers
    // (if any) get the same keys.
    const invalidate = (row: WriteRow, peers: PeerInvalidations) => {
      const current = this.registry.current.version;
      const key = this.cacheKey(version, view.name, row.keyString);
      this.cache.invalidate(key);
      peers.add(key);
      if (current !== version) {
        const currentKey = this.cacheKey(current, view.name, row.keyString);
        this.cache.invalidate(currentKey);
        peers.add(currentKey);
      }
    };
    const { writeConcurrency, writeAttempts, partitionBatchRows } = this.config.ingest;
    return new RowSink(this.store, view, {
      concurrency: writeConcurrency,
      partitionBatchRows,
      maxRowsPerSecond: 0,
      writeTimeoutMs: (remaining) => this.driverTimeout(remaining),
      maxAttempts: writeAttempts,
      deadline: call.deadline,
      isCancelled: call.isCancelled,
      onSettled: (row, timedOut) => {
        invalidate(row, changed);
        // The coordinator may still apply a write the driver gave up on; drop whatever a read
        // cached in between once that can no longer happen.
        if (timedOut) {
          setTimeout(() => {
            const late = new PeerInvalidations(this.peers);
            invalidate(row, late);
            void late.flush();
          }, LATE_WRITE_WINDOW_MS).unref();
        }
      },
    });
  }

  listFeatureViews(): ListFeatureViewsResponse {
    const { version, registry } = this.registry.current;
    return listFeatureViewsResponse(registry, version);
  }

  listFeatureServices(): ListFeatureServicesResponse {
    return listFeatureServicesResponse(this.registry.current.registry);
  }
}
