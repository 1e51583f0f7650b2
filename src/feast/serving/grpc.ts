import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { LOADER_OPTIONS } from '../../api/proto.js';
import type { GetFeastServingInfoRequest__Output } from '../../generated/feast/serving/GetFeastServingInfoRequest.js';
import type { GetFeastServingInfoResponse } from '../../generated/feast/serving/GetFeastServingInfoResponse.js';
import type { GetOnlineFeaturesRequest__Output } from '../../generated/feast/serving/GetOnlineFeaturesRequest.js';
import type { ProtoGrpcType as FeastServingProto } from '../../generated/ServingService.js';

/** Feast's serving service, by the name Feast's clients call it. */
export const FEAST_SERVICE_NAME = 'feast.serving.ServingService';

export const FEAST_PROTO_FILES = ['feast/serving/ServingService.proto'];

/** Feast's protos (proto/feast), loaded with the options Cassette's own use. */
export function loadFeastProtos(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(FEAST_PROTO_FILES, LOADER_OPTIONS);
}

/** Feast's clients and service definitions, as grpc-js loads them (tests call Cassette with them). */
export function loadFeastGrpcObject(definition = loadFeastProtos()): FeastServingProto {
  return grpc.loadPackageDefinition(definition) as unknown as FeastServingProto;
}

/** ServingService with GetOnlineFeatures answering in wire bytes (see src/read/wire.ts). */
export type FeastServingHandlers = {
  GetFeastServingInfo: grpc.handleUnaryCall<GetFeastServingInfoRequest__Output, GetFeastServingInfoResponse>;
  GetOnlineFeatures: grpc.handleUnaryCall<GetOnlineFeaturesRequest__Output, Buffer>;
};

/** The service to add to a gRPC server; responses of GetOnlineFeatures pass through as encoded. */
export function feastServingDefinition(definition = loadFeastProtos()): grpc.ServiceDefinition<FeastServingHandlers> {
  const service = loadFeastGrpcObject(definition).feast.serving.ServingService.service;
  return {
    GetFeastServingInfo: service.GetFeastServingInfo,
    GetOnlineFeatures: { ...service.GetOnlineFeatures, responseSerialize: (encoded: Buffer) => encoded },
  };
}
