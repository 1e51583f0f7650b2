import cassandra from 'cassandra-driver';

import type { Config } from '../config/index.js';
import type { FeatureViewDef, Registry } from '../registry/index.js';
import type { StoredScalar, StoredValue } from '../values/index.js';
import { insertStatement, q } from './cql.js';
import type { FeatureWrite, OnlineStore, Projection, RowWrite, StoredRow } from './online-store.js';
import { budgetedOptions, type BudgetedQueryOptions, type FailoverBudget, type StoreCounters } from './failover.js';
import { prepareStatement } from './prepare.js';
import { consistencyOf, sessionTuning, type CassandraClient } from './session.js';

type Long = cassandra.types.Long;

/**
 * The serialized form of an empty list (a zero element count). The driver would send an empty
 * array as null, which erases the difference between "no items" and "no value"; a Buffer is
 * passed through as already-encoded bytes.
 */
const EMPTY_LIST = Buffer.alloc(4);

/** A prepared single-partition SELECT of some (or all) features of a view, with their write times. */
export interface ReadStatement extends Projection {
  readonly cql: string;
  /** Result column names of each selected feature's value and write time, in the same order. */
  readonly valueColumns: readonly string[];
  readonly writeTimeColumns: readonly string[];
}

/**
 * How many feature subsets of one view get their own prepared statement. Feature services are
 * prepared up front; ad-hoc feature lists are prepared on first use, up to this many, and read
 * whole rows beyond it.
 */
const MAX_PROJECTIONS_PER_VIEW = 256;

interface ViewStatements {
  readonly fullRow: ReadStatement;
  readonly insert: string;
  /** Feature subsets (keyed by their view positions) -> their statement, or the pending prepare. */
  readonly projections: Map<string, ReadStatement | Promise<void>>;
}

/**
 * The online store in Cassandra. Each (view, entity) is one partition, read with one prepared
 * single-partition SELECT and written with one prepared INSERT whose timestamp is the event time.
 *
 * Every read and write is idempotent (a write's timestamp is its event time) and marked so: the
 * `timeoutMs` a caller gives is the operation's budget, which the driver may spend on attempts on
 * several hosts, each waiting at most the session's attempt timeout (see failover.ts).
 */
export class CassandraStore implements OnlineStore {
  /** Keyed by view definition, so requests still holding an older registry keep their statements. */
  private readonly statements = new WeakMap<FeatureViewDef, ViewStatements>();
  private readonly readConsistency: number;
  private readonly writeConsistency: number;
  private readonly attemptTimeoutMs: number;
  private readonly budget: FailoverBudget;
  /** Failover counters of the session (retries, hedges), for metrics. */
  readonly counters: StoreCounters;

  constructor(
    private readonly client: CassandraClient,
    private readonly keyspace: string,
    settings: Pick<Config['cassandra'], 'readConsistency' | 'writeConsistency'>,
  ) {
    this.readConsistency = consistencyOf(settings.readConsistency);
    this.writeConsistency = consistencyOf(settings.writeConsistency);
    const tuning = sessionTuning(client);
    this.attemptTimeoutMs = tuning.attemptTimeoutMs;
    this.budget = tuning.budget;
    this.counters = tuning.counters;
  }

  /**
   * Driver options of one operation with `timeoutMs` to spend, all its attempts included. Its
   * attempts are short only while the failover budget holds a retry; otherwise its one attempt
   * may take all of `timeoutMs` (the cluster is then slow everywhere, or busy failing over
   * already), and so it does when the session knows a single host: a retry would have nowhere
   * else to go, so a short attempt would only give up on a slow node early.
   */
  private options(consistency: number, timeoutMs: number): BudgetedQueryOptions {
    return budgetedOptions(this.budget, consistency, timeoutMs, this.attemptTimeoutMs, this.client.hosts.length > 1);
  }

  /**
   * Builds and prepares the statements of every view in `registry`. Called before serving and
   * again when a new registry is picked up; the old statements keep working meanwhile.
   */
  async prepare(registry: Registry): Promise<void> {
    for (const view of registry.featureViews.values()) {
      if (this.statements.has(view)) continue;
      const statements: ViewStatements = {
        fullRow: this.readStatement(view, Int32Array.from(view.features.keys())),
        insert: insertStatement(this.keyspace, view),
        projections: new Map(),
      };
      await prepareStatement(this.client, statements.fullRow.cql);
      await prepareStatement(this.client, statements.insert);
      this.statements.set(view, statements);
    }
    // Each feature service's features of each view: the subsets clients are expected to ask for.
    for (const service of registry.featureServices.values()) {
      const byView = new Map<string, number[]>();
      for (const ref of service.features) {
        const view = registry.featureViews.get(ref.view)!;
        const indexes = byView.get(view.name) ?? [];
        indexes.push(view.featureIndex.get(ref.feature)!);
        byView.set(view.name, indexes);
      }
      for (const [name, indexes] of byView) {
        const view = registry.featureViews.get(name)!;
        const statements = this.statementsFor(view);
        const featureIndexes = Int32Array.from(indexes).sort();
        const key = featureIndexes.join(',');
        if (featureIndexes.length === view.features.length || statements.projections.has(key)) continue;
        const statement = this.readStatement(view, featureIndexes);
        await prepareStatement(this.client, statement.cql);
        statements.projections.set(key, statement);
      }
    }
  }

