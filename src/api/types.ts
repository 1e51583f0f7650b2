/**
 * The message and service types of the Cassette API, generated from proto/ into src/generated.
 * Server, client and command line import them from here rather than from generated paths.
 */
export type { ProtoGrpcType as IngestionProto } from '../generated/ingestion.js';
export type { ProtoGrpcType as RegistryProto } from '../generated/registry.js';
export type { ProtoGrpcType as ServingProto } from '../generated/serving.js';
export type { Timestamp, Timestamp__Output } from '../generated/google/protobuf/Timestamp.js';
export type { EntitySpec, EntitySpec__Output } from '../generated/cassette/v1/EntitySpec.js';
export type { FeatureIngestionClient, FeatureIngestionHandlers } from '../generated/cassette/v1/FeatureIngestion.js';
export type { FeatureRow, FeatureRow__Output } from '../generated/cassette/v1/FeatureRow.js';
export type { FeatureServiceSpec, FeatureServiceSpec__Output } from '../generated/cassette/v1/FeatureServiceSpec.js';
export type { FeatureServingClient, FeatureServingHandlers } from '../generated/cassette/v1/FeatureServing.js';
export type { FeatureSpec, FeatureSpec__Output } from '../generated/cassette/v1/FeatureSpec.js';
export type { FeatureViewSpec, FeatureViewSpec__Output } from '../generated/cassette/v1/FeatureViewSpec.js';
export type {
  GetOnlineFeaturesRequest,
  GetOnlineFeaturesRequest__Output,
} from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
export type {
  GetOnlineFeaturesResponse,
  GetOnlineFeaturesResponse__Output,
} from '../generated/cassette/v1/GetOnlineFeaturesResponse.js';
export type {
  ListFeatureServicesResponse,
  ListFeatureServicesResponse__Output,
} from '../generated/cassette/v1/ListFeatureServicesResponse.js';
export type {
  ListFeatureViewsResponse,
  ListFeatureViewsResponse__Output,
} from '../generated/cassette/v1/ListFeatureViewsResponse.js';
export type { RegistryClient, RegistryHandlers } from '../generated/cassette/v1/Registry.js';
export type { RepeatedValue, RepeatedValue__Output } from '../generated/cassette/v1/RepeatedValue.js';
export type { Value, Value__Output } from '../generated/cassette/v1/Value.js';
export type {
  WriteFeaturesRequest,
  WriteFeaturesRequest__Output,
} from '../generated/cassette/v1/WriteFeaturesRequest.js';
export type {
  WriteFeaturesResponse,
  WriteFeaturesResponse__Output,
} from '../generated/cassette/v1/WriteFeaturesResponse.js';
