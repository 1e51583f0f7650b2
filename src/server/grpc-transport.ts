import type { Readable } from 'node:stream';
import type { PeerCertificate } from 'node:tls';

import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

import {
  accessRuleFor,
  ANONYMOUS,
  AuditLog,
  WriteStreamTally,
  type AccessGuard,
  type AccessRule,
  type Principal,
} from '../auth/index.js';
import type { CallContext } from '../concurrency/call.js';
import type { Config } from '../config/index.js';
import type { FeatureIngestionHandlers } from '../generated/cassette/v1/FeatureIngestion.js';
import type { GetOnlineFeaturesRequest__Output } from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { RegistryHandlers } from '../generated/cassette/v1/Registry.js';
import type { ProtoGrpcType as ServingProto } from '../generated/serving.js';
import type { ProtoGrpcType as IngestionProto } from '../generated/ingestion.js';
import type { ProtoGrpcType as RegistryProto } from '../generated/registry.js';
import { FEAST_SERVICE_NAME, feastServingDefinition } from '../feast/serving/grpc.js';
import type { Logger } from '../observability/logger.js';
import { RpcObserver, type MethodObserver, type RequestObservation } from '../observability/requests.js';
import { toServiceStatus } from '../api/index.js';
import { CassetteError } from '../errors/index.js';
import { loadCassetteProtos } from '../api/proto.js';
import { minWriteTimeHeader, writeTimeTrailer } from '../coherence/token.js';
import type { ServingCore } from './compose.js';
import { addReflection } from './reflection.js';
import type { ServerTls } from './tls.js';

const UNAVAILABLE_LOG_INTERVAL_MS = 5_000;

/** A method whose request type has no rule of its own (see accessRuleFor) needs `admin`. */
const ADMIN_RULE: AccessRule = { kind: 'admin' };

/** Who the audit line names for a call refused before it had a principal. */
const UNAUTHENTICATED_CALLER: Principal = { ...ANONYMOUS, name: 'unauthenticated', kind: 'anonymous' };

const SERVING = 'cassette.v1.FeatureServing';
const INGESTION = 'cassette.v1.FeatureIngestion';
const REGISTRY = 'cassette.v1.Registry';
export const SERVICE_NAMES = [SERVING, INGESTION, REGISTRY, FEAST_SERVICE_NAME];

/** FeatureServing with GetOnlineFeatures answering in wire bytes. */
type EncodedServingHandlers = {
  GetOnlineFeatures: grpc.handleUnaryCall<GetOnlineFeaturesRequest__Output, Buffer>;
  GetOnlineFeaturesArrow: grpc.handleUnaryCall<GetOnlineFeaturesRequest__Output, Buffer>;
};

type Counters = { requests: number; errors: Partial<Record<keyof typeof grpc.status, number>> };

/** What the transport secures calls with; all optional but the audit log. */
export interface TransportSecurity {
  /** Authentication and authorization of every call but health (and reflection); absent: all calls ANONYMOUS. */
  readonly guard?: AccessGuard;
  /** TLS (and mTLS) credentials, reloaded as their files change; absent: plain text. */
  readonly tls?: ServerTls;
  readonly audit?: AuditLog;
}

/** The authorization metadata of a call, if it sent one. */
function authorizationOf(metadata: grpc.Metadata): string | undefined {
  const values = metadata.get('authorization');
  return values.length > 0 && typeof values[0] === 'string' ? values[0] : undefined;
}

/** The client certificate of a call's connection (mTLS), read only when asked for. */
function peerCertificateOf(call: {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}): () => PeerCertificate | undefined {
  return () => call.getAuthContext()?.sslPeerCertificate;
}

/**
 * What a method's deserializer returns for bytes that do not decode. grpc-js answers a throwing
 * deserializer INTERNAL ("Error deserializing request"), which counts as a server fault; the
 * handlers answer this INVALID_ARGUMENT instead.
 */
class UndecodableMessage {
  constructor(readonly reason: string) {}
}

/** What a method's deserializer returns, without decoding, for a call refused before decoding. */
class RefusedUndecoded {
  constructor(readonly error: CassetteError) {}
}