  /** SELECT of the features at `featureIndexes` (ascending) and their write times, by partition key. */
  private readStatement(view: FeatureViewDef, featureIndexes: Int32Array): ReadStatement {
    const table = `${q(this.keyspace)}.${q(view.name)}`;
    const where = view.entities.map((e) => `${q(e.joinKey)} = ?`).join(' AND ');
    // Explicit columns, never `*`: a column added by a later apply must not shift positions.
    // Aliases named by view position keep result columns short and independent of feature names.
    const valueColumns = Array.from(featureIndexes, (i) => `v${i}`);
    const writeTimeColumns = Array.from(featureIndexes, (i) => `w${i}`);
    const selected = Array.from(featureIndexes, (index, i) => {
      const name = q(view.features[index]!.name);
      return `${name} AS ${valueColumns[i]}, WRITETIME(${name}) AS ${writeTimeColumns[i]}`;
    }).join(', ');
    return { cql: `SELECT ${selected} FROM ${table} WHERE ${where}`, featureIndexes, valueColumns, writeTimeColumns };
  }

  /**
   * The read statement for exactly the features at `featureIndexes` (ascending view positions),
   * when it is prepared; undefined otherwise. A subset seen for the first time starts being
   * prepared in the background, so no request waits for a prepare: until it is ready, reads of
   * that subset read whole rows.
   */
  projection(view: FeatureViewDef, featureIndexes: Int32Array): ReadStatement | undefined {
    const statements = this.statementsFor(view);
    if (featureIndexes.length === view.features.length) return statements.fullRow;
    const key = featureIndexes.join(',');
    const known = statements.projections.get(key);
    if (known !== undefined) return known instanceof Promise ? undefined : known;
    if (statements.projections.size >= MAX_PROJECTIONS_PER_VIEW) return undefined;
    const statement = this.readStatement(view, featureIndexes);
    const preparing = prepareStatement(this.client, statement.cql).then(
      () => void statements.projections.set(key, statement),
      // Not fatal: whole rows serve meanwhile, and the next request of this subset tries again.
      () => void statements.projections.delete(key),
    );
    statements.projections.set(key, preparing);
    return undefined;
  }

  private statementsFor(view: FeatureViewDef): ViewStatements {
    const statements = this.statements.get(view);
    if (!statements) {
      throw new Error(`statements for feature view "${view.name}" are not prepared`);
    }
    return statements;
  }

  /**
   * Reads one entity row, all features or those of `statement` (one projection() returned);
   * null when the partition does not exist.
   */
  async read(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    timeoutMs: number,
    statement: ReadStatement = this.statementsFor(view).fullRow,
  ): Promise<StoredRow | null> {
    const result = await this.client.execute(
      statement.cql,
      key as StoredScalar[],
      this.options(this.readConsistency, timeoutMs),
    );
    const row = result.rows[0] as unknown as Record<string, unknown> | undefined;
    if (!row) return null;
    const count = view.features.length;
    const values = new Array<StoredValue | null | undefined>(count);
    const writeTimesMicros = new Float64Array(count);
    const { featureIndexes, valueColumns, writeTimeColumns } = statement;
    // By column name: the driver's Row has one property per column, and Row.values() would
    // enumerate them all with for-in.
    for (let i = 0; i < featureIndexes.length; i++) {
      const index = featureIndexes[i]!;
      const value = row[valueColumns[i]!] as StoredValue | null | undefined;
      const writeTime = row[writeTimeColumns[i]!] as Long | null | undefined;
      values[index] = value ?? null;
      writeTimesMicros[index] = writeTime == null ? Number.NaN : writeTime.toNumber();
    }
    return { values, writeTimesMicros };
  }

  /**
   * Upserts some or all features of one entity row with the event time as the write
   * timestamp, so an older event arriving late never overwrites a newer one.
   * `ttlSeconds` 0 stores without expiry.
   */
  async write(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    features: readonly FeatureWrite[],
    eventTimeMicros: Long,
    ttlSeconds: number,
    timeoutMs: number,
  ): Promise<void> {
    const { insert } = this.statementsFor(view);
    await this.client.execute(
      insert,
      this.insertParams(view, key, features, eventTimeMicros, ttlSeconds),
      this.options(this.writeConsistency, timeoutMs),
    );
  }

  /**
   * Writes rows of ONE partition (same view, same key) as one UNLOGGED BATCH: Cassandra applies
   * it as a single mutation, in one round trip. Each row keeps its own timestamp and ttl, so the
   * outcome is that of writing the rows one by one.
   */
  async writePartitionBatch(view: FeatureViewDef, rows: readonly RowWrite[], timeoutMs: number): Promise<void> {
    const { insert } = this.statementsFor(view);
    const queries = new Array<{ query: string; params: unknown[] }>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      queries[i] = {
        query: insert,
        params: this.insertParams(view, row.key, row.features, row.eventTimeMicros, row.ttlSeconds),
      };
    }
    const options = this.options(this.writeConsistency, timeoutMs);
    options.logged = false;
    await this.client.batch(queries, options);
  }

  private insertParams(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    features: readonly FeatureWrite[],
    eventTimeMicros: Long,
    ttlSeconds: number,
  ): unknown[] {
    const params: unknown[] = [...key];
    for (let i = 0; i < view.features.length; i++) {
      const value = features[i];
      // `unset` leaves a column untouched (and writes no tombstone), unlike null.
      if (value === undefined) params.push(cassandra.types.unset);
      else if (Array.isArray(value) && value.length === 0) params.push(EMPTY_LIST);
      else params.push(value);
    }
    params.push(eventTimeMicros, ttlSeconds);
    return params;
  }
}
