/**
 * An in-memory OnlineStore for unit tests of the serving core (pure logic; the Cassandra store
 * has its integration tests). Reads can be held and made to fail, to stage races and timeouts.
 */
import type { ServiceDefinition } from '@grpc/proto-loader';
import cassandra from 'cassandra-driver';

import { loadCassetteProtos } from '../../src/api/proto.js';
import { RowCache, type PeerCaches } from '../../src/cache/index.js';
import type { CallContext } from '../../src/concurrency/call.js';
import { loadConfig, type ConfigInput } from '../../src/config/index.js';
import type { GetOnlineFeaturesRequest__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { Value__Output } from '../../src/generated/cassette/v1/Value.js';
import type { WriteFeaturesRequest__Output } from '../../src/generated/cassette/v1/WriteFeaturesRequest.js';
import { createLogger } from '../../src/observability/logger.js';
import { servedRowBytes } from '../../src/read/cached-reader.js';
import type { ServedRow } from '../../src/read/wire.js';
import type { FeatureViewDef, Registry } from '../../src/registry/index.js';
import { assembleServing } from '../../src/server/compose.js';
import type { FeatureWrite, OnlineStore, Projection, RowWrite, StoredRow } from '../../src/store/index.js';
import { entityKeyString, type StoredScalar, type StoredValue } from '../../src/values/index.js';

type Long = cassandra.types.Long;

export interface ReadCall {
  readonly view: string;
  readonly key: string;
  readonly timeoutMs: number;
  readonly featureIndexes: readonly number[] | undefined;
}

interface Row {
  values: (StoredValue | null | undefined)[];
  writeTimesMicros: Float64Array;
  /** Timestamp of each cell's last write, a null one included (it decides which write wins). */
  stamps: Float64Array;
}

/** What the driver throws when it gives up waiting (a client-side timeout). */
export function driverTimeout(): Error {
  return new cassandra.errors.OperationTimedOutError('the driver gave up waiting');
}

export class MemoryStore implements OnlineStore {
  readonly reads: ReadCall[] = [];
  readonly writes: { view: string; key: string; timeoutMs: number }[] = [];
  private readonly rows = new Map<string, Row>();
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;
  /** Outcomes of the next reads, in order: an error to fail with, or undefined to answer. */
  private readonly outcomes: (Error | undefined)[] = [];

  async prepare(_registry: Registry): Promise<void> {}

  projection(_view: FeatureViewDef, featureIndexes: Int32Array): Projection {
    return { featureIndexes };
  }

  /** Reads started from now on see the rows as they are when they start, but answer only at release(). */
  holdReads(): () => void {
    this.held = new Promise<void>((resolve) => (this.release = resolve));
    return () => {
      this.release?.();
      this.held = undefined;
    };
  }

  /** The next reads fail with these errors (undefined: that read answers). */
  failNextReads(...outcomes: (Error | undefined)[]): void {
    this.outcomes.push(...outcomes);
  }

  async read(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    timeoutMs: number,
    projection?: Projection,
  ): Promise<StoredRow | null> {
    const keyString = entityKeyString(key as StoredScalar[]);
    this.reads.push({
      view: view.name,
      key: keyString,
      timeoutMs,
      featureIndexes: projection && [...projection.featureIndexes],
    });
    const outcome = this.outcomes.shift();
    const stored = this.rows.get(`${view.name}/${keyString}`);
    // A snapshot as of the start of the read, as a replica would answer.
    const snapshot = stored && select(stored, projection?.featureIndexes ?? view.features.keys());
    if (this.held) await this.held;
    if (outcome) throw outcome;
    return snapshot ?? null;
  }

  async write(
    view: FeatureViewDef,
    key: readonly StoredScalar[],
    features: readonly FeatureWrite[],
    eventTimeMicros: Long,
    _ttlSeconds: number,
    timeoutMs: number,
  ): Promise<void> {
    const keyString = entityKeyString(key as StoredScalar[]);
    this.writes.push({ view: view.name, key: keyString, timeoutMs });
    const id = `${view.name}/${keyString}`;
    const row = this.rows.get(id) ?? {
      values: new Array<StoredValue | null | undefined>(view.features.length).fill(null),
      writeTimesMicros: new Float64Array(view.features.length).fill(Number.NaN),
      stamps: new Float64Array(view.features.length).fill(-Infinity),
    };
    const at = eventTimeMicros.toNumber();
    for (let i = 0; i < view.features.length; i++) {
      const value = features[i];
      // The newer timestamp wins, per cell; undefined leaves the cell alone.
      if (value === undefined || at < row.stamps[i]!) continue;
      row.stamps[i] = at;
      row.values[i] = value;
      row.writeTimesMicros[i] = value === null ? Number.NaN : at;
    }
    this.rows.set(id, row);
  }

  async writePartitionBatch(view: FeatureViewDef, rows: readonly RowWrite[], timeoutMs: number): Promise<void> {
    for (const row of rows) {
      await this.write(view, row.key, row.features, row.eventTimeMicros, row.ttlSeconds, timeoutMs);
    }
  }
}

function select(row: Row, indexes: Iterable<number>): StoredRow {
  const values = new Array<StoredValue | null | undefined>(row.values.length);
  const writeTimesMicros = new Float64Array(row.values.length).fill(Number.NaN);
  for (const i of indexes) {
    values[i] = row.values[i] ?? null;
    writeTimesMicros[i] = row.writeTimesMicros[i]!;
  }
  return { values, writeTimesMicros };
}

/** The serving core's pieces over a MemoryStore and a fixed registry, wired as a server wires them. */
export function memoryServing(registry: Registry, overrides: ConfigInput = {}, peers?: PeerCaches) {
  const config = loadConfig({ env: {}, overrides });
  const store = new MemoryStore();
  const current = { current: { version: 1, registry } };
  const cache = new RowCache<ServedRow>(config.cache, servedRowBytes);
  return {
    config,
    store,
    registry: current,
    ...assembleServing(store, current, cache, config, createLogger('silent'), peers),
  };
}

export type MemoryServing = ReturnType<typeof memoryServing>;

const getMethod = (loadCassetteProtos()['cassette.v1.FeatureServing'] as ServiceDefinition)['GetOnlineFeatures']!;

/** A call with `ms` left before its deadline. */
export const callWithin = (ms: number): CallContext => ({ deadline: Date.now() + ms, isCancelled: () => false });

/** GetOnlineFeatures through the core, decoded as a client decodes the bytes. */
export async function getFeatures(
  core: MemoryServing,
  request: GetOnlineFeaturesRequest__Output,
  call: CallContext = callWithin(5_000),
): Promise<GetOnlineFeaturesResponse__Output> {
  return getMethod.responseDeserialize(
    await core.reader.getOnlineFeatures(request, call),
  ) as GetOnlineFeaturesResponse__Output;
}

/** WriteFeatures of one row per `features` entry (keys by join key), event time `at` (ms). */
export function writeRequest(
  view: string,
  rows: { keys: Record<string, Value__Output>; features: Record<string, Value__Output>; at?: number }[],
): WriteFeaturesRequest__Output {
  return {
    feature_view: view,
    rows: rows.map((row) => ({
      entity_keys: row.keys,
      features: row.features,
      event_timestamp:
        row.at === undefined ? null : { seconds: String(Math.floor(row.at / 1000)), nanos: (row.at % 1000) * 1e6 },
    })),
  };
}