/**
 * `service` with every method's request deserializer returning UndecodableMessage instead of
 * throwing, and, for a method in `refuseEarly`, RefusedUndecoded when that says so (the bytes
 * are then not decoded at all).
 */
function guardDecoding<Handlers>(
  service: grpc.ServiceDefinition<Handlers>,
  refuseEarly: Readonly<Record<string, () => CassetteError | undefined>> = {},
  accessRules?: Map<string, AccessRule>,
): grpc.ServiceDefinition<Handlers> {
  const guarded: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries<grpc.MethodDefinition<unknown, unknown>>(service)) {
    accessRules?.set(method.path, accessRuleFor(requestTypeName(method)));
    const decode = method.requestDeserialize;
    const refuse = refuseEarly[name];
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const refusal = refuse?.();
        if (refusal) return new RefusedUndecoded(refusal);
        try {
          return decode(bytes);
        } catch (error) {
          return new UndecodableMessage(error instanceof Error ? error.message : String(error));
        }
      },
    };
  }
  return guarded as grpc.ServiceDefinition<Handlers>;
}

/** The request message's type name, as proto-loader describes it ('' when it does not). */
function requestTypeName(method: grpc.MethodDefinition<unknown, unknown>): string {
  const described = method as { requestType?: { type?: { name?: unknown } } };
  const name = described.requestType?.type?.name;
  return typeof name === 'string' ? name : '';
}

function undecodable(method: string, message: UndecodableMessage, prefix = ''): CassetteError {
  return new CassetteError(
    'CST_ERR_UNDECODABLE',
    `${prefix}the request message is not a valid ${method} request (${message.reason})`,
  );
}

/** The messages of a client stream, failing INVALID_ARGUMENT at the first one that did not decode. */
async function* decodedMessages<Req>(
  messages: AsyncIterable<unknown>,
  method: string,
  tally?: WriteStreamTally,
): AsyncIterable<Req> {
  let index = 0;
  for await (const message of messages) {
    if (message instanceof UndecodableMessage) throw undecodable(method, message, `messages[${index}]: `);
    const refusal = tally?.check(message as Parameters<WriteStreamTally['check']>[0]);
    if (refusal) throw refusal;
    index++;
    yield message as Req;
  }
}

/**
 * The health entries: the server as a whole ('') and each service. Each says SERVING while the
 * process takes calls (is not draining) and Cassandra can serve: FeatureServing and
 * FeatureIngestion need it for every call, and the Registry's listing (answered from memory) is
 * of no use without them.
 */
const HEALTH_ENTRIES: readonly string[] = ['', ...SERVICE_NAMES];

/**
 * Turns Nagle's algorithm off on the server's accepted connections. grpc-js sets TCP_NODELAY on
 * the connections its clients open but not on those its server accepts, and Node's servers
 * keep Nagle on by default: a response goes out as several small writes (headers, data,
 * trailers), and Nagle holds the later ones until the client acknowledges the first, which a
 * delayed ACK can put off for 40 ms. grpc-js has no option for it; it hands these options to
 * http2.createServer (which passes `noDelay` on to net.Server), so set it there, before binding.
 */
function disableNagle(server: grpc.Server, logger: Logger): void {
  const internals = server as unknown as { commonServerOptions?: { noDelay?: boolean } };
  if (typeof internals.commonServerOptions === 'object' && internals.commonServerOptions !== null) {
    internals.commonServerOptions.noDelay = true;
  } else {
    logger.warn('this grpc-js version keeps its server options elsewhere: connections keep Nagle on');
  }
}

/**
 * Binds the serving core to gRPC: decodes calls, hands them to the core's reader, writer and
 * registry listing, and maps their errors to statuses; adds health and reflection.
 * Lifecycle: listen() binds and reports SERVING (while Cassandra can serve, see
 * setStoreAvailable); drain() reports NOT_SERVING and keeps taking calls; stop() stops taking
 * calls and lets running ones finish.
 */
