import * as grpc from '@grpc/grpc-js';
import cassandra from 'cassandra-driver';
import pino from 'pino';

import { DEFAULT_RECEIVE_WINDOW_BYTES } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { GetOnlineFeaturesRequest } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import { loadCassetteProtos } from '../../src/server/index.js';
import { connectSession } from '../../src/store/index.js';
import { selectFeaturesCql } from '../lib/cql.js';
import { featureRefs, JOIN_KEY, requestedFeatures, type FeatureDef } from '../lib/dataset.js';
import type { CassandraSpec } from './protocol.js';
import { verifyResponse, verifyRows } from './verify.js';

/**
 * What the load generator calls. `send(i, done)` issues request number i (its keys are batch
 * i mod the pool size) and calls `done` exactly once, with null or an error code, and the raw
 * response for `check` to decode when the request was picked for verification.
 */
export interface Target {
  /**
   * Number of the next request: kept across runs on the same target, so a run continues the key
   * sequence where the previous one (e.g. its probe) stopped instead of replaying it.
   */
  cursor: number;
  send(i: number, done: (error: string | null, response?: unknown) => void): void;
  /** Decodes and checks a response to request i: null when it is right. */
  check(i: number, response: unknown): string | null;
}

/** The entity batches (ids) and features every request of a run is drawn from. */
export interface RequestPool {
  readonly batches: readonly (readonly number[])[];
  readonly features: readonly FeatureDef[];
  readonly seed: number;
}

const METHOD = '/cassette.v1.FeatureServing/GetOnlineFeatures';
const passthrough = (buffer: Buffer): Buffer => buffer;

interface UnaryMethod {
  requestSerialize(value: GetOnlineFeaturesRequest): Buffer;
  responseDeserialize(buffer: Buffer): GetOnlineFeaturesResponse__Output;
}

let getOnlineFeatures: UnaryMethod | undefined;

/** The serializers grpc-js itself would use, from the same .proto files and loader options as the server. */
function methodDefinition(): UnaryMethod {
  getOnlineFeatures ??= (loadCassetteProtos()['cassette.v1.FeatureServing'] as Record<string, unknown>)
    .GetOnlineFeatures as UnaryMethod;
  return getOnlineFeatures;
}

/**
 * HTTP/2 receive window of each channel: Cassette's client default (see src/client), unless
 * BENCH_RECEIVE_WINDOW says otherwise, e.g. 0 to measure what grpc-js's 64 KiB costs.
 */
const RECEIVE_WINDOW_BYTES = receiveWindowBytes(process.env.BENCH_RECEIVE_WINDOW);

/** BENCH_RECEIVE_WINDOW in bytes (0 keeps grpc-js's default); a typo fails rather than measure the default. */
function receiveWindowBytes(setting: string | undefined): number {
  if (setting === undefined || setting === '') return DEFAULT_RECEIVE_WINDOW_BYTES;
  const bytes = Number(setting);
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new Error(`BENCH_RECEIVE_WINDOW must be a whole number of bytes (0 for grpc-js's default), got ${setting}`);
  }
  return bytes;
}

/**
 * `channels` gRPC clients to one server, each its own HTTP/2 connection: a distinct user agent
 * and a private subchannel pool keep grpc-js from sharing one connection between them.
 */
export async function openChannels(address: string, channels: number): Promise<grpc.Client[]> {
  const clients = Array.from(
    { length: channels },
    (_, i) =>
      new grpc.Client(address, grpc.credentials.createInsecure(), {
        'grpc.primary_user_agent': `cassette-bench/channel-${i}`,
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        ...(RECEIVE_WINDOW_BYTES > 0 ? { 'grpc-node.flow_control_window': RECEIVE_WINDOW_BYTES } : {}),
      }),
  );
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve, reject) =>
          client.waitForReady(Date.now() + 10_000, (error) =>
            error ? reject(new Error(`cannot connect to ${address}: ${error.message}`)) : resolve(),
          ),
        ),
    ),
  );
  return clients;
}

/**
 * GetOnlineFeatures over gRPC. Requests are encoded once, up front; a response stays a Buffer
 * unless it is checked, so the generator spends its time sending, not (de)serializing.
 */
