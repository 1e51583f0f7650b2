import type cassandra from 'cassandra-driver';

import type { FeatureViewDef, Registry } from '../registry/index.js';
import {
  isClientTimeout,
  type FeatureWrite,
  type OnlineStore,
  type Projection,
  type RowWrite,
  type StoredRow,
} from '../store/index.js';
import type { StoredScalar } from '../values/index.js';
import { OUTCOME_INDEX, type StoreMetrics } from './catalogue.js';
import type { HistogramChild } from './metrics.js';

type Long = cassandra.types.Long;

/** Records into `children` ([ok, timeout, error]) how long the operation started at `started` took. */
function settle<T>(operation: Promise<T>, children: readonly HistogramChild[], started: number): Promise<T> {
  return operation.then(
    (result) => {
      children[OUTCOME_INDEX.ok]!.observe((performance.now() - started) / 1000);
      return result;
    },
    (error: unknown) => {
      const outcome = isClientTimeout(error) ? OUTCOME_INDEX.timeout : OUTCOME_INDEX.error;
      children[outcome]!.observe((performance.now() - started) / 1000);
      throw error;
    },
  );
}

/**
 * An OnlineStore that times each read and write of the store it wraps, by view and outcome
 * (cassette_cassandra_read_duration_seconds, cassette_cassandra_write_duration_seconds).
 */
export class InstrumentedStore implements OnlineStore {
  constructor(
    private readonly inner: OnlineStore,
    private readonly metrics: StoreMetrics,
  ) {}

  prepare(registry: Registry): Promise<void> {
    return this.inner.prepare(registry);
  }

  projection(view: FeatureViewDef, featureIndexes: Int32Array): Projection | undefined {
    return this.inner.projection(view, featureIndexes);
  }

  read(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    timeoutMs: number,
    projection?: Projection,
  ): Promise<StoredRow | null> {
    const started = performance.now();
    return settle(this.inner.read(view, key, timeoutMs, projection), this.metrics.view(view.name).read, started);
  }

  write(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    features: readonly FeatureWrite[],
    eventTimeMicros: Long,
    ttlSeconds: number,
    timeoutMs: number,
  ): Promise<void> {
    const started = performance.now();
    const writing = this.inner.write(view, key, features, eventTimeMicros, ttlSeconds, timeoutMs);
    return settle(writing, this.metrics.view(view.name).write, started);
  }

  writePartitionBatch(view: FeatureViewDef, rows: readonly RowWrite[], timeoutMs: number): Promise<void> {
    const started = performance.now();
    return settle(this.inner.writePartitionBatch(view, rows, timeoutMs), this.metrics.view(view.name).write, started);
  }
}
