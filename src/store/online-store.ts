import cassandra from 'cassandra-driver';

import type { Config } from '../config/index.js';
import type { FeatureViewDef, Registry } from '../registry/index.js';
import type { StoredScalar, StoredValue } from '../values/index.js';
import { q } from './cql.js';
import { prepareStatement } from './prepare.js';
import { consistencyOf, type CassandraClient } from './session.js';

type Long = cassandra.types.Long;

/**
 * The serialized form of an empty list (a zero element count). The driver would send an empty
 * array as null, which erases the difference between "no items" and "no value"; a Buffer is
 * passed through as already-encoded bytes.
 */
const EMPTY_LIST = Buffer.alloc(4);

/** One entity row of a view as stored: a value and its write time per feature, in view order. */
export interface StoredRow {
  readonly values: readonly (StoredValue | null)[];
  /** Write time (the event time) in microseconds since the epoch; NaN where the value is null. */
  readonly writeTimesMicros: Float64Array;
}

/** A feature write: `undefined` leaves the stored value alone, `null` clears it. */
export type FeatureWrite = StoredValue | null | undefined;

/** One entity row to write: its key, a write per view feature, its timestamp and ttl. */
export interface RowWrite {
  readonly key: readonly StoredScalar[];
  readonly features: readonly FeatureWrite[];
  readonly eventTimeMicros: Long;
  /** Seconds until Cassandra expires the written cells; 0 = never. */
  readonly ttlSeconds: number;
}

interface ViewStatements {
  readonly select: string;
  readonly insert: string;
}

/**
 * Reads and writes feature rows. Each (view, entity) is one partition, read with one prepared
 * single-partition SELECT and written with one prepared INSERT whose timestamp is the event time.
 */
export class OnlineStore {
  /** Keyed by view definition, so requests still holding an older registry keep their statements. */
  private readonly statements = new WeakMap<FeatureViewDef, ViewStatements>();
  private readonly readConsistency: number;
  private readonly writeConsistency: number;

  constructor(
    private readonly client: CassandraClient,
    private readonly keyspace: string,
    settings: Pick<Config['cassandra'], 'readConsistency' | 'writeConsistency'>,
  ) {
    this.readConsistency = consistencyOf(settings.readConsistency);
    this.writeConsistency = consistencyOf(settings.writeConsistency);
  }

  /**
   * Builds and prepares the statements of every view in `registry`. Called before serving and
   * again when a new registry is picked up; the old statements keep working meanwhile.
   */
  async prepare(registry: Registry): Promise<void> {
    for (const view of registry.featureViews.values()) {
      if (this.statements.has(view)) continue;
      const statements = this.buildStatements(view);
      await prepareStatement(this.client, statements.select);
      await prepareStatement(this.client, statements.insert);
      this.statements.set(view, statements);
    }
  }

  private buildStatements(view: FeatureViewDef): ViewStatements {
    const table = `${q(this.keyspace)}.${q(view.name)}`;
    const selected = view.features.map((f) => `${q(f.name)}, WRITETIME(${q(f.name)})`).join(', ');
    const where = view.entities.map((e) => `${q(e.joinKey)} = ?`).join(' AND ');
    const columns = [...view.entities.map((e) => q(e.joinKey)), ...view.features.map((f) => q(f.name))];
    return {
      // Explicit columns, never `*`: a column added by a later apply must not shift positions.
      select: `SELECT ${selected} FROM ${table} WHERE ${where}`,
      // INSERT (not UPDATE) writes a row marker, so a row whose features are all null still
      // reads as present (NULL_VALUE) rather than missing (NOT_FOUND).
      insert:
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
        'USING TIMESTAMP ? AND TTL ?',
    };
  }

  private statementsFor(view: FeatureViewDef): ViewStatements {
    const statements = this.statements.get(view);
    if (!statements) {
      throw new Error(`statements for feature view "${view.name}" are not prepared`);
    }
    return statements;
  }

  /** Reads one entity row; null when the partition does not exist. */
  async read(view: FeatureViewDef, key: readonly StoredScalar[], timeoutMs: number): Promise<StoredRow | null> {
    const { select } = this.statementsFor(view);
    const result = await this.client.execute(select, key as StoredScalar[], {
      prepare: true,
      consistency: this.readConsistency,
      readTimeout: timeoutMs,
      isIdempotent: true,
    });
    const row = result.rows[0];
    if (!row) return null;
    const count = view.features.length;
    const values = new Array<StoredValue | null>(count);
    const writeTimesMicros = new Float64Array(count);
    const columns = row.values() as unknown[];
    for (let i = 0; i < count; i++) {
      const value = columns[2 * i] as StoredValue | null | undefined;
      const writeTime = columns[2 * i + 1] as Long | null | undefined;
      values[i] = value ?? null;
      writeTimesMicros[i] = writeTime == null ? Number.NaN : writeTime.toNumber();
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
    await this.client.execute(insert, this.insertParams(view, key, features, eventTimeMicros, ttlSeconds), {
      prepare: true,
      consistency: this.writeConsistency,
      readTimeout: timeoutMs,
      // Same timestamp, same values: a retried write cannot change the outcome.
      isIdempotent: true,
    });
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
    await this.client.batch(queries, {
      prepare: true,
      logged: false,
      consistency: this.writeConsistency,
      readTimeout: timeoutMs,
      isIdempotent: true,
    });
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
