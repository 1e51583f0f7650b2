import * as grpc from '@grpc/grpc-js';

import type { FeatureIngestionClient } from '../generated/cassette/v1/FeatureIngestion.js';
import type { FeatureServingClient } from '../generated/cassette/v1/FeatureServing.js';
import type { RegistryClient } from '../generated/cassette/v1/Registry.js';
import type { ProtoGrpcType as IngestionProto } from '../generated/ingestion.js';
import type { ProtoGrpcType as RegistryProto } from '../generated/registry.js';
import type { ProtoGrpcType as ServingProto } from '../generated/serving.js';
import { loadCassetteProtos } from '../serving/proto.js';

export type { FeatureIngestionClient, FeatureServingClient, RegistryClient };

/** Typed gRPC clients for one Cassette server, sharing one channel. */
export interface CassetteClients {
  readonly serving: FeatureServingClient;
  readonly ingestion: FeatureIngestionClient;
  readonly registry: RegistryClient;
  close(): void;
}

export function connectClients(address: string, options: grpc.ChannelOptions = {}): CassetteClients {
  const loaded = grpc.loadPackageDefinition(loadCassetteProtos()) as unknown as ServingProto &
    IngestionProto &
    RegistryProto;
  const credentials = grpc.credentials.createInsecure();
  const serving = new loaded.cassette.v1.FeatureServing(address, credentials, options);
  // Re-use the first client's channel so all three multiplex over one HTTP/2 connection.
  const channelOverride = { channelOverride: serving.getChannel() };
  const ingestion = new loaded.cassette.v1.FeatureIngestion(address, credentials, channelOverride);
  const registry = new loaded.cassette.v1.Registry(address, credentials, channelOverride);
  return {
    serving,
    ingestion,
    registry,
    close: () => serving.close(),
  };
}

/** Turns a callback-style unary call into a promise. */
export function call<Res>(
  invoke: (callback: (error: grpc.ServiceError | null, response?: Res) => void) => unknown,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    invoke((error, response) => {
      if (error) reject(error);
      else resolve(response as Res);
    });
  });
}

export function deadlineIn(ms: number): grpc.CallOptions {
  return { deadline: new Date(Date.now() + ms) };
}
