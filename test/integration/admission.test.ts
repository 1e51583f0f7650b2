import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { deadlineIn, errorCodeOf, errorMetadataOf } from '../../src/client/index.js';
import { healthStatus } from '../helpers/health.js';
import { grpcError, startTestServer, type TestServer } from '../helpers/server.js';

const REGISTRY = `
project: admission
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: profile
    entities: [user]
    features: [{ name: age, type: int32 }]
`;

const BATCH = 10;
const MAX_IN_FLIGHT_READS = 2 * BATCH;
const MAX_RECEIVE_BYTES = 64 * 1024;

function lookup(first: number, size = BATCH) {
  return {
    features: { val: ['profile:age'] },
    entities: { user_id: { val: Array.from({ length: size }, (_, i) => ({ int64_val: String(first + i) })) } },
  };
}

/**
 * Settles `calls` and checks that each either succeeded or was refused RESOURCE_EXHAUSTED, and
 * that there were some of both; returns one of the refusals.
 */
async function expectSomeRefused(calls: Promise<unknown>[]): Promise<grpc.ServiceError> {
  const settled = await Promise.allSettled(calls);
  const refused = settled.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as grpc.ServiceError] : [],
  );
  expect(refused.map((error) => grpc.status[error.code])).toEqual(refused.map(() => 'RESOURCE_EXHAUSTED'));
  expect(refused.length).toBeGreaterThan(0);
  expect(refused.length).toBeLessThan(calls.length);
  return refused[0]!;
}

/** Calls a method of the server with raw bytes as the request message. */
function rawUnary(address: string, path: string, bytes: Buffer): Promise<Buffer> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (message: Buffer) => message,
      (message: Buffer) => message,
      bytes,
      new grpc.Metadata(),
      deadlineIn(10_000),
      (error, response) => (error ? reject(error) : resolve(response!)),
    );
  }).finally(() => client.close());
}

/** Admission control and the request limits of a real server over the test Cassandra. */
describe('under overload and bad input', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer('admission', REGISTRY, {
      // Every read goes to Cassandra, so every request is admitted at the cost of its rows.
      cache: { enabled: false },
      serving: {
        maxInFlightReads: MAX_IN_FLIGHT_READS,
        maxInFlightWriteRows: MAX_IN_FLIGHT_READS,
        maxQueueWaitMs: 20,
        maxReceiveMessageBytes: MAX_RECEIVE_BYTES,
        maxConcurrentStreams: 1000,
      },
    });
    await t.write({
      feature_view: 'profile',
      rows: [{ entity_keys: { user_id: { int64_val: '1' } }, features: { age: { int32_val: 41 } } }],
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('refuses reads beyond the bound RESOURCE_EXHAUSTED, naming the limit, and serves the admitted ones', async () => {
    const error = await expectSomeRefused(Array.from({ length: 300 }, (_, i) => t.get(lookup(i * BATCH), 30_000)));
    // What was refused says why, and which setting bounds it.
    expect(errorCodeOf(error)).toBe('CST_ERR_OVERLOADED');
    expect(errorMetadataOf(error)).toMatchObject({ limit: 'serving.maxInFlightReads' });
    expect(error.details).toContain('serving.maxInFlightReads');
    // The gate is empty again and the server healthy.
    expect(t.server.core.admission.reads.inFlight).toBe(0);
    expect(await healthStatus(t.server.address)).toBe('SERVING');
    const response = await t.get(lookup(1, 1));
    expect(response.results[0]!.values[0]!.int32_val).toBe(41);
  });

  it('treats writes the same, counted in rows', async () => {
    const calls = Array.from({ length: 100 }, (_, i) =>
      t.write(
        {
          feature_view: 'profile',
          rows: Array.from({ length: BATCH }, (_, r) => ({
            entity_keys: { user_id: { int64_val: String(10_000 + i * BATCH + r) } },
            features: { age: { int32_val: r } },
          })),
        },
        30_000,
      ),
    );
    const error = await expectSomeRefused(calls);
    expect(errorMetadataOf(error)).toMatchObject({ limit: 'serving.maxInFlightWriteRows' });
    expect(t.server.core.admission.writes.inFlight).toBe(0);
  });

  it('drops a request whose deadline leaves too little time before reading', async () => {
    // A deadline 1 ms away: gone, or under the floor, by the time the server looks at it.
    const error = await grpcError(t.get(lookup(1), 1));
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('answers undecodable request bytes INVALID_ARGUMENT, not INTERNAL', async () => {
    // Field 15 with wire type 7, which does not exist.
    const garbage = Buffer.from([0x7f, 0x00]);
    for (const path of [
      '/cassette.v1.FeatureServing/GetOnlineFeatures',
      '/cassette.v1.FeatureIngestion/WriteFeatures',
      '/cassette.v1.Registry/ListFeatureViews',
    ]) {
      const error = await grpcError(rawUnary(t.server.address, path, garbage));
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(errorCodeOf(error)).toBe('CST_ERR_UNDECODABLE');
    }
  });

  it('answers an undecodable message in a write stream INVALID_ARGUMENT', async () => {
    const client = new grpc.Client(t.server.address, grpc.credentials.createInsecure());
    try {
      const error = await grpcError(
        new Promise<Buffer>((resolve, reject) => {
          const stream = client.makeClientStreamRequest(
            '/cassette.v1.FeatureIngestion/StreamWriteFeatures',
            (message: Buffer) => message,
            (message: Buffer) => message,
            new grpc.Metadata(),
            deadlineIn(10_000),
            (error, response) => (error ? reject(error) : resolve(response!)),
          );
          stream.write(Buffer.from([0x7f, 0x00]));
          stream.end();
        }),
      );
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toContain('messages[0]');
    } finally {
      client.close();
    }
  });

  it('refuses a message over serving.maxReceiveMessageBytes RESOURCE_EXHAUSTED, naming the limit', async () => {
    // Each int64 entity value takes a few bytes on the wire.
    const error = await grpcError(t.get(lookup(0, MAX_RECEIVE_BYTES)));
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(error.details).toContain(String(MAX_RECEIVE_BYTES));
    // The connection is still good.
    expect(await healthStatus(t.server.address)).toBe('SERVING');
  });
});