export function cassetteTarget(clients: readonly grpc.Client[], pool: RequestPool, deadlineMs: number): Target {
  const method = methodDefinition();
  const refs = featureRefs(pool.features);
  const encoded = pool.batches.map((ids) =>
    method.requestSerialize({
      features: { val: refs },
      entities: { [JOIN_KEY]: { val: ids.map((id) => ({ int64_val: String(id) })) } },
    }),
  );
  let next = 0;
  return {
    cursor: 0,
    send(i, done) {
      const client = clients[next++ % clients.length]!;
      client.makeUnaryRequest<Buffer, Buffer>(
        METHOD,
        passthrough,
        passthrough,
        encoded[i % encoded.length]!,
        { deadline: Date.now() + deadlineMs },
        (error, response) => {
          if (error) done(grpc.status[error.code] ?? `CODE_${error.code}`);
          else done(null, response);
        },
      );
    },
    check(i, response) {
      const decoded = method.responseDeserialize(response as Buffer);
      return verifyResponse(decoded, pool.seed, pool.batches[i % pool.batches.length]!, pool.features);
    },
  };
}

const quietLogger = pino({ level: 'silent' });

/** A long-lived session tuned as Cassette's own (token-aware, prepared statements, 2 connections per host). */
export function connectDirectSession(spec: CassandraSpec): Promise<cassandra.Client> {
  const config = loadConfig({
    env: {},
    overrides: {
      cassandra: {
        contactPoints: [...spec.contactPoints],
        localDataCenter: spec.localDataCenter,
        keyspace: spec.keyspace,
      },
    },
  });
  return connectSession(config.cassandra, quietLogger);
}

function driverErrorCode(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

/** Runs the batch's single-partition reads concurrently, as Cassette does, and reports once. */
function readBatch(
  session: cassandra.Client,
  query: string,
  params: readonly (readonly cassandra.types.Long[])[],
  options: cassandra.QueryOptions,
  done: (error: string | null, response?: unknown) => void,
): void {
  let pending = params.length;
  let failed: string | null = null;
  const rows = new Array<cassandra.types.Row | undefined>(params.length);
  for (let k = 0; k < params.length; k++) {
    session.execute(query, params[k] as cassandra.types.Long[], options).then(
      (result) => {
        rows[k] = result.first();
        if (--pending === 0) done(failed, rows);
      },
      (error: unknown) => {
        failed ??= driverErrorCode(error);
        if (--pending === 0) done(failed, rows);
      },
    );
  }
}

function keyParams(pool: RequestPool): cassandra.types.Long[][][] {
  return pool.batches.map((ids) => ids.map((id) => [cassandra.types.Long.fromNumber(id)]));
}

/** The floor: the same reads (requested features + WRITETIMEs) from the generator's own tuned session. */
export function directDriverTarget(
  session: cassandra.Client,
  keyspace: string,
  pool: RequestPool,
  deadlineMs: number,
): Target {
  const query = selectFeaturesCql(keyspace, pool.features);
  const params = keyParams(pool);
  const options: cassandra.QueryOptions = {
    prepare: true,
    consistency: cassandra.types.consistencies.localQuorum,
    isIdempotent: true,
    readTimeout: deadlineMs,
  };
  return {
    cursor: 0,
    send(i, done) {
      readBatch(session, query, params[i % params.length]!, options, done);
    },
    check(i, response) {
      return verifyRows(
        response as cassandra.types.Row[],
        pool.seed,
        pool.batches[i % pool.batches.length]!,
        pool.features,
      );
    },
  };
}

/** The classic mistake: a new session (connect, prepare, read, shut down) for every request. */
export function connectPerRequestTarget(spec: CassandraSpec, pool: RequestPool): Target {
  const query = selectFeaturesCql(spec.keyspace, pool.features);
  const params = keyParams(pool);
  const options: cassandra.QueryOptions = {
    prepare: true,
    consistency: cassandra.types.consistencies.localQuorum,
  };
  return {
    cursor: 0,
    send(i, done) {
      const session = new cassandra.Client({
        contactPoints: [...spec.contactPoints],
        localDataCenter: spec.localDataCenter,
      });
      const finish = (error: string | null, response?: unknown) => {
        session.shutdown().then(
          () => done(error, response),
          () => done(error ?? 'ShutdownError', response),
        );
      };
      session.connect().then(
        () => readBatch(session, query, params[i % params.length]!, options, finish),
        (error: unknown) => finish(driverErrorCode(error)),
      );
    },
    check(i, response) {
      return verifyRows(
        response as cassandra.types.Row[],
        pool.seed,
        pool.batches[i % pool.batches.length]!,
        pool.features,
      );
    },
  };
}

export function poolFor(batches: number[][], featureCount: number, seed: number): RequestPool {
  return { batches, features: requestedFeatures(featureCount), seed };
}
