import { readFileSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';
import type cassandra from 'cassandra-driver';

import type { CoherenceStats, LogWriterStats } from '../coherence/index.js';
import type { AdmissionCounters } from '../concurrency/admission.js';
import { sessionCounters } from '../store/index.js';
import {
  COUNT_BUCKETS,
  LATENCY_BUCKETS,
  type Histogram,
  type HistogramChild,
  type MetricsRegistry,
} from './metrics.js';

/**
 * Every Cassette metric, defined in one place (docs/operations.md describes each). Request-path
 * metrics are histograms with pre-resolved children; the rest are read from the counters the
 * serving core keeps anyway, at scrape time, through the watch*() functions.
 */

/** The gRPC status names, by code. */
const STATUS_NAMES: readonly string[] = Object.entries(grpc.status)
  .filter(([, code]) => typeof code === 'number')
  .sort((a, b) => (a[1] as number) - (b[1] as number))
  .map(([name]) => name);

/** Request duration of one method, with one child per status code made on first use. */
export class MethodMetrics {
  private readonly byCode: (HistogramChild | undefined)[] = [];

  constructor(
    private readonly histogram: Histogram,
    readonly service: string,
    readonly method: string,
  ) {}

  observe(code: number, seconds: number): void {
    const child = (this.byCode[code] ??= this.histogram.child(
      this.service,
      this.method,
      STATUS_NAMES[code] ?? String(code),
    ));
    child.observe(seconds);
  }
}

/** Rows written through the server's WriteFeatures calls (the job's counts are in IngestMetrics). */
export interface ServerWriteCounts {
  received: number;
  written: number;
  expired: number;
  rejected: number;
}

/** The request-path metrics of a serving process. */
export class RequestMetrics {
  private readonly duration: Histogram;
  readonly entityRows: HistogramChild;
  readonly features: HistogramChild;
  readonly writes: ServerWriteCounts = { received: 0, written: 0, expired: 0, rejected: 0 };

  constructor(metrics: MetricsRegistry) {
    this.duration = metrics.histogram(
      'cassette_request_duration_seconds',
      'Time from a call arriving to its answer being handed to gRPC, by service, method and gRPC status code.',
      ['service', 'method', 'code'],
      LATENCY_BUCKETS,
    );
    this.entityRows = metrics
      .histogram('cassette_request_entity_rows', 'Entity rows asked for per GetOnlineFeatures call.', [], COUNT_BUCKETS)
      .child();
    this.features = metrics
      .histogram('cassette_request_features', 'Features asked for per GetOnlineFeatures call.', [], COUNT_BUCKETS)
      .child();
    watchIngest(metrics, () => ({
      rowsRead: this.writes.received + this.writes.rejected,
      rowsWritten: this.writes.written,
      rejected: this.writes.rejected,
      expired: this.writes.expired,
    }));
  }

  method(service: string, method: string): MethodMetrics {
    return new MethodMetrics(this.duration, service, method);
  }
}

/** How a Cassandra read or write ended. */
export type StoreOutcome = 'ok' | 'timeout' | 'error';
const OUTCOMES: readonly StoreOutcome[] = ['ok', 'timeout', 'error'];

/** Read and write latency per view, one child per outcome, resolved once per view. */
export class StoreMetrics {
  private readonly reads: Histogram;
  private readonly writes: Histogram;
  private readonly byView = new Map<string, { read: HistogramChild[]; write: HistogramChild[] }>();

  constructor(metrics: MetricsRegistry) {
    this.reads = metrics.histogram(
      'cassette_cassandra_read_duration_seconds',
      'Time of one entity-row read from Cassandra, by feature view and outcome (ok, timeout, error).',
      ['view', 'outcome'],
      LATENCY_BUCKETS,
    );
    this.writes = metrics.histogram(
      'cassette_cassandra_write_duration_seconds',
      'Time of one write to Cassandra (a row, or one partition batch), by feature view and outcome.',
      ['view', 'outcome'],
      LATENCY_BUCKETS,
    );
  }

  /** The children of `view`: [ok, timeout, error] for reads and for writes. */
  view(name: string): { read: HistogramChild[]; write: HistogramChild[] } {
    let children = this.byView.get(name);
    if (!children) {
      children = {
        read: OUTCOMES.map((outcome) => this.reads.child(name, outcome)),
        write: OUTCOMES.map((outcome) => this.writes.child(name, outcome)),
      };
      this.byView.set(name, children);
    }
    return children;
  }
}

export const OUTCOME_INDEX: Readonly<Record<StoreOutcome, number>> = { ok: 0, timeout: 1, error: 2 };

/** The row cache's running totals and size. */
export interface CacheCounters {
  hits: number;
  misses: number;
  coalesced: number;
  evictions: number;
  entries: number;
  bytes: number;
}

export function watchCache(metrics: MetricsRegistry, stats: () => CacheCounters): void {
  scrapedCounters(metrics, stats, [
    ['cassette_cache_hits_total', 'Row lookups answered from the cache (rows and known-missing rows).', (s) => s.hits],
    ['cassette_cache_misses_total', 'Row lookups that read Cassandra.', (s) => s.misses],
    [
      'cassette_cache_coalesced_total',
      'Row lookups that joined a read of the same row already in flight.',
      (s) => s.coalesced,
    ],
    ['cassette_cache_evictions_total', 'Entries dropped to stay within cache.maxBytes.', (s) => s.evictions],
  ]);
  metrics.scraped('cassette_cache_entries', 'Entries in the row cache.', 'gauge', [], (emit) => emit(stats().entries));
  metrics.scraped('cassette_cache_bytes', 'Estimated bytes held by the row cache.', 'gauge', [], (emit) =>
    emit(stats().bytes),
  );
}

/** Unlabelled counters read at scrape time from one source: [name, help, value of the source] each. */
function scrapedCounters<Source>(
  metrics: MetricsRegistry,
  source: () => Source,
  counters: readonly (readonly [string, string, (source: Source) => number])[],
): void {
  for (const [name, help, read] of counters) {
    metrics.scraped(name, help, 'counter', [], (emit) => emit(read(source())));
  }
}

/** An admission gate as metrics see it (AdmissionGate). */
export interface GateCounters {
  readonly counters: Readonly<AdmissionCounters>;
  readonly inFlight: number;
  readonly queued: number;
}

export function watchAdmission(metrics: MetricsRegistry, gates: { reads: GateCounters; writes: GateCounters }): void {
  const each = (emit: (value: number, ...labels: string[]) => void, read: (gate: GateCounters) => number) => {
    emit(read(gates.reads), 'reads');
    emit(read(gates.writes), 'writes');
  };
  const eachGate = (visit: (gate: string, counters: Readonly<AdmissionCounters>) => void) => {
    visit('reads', gates.reads.counters);
    visit('writes', gates.writes.counters);
  };
  metrics.scraped(
    'cassette_admission_admitted_total',
    'Calls admitted, at once or after queueing.',
    'counter',
    ['gate'],
    (emit) => each(emit, (gate) => gate.counters.admitted),
  );
  metrics.scraped(
    'cassette_admission_queued_total',
    'Calls that waited for room before being admitted or refused.',
    'counter',
    ['gate'],
    (emit) => each(emit, (gate) => gate.counters.queued),
  );
  metrics.scraped(
    'cassette_admission_shed_total',
    'Calls refused by admission control: reason "overloaded" (RESOURCE_EXHAUSTED) or "deadline" (too little time left).',
    'counter',
    ['gate', 'reason'],
    (emit) =>
      eachGate((gate, counters) => {
        emit(counters.shed, gate, 'overloaded');
        emit(counters.late, gate, 'deadline');
      }),
  );
  metrics.scraped(
    'cassette_admission_overloaded_total',
    'Calls refused RESOURCE_EXHAUSTED, by when: "at_once" (no room, and none expected within serving.maxQueueWaitMs), "before_decoding" (refused unread while saturated), "after_waiting" (waited serving.maxQueueWaitMs in vain).',
    'counter',
    ['gate', 'when'],
    (emit) =>
      eachGate((gate, counters) => {
        emit(counters.shed - counters.shedUndecoded - counters.shedAfterWaiting, gate, 'at_once');
        emit(counters.shedUndecoded, gate, 'before_decoding');
        emit(counters.shedAfterWaiting, gate, 'after_waiting');
      }),
  );
  metrics.scraped(
    'cassette_admission_in_flight',
    'Units in flight (entity reads, rows being written).',
    'gauge',
    ['gate'],
    (emit) => each(emit, (gate) => gate.inFlight),
  );
  metrics.scraped('cassette_admission_queue', 'Units waiting for room.', 'gauge', ['gate'], (emit) =>
    each(emit, (gate) => gate.queued),
  );
}

/** The registry sync as metrics see it (RegistrySync). */
export interface RegistryCounters {
  readonly current: { readonly version: number };
  readonly failedRefreshes: number;
}

export function watchRegistry(metrics: MetricsRegistry, registry: RegistryCounters): void {
  // With workers, the lowest version any worker serves: the one still to catch up.
  metrics.scraped(
    'cassette_registry_version',
    'Version of the feature registry being served.',
    'gauge',
    [],
    (emit) => emit(registry.current.version),
    'min',
  );
  metrics.scraped(
    'cassette_registry_reload_failures_total',
    'Checks for (or loads of) a newly applied registry that failed; the previous one keeps serving.',
    'counter',
    [],
    (emit) => emit(registry.failedRefreshes),
  );
}

/** Whether Cassandra can serve, as health reports it. */
export function watchAvailability(metrics: MetricsRegistry, canServe: () => boolean): void {
  metrics.scraped(
    'cassette_cassandra_available',
    '1 while Cassandra answers (health says SERVING, unless draining), 0 otherwise.',
    'gauge',
    [],
    (emit) => emit(canServe() ? 1 : 0),
    'min',
  );
}

/**
 * The store's view of Cassandra: retries and hedged requests (the session's failover counters, see
 * src/store/failover.ts), and connections and requests in flight per host (read from the
 * driver's state at scrape time).
 */
export function watchCassandraClient(metrics: MetricsRegistry, client: cassandra.Client): void {
  const counters = sessionCounters(client);
  metrics.scraped(
    'cassette_cassandra_retries_total',
    'Attempts retried on another host, by what failed: timeout (no answer within the attempt timeout), ' +
      'connection (lost connection, overloaded or starting coordinator), coordinator (Unavailable, Read/WriteTimeout).',
    'counter',
    ['reason'],
    (emit) => {
      emit(counters.retriesAfterTimeout, 'timeout');
      emit(counters.retriesAfterConnectionError, 'connection');
      emit(counters.retriesAfterCoordinatorError, 'coordinator');
    },
  );
  metrics.scraped(
    'cassette_cassandra_retries_refused_total',
    'Retryable failures given back to the caller: attempts ran out, no attempt fitted in the time left, or the failover budget was spent.',
    'counter',
    [],
    (emit) => emit(counters.retriesRefused),
  );
  metrics.scraped(
    'cassette_cassandra_slow_host_marks_total',
    'Times a Cassandra host let an attempt time out and was put behind the other replicas in query plans for a while.',
    'counter',
    [],
    (emit) => emit(counters.hostsMarkedSlow),
  );
  metrics.scraped(
    'cassette_cassandra_speculative_executions_total',
    'Hedged requests: the same read or write sent to another host because the first was slow to answer.',
    'counter',
    [],
    (emit) => emit(counters.speculativeExecutions),
  );
  const perHost = (
    emit: (value: number, ...labels: string[]) => void,
    read: (state: cassandra.metadata.ClientState, host: cassandra.Host) => number,
  ) => {
    const state = client.getState();
    for (const host of state.getConnectedHosts()) emit(read(state, host), host.address);
  };
  metrics.scraped('cassette_cassandra_connections', 'Open connections per Cassandra host.', 'gauge', ['host'], (emit) =>
    perHost(emit, (state, host) => state.getOpenConnections(host)),
  );
  metrics.scraped(
    'cassette_cassandra_in_flight_requests',
    'Requests sent and not yet answered, per Cassandra host.',
    'gauge',
    ['host'],
    (emit) => perHost(emit, (state, host) => state.getInFlightQueries(host)),
  );
}

/** An ingestion's running counts (a job's progress, or the server's WriteFeatures calls). */
export interface IngestCounts {
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly rejected: number;
  readonly expired: number;
}

export function watchIngest(metrics: MetricsRegistry, counts: () => IngestCounts): void {
  scrapedCounters(metrics, counts, [
    [
      'cassette_ingest_rows_read_total',
      'Rows (records) read by an ingestion job, or received by WriteFeatures.',
      (c) => c.rowsRead,
    ],
    ['cassette_ingest_rows_written_total', 'Rows written to Cassandra.', (c) => c.rowsWritten],
    [
      'cassette_ingest_rows_rejected_total',
      'Rows refused as invalid (a job writes them to its rejects file).',
      (c) => c.rejected,
    ],
    [
      'cassette_ingest_rows_expired_total',
      'Rows skipped because they were already past their view ttl.',
      (c) => c.expired,
    ],
  ]);
}

/** Feast's HTTP API as metrics see it (FeastHttpServer's counters). */
export interface HttpCounters {
  readonly requests: number;
  readonly errors: Partial<Record<number, number>>;
}

export function watchHttp(metrics: MetricsRegistry, counters: HttpCounters): void {
  metrics.scraped(
    'cassette_http_requests_total',
    "Requests to Feast's HTTP API (http.listen).",
    'counter',
    [],
    (emit) => emit(counters.requests),
  );
  metrics.scraped(
    'cassette_http_errors_total',
    "Requests to Feast's HTTP API answered with an error, by HTTP status.",
    'counter',
    ['status'],
    (emit) => {
      for (const [status, count] of Object.entries(counters.errors)) emit(count ?? 0, status);
    },
  );
}

/** What watchSecurity reads: SecurityCounters (src/auth). */
export interface SecurityCounts {
  readonly failures: Readonly<Record<string, number>>;
  readonly reloads: Readonly<Record<string, number>>;
  readonly resolved: number;
}

export function watchSecurity(metrics: MetricsRegistry, counts: SecurityCounts): void {
  metrics.scraped(
    'cassette_auth_failures_total',
    'Calls refused for their credential (UNAUTHENTICATED) or their scopes (reason="denied": PERMISSION_DENIED), by reason.',
    'counter',
    ['reason'],
    (emit) => {
      for (const [reason, count] of Object.entries(counts.failures)) emit(count, reason);
    },
  );
  metrics.scraped(
    'cassette_auth_credentials_resolved_total',
    'Credentials verified and their scopes compiled (cache misses); each token is resolved once until a reload.',
    'counter',
    [],
    (emit) => emit(counts.resolved),
  );
  metrics.scraped(
    'cassette_security_reloads_total',
    'Reloads of the tokens file, the JWKS and the TLS certificate after their files changed, by file and outcome.',
    'counter',
    ['file', 'outcome'],
    (emit) => {
      for (const [key, count] of Object.entries(counts.reloads)) {
        const [file = '', outcome = ''] = key.split(':');
        emit(count, file, outcome);
      }
    },
  );
}

/** Cassette's version, from package.json (two levels up from src/observability and dist/observability). */
function cassetteVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** cassette_build_info: the version and Node.js running, as labels of a constant 1. */
export function watchBuild(metrics: MetricsRegistry, version = cassetteVersion()): void {
  metrics.scraped(
    'cassette_build_info',
    'Always 1; the labels say which Cassette version and Node.js runtime serve.',
    'gauge',
    ['version', 'node'],
    (emit) => emit(1, version, process.version),
    'first',
  );
}

/** Cache coherence as metrics see it: this replica's polling, and what this process logged. */
export interface CoherenceCounters {
  readonly replica?: CoherenceStats;
  readonly cacheTooOld: number;
  readonly logged?: LogWriterStats;
}

/** The coherence metrics; `lagBoundsMs` are the lag histogram's bucket bounds as the replica keeps them. */
export function watchCoherence(
  metrics: MetricsRegistry,
  lagBoundsMs: readonly number[],
  stats: () => CoherenceCounters,
): void {
  const replica = () => stats().replica;
  metrics.scraped(
    'cassette_coherence_polls_total',
    'Polls of the invalidation log and view generations, by outcome (ok, failed).',
    'counter',
    ['outcome'],
    (emit) => {
      const r = replica();
      if (!r) return;
      emit(r.polls, 'ok');
      emit(r.pollFailures, 'failed');
    },
  );
  scrapedCounters(metrics, replica, [
    ['cassette_coherence_queries_total', 'Cassandra queries sent by coherence polls.', (r) => r?.queries ?? 0],
    ['cassette_coherence_entries_applied_total', 'Invalidation log entries applied.', (r) => r?.entriesApplied ?? 0],
    [
      'cassette_coherence_keys_dropped_total',
      'Cached keys dropped because another replica or a job logged a write to them.',
      (r) => r?.keysDropped ?? 0,
    ],
    [
      'cassette_coherence_view_drops_total',
      "Times a feature view's cached rows were dropped for a new generation (a bulk load).",
      (r) => r?.viewDrops ?? 0,
    ],
    [
      'cassette_coherence_whole_cache_drops_total',
      'Times the whole cache was dropped because this replica fell behind the staleness bound.',
      (r) => r?.wholeCacheDrops ?? 0,
    ],
  ]);
  const gauge = (name: string, help: string, read: (r: CoherenceStats) => number | undefined) =>
    metrics.scraped(name, help, 'gauge', [], (emit) => {
      const r = replica();
      const value = r && read(r);
      if (value !== undefined) emit(value);
    });
  gauge(
    'cassette_coherence_behind',
    '1 while no poll has succeeded within the staleness bound (cached rows older than the bound are not served).',
    (r) => (r.behind ? 1 : 0),
  );
  gauge(
    'cassette_coherence_seconds_since_last_poll',
    'Seconds since the start of the last poll that succeeded.',
    (r) => r.sinceLastPollMs / 1000,
  );
  gauge(
    'cassette_coherence_clock_offset_seconds',
    "Cassandra's clock minus this server's, at the last comparison.",
    (r) => (r.clock ? r.clock.offsetMs / 1000 : undefined),
  );
  metrics.scrapedHistogram(
    'cassette_coherence_invalidation_lag_seconds',
    'From a write being logged to this replica dropping the cached row (measured per log entry applied).',
    lagBoundsMs.map((ms) => ms / 1000),
    () => {
      const lag = replica()?.lag;
      return lag
        ? { counts: lag.buckets, sum: lag.sumMs / 1000, count: lag.count }
        : { counts: new Array<number>(lagBoundsMs.length + 1).fill(0), sum: 0, count: 0 };
    },
  );
  metrics.scraped(
    'cassette_cache_too_old_total',
    'Cached rows not served because coherence or a consistency token required a later read.',
    'counter',
    [],
    (emit) => emit(stats().cacheTooOld),
  );
  const logged = () => stats().logged;
  scrapedCounters(metrics, logged, [
    [
      'cassette_coherence_log_entries_total',
      'Invalidation log entries this process wrote for the other replicas.',
      (l) => l?.entriesLogged ?? 0,
    ],
    [
      'cassette_coherence_log_restamped_total',
      'Log chunks written again with a new stamp (the first write came back after its budget, or failed).',
      (l) => l?.restamped ?? 0,
    ],
    [
      'cassette_coherence_generation_bumps_total',
      'Feature view generations this process bumped (bulk loads).',
      (l) => l?.generationBumps ?? 0,
    ],
    [
      'cassette_coherence_log_failures_total',
      'Log appends and generation bumps that failed for good (their write call failed UNAVAILABLE).',
      (l) => l?.failures ?? 0,
    ],
  ]);
}
