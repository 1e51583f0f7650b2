import type cassandra from 'cassandra-driver';

import type { FeatureViewDef, Registry } from '../registry/index.js';
import type { StoredScalar, StoredValue } from '../values/index.js';

type Long = cassandra.types.Long;

/**
 * One entity row of a view as stored: a value and its write time per feature, in view order.
 * A row read with a projection holds only the features it selected; the others are undefined.
 */
export interface StoredRow {
  readonly values: readonly (StoredValue | null | undefined)[];
  /** Write time (the event time) in microseconds since the epoch; NaN where the value is null. */
  readonly writeTimesMicros: Float64Array;
}

/** Some features of a view, selected by a read; made by the store that reads with it. */
export interface Projection {
  /** View positions of the selected features, ascending. */
  readonly featureIndexes: Int32Array;
}

/** A feature write: `undefined` leaves the stored value alone, `null` clears it. */
export type FeatureWrite = StoredValue | null | undefined;

/** One entity row to write: its key, a write per view feature, its timestamp and ttl. */
export interface RowWrite {
  readonly key: readonly StoredScalar[];
  readonly features: readonly FeatureWrite[];
  readonly eventTimeMicros: Long;
  /** Seconds until the store expires the written cells; 0 = never. */
  readonly ttlSeconds: number;
}

/**
 * Where feature rows live, as the read path, the write path (RowSink) and the registry sync use
 * it. Each (view, entity) is one row; a write's timestamp is its event time, so an older event
 * arriving late never overwrites a newer one. CassandraStore is the implementation.
 */
export interface OnlineStore {
  /**
   * Makes the store ready to read and write the views of `registry`. Called before serving and
   * again when a new registry is picked up; what was prepared before keeps working meanwhile.
   */
  prepare(registry: Registry): Promise<void>;

  /**
   * A read of exactly the features at `featureIndexes` (ascending view positions), if the store
   * has one ready; undefined means "read whole rows" (see CassandraStore.projection).
   */
  projection(view: FeatureViewDef, featureIndexes: Int32Array): Projection | undefined;

  /**
   * Reads one entity row, all features or those of `projection` (one this store made); null
   * when the row does not exist.
   */
  read(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    timeoutMs: number,
    projection?: Projection,
  ): Promise<StoredRow | null>;

  /** Upserts some or all features of one entity row; `ttlSeconds` 0 stores without expiry. */
  write(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    features: readonly FeatureWrite[],
    eventTimeMicros: Long,
    ttlSeconds: number,
    timeoutMs: number,
  ): Promise<void>;

  /**
   * Writes rows of ONE partition (same view, same key) at once; each row keeps its own
   * timestamp and ttl, so the outcome is that of writing the rows one by one.
   */
  writePartitionBatch(view: FeatureViewDef, rows: readonly RowWrite[], timeoutMs: number): Promise<void>;
}
