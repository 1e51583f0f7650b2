import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PROTO_DIR, PROTO_FILES } from '../../src/api/proto.js';
import { serverBackend } from '../../src/cli/backend.js';
import { loadDemoRows } from '../../src/cli/demo-data.js';
import { FEAST_PROTO_FILES } from '../../src/feast/serving/grpc.js';
import { servedProtoSources } from '../../src/server/reflection.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);

const DEMO_REGISTRY = readFileSync(new URL('../../schema/example.yaml', import.meta.url), 'utf8');
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** The address README's commands are written for (`npm start`). */
const README_ADDRESS = '127.0.0.1:6566';

const SERVICES = [
  'cassette.v1.FeatureIngestion',
  'cassette.v1.FeatureServing',
  'cassette.v1.Registry',
  'feast.serving.ServingService',
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

/** The shell commands of README's reflection block (grpcurl and ghz). */
function readmeCommands(): string[] {
  const marker = README.indexOf('<!-- reflection-commands');
  expect(marker).toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(marker))![1]!;
  return block.split('\n').filter((line) => /^(grpcurl|ghz) /.test(line));
}

/** A Go tool on PATH or where `go install` puts it; undefined when missing. */
function goTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin')];
  return dirs.map((dir) => join(dir, name)).find((path) => path.length > name.length && existsSync(path));
}

/** A minimal grpc-js client of grpc.reflection.v1: one request, one response, on a bidi stream. */
class ReflectionClient {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<object, ReflectionResponse>;
  private readonly waiting: ((response: ReflectionResponse) => void)[] = [];

  constructor(address: string) {
    const [source] = servedProtoSources().filter((s) => s.files.some((f) => f.startsWith('grpc/reflection/')));
    const definition = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [source!.includeDir],
      keepCase: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
    };
    this.client = new loaded.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
    const open = (this.client as unknown as Record<string, () => typeof this.stream>).ServerReflectionInfo!;
    this.stream = open.call(this.client);
    this.stream.on('data', (response: ReflectionResponse) => this.waiting.shift()?.(response));
  }

  ask(request: object): Promise<ReflectionResponse> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.stream.write(request);
    });
  }

  /** The status code the stream ends with after `request`, for a server that refuses it. */
  refusal(request: object): Promise<number> {
    return new Promise((resolve) => {
      this.stream.once('error', (error: grpc.ServiceError) => resolve(error.code));
      this.stream.write(request);
    });
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }
}

interface ReflectionResponse {
  message_response: string;
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** The message and service names declared in the .proto files Cassette serves (its own, Feast's). */
function declaredSymbols(): { root: protobuf.Root; messages: string[]; services: string[] } {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
  root.loadSync(
    [...PROTO_FILES, ...FEAST_PROTO_FILES].map((file) => join(PROTO_DIR, file)),
    { keepCase: true },
  );
  const messages: string[] = [];
  const services: string[] = [];
  const visit = (namespace: protobuf.NamespaceBase) => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type) messages.push(nested.fullName.slice(1));
      if (nested instanceof protobuf.Service) services.push(nested.fullName.slice(1));
      if (nested instanceof protobuf.Namespace) visit(nested);
    }
  };
  root.resolveAll();
  visit(root);
  return { root, messages, services };
}