export class GrpcTransport {
  private readonly server: grpc.Server;
  private readonly health: HealthImplementation;
  readonly counters: Counters = { requests: 0, errors: {} };
  private boundPort = 0;
  private unavailableLog = { last: 0, suppressed: 0 };
  private preparedRefusal: { readonly error: CassetteError; readonly status: grpc.StatusObject } | undefined;
  private listening = false;
  private draining = false;
  private storeAvailable = true;
  private readonly guard: AccessGuard | undefined;
  private readonly audit: AuditLog;
  /** Method path -> what a call of it needs (by its request type; see accessRuleFor). */
  private readonly accessRules = new Map<string, AccessRule>();

  constructor(
    core: Pick<ServingCore, 'reader' | 'writer' | 'listing' | 'feast' | 'admission'>,
    private readonly config: Config,
    private readonly logger: Logger,
    /** Request metrics, the slow-request line and trace spans (by default: no metrics). */
    private readonly observer = new RpcObserver({
      metrics: undefined,
      logger,
      slowRequestMs: config.log.slowRequestMs,
    }),
    private readonly security: TransportSecurity = {},
  ) {
    this.guard = security.guard;
    this.audit = security.audit ?? new AuditLog(logger, config.log.audit);
    const definition = loadCassetteProtos();
    const loaded = grpc.loadPackageDefinition(definition) as unknown as ServingProto & IngestionProto & RegistryProto;
    this.server = new grpc.Server({
      // A larger message is refused RESOURCE_EXHAUSTED by grpc-js before it is buffered whole.
      'grpc.max_receive_message_length': config.serving.maxReceiveMessageBytes,
      'grpc.max_concurrent_streams': config.serving.maxConcurrentStreams,
      'grpc.keepalive_permit_without_calls': 1,
    });
    disableNagle(this.server, logger);
    // Responses leave the core already encoded (see wire.ts and arrow.ts), so these methods'
    // serializers pass the bytes through; everything else about them is as generated.
    const servingService = loaded.cassette.v1.FeatureServing.service;
    const passThrough = (encoded: Buffer) => encoded;
    const encodedServing: grpc.ServiceDefinition<EncodedServingHandlers> = {
      GetOnlineFeatures: { ...servingService.GetOnlineFeatures, responseSerialize: passThrough },
      GetOnlineFeaturesArrow: { ...servingService.GetOnlineFeaturesArrow, responseSerialize: passThrough },
    };
    const serving: EncodedServingHandlers = {
      GetOnlineFeatures: this.unary(SERVING, 'GetOnlineFeatures', (request, ctx) =>
        core.reader.getOnlineFeatures(request, ctx),
      ),
      GetOnlineFeaturesArrow: this.unary(SERVING, 'GetOnlineFeaturesArrow', (request, ctx) =>
        core.reader.getOnlineFeaturesArrow(request, ctx),
      ),
    };
    const ingestion: FeatureIngestionHandlers = {
      WriteFeatures: this.unary(INGESTION, 'WriteFeatures', (request, ctx) =>
        this.observer.countWrites(core.writer.writeFeatures(request, ctx), request.rows.length),
      ),
      StreamWriteFeatures: this.clientStream(INGESTION, 'StreamWriteFeatures', (messages, ctx) =>
        this.observer.countWrites(core.writer.streamWriteFeatures(messages, ctx), 0),
      ),
    };
    const registry: RegistryHandlers = {
      ListFeatureViews: this.unary(REGISTRY, 'ListFeatureViews', async () => core.listing.listFeatureViews()),
      ListFeatureServices: this.unary(REGISTRY, 'ListFeatureServices', async () => core.listing.listFeatureServices()),
    };
    // Under overload, a cache-off lookup is refused before it is decoded and planned when the read
    // gate would refuse it anyway (see AdmissionGate.saturated). With the cache on, the plan is
    // what tells whether the cache answers the request whole (at no cost), so it is decoded.
    const reads = core.admission.reads;
    const refuseLookup = config.cache.enabled
      ? undefined
      : () => (reads.saturated ? reads.refuseUncosted() : undefined);
    const rules = this.accessRules;
    this.server.addService(
      guardDecoding(
        encodedServing,
        refuseLookup ? { GetOnlineFeatures: refuseLookup, GetOnlineFeaturesArrow: refuseLookup } : {},
        rules,
      ),
      serving,
    );
    this.server.addService(guardDecoding(loaded.cassette.v1.FeatureIngestion.service, {}, rules), ingestion);
    this.server.addService(guardDecoding(loaded.cassette.v1.Registry.service, {}, rules), registry);
    // Feast's serving API (src/feast), for Feast's clients unchanged.
    this.server.addService(guardDecoding(feastServingDefinition(), {}, rules), {
      GetFeastServingInfo: this.unary(FEAST_SERVICE_NAME, 'GetFeastServingInfo', async () => core.feast.servingInfo()),
      GetOnlineFeatures: this.unary(
        FEAST_SERVICE_NAME,
        'GetOnlineFeatures',
        (request, ctx) => core.feast.getOnlineFeatures(request, ctx),
        'feast.GetOnlineFeatures',
      ),
    });
    this.health = new HealthImplementation(Object.fromEntries(HEALTH_ENTRIES.map((name) => [name, 'NOT_SERVING'])));
    // Health stays open (load balancers and probes carry no credentials); so does reflection,
    // which describes the API and no data, unless serving.reflection turns it off.
    this.health.addToServer(this.server);
    if (config.serving.reflection) addReflection(this.server);
  }

