import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

import { PROTO_DIR, PROTO_FILES } from '../api/proto.js';
import { FEAST_PROTO_FILES } from '../feast/serving/grpc.js';

/**
 * Server reflection that tools (grpcurl, ghz, Postman) can resolve without proto files.
 *
 * @grpc/reflection built from proto-loader's package definition serves one file per package
 * ("cassette_v1.proto") with no imports declared and without the well-known types, so a client
 * cannot link google.protobuf.Timestamp and every call by reflection fails. Here each .proto
 * file becomes its own FileDescriptorProto under its import path, with the files it refers to
 * as its dependencies, and the well-known types, health and reflection protos are served too.
 */

const require = createRequire(import.meta.url);

/** A directory imports are resolved against, and the files to load from it. */
interface ProtoSource {
  readonly includeDir: string;
  readonly files: readonly string[];
}

/** The proto directory of an installed package, found beside its entry point. */
function packageProtoDir(entry: string, relative: string): string {
  let dir = dirname(require.resolve(entry));
  while (!existsSync(join(dir, relative)) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, relative);
}

/** The services served besides Cassette's: health and reflection (both versions grpc-js serves). */
function builtInSources(): ProtoSource[] {
  return [
    { includeDir: packageProtoDir('grpc-health-check', 'proto'), files: ['health/v1/health.proto'] },
    {
      includeDir: packageProtoDir('@grpc/reflection', 'proto'),
      files: ['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'],
    },
  ];
}

/** Top-level definitions with the file (import path) that declares them. */
type Declared = protobuf.Type | protobuf.Enum | protobuf.Service;

/** Full names (without the leading dot) of the types in protobufjs's bundled well-known files, by file. */
function wellKnownFiles(): Map<string, string> {
  const fileOf = new Map<string, string>();
  const common = protobuf.common as unknown as Record<string, unknown>;
  for (const [file, json] of Object.entries(common)) {
    if (!file.endsWith('.proto')) continue;
    const walk = (nested: unknown, prefix: string) => {
      if (typeof nested !== 'object' || nested === null) return;
      for (const [name, node] of Object.entries(nested as Record<string, { nested?: unknown; fields?: unknown }>)) {
        const full = prefix ? `${prefix}.${name}` : name;
        if (node.fields !== undefined || (node as { values?: unknown }).values !== undefined) fileOf.set(full, file);
        else walk(node.nested, full);
      }
    };
    walk((json as { nested?: unknown }).nested, '');
  }
  return fileOf;
}

/** Loads every source into one root, remembering each definition's import path. */
function loadRoot(sources: readonly ProtoSource[]): { root: protobuf.Root; importPath: (file: string) => string } {
  const root = new protobuf.Root();
  const includeDirs = sources.map((source) => source.includeDir);
  root.resolvePath = (origin, target) => {
    if (target.startsWith('/')) return target;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  for (const source of sources) {
    root.loadSync(
      source.files.map((file) => join(source.includeDir, file)),
      { keepCase: true },
    );
  }
  root.resolveAll();
  const importPath = (file: string) => {
    for (const dir of includeDirs) if (file.startsWith(`${dir}/`)) return file.slice(dir.length + 1);
    return file;
  };
  return { root, importPath };
}

/** The file (import path) each definition was declared in. */
function declaringFile(
  definition: protobuf.ReflectionObject,
  importPath: (file: string) => string,
  wellKnown: Map<string, string>,
): string {
  let top = definition;
  while (top.parent instanceof protobuf.Type) top = top.parent;
  if (top.filename) return importPath(top.filename);
  const known = wellKnown.get(top.fullName.slice(1));
  if (!known) throw new Error(`cannot tell which file declares ${top.fullName}`);
  return known;
}

/** FieldDescriptorProto.Type of each scalar; messages and enums are looked up. */
const SCALAR_TYPES: Readonly<Record<string, number>> = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  bytes: 12,
  uint32: 13,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
};
const TYPE_MESSAGE = 11;
const TYPE_ENUM = 14;
const LABEL_OPTIONAL = 1;
const LABEL_REPEATED = 3;

/** protoc's name for a map field's entry message: the field name in CamelCase, then "Entry". */
function mapEntryName(field: string): string {
  return field.replace(/(^|_)([a-z])/g, (_match, _sep: string, letter: string) => letter.toUpperCase()) + 'Entry';
}

/** Field type and type name of a field of type `type` (resolved to `resolved` when not a scalar). */
function fieldType(
  type: string,
  resolved: protobuf.Type | protobuf.Enum | null,
): Pick<descriptor.IFieldDescriptorProto, 'type' | 'typeName'> {
  if (resolved)
    return { type: resolved instanceof protobuf.Enum ? TYPE_ENUM : TYPE_MESSAGE, typeName: resolved.fullName };
  const scalar = SCALAR_TYPES[type];
  if (scalar === undefined) throw new Error(`unknown field type ${type}`);
  return { type: scalar };
}

/**
 * A message's DescriptorProto as protoc writes it (protobufjs's own toDescriptor names map
 * entries differently from protoc, which strict clients refuse). Adds the types it refers to.
 */
