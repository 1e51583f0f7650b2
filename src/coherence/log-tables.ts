import cassandra from 'cassandra-driver';

import { q } from '../store/cql.js';
import { budgetedOptions, type BudgetedQueryOptions } from '../store/failover.js';
import { sessionTuning, type CassandraClient } from '../store/session.js';
import { logBucketOf } from './window.js';

/** What writers changed, by time: see index.ts. */
export const INVALIDATION_LOG_TABLE = 'cassette_invalidations';
/** Feature view -> generation, bumped by bulk loads. */
export const GENERATIONS_TABLE = 'cassette_generations';
/** The one partition of the generations table: a poll reads every view's generation in one query. */
const GENERATIONS_SCOPE = 'views';

/**
 * How long a log entry is kept. Replicas read only the last second or so; the rest is there to
 * look at when something went wrong. Expired rows go whole SSTables at a time (TWCS below).
 */
export const LOG_TTL_SECONDS = 300;

/** Entries per UNLOGGED BATCH: all of one partition (one stamp, one bucket). */
export const LOG_BATCH_ENTRIES = 100;

/** Both ways LOCAL_QUORUM: an entry acknowledged to its writer is seen by every later poll. */
const LOG_CONSISTENCY = cassandra.types.consistencies.localQuorum;

/**
 * The DDL of the coherence tables (run by `cassette apply` with the others).
 *
 * The log is partitioned by one-second bucket and clustered by (stamp, writer, view, key), so a
 * poll reads a slice of one or two partitions and never a tombstone: rows only ever expire
 * (default TTL, no deletes), TimeWindowCompactionStrategy keeps each window's rows in their own
 * SSTables and drops them whole once expired, and gc_grace_seconds can be short because there is
 * no delete to propagate.
 */
export function coherenceTableStatements(keyspace: string): string[] {
  const ks = q(keyspace);
  return [
    `CREATE TABLE IF NOT EXISTS ${ks}.${q(INVALIDATION_LOG_TABLE)} ` +
      '(bucket bigint, written_at bigint, writer text, feature_view text, entity_key text, ' +
      'PRIMARY KEY ((bucket), written_at, writer, feature_view, entity_key)) ' +
      `WITH default_time_to_live = ${LOG_TTL_SECONDS} AND gc_grace_seconds = ${LOG_TTL_SECONDS} ` +
      "AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'MINUTES', " +
      "'compaction_window_size': 5}",
    `CREATE TABLE IF NOT EXISTS ${ks}.${q(GENERATIONS_TABLE)} ` +
      '(scope text, feature_view text, generation counter, PRIMARY KEY ((scope), feature_view))',
  ];
}

/** One row of the invalidation log: the writer `writer` changed row `key` of `view`. */
export interface LogEntry {
  /** The writer's clock (µs) when it logged the entry, after the row's write settled. */
  readonly writtenAtMicros: number;
  readonly writer: string;
  readonly view: string;
  readonly key: string;
}

/** A changed row, as a writer logs it. */
export interface ChangedRow {
  readonly view: string;
  /** The entity key string (as rowCacheKey takes it). */
  readonly key: string;
}

/**
 * Driver options of one coherence query with `timeoutMs` to spend: it fails over to the next
 * host as the store's operations do (see store/failover.ts), within half its time per attempt,
 * so one frozen node costs a poll or a log write part of its time, not all of it. Every query
 * here may be sent twice: a log entry is a fixed row, and a generation bump only has to change
 * the counter (two increments do).
 */
function budgeted(client: CassandraClient, consistency: number, timeoutMs: number): BudgetedQueryOptions {
  const attemptCapMs = Math.max(25, Math.floor(timeoutMs / 2));
  return budgetedOptions(sessionTuning(client).budget, consistency, timeoutMs, attemptCapMs, client.hosts.length > 1);
}

/** The coherence tables of one keyspace, through the process's Cassandra session. */
export class CoherenceTables {
  private readonly insertCql: string;
  private readonly selectCql: string;
  private readonly bumpCql: string;
  private readonly generationsCql: string;

