import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import { errorCodeOf } from '../../../src/client/index.js';
import { AdmissionGate } from '../../../src/concurrency/admission.js';
import { loadConfig } from '../../../src/config/index.js';
import type { ServingCore } from '../../../src/server/compose.js';
import { GrpcTransport } from '../../../src/server/grpc-transport.js';

const METHOD = '/cassette.v1.FeatureServing/GetOnlineFeatures';
const passthrough = (buffer: Buffer): Buffer => buffer;
/** Not a GetOnlineFeaturesRequest: field 1 with wire type 7, which does not exist. */
const UNDECODABLE = Buffer.from([0x0f, 0xff, 0xff]);
const EMPTY_REQUEST = Buffer.alloc(0);

/**
 * A transport over a stand-in reader that takes 10 units of the read gate per call and holds them
 * until released: the gate's state is then exactly what the test makes it.
 */
function transportWithGate(cacheEnabled: boolean) {
  const reads = new AdmissionGate(
    { maxInFlight: 10, maxQueueWaitMs: 0, minTimeLeftMs: 0 },
    'serving.maxInFlightReads',
    'entity reads',
  );
  const writes = new AdmissionGate({ maxInFlight: 10, maxQueueWaitMs: 0, minTimeLeftMs: 0 }, 'w', 'rows');
  const held: Array<() => void> = [];
  const reader = {
    getOnlineFeatures: async (): Promise<Buffer> => {
      const admitted = reads.enter(10, Number.POSITIVE_INFINITY, Date.now());
      if (admitted) await admitted;
      await new Promise<void>((resolve) => held.push(resolve));
      reads.leave(10);
      return Buffer.alloc(0);
    },
  };
  const config = loadConfig({ env: {}, overrides: { listen: '127.0.0.1:0', cache: { enabled: cacheEnabled } } });
  const core = { reader, writer: {}, listing: {}, feast: {}, admission: { reads, writes } } as unknown as Pick<
    ServingCore,
    'reader' | 'writer' | 'listing' | 'feast' | 'admission'
  >;
  return { transport: new GrpcTransport(core, config, pino({ level: 'silent' })), reads, held };
}

function send(client: grpc.Client, bytes: Buffer): Promise<string | undefined> {
  return new Promise((resolve) =>
    client.makeUnaryRequest<Buffer, Buffer>(METHOD, passthrough, passthrough, bytes, (error) =>
      resolve(error ? (errorCodeOf(error) ?? grpc.status[error.code]) : undefined),
    ),
  );
}

describe('a saturated read gate', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  async function start(cacheEnabled: boolean) {
    const setup = transportWithGate(cacheEnabled);
    const address = await setup.transport.listen();
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    stop = async () => {
      for (const release of setup.held) release();
      client.close();
      await setup.transport.stop(1000);
    };
    // One call holds the whole gate.
    const first = send(client, EMPTY_REQUEST);
    await expect.poll(() => setup.reads.inFlight).toBe(10);
    return { ...setup, client, first };
  }

  it('with the cache off, refuses lookups RESOURCE_EXHAUSTED before decoding them', async () => {
    const { client, reads, held, first, transport } = await start(false);
    // Undecodable bytes are refused for load, not as INVALID_ARGUMENT: they were never decoded.
    expect(await send(client, UNDECODABLE)).toBe('CST_ERR_OVERLOADED');
    expect(reads.counters.shed).toBe(1);
    // Later refusals are answered with the status prepared for the first, ErrorInfo and all.
    expect(await send(client, EMPTY_REQUEST)).toBe('CST_ERR_OVERLOADED');
    expect(reads.counters).toMatchObject({ shed: 2, shedUndecoded: 2 });
    expect(transport.counters.errors.RESOURCE_EXHAUSTED).toBe(2);
    held[0]!();
    expect(await first).toBeUndefined();
    // Room again: the same bytes are decoded, and refused for what they are.
    expect(await send(client, UNDECODABLE)).toBe('CST_ERR_UNDECODABLE');
  });

  it('with the cache on, decodes first (the cache may answer a request whole)', async () => {
    const { client, held, first } = await start(true);
    expect(await send(client, UNDECODABLE)).toBe('CST_ERR_UNDECODABLE');
    held[0]!();
    expect(await first).toBeUndefined();
  });
});
