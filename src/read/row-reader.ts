import type { CallContext } from '../concurrency/call.js';
import { timeLeft } from '../concurrency/index.js';
import type { Config } from '../config/index.js';
import type { FeatureViewDef } from '../registry/index.js';
import { driverTimeout, type OnlineStore, type Projection } from '../store/index.js';
import type { StoredScalar } from '../values/index.js';
import type { ServedRow } from './wire.js';

/**
 * Reads one entity row for a request. Readers compose as layers over the store (see
 * CachedRowReader), each doing one thing; FeatureReader drives them for a whole request.
 * Arguments are passed flat rather than as an object so a read allocates nothing of its own.
 */
export interface RowReader {
  /**
   * True when rows are kept for later requests: reads then go by `cacheKey` and read whole rows
   * (a kept row must serve any later feature list).
   */
  readonly caching: boolean;

  /**
   * The row for `cacheKey` if it can be answered without reading: a row, null (known missing), or
   * undefined. Only rows read at or after `minReadAtMs` (Date.now() ms) answer.
   */
  peek(cacheKey: string, minReadAtMs: number): ServedRow | null | undefined;

  /** When the row the last answering peek() returned was read (Date.now() ms). */
  readonly peekedReadAtMs: number;

  /** The projection to read `featureIndexes` of `view` with; undefined reads whole rows. */
  projection(view: FeatureViewDef, featureIndexes: Int32Array): Projection | undefined;

  /**
   * Reads the row of `view` at `key` (null when it does not exist), within `call`'s deadline.
   * `cacheKey` is the row's key in a caching layer ('' when none caches); a caching layer answers
   * with a row read at or after `minReadAtMs`.
   */
  read(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    cacheKey: string,
    call: CallContext,
    projection: Projection | undefined,
    minReadAtMs: number,
  ): Promise<ServedRow | null>;
}

/**
 * The innermost layer: reads the store, giving the driver what is left of the caller's
 * deadline within the configured bounds. A call out of time (or cancelled) reads nothing.
 */
export class StoreRowReader implements RowReader {
  readonly caching = false;
  readonly peekedReadAtMs = 0;

  constructor(
    private readonly store: OnlineStore,
    private readonly bounds: Pick<Config['cassandra'], 'minDriverTimeoutMs' | 'requestTimeoutMs'>,
  ) {}

  peek(): undefined {
    return undefined;
  }

  projection(view: FeatureViewDef, featureIndexes: Int32Array): Projection | undefined {
    return this.store.projection(view, featureIndexes);
  }

  async read(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    _cacheKey: string,
    call: CallContext,
    projection: Projection | undefined,
  ): Promise<ServedRow | null> {
    const remaining = timeLeft(call.deadline, call.isCancelled, 'all rows were read');
    return this.store.read(view, key, driverTimeout(remaining, this.bounds), projection);
  }
}