  constructor(
    private readonly client: CassandraClient,
    keyspace: string,
  ) {
    const log = `${q(keyspace)}.${q(INVALIDATION_LOG_TABLE)}`;
    const generations = `${q(keyspace)}.${q(GENERATIONS_TABLE)}`;
    this.insertCql = `INSERT INTO ${log} (bucket, written_at, writer, feature_view, entity_key) VALUES (?, ?, ?, ?, ?)`;
    this.selectCql = `SELECT written_at, writer, feature_view, entity_key FROM ${log} WHERE bucket = ? AND written_at >= ?`;
    this.bumpCql = `UPDATE ${generations} SET generation = generation + 1 WHERE scope = ? AND feature_view = ?`;
    this.generationsCql = `SELECT feature_view, generation FROM ${generations} WHERE scope = ?`;
  }

  /** Logs `rows` (at most LOG_BATCH_ENTRIES) as changed by `writer`, stamped `writtenAtMicros`: one single-partition batch. */
  async append(writtenAtMicros: number, writer: string, rows: readonly ChangedRow[], timeoutMs: number): Promise<void> {
    const bucket = logBucketOf(writtenAtMicros);
    const options = { ...budgeted(this.client, LOG_CONSISTENCY, timeoutMs), logged: false };
    if (rows.length === 1) {
      const row = rows[0]!;
      await this.client.execute(this.insertCql, [bucket, writtenAtMicros, writer, row.view, row.key], options);
      return;
    }
    await this.client.batch(
      rows.map((row) => ({ query: this.insertCql, params: [bucket, writtenAtMicros, writer, row.view, row.key] })),
      options,
    );
  }

  /** The entries of log partition `bucket` stamped at or after `fromMicros`, every page of them. */
  async read(bucket: number, fromMicros: number, timeoutMs: number): Promise<LogEntry[]> {
    const result = await this.client.execute(this.selectCql, [bucket, Math.floor(fromMicros)], {
      ...budgeted(this.client, LOG_CONSISTENCY, timeoutMs),
      fetchSize: 5000,
    });
    const entries: LogEntry[] = [];
    for await (const row of result) {
      entries.push({
        writtenAtMicros: (row.get('written_at') as cassandra.types.Long).toNumber(),
        writer: row.get('writer') as string,
        view: row.get('feature_view') as string,
        key: row.get('entity_key') as string,
      });
    }
    return entries;
  }

  /** Bumps the generation of `view`: every replica drops its cached rows of the view at its next poll. */
  async bumpGeneration(view: string, timeoutMs: number): Promise<void> {
    await this.client.execute(
      this.bumpCql,
      [GENERATIONS_SCOPE, view],
      budgeted(this.client, LOG_CONSISTENCY, timeoutMs),
    );
  }

  /** The clock of the Cassandra node that coordinates this query (ms since the epoch). */
  async cassandraNowMs(timeoutMs: number): Promise<number> {
    const result = await this.client.execute('SELECT toUnixTimestamp(now()) AS now FROM system.local', [], {
      prepare: true,
      consistency: cassandra.types.consistencies.localOne,
      readTimeout: timeoutMs,
    });
    const now = result.first()?.get('now') as Date | cassandra.types.Long | undefined;
    return now instanceof Date ? now.getTime() : Number(now?.toString());
  }

  /** Every view's generation (views never bumped are absent), as decimal strings. */
  async generations(timeoutMs: number): Promise<Map<string, string>> {
    const result = await this.client.execute(
      this.generationsCql,
      [GENERATIONS_SCOPE],
      budgeted(this.client, LOG_CONSISTENCY, timeoutMs),
    );
    const generations = new Map<string, string>();
    for (const row of result.rows) {
      generations.set(row.get('feature_view') as string, (row.get('generation') as cassandra.types.Long).toString());
    }
    return generations;
  }
}
