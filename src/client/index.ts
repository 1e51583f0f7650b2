import { once } from 'node:events';
import { readFileSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';

import {
  ERROR_DOMAIN,
  errorInfoOf,
  loadCassetteGrpcObject,
  type ErrorInfo,
  type FeatureIngestionClient,
  type FeatureServingClient,
  type RegistryClient,
  type WriteFeaturesRequest,
  type WriteFeaturesResponse__Output,
} from '../api/index.js';
import type { GetOnlineFeaturesRequest } from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../generated/cassette/v1/GetOnlineFeaturesResponse.js';

export type { ErrorInfo, FeatureIngestionClient, FeatureServingClient, RegistryClient };

/** Typed gRPC clients for one Cassette server, sharing one channel. */
export interface CassetteClients {
  readonly serving: FeatureServingClient;
  readonly ingestion: FeatureIngestionClient;
  readonly registry: RegistryClient;
  close(): void;
}

/**
 * HTTP/2 receive window for client channels. grpc-js starts at 64 KiB, so a larger batch response
 * (100 entities x 50 features is ~125 KB) would wait mid-stream for the client's window updates.
 */
export const DEFAULT_RECEIVE_WINDOW_BYTES = 16 * 1024 * 1024;

/** How a client proves who it is and checks the server: TLS (and a client certificate), a bearer token. */
export interface ClientSecurity {
  /** TLS to the server; `ca` verifies the server's certificate (default: the system's CAs). */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** Sent as `authorization: Bearer <token>` with every call. */
  readonly token?: string;
}

/** ClientSecurity from file paths (as the command line gives them); `tls` is implied by any file. */
export function clientSecurityFromFiles(options: {
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
}): ClientSecurity {
  const read = (path: string | undefined, flag: string): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  if ((options.cert === undefined) !== (options.key === undefined)) throw new Error('--cert and --key go together');
  const useTls = Boolean(options.tls || options.ca || options.cert);
  return {
    ...(useTls && {
      tls: {
        ca: read(options.ca, '--ca'),
        cert: read(options.cert, '--cert'),
        key: read(options.key, '--key'),
      },
    }),
    ...(options.token && { token: options.token }),
  };
}

/** Adds the bearer token to every call's metadata (works over TLS and, on loopback, plain text). */
function bearerInterceptor(token: string): grpc.Interceptor {
  const value = `Bearer ${token}`;
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}

/** `options` override the defaults (e.g. `'grpc-node.flow_control_window'`). */
export function connectClients(
  address: string,
  options: grpc.ChannelOptions = {},
  security: ClientSecurity = {},
): CassetteClients {
  const loaded = loadCassetteGrpcObject();
  const tls = security.tls;
  const credentials = tls
    ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
    : grpc.credentials.createInsecure();
  const interceptors = security.token ? { interceptors: [bearerInterceptor(security.token)] } : {};
  const serving = new loaded.cassette.v1.FeatureServing(address, credentials, {
    'grpc-node.flow_control_window': DEFAULT_RECEIVE_WINDOW_BYTES,
    ...options,
    ...interceptors,
  });
  // Re-use the first client's channel so all three multiplex over one HTTP/2 connection.
  const channelOverride = { channelOverride: serving.getChannel(), ...interceptors };
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

/**
 * The Cassette error code (e.g. `CST_ERR_UNKNOWN_FEATURE_VIEW`) of a failed call: the reason of
 * the google.rpc.ErrorInfo the server sent in the status trailer. Undefined when the error did
 * not come from a Cassette server. A newer server may send codes this client does not know.
 */
export function errorCodeOf(error: unknown): string | undefined {
  const info = errorInfoOf(error);
  return info?.domain === ERROR_DOMAIN ? info.reason : undefined;
}

/** The metadata of a failed call's ErrorInfo (e.g. `field`), empty when there is none. */
export function errorMetadataOf(error: unknown): Readonly<Record<string, string>> {
  const info = errorInfoOf(error);
  return info?.domain === ERROR_DOMAIN ? info.metadata : {};
}

export function deadlineIn(ms: number): grpc.CallOptions {
  return { deadline: new Date(Date.now() + ms) };
}

/**
 * Sends `messages` over one StreamWriteFeatures call and resolves with the server's counts.
 * It writes as fast as the call takes messages and waits for 'drain' when it does not, so a
 * server that reads slowly (HTTP/2 flow control) slows this loop instead of growing a buffer.
 * It stops sending once the server has answered (e.g. INVALID_ARGUMENT for a bad message).
 */
export async function streamWriteFeatures(
  ingestion: FeatureIngestionClient,
  messages: Iterable<WriteFeaturesRequest> | AsyncIterable<WriteFeaturesRequest>,
  options: grpc.CallOptions = {},
): Promise<WriteFeaturesResponse__Output> {
  let answered = false;
  let stream!: grpc.ClientWritableStream<WriteFeaturesRequest>;
  const response = new Promise<WriteFeaturesResponse__Output>((resolve, reject) => {
    stream = ingestion.StreamWriteFeatures(options, (error, result) => {
      answered = true;
      if (error) reject(error);
      else resolve(result!);
    });
  });
  const answer = response.then(
    () => undefined,
    () => undefined,
  );
  try {
    for await (const message of messages) {
      if (answered) break;
      if (!stream.write(message)) {
        const stop = new AbortController();
        try {
          await Promise.race([once(stream, 'drain', { signal: stop.signal }), answer]);
        } finally {
          stop.abort();
        }
      }
    }
  } catch (error) {
    // The messages failed (not the call): cancel the call and report the messages' error.
    stream.cancel();
    await answer;
    throw error;
  }
  if (!answered) stream.end();
  return response;
}

/**
 * Read-your-writes through any server: remembers the consistency token of the latest write made
 * through it (or handed to observe()) and sends it as min_write_time with every read, so a read
 * never gets a cached row older than this session's own writes, whichever server answers.
 * Reads not made through a session get the bounded staleness every read gets (README, Consistency).
 */
export class ConsistentSession {
  private token = 0;

  constructor(private readonly clients: Pick<CassetteClients, 'serving' | 'ingestion'>) {}

  /** The latest consistency token seen (µs since the epoch; 0 before any write). */
  get lastWriteTime(): number {
    return this.token;
  }

  /** Takes a token from elsewhere (e.g. another session's write the caller must read). */
  observe(token: string | number): void {
    const micros = Number(token);
    if (Number.isSafeInteger(micros) && micros > this.token) this.token = micros;
  }

  async writeFeatures(
    request: WriteFeaturesRequest,
    options: grpc.CallOptions = {},
  ): Promise<WriteFeaturesResponse__Output> {
    const response = await call<WriteFeaturesResponse__Output>((cb) =>
      this.clients.ingestion.WriteFeatures(request, options, cb),
    );
    this.observe(response.consistency_token);
    return response;
  }

  async streamWriteFeatures(
    messages: Iterable<WriteFeaturesRequest> | AsyncIterable<WriteFeaturesRequest>,
    options: grpc.CallOptions = {},
  ): Promise<WriteFeaturesResponse__Output> {
    const response = await streamWriteFeatures(this.clients.ingestion, messages, options);
    this.observe(response.consistency_token);
    return response;
  }

  /** GetOnlineFeatures with min_write_time set to the session's token (unless the request sets a later one). */
  getOnlineFeatures(
    request: GetOnlineFeaturesRequest,
    options: grpc.CallOptions = {},
  ): Promise<GetOnlineFeaturesResponse__Output> {
    const asked = Number(String(request.min_write_time ?? 0));
    const withToken: GetOnlineFeaturesRequest =
      this.token > asked ? { ...request, min_write_time: String(this.token) } : request;
    return call<GetOnlineFeaturesResponse__Output>((cb) =>
      this.clients.serving.GetOnlineFeatures(withToken, options, cb),
    );
  }
}
