import * as http from 'node:http';

import * as grpc from '@grpc/grpc-js';
import cassandra from 'cassandra-driver';
import pino from 'pino';

import { DEFAULT_RECEIVE_WINDOW_BYTES } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { GetOnlineFeaturesRequest } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { GetOnlineFeaturesRequest as FeastRequest } from '../../src/generated/feast/serving/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output as FeastResponse__Output } from '../../src/generated/feast/serving/GetOnlineFeaturesResponse.js';
import { parseFeastJson } from '../../src/feast/http/json-body.js';
import { loadFeastGrpcObject } from '../../src/feast/serving/grpc.js';
import { loadCassetteProtos } from '../../src/server/index.js';
import { connectSession } from '../../src/store/index.js';
import { selectFeaturesCql } from '../lib/cql.js';
import { featureRefs, JOIN_KEY, requestedFeatures, type FeatureDef } from '../lib/dataset.js';
import type { CassandraSpec } from './protocol.js';
import { verifyFeastResponse, verifyResponse, verifyRows, type Vector } from './verify.js';
import { benchChannelSecurity } from '../lib/security.js';

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

const passthrough = (buffer: Buffer): Buffer => buffer;

interface UnaryMethod<Request, Response> {
  readonly path: string;
  requestSerialize(value: Request): Buffer;
  responseDeserialize(buffer: Buffer): Response;
}

let cassetteMethod: UnaryMethod<GetOnlineFeaturesRequest, GetOnlineFeaturesResponse__Output> | undefined;
let feastMethod: UnaryMethod<FeastRequest, FeastResponse__Output> | undefined;

/** The serializers grpc-js itself would use, from the same .proto files and loader options as the server. */
function cassetteDefinition(): UnaryMethod<GetOnlineFeaturesRequest, GetOnlineFeaturesResponse__Output> {
  cassetteMethod ??= (loadCassetteProtos()['cassette.v1.FeatureServing'] as Record<string, unknown>)
    .GetOnlineFeatures as UnaryMethod<GetOnlineFeaturesRequest, GetOnlineFeaturesResponse__Output>;
  return cassetteMethod;
}

/** Feast's ServingService.GetOnlineFeatures, from the protos the server serves it with. */
function feastDefinition(): UnaryMethod<FeastRequest, FeastResponse__Output> {
  feastMethod ??= loadFeastGrpcObject().feast.serving.ServingService.service.GetOnlineFeatures as UnaryMethod<
    FeastRequest,
    FeastResponse__Output
  >;
  return feastMethod;
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
  // BENCH_SECURITY (see bench/lib/security.ts): TLS and a bearer token, as the servers want them.
  const security = benchChannelSecurity(address);
  const clients = Array.from(
    { length: channels },
    (_, i) =>
      new grpc.Client(address, security.credentials, {
        ...security.options,
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
 * One unary gRPC method, round-robin over `clients`. Requests are encoded once, up front; a
 * response stays a Buffer unless it is checked, so the generator spends its time sending, not
 * (de)serializing.
 */
function unaryTarget(
  clients: readonly grpc.Client[],
  path: string,
  encoded: readonly Buffer[],
  deadlineMs: number,
  check: Target['check'],
): Target {
  let next = 0;
  return {
    cursor: 0,
    send(i, done) {
      const client = clients[next++ % clients.length]!;
      client.makeUnaryRequest<Buffer, Buffer>(
        path,
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
    check,
  };
}

/** The entity column of every request: the batch's ids as int64 Values (the same in both protos). */
function entityColumn(ids: readonly number[]): { [JOIN_KEY]: { val: { int64_val: string }[] } } {
  return { [JOIN_KEY]: { val: ids.map((id) => ({ int64_val: String(id) })) } };
}

/** Cassette's own GetOnlineFeatures. */
export function cassetteTarget(clients: readonly grpc.Client[], pool: RequestPool, deadlineMs: number): Target {
  const method = cassetteDefinition();
  const refs = featureRefs(pool.features);
  const encoded = pool.batches.map((ids) =>
    method.requestSerialize({ features: { val: refs }, entities: entityColumn(ids) }),
  );
  return unaryTarget(clients, method.path, encoded, deadlineMs, (i, response) =>
    verifyResponse(
      method.responseDeserialize(response as Buffer),
      pool.seed,
      pool.batches[i % pool.batches.length]!,
      pool.features,
    ),
  );
}

/** Feast's ServingService.GetOnlineFeatures on the same gRPC port, asked for the same features. */
export function feastGrpcTarget(clients: readonly grpc.Client[], pool: RequestPool, deadlineMs: number): Target {
  const method = feastDefinition();
  const refs = featureRefs(pool.features);
  const encoded = pool.batches.map((ids) =>
    method.requestSerialize({ features: { val: refs }, entities: entityColumn(ids) }),
  );
  return unaryTarget(clients, method.path, encoded, deadlineMs, (i, response) => {
    const decoded = method.responseDeserialize(response as Buffer);
    return verifyFeastResponse(
      decoded.metadata?.feature_names?.val ?? [],
      decoded.results,
      'proto',
      pool.seed,
      pool.batches[i % pool.batches.length]!,
      pool.features,
    );
  });
}

/** A keep-alive agent of at most `connections` sockets to one HTTP listener. */
export function httpAgent(connections: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
}

/**
 * Feast's POST /get-online-features with a JSON body (encoded once, up front) over a keep-alive
 * agent. A non-2xx answer is an error named by its status (HTTP_400, ...); the body is kept as a
 * Buffer unless checked.
 */
export function feastHttpTarget(agent: http.Agent, address: string, pool: RequestPool, deadlineMs: number): Target {
  const [host, port] = splitAddress(address);
  const refs = featureRefs(pool.features);
  const bodies = pool.batches.map((ids) =>
    Buffer.from(JSON.stringify({ entities: { [JOIN_KEY]: ids }, features: refs })),
  );
  return {
    cursor: 0,
    send(i, done) {
      const body = bodies[i % bodies.length]!;
      let finished = false;
      const finish = (error: string | null, response?: Buffer) => {
        if (finished) return;
        finished = true;
        done(error, response);
      };
      const request = http.request(
        {
          agent,
          host,
          port,
          method: 'POST',
          path: '/get-online-features',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
          timeout: deadlineMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status < 200 || status > 299) finish(`HTTP_${status}`);
            else finish(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
          });
          response.on('error', (error) => finish(error.name));
        },
      );
      request.on('timeout', () => {
        finish('DEADLINE_EXCEEDED');
        request.destroy();
      });
      request.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.name));
      request.end(body);
    },
    check(i, response) {
      const decoded = parseFeastJson((response as Buffer).toString('utf8')) as {
        metadata?: { feature_names?: string[] };
        results?: Vector[];
      };
      return verifyFeastResponse(
        decoded.metadata?.feature_names ?? [],
        decoded.results ?? [],
        'json',
        pool.seed,
        pool.batches[i % pool.batches.length]!,
        pool.features,
      );
    },
  };
}

/** "host:port" (or "[v6]:port") as the two parts http.request takes. */
function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(colon + 1))];
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
