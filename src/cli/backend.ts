import type { ServiceDefinition } from '@grpc/proto-loader';

import { call, connectClients, deadlineIn, type ClientSecurity } from '../client/index.js';
import type { GetOnlineFeaturesRequest } from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { ListFeatureViewsResponse__Output } from '../generated/cassette/v1/ListFeatureViewsResponse.js';
import type { WriteFeaturesRequest } from '../generated/cassette/v1/WriteFeaturesRequest.js';
import type { WriteFeaturesResponse__Output } from '../generated/cassette/v1/WriteFeaturesResponse.js';
import { connectSession } from '../store/index.js';
import { composeServingCore, loadCassetteProtos, type CallContext, type ServingCore } from '../server/index.js';
import { resolveCassandra, type CommandContext } from './context.js';

/** What `get` and `write` need, whether they go through a server or straight to Cassandra. */
export interface Backend {
  listFeatureViews(): Promise<ListFeatureViewsResponse__Output>;
  getOnlineFeatures(request: GetOnlineFeaturesRequest): Promise<GetOnlineFeaturesResponse__Output>;
  writeFeatures(request: WriteFeaturesRequest): Promise<WriteFeaturesResponse__Output>;
  close(): Promise<void>;
}

export function serverBackend(address: string, timeoutMs: number, security: ClientSecurity = {}): Backend {
  const clients = connectClients(address, {}, security);
  return {
    listFeatureViews: () => call((cb) => clients.registry.ListFeatureViews({}, deadlineIn(timeoutMs), cb)),
    getOnlineFeatures: (request) => call((cb) => clients.serving.GetOnlineFeatures(request, deadlineIn(timeoutMs), cb)),
    writeFeatures: (request) => call((cb) => clients.ingestion.WriteFeatures(request, deadlineIn(timeoutMs), cb)),
    close: async () => clients.close(),
  };
}

type Codec = { serialize(value: unknown): Buffer; deserialize(bytes: Buffer): unknown };

/**
 * Runs the serving core in this process against the cluster (CASSANDRA_CONTACT_POINTS or a
 * local node), composed as a server composes it. Requests make a protobuf round trip so the core
 * sees them as a server would, and answers are decoded from the bytes a server would send.
 */
export async function directBackend(ctx: CommandContext, timeoutMs: number): Promise<Backend> {
  const { config, endpoint } = await resolveCassandra(ctx);
  const client = await connectSession(config.cassandra, ctx.logger);
  let core: ServingCore;
  try {
    core = await composeServingCore(config, client, ctx.logger, { pollRegistry: false });
  } catch (error) {
    await client.shutdown();
    await endpoint.stop();
    throw error;
  }
  const definition = loadCassetteProtos();
  const method = (service: string, name: string): { request: Codec; response: Codec } => {
    const m = (definition[service] as ServiceDefinition)[name]!;
    return {
      request: { serialize: m.requestSerialize, deserialize: m.requestDeserialize },
      response: { serialize: m.responseSerialize, deserialize: m.responseDeserialize },
    };
  };
  const listViews = method('cassette.v1.Registry', 'ListFeatureViews');
  const getFeatures = method('cassette.v1.FeatureServing', 'GetOnlineFeatures');
  const writeFeatures = method('cassette.v1.FeatureIngestion', 'WriteFeatures');
  /** The request as the server decodes it. */
  const received = (codec: { request: Codec }, request: unknown): never =>
    codec.request.deserialize(codec.request.serialize(request)) as never;
  /** An answer as the client decodes it. */
  const answered = <Out>(codec: { response: Codec }, response: unknown): Out =>
    codec.response.deserialize(codec.response.serialize(response)) as Out;
  const callContext = (): CallContext => ({ deadline: Date.now() + timeoutMs, isCancelled: () => false });
  return {
    listFeatureViews: async () => answered(listViews, core.listing.listFeatureViews()),
    getOnlineFeatures: async (request) => {
      // The core answers in wire bytes already: decoded once, as a client would.
      const encoded = await core.reader.getOnlineFeatures(received(getFeatures, request), callContext());
      return getFeatures.response.deserialize(encoded) as GetOnlineFeaturesResponse__Output;
    },
    writeFeatures: async (request) =>
      answered(writeFeatures, await core.writer.writeFeatures(received(writeFeatures, request), callContext())),
    close: async () => {
      core.close();
      await client.shutdown();
      await endpoint.stop();
    },
  };
}
