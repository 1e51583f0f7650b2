import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { IngestionProto, RegistryProto, ServingProto } from './types.js';

/** proto/ at the repository root: two levels up from both src/api and dist/api. */
export const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));

export const PROTO_FILES = ['cassette/v1/serving.proto', 'cassette/v1/ingestion.proto', 'cassette/v1/registry.proto'];

/**
 * Loader options shared by the server and clients: field names as in the .proto, int64 as
 * decimal strings (exact, unlike JS numbers), enums by name, and the set oneof case in `val`/`kind`.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export function loadCassetteProtos(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
}

/** The three Cassette services, as grpc-js loads them: clients to construct, definitions to serve. */
export type CassetteGrpcObject = ServingProto & IngestionProto & RegistryProto;

export function loadCassetteGrpcObject(
  definition: protoLoader.PackageDefinition = loadCassetteProtos(),
): CassetteGrpcObject {
  return grpc.loadPackageDefinition(definition) as unknown as CassetteGrpcObject;
}