/** Reflection used as grpcurl and ghz use it: no proto files on the client's side. */
describe('server reflection', () => {
  let t: TestServer;
  let reflection: ReflectionClient;
  /** Every file the server described, by name, and the root linked from them alone. */
  const files = new Map<string, descriptor.IFileDescriptorProto>();
  let reflected: protobuf.Root;

  beforeAll(async () => {
    t = await startTestServer('reflection', DEMO_REGISTRY);
    const backend = serverBackend(t.server.address, 30_000);
    await loadDemoRows(backend).finally(() => backend.close());
    reflection = new ReflectionClient(t.server.address);
  });

  afterAll(async () => {
    reflection?.close();
    await t?.close();
  });

  /** Asks for the files of `request` and of every file they import, as a client must. */
  async function collect(request: object): Promise<void> {
    const response = await reflection.ask(request);
    expect(response.error_response).toBeUndefined();
    for (const bytes of response.file_descriptor_response!.file_descriptor_proto) {
      const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as descriptor.IFileDescriptorProto;
      if (files.has(file.name!)) continue;
      files.set(file.name!, file);
      for (const dependency of (file.dependency ?? []) as string[]) {
        if (!files.has(dependency)) await collect({ file_by_filename: dependency });
      }
    }
  }

  it('lists every service, health and reflection included', async () => {
    const response = await reflection.ask({ list_services: '*' });
    expect(response.list_services_response!.service.map((s) => s.name).sort()).toEqual(SERVICES);
  });

  it('resolves every service and message, and what they refer to links without proto files', async () => {
    const { root: declared, messages, services } = declaredSymbols();
    for (const symbol of [...SERVICES, ...messages]) await collect({ file_containing_symbol: symbol });
    // Each file is served under its import path, with its imports; the well-known types too.
    expect([...files.keys()]).toEqual(
      expect.arrayContaining([...PROTO_FILES, 'cassette/v1/types.proto', 'google/protobuf/timestamp.proto']),
    );
    expect(files.get('cassette/v1/serving.proto')!.dependency).toEqual([
      'cassette/v1/types.proto',
      'google/protobuf/timestamp.proto',
    ]);
    // Linking fails on any reference that does not resolve.
    const fromDescriptor = (protobuf.Root as unknown as { fromDescriptor(set: object): protobuf.Root }).fromDescriptor;
    reflected = fromDescriptor({ file: [...files.values()] });
    reflected.resolveAll();
    // Every service and message as declared: the same methods, the same field names and numbers.
    const shape = (type: protobuf.Type) => type.fieldsArray.map((field) => `${field.name}=${field.id}`);
    for (const name of messages)
      expect(shape(reflected.lookupType(name)), name).toEqual(shape(declared.lookupType(name)));
    expect(services.length).toBe(4);
    for (const name of services) {
      const methods = (service: protobuf.Service) =>
        service.methodsArray.map(
          (m) => `${m.name}(${m.resolvedRequestType!.fullName}) ${m.resolvedResponseType!.fullName}`,
        );
      expect(methods(reflected.lookupService(name))).toEqual(methods(declared.lookupService(name)));
    }
    expect(reflected.lookupService('cassette.v1.FeatureServing').methods.GetOnlineFeaturesArrow!.responseType).toBe(
      '.cassette.v1.ArrowFeatures',
    );
    const vector = reflected.lookupType('cassette.v1.GetOnlineFeaturesResponse.FeatureVector');
    expect(vector.fields.event_timestamps!.resolvedType!.fullName).toBe('.google.protobuf.Timestamp');
  });

  it("describes the error details a failed call carries (google.rpc.ErrorInfo), so tools can show a failure's code", async () => {
    await collect({ file_containing_symbol: 'google.rpc.ErrorInfo' });
    const errorDetails = files.get('google/rpc/error_details.proto');
    expect(errorDetails?.messageType?.map((m) => m.name)).toContain('ErrorInfo');
  });

  it('answers a JSON call built from the reflected descriptors alone', async () => {
    expect(reflected).toBeDefined();
    const requestType = reflected.lookupType('cassette.v1.GetOnlineFeaturesRequest');
    const responseType = reflected.lookupType('cassette.v1.GetOnlineFeaturesResponse');
    // protobufjs links a map field from a descriptor as its wire form, repeated key/value entries
    // (grpcurl, below, takes the JSON map itself).
    const json = {
      feature_service: 'ranking_v1',
      entities: [
        { key: 'user_id', value: { val: [{ int64_val: '1001' }] } },
        { key: 'item_id', value: { val: [{ string_val: 'item_001' }] } },
      ],
    };
    const client = new grpc.Client(t.server.address, grpc.credentials.createInsecure());
    const answer = await new Promise<Record<string, unknown>>((resolve, reject) => {
      client.makeUnaryRequest(
        '/cassette.v1.FeatureServing/GetOnlineFeatures',
        (value: object) => Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
        (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { longs: String, enums: String }),
        json,
        (error, value) => (error ? reject(error) : resolve(value as Record<string, unknown>)),
      );
    }).finally(() => client.close());
    const results = answer.results as { statuses: string[] }[];
    expect(results).toHaveLength(8);
    expect(results.every((result) => result.statuses[0] === 'PRESENT')).toBe(true);
  });

  describe("with grpcurl and ghz (README's commands)", () => {
    const grpcurl = goTool('grpcurl');
    const ghz = goTool('ghz');
    const missing = [!grpcurl && 'grpcurl', !ghz && 'ghz'].filter(Boolean);
    if (missing.length > 0) {
      console.warn(
        `[reflection] skipping the grpcurl/ghz checks: ${missing.join(' and ')} not installed ` +
          '(go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4 github.com/bojand/ghz/cmd/ghz@v0.121.0; .ci/run does)',
      );
    }
    const tools = `${join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin')}:${process.env.PATH ?? ''}`;
    const shell = (command: string) =>
      run('bash', ['-c', command.replaceAll(README_ADDRESS, t.server.address)], {
        env: { ...process.env, PATH: tools },
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
      });

    it.skipIf(missing.length > 0)('runs every grpcurl and ghz command of the README', async () => {
      const commands = readmeCommands();
      expect(commands.filter((c) => c.startsWith('grpcurl ')).length).toBeGreaterThanOrEqual(4);
      expect(commands.filter((c) => c.startsWith('ghz ')).length).toBeGreaterThanOrEqual(1);
      const outputs = new Map<string, string>();
      for (const command of commands) {
        const { stdout } = await shell(command);
        outputs.set(command, stdout);
      }
      const out = (pattern: RegExp) => [...outputs].find(([command]) => pattern.test(command))![1];
      expect(
        out(/ list$/)
          .trim()
          .split('\n')
          .sort(),
      ).toEqual(SERVICES);
      expect(out(/ describe /)).toMatch(/repeated \.google\.protobuf\.Timestamp event_timestamps = 3;/);
      expect(JSON.parse(out(/Health\/Check$/))).toEqual({ status: 'SERVING' });
      const features = JSON.parse(out(/^grpcurl .*GetOnlineFeatures$/)) as { results: { statuses: string[] }[] };
      expect(features.results.map((r) => r.statuses[0])).toEqual(Array(8).fill('PRESENT'));
      const load = out(/^ghz /);
      expect(load).toMatch(/Count:\s+1000/);
      expect(load).toMatch(/\[OK\]\s+1000 responses/);
    });

    it.skipIf(!grpcurl)('calls every method of every service with grpcurl -d, without proto files', async () => {
      // grpcurl prints the proto field names (rows_written), not JSON's camelCase.
      const call = async (method: string, body: string): Promise<unknown> => {
        const { stdout } = await shell(`grpcurl -plaintext -d '${body}' ${README_ADDRESS} ${method}`);
        return JSON.parse(stdout);
      };
      const user = '{"user_id": {"val": [{"int64_val": "1001"}]}}';
      const lookup = `{"features": {"val": ["user_profile:age"]}, "entities": ${user}}`;
      const row = (age: number) =>
        `{"entity_keys": {"user_id": {"int64_val": "777001"}}, "features": {"age": {"int32_val": ${age}}}}`;

      const written = (await call(
        'cassette.v1.FeatureIngestion/WriteFeatures',
        `{"feature_view": "user_profile", "rows": [${row(41)}]}`,
      )) as { rows_written: string; consistency_token: string };
      expect(written.rows_written).toBe('1');
      expect(Number(written.consistency_token)).toBeGreaterThan(0);
      // Client streaming: grpcurl sends each JSON object of -d as one message.
      const streamed = (await call(
        'cassette.v1.FeatureIngestion/StreamWriteFeatures',
        `{"feature_view": "user_profile", "rows": [${row(42)}]} {"feature_view": "user_profile", "rows": [${row(43)}]}`,
      )) as { rows_written: string; messages_received: string };
      expect(streamed).toMatchObject({ rows_written: '2', messages_received: '2' });

      const features = (await call('cassette.v1.FeatureServing/GetOnlineFeatures', lookup)) as {
        results: { statuses: string[] }[];
      };
      expect(features.results[0]!.statuses).toEqual(['PRESENT']);
      const arrow = (await call('cassette.v1.FeatureServing/GetOnlineFeaturesArrow', lookup)) as { ipc_stream: string };
      // An Arrow IPC stream opens with a continuation marker (0xFFFFFFFF) before its schema message.
      expect(Buffer.from(arrow.ipc_stream, 'base64').subarray(0, 4)).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff]));

      const views = (await call('cassette.v1.Registry/ListFeatureViews', '{}')) as {
        feature_views: { name: string }[];
      };
      expect(views.feature_views.map((v) => v.name)).toContain('user_profile');
      const services = (await call('cassette.v1.Registry/ListFeatureServices', '{}')) as {
        feature_services: { name: string }[];
      };
      expect(services.feature_services.map((v) => v.name)).toContain('ranking_v1');

      const info = (await call('feast.serving.ServingService/GetFeastServingInfo', '{}')) as { version: string };
      expect(info.version).toContain('cassette');
      const feast = (await call('feast.serving.ServingService/GetOnlineFeatures', lookup)) as {
        results: { statuses: string[] }[];
      };
      expect(feast.results.flatMap((r) => r.statuses)).toContain('PRESENT');
    });

    it.skipIf(!grpcurl)('describes every service and message with grpcurl', async () => {
      const { messages } = declaredSymbols();
      for (const symbol of [...SERVICES, ...messages]) {
        const { stdout } = await shell(`grpcurl -plaintext ${README_ADDRESS} describe ${symbol}`);
        expect(stdout, symbol).toMatch(new RegExp(`^${symbol.replaceAll('.', '\\.')} is a (service|message)`));
      }
    });
  });
});

describe('server reflection turned off (serving.reflection: false, --no-reflection)', () => {
  it('answers UNIMPLEMENTED to reflection and still serves features', async () => {
    const t = await startTestServer('noreflection', DEMO_REGISTRY, { serving: { reflection: false } });
    const reflection = new ReflectionClient(t.server.address);
    try {
      expect(await reflection.refusal({ list_services: '*' })).toBe(grpc.status.UNIMPLEMENTED);
      const response = (await t.get({
        features: { val: ['user_profile:age'] },
        entities: { user_id: { val: [{ int64_val: '1001' }] } },
      })) as { results: unknown[] };
      expect(response.results).toHaveLength(1);
    } finally {
      reflection.close();
      await t.close();
    }
  });
});
