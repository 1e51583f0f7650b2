import type { ServiceDefinition } from '@grpc/proto-loader';

import { call, connectClients, deadlineIn } from '../client/index.js';
import type { GetOnlineFeaturesRequest } from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { ListFeatureViewsResponse__Output } from '../generated/cassette/v1/ListFeatureViewsResponse.js';
import type { WriteFeaturesRequest } from '../generated/cassette/v1/WriteFeaturesRequest.js';
import type { WriteFeaturesResponse__Output } from '../generated/cassette/v1/WriteFeaturesResponse.js';
import { connectSession } from '../store/index.js';
import { FeatureServer, loadCassetteProtos } from '../server/index.js';
import { resolveCassandra, type CommandContext } from './context.js';

/** What `get` and `write` need, whether they go through a server or straight to Cassandra. */
export interface Backend {
  listFeatureViews(): Promise<ListFeatureViewsResponse__Output>;
  getOnlineFeatures(request: GetOnlineFeaturesRequest): Promise<GetOnlineFeaturesResponse__Output>;
  writeFeatures(request: WriteFeaturesRequest): Promise<WriteFeaturesResponse__Output>;
  close(): Promise<void>;
}

export function serverBackend(address: string, timeoutMs: number): Backend {
  const clients = connectClients(address);
  return {
    listFeatureViews: () => call((cb) => clients.registry.ListFeatureViews({}, deadlineIn(timeoutMs), cb)),
    getOnlineFeatures: (request) => call((cb) => clients.serving.GetOnlineFeatures(request, deadlineIn(timeoutMs), cb)),
    writeFeatures: (request) => call((cb) => clients.ingestion.WriteFeatures(request, deadlineIn(timeoutMs), cb)),
    close: async () => clients.close(),
  };
}

type Codec = { serialize(value: unknown): Buffer; deserialize(bytes: Buffer): unknown };

/**
 * Runs the serving pipeline in this process against the cluster (CASSANDRA_CONTACT_POINTS or a
 * local node). Messages make a protobuf round trip so the output is exactly what a server sends.
 */
export async function directBackend(ctx: CommandContext, timeoutMs: number): Promise<Backend> {
  const { config, endpoint } = await resolveCassandra(ctx);
  const client = await connectSession(config.cassandra, ctx.logger);
  let core: FeatureServer;
  try {
    core = await FeatureServer.create(config, client, ctx.logger);
    core.registry.stop();
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
  const roundTrip = async <Out>(
    codec: { request: Codec; response: Codec },
    request: unknown,
    run: (decoded: never) => Promise<unknown> | unknown,
  ): Promise<Out> => {
    const decoded = codec.request.deserialize(codec.request.serialize(request));
    const response = await run(decoded as never);
    return codec.response.deserialize(codec.response.serialize(response)) as Out;
  };
  const callContext = () => ({ deadline: Date.now() + timeoutMs, isCancelled: () => false });
  return {
    listFeatureViews: () =>
      roundTrip(method('cassette.v1.Registry', 'ListFeatureViews'), {}, () => core.listFeatureViews()),
    getOnlineFeatures: (request) =>
      roundTrip(method('cassette.v1.FeatureServing', 'GetOnlineFeatures'), request, (r) =>
        core.getOnlineFeatures(r, callContext()),
      ),
    writeFeatures: (request) =>
      roundTrip(method('cassette.v1.FeatureIngestion', 'WriteFeatures'), request, (r) =>
        core.writeFeatures(r, callContext()),
      ),
    close: async () => {
      core.close();
      await client.shutdown();
      await endpoint.stop();
    },
  };
}