  /** The bound address, e.g. 127.0.0.1:6566 (with the real port when 0 was asked for). */
  get address(): string {
    const host = this.config.listen.slice(0, this.config.listen.lastIndexOf(':'));
    return `${host}:${this.boundPort}`;
  }

  async listen(): Promise<string> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      const credentials = this.security.tls?.credentials ?? grpc.ServerCredentials.createInsecure();
      this.server.bindAsync(this.config.listen, credentials, (error, port) =>
        error ? reject(new Error(`cannot listen on ${this.config.listen}: ${error.message}`)) : resolve(port),
      );
    });
    this.listening = true;
    this.publishHealth();
    return this.address;
  }

  /** Whether Cassandra can serve (see CassandraAvailability); health follows it. */
  setStoreAvailable(available: boolean): void {
    this.storeAvailable = available;
    this.publishHealth();
  }

  /** Reports NOT_SERVING from now on, so load balancers move away; calls are still taken. */
  drain(): void {
    this.draining = true;
    this.publishHealth();
  }

  private publishHealth(): void {
    const status = this.listening && !this.draining && this.storeAvailable ? 'SERVING' : 'NOT_SERVING';
    for (const name of HEALTH_ENTRIES) this.health.setStatus(name, status);
  }

  /** Reports NOT_SERVING, then stops taking calls and lets running ones finish for up to `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    this.drain();
    await this.stop(graceMs);
  }

  /** Stops taking calls, lets running ones finish for up to `graceMs`, then cuts them off. */
  async stop(graceMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** A unary handler; `name` is how messages and logs call the method (its RPC name by default). */
  private unary<Req, Res>(
    service: string,
    method: string,
    handle: (request: Req, ctx: CallContext) => Promise<Res>,
    name = method,
  ): grpc.handleUnaryCall<Req, Res> {
    const defaultDeadlineMs = this.config.serving.defaultDeadlineMs;
    const observed = this.observer.method(service, method, name);
    const path = `/${service}/${method}`;
    let rule: AccessRule | undefined;
    return (call, callback) => {
      this.counters.requests++;
      const observation = observed.start(call.metadata);
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      const ctx: CallContext = {
        deadline: Number.isFinite(deadlineMs) ? deadlineMs : Date.now() + defaultDeadlineMs,
        isCancelled: () => call.cancelled,
        minWriteTime: minWriteTimeHeader(call.metadata),
        observation,
      };
      // Resolved on the first call: the rules are recorded when the services are added.
      rule ??= this.accessRules.get(path) ?? ADMIN_RULE;
      const guard = this.guard;
      if (!guard) {
        this.answerUnary(call, callback, observed, observation, ctx, handle, rule, ANONYMOUS);
        return;
      }
      let principal: Principal | Promise<Principal>;
      try {
        principal = guard.authenticate(authorizationOf(call.metadata), peerCertificateOf(call));
      } catch (error) {
        this.refuse(observed, observation, callback, error, rule, call.request);
        return;
      }
      if (principal instanceof Promise) {
        const checked = rule;
        principal.then(
          (resolved) => this.answerUnary(call, callback, observed, observation, ctx, handle, checked, resolved),
          (error: unknown) => this.refuse(observed, observation, callback, error, checked, call.request),
        );
      } else {
        this.answerUnary(call, callback, observed, observation, ctx, handle, rule, principal);
      }
    };
  }

  /** The rest of a unary call once its principal is known: authorize, handle, answer, audit. */
  private answerUnary<Req, Res>(
    call: grpc.ServerUnaryCall<Req, Res>,
    callback: grpc.sendUnaryData<Res>,
    observed: MethodObserver,
    observation: RequestObservation,
    ctx: CallContext,
    handle: (request: Req, ctx: CallContext) => Promise<Res>,
    rule: AccessRule,
    principal: Principal,
  ): void {
    const request: unknown = call.request;
    if (request instanceof RefusedUndecoded) {
      const status = this.refusalStatus(observed.name, request.error);
      callback(status);
      observed.finish(observation, status.code);
      return;
    }
    if (request instanceof UndecodableMessage) {
      this.fail(observed, observation, callback, undecodable(observed.name, request));
      return;
    }
    const refusal = this.guard?.authorize(principal, rule, request);
    if (refusal) {
      const code = this.fail(observed, observation, callback, refusal);
      this.auditUnary(rule, principal, observed, request, code);
      return;
    }
    let pending: Promise<Res>;
    try {
      pending = handle(call.request, ctx);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (response) => {
        callback(null, response, writeTimeTrailer(response));
        observed.finish(observation, grpc.status.OK);
        this.auditUnary(rule, principal, observed, request, grpc.status.OK);
      },
      (error: unknown) => {
        const code = this.fail(observed, observation, callback, error);
        this.auditUnary(rule, principal, observed, request, code);
      },
    );
  }

  /** Answers a call refused for its credential (UNAUTHENTICATED); a write is audited as such. */
  private refuse(
    observed: MethodObserver,
    observation: RequestObservation,
    callback: (error: Partial<grpc.StatusObject>) => void,
    error: unknown,
    rule: AccessRule,
    request: unknown,
  ): void {
    const code = this.fail(observed, observation, callback, error);
    this.auditUnary(rule, UNAUTHENTICATED_CALLER, observed, request, code);
  }

  /** The audit line of a call that writes (features or the registry); other calls are not audited. */
  private auditUnary(
    rule: AccessRule,
    principal: Principal,
    observed: MethodObserver,
    request: unknown,
    code: grpc.status,
  ): void {
    if (rule.kind !== 'write' && rule.kind !== 'admin') return;
    const write = request as { feature_view?: unknown; rows?: { length?: unknown } } | null;
    this.audit.record({
      principal,
      method: observed.fullMethod,
      views: typeof write?.feature_view === 'string' ? [write.feature_view] : [],
      rows: typeof write?.rows?.length === 'number' ? write.rows.length : 0,
      outcome: grpc.status[code],
    });
  }

  /** Answers a call with the status of `error`, ends its observation with that code, and returns the code. */
  private fail(
    observed: MethodObserver,
    observation: RequestObservation,
    callback: (error: Partial<grpc.StatusObject>) => void,
    error: unknown,
  ): grpc.status {
    const status = this.toServiceError(observed.name, error);
    callback(status);
    const code = status.code ?? grpc.status.UNKNOWN;
    observed.finish(observation, code);
    return code;
  }

  /**
   * A client-streaming handler: `handle` gets the messages as an async iterable, read no further
   * ahead than it consumes (see limitReadAhead), and the call's deadline (none if the caller set
   * none: a stream lasts as long as its sender keeps sending). Each message is authorized on its
   * own view (a stream may write several), and the stream is audited once it ends.
   */
  private clientStream<Req, Res>(
    service: string,
    method: string,
    handle: (messages: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>,
  ): grpc.handleClientStreamingCall<Req, Res> {
    const observed = this.observer.method(service, method);
    return (call, callback) => {
      this.counters.requests++;
      const observation = observed.start(call.metadata);
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      const ctx: CallContext = {
        deadline: Number.isFinite(deadlineMs) ? deadlineMs : Number.POSITIVE_INFINITY,
        isCancelled: () => call.cancelled,
        observation,
      };
      limitReadAhead(call);
      const run = (principal: Principal): void => {
        const tally = new WriteStreamTally(principal, this.guard);
        let pending: Promise<Res>;
        try {
          pending = handle(decodedMessages<Req>(call, method, tally), ctx);
        } catch (error) {
          pending = Promise.reject(error);
        }
        const audit = (code: grpc.status): void =>
          this.audit.record({
            principal,
            method: observed.fullMethod,
            views: [...tally.views],
            rows: tally.rows,
            outcome: grpc.status[code],
          });
        pending.then(
          (response) => {
            callback(null, response, writeTimeTrailer(response));
            observed.finish(observation, grpc.status.OK);
            audit(grpc.status.OK);
          },
          (error: unknown) => audit(this.fail(observed, observation, callback, error)),
        );
      };
      if (!this.guard) {
        run(ANONYMOUS);
        return;
      }
      const stream: AccessRule = { kind: 'write' };
      try {
        const principal = this.guard.authenticate(authorizationOf(call.metadata), peerCertificateOf(call));
        if (principal instanceof Promise) {
          principal.then(run, (error: unknown) => this.refuse(observed, observation, callback, error, stream, {}));
        } else {
          run(principal);
        }
      } catch (error) {
        this.refuse(observed, observation, callback, error, stream, {});
      }
    };
  }

  /**
   * The status of a call refused before decoding (see RefusedUndecoded). The gate refuses with one
   * error object for as long as its limit stands, so its status (with the encoded ErrorInfo) is
   * built once and reused (grpc-js copies the trailer metadata it sends).
   */
  private refusalStatus(method: string, error: CassetteError): grpc.StatusObject {
    const prepared = this.preparedRefusal;
    if (prepared?.error !== error)
      return (this.preparedRefusal = { error, status: this.toServiceError(method, error) }).status;
    this.countError(prepared.status.code);
    return prepared.status;
  }

  /** Counts a failed call by its code (the stats line's `errors`); returns the code's name. */
  private countError(code: grpc.status): keyof typeof grpc.status {
    const name = grpc.status[code] as keyof typeof grpc.status;
    this.counters.errors[name] = (this.counters.errors[name] ?? 0) + 1;
    return name;
  }

  private toServiceError(method: string, error: unknown): grpc.StatusObject {
    const status = toServiceStatus(error);
    const code = status.code;
    const name = this.countError(code);
    if (code === grpc.status.INTERNAL) {
      this.logger.error({ err: error, method, code: name }, 'request failed');
    } else if (code === grpc.status.UNAVAILABLE) {
      // An outage fails every request: log one line per interval with the count in between.
      const now = Date.now();
      if (now - this.unavailableLog.last >= UNAVAILABLE_LOG_INTERVAL_MS) {
        this.logger.warn(
          {
            method,
            code: name,
            message: (error as Error).message,
            failedSinceLastLine: this.unavailableLog.suppressed,
          },
          'request failed',
        );
        this.unavailableLog = { last: now, suppressed: 0 };
      } else {
        this.unavailableLog.suppressed++;
      }
    } else {
      this.logger.debug({ method, code: name, message: (error as Error).message }, 'request rejected');
    }
    return status;
  }
}

/**
 * Makes an incoming message stream buffer at most one decoded message. grpc-js decodes the next
 * message whenever its Readable asks for more, which an object-mode Readable does until 16 are
 * buffered: up to 16 maximum-size messages per stream. With a high-water mark of 1 it asks only
 * when the consumer has taken the buffered one, so a consumer that waits (for room in the write
 * window) leaves further messages in HTTP/2 flow control, i.e. with the sender.
 * Node sets the mark only at construction, so this adjusts the stream's own state.
 */
export function limitReadAhead(stream: Readable): void {
  const state = (stream as unknown as { _readableState?: { highWaterMark?: unknown } })._readableState;
  if (state && typeof state.highWaterMark === 'number') state.highWaterMark = 1;
}
