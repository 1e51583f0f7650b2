import * as protoLoader from '@grpc/proto-loader';

import { LOADER_OPTIONS } from '../../api/proto.js';
import type { Registry, Registry__Output } from '../../generated/feast/core/Registry.js';
import type { Value, Value__Output } from '../../generated/feast/types/Value.js';

/** Feast's registry and value protos (proto/feast), decoded as Cassette's own: int64 as text, enums by name. */
const FEAST_PROTO_FILES = ['feast/core/Registry.proto', 'feast/types/EntityKey.proto'];

interface FeastCodecs {
  readonly registry: protoLoader.MessageTypeDefinition<Registry, Registry__Output>;
  readonly value: protoLoader.MessageTypeDefinition<Value, Value__Output>;
}

let codecs: FeastCodecs | undefined;

/** Loaded on first use: most commands never read a Feast proto. */
function feastCodecs(): FeastCodecs {
  if (!codecs) {
    const definition = protoLoader.loadSync(FEAST_PROTO_FILES, LOADER_OPTIONS);
    codecs = {
      registry: definition['feast.core.Registry'] as FeastCodecs['registry'],
      value: definition['feast.types.Value'] as FeastCodecs['value'],
    };
  }
  return codecs;
}

/** A serialized feast.core.Registry (the content of registry.db). Throws on malformed bytes. */
export function decodeFeastRegistry(bytes: Buffer): Registry__Output {
  return feastCodecs().registry.deserialize(bytes);
}

/** A serialized feast.types.Value (a cell of Feast's online tables). Throws on malformed bytes. */
export function decodeFeastValue(bytes: Buffer): Value__Output {
  return feastCodecs().value.deserialize(bytes);
}

/** Serializes a feast.core.Registry (tests build registries with it). */
export function encodeFeastRegistry(registry: Registry): Buffer {
  return feastCodecs().registry.serialize(registry);
}

/** Serializes a feast.types.Value (tests build Feast's bytes with it). */
export function encodeFeastValue(value: Value): Buffer {
  return feastCodecs().value.serialize(value);
}