function messageDescriptor(type: protobuf.Type, referenced: protobuf.ReflectionObject[]): descriptor.IDescriptorProto {
  const message: descriptor.IDescriptorProto &
    Required<Pick<descriptor.IDescriptorProto, 'field' | 'nestedType' | 'enumType' | 'oneofDecl'>> = {
    name: type.name,
    field: [],
    nestedType: [],
    enumType: [],
    oneofDecl: type.oneofsArray.map((oneof) => ({ name: oneof.name })),
  };
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.resolvedType) referenced.push(field.resolvedType);
    const proto: descriptor.IFieldDescriptorProto = { name: field.name, number: field.id };
    if (field instanceof protobuf.MapField) {
      const entry = mapEntryName(field.name);
      message.nestedType.push({
        name: entry,
        field: [
          { name: 'key', number: 1, label: LABEL_OPTIONAL, ...fieldType(field.keyType, null) },
          { name: 'value', number: 2, label: LABEL_OPTIONAL, ...fieldType(field.type, field.resolvedType) },
        ],
        options: { mapEntry: true },
      });
      Object.assign(proto, { label: LABEL_REPEATED, type: TYPE_MESSAGE, typeName: `${type.fullName}.${entry}` });
    } else {
      Object.assign(proto, {
        label: field.repeated ? LABEL_REPEATED : LABEL_OPTIONAL,
        ...fieldType(field.type, field.resolvedType),
      });
    }
    if (field.partOf) proto.oneofIndex = type.oneofsArray.indexOf(field.partOf);
    message.field.push(proto);
  }
  for (const nested of type.nestedArray) {
    if (nested instanceof protobuf.Type) message.nestedType.push(messageDescriptor(nested, referenced));
    else if (nested instanceof protobuf.Enum) message.enumType.push(enumDescriptor(nested));
  }
  return message;
}

function enumDescriptor(type: protobuf.Enum): descriptor.IEnumDescriptorProto {
  return { name: type.name, value: Object.entries(type.values).map(([name, number]) => ({ name, number })) };
}

function serviceDescriptor(
  service: protobuf.Service,
  referenced: protobuf.ReflectionObject[],
): descriptor.IServiceDescriptorProto {
  return {
    name: service.name,
    method: service.methodsArray.map((method) => {
      method.resolve();
      referenced.push(method.resolvedRequestType!, method.resolvedResponseType!);
      return {
        name: method.name,
        inputType: method.resolvedRequestType!.fullName,
        outputType: method.resolvedResponseType!.fullName,
        clientStreaming: method.requestStream === true,
        serverStreaming: method.responseStream === true,
      };
    }),
  };
}

/**
 * The FileDescriptorProtos of `sources` (and of the well-known types they import), encoded,
 * one per .proto file named by its import path, each listing the files it depends on.
 */
export function fileDescriptors(sources: readonly ProtoSource[]): Buffer[] {
  const { root, importPath } = loadRoot(sources);
  const wellKnown = wellKnownFiles();
  const files = new Map<string, { package: string; declared: Declared[] }>();
  const visit = (namespace: protobuf.NamespaceBase) => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
        const file = declaringFile(nested, importPath, wellKnown);
        const entry = files.get(file) ?? { package: namespace.fullName.slice(1), declared: [] };
        entry.declared.push(nested);
        files.set(file, entry);
      } else if (nested instanceof protobuf.Namespace) {
        visit(nested);
      }
    }
  };
  visit(root);
  const encoded: Buffer[] = [];
  for (const [name, { package: pkg, declared }] of files) {
    const referenced: protobuf.ReflectionObject[] = [];
    const messageType: descriptor.IDescriptorProto[] = [];
    const enumType: descriptor.IEnumDescriptorProto[] = [];
    const service: descriptor.IServiceDescriptorProto[] = [];
    for (const definition of declared) {
      if (definition instanceof protobuf.Type) messageType.push(messageDescriptor(definition, referenced));
      else if (definition instanceof protobuf.Enum) enumType.push(enumDescriptor(definition));
      else service.push(serviceDescriptor(definition, referenced));
    }
    const dependencies = new Set(referenced.map((type) => declaringFile(type, importPath, wellKnown)));
    dependencies.delete(name);
    const file: descriptor.IFileDescriptorProto = {
      name,
      package: pkg,
      dependency: [...dependencies].sort(),
      messageType,
      enumType,
      service,
      syntax: 'proto3',
    };
    encoded.push(Buffer.from(descriptor.FileDescriptorProto.encode(file).finish()));
  }
  return encoded;
}

/**
 * The google.rpc error details every failed call carries (ErrorInfo): described too, so a tool
 * shows a failure's CST_ERR_* code and field instead of undecoded bytes.
 */
const ERROR_DETAIL_FILES = ['google/rpc/status.proto', 'google/rpc/error_details.proto'];

/** Cassette's protos, Feast's serving API, error details, health's and reflection's: what reflection describes. */
export function servedProtoSources(): ProtoSource[] {
  return [
    { includeDir: PROTO_DIR, files: [...PROTO_FILES, ...FEAST_PROTO_FILES, ...ERROR_DETAIL_FILES] },
    ...builtInSources(),
  ];
}

/**
 * Adds server reflection (v1 and v1alpha) describing every service the server offers.
 * @grpc/reflection reads nothing of a package definition but each entry's fileDescriptorProtos,
 * so the complete set is handed over as one entry.
 */
export function addReflection(server: Pick<grpc.Server, 'addService'>): void {
  const definition = {
    'cassette.reflection': {
      format: 'Protocol Buffer 3 DescriptorProto',
      fileDescriptorProtos: fileDescriptors(servedProtoSources()),
    },
  } as unknown as PackageDefinition;
  new ReflectionService(definition).addToServer(server);
}
