import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';

import type { Server as TlsServer, TLSSocket } from 'node:tls';

import { ANONYMOUS, type AccessRule, type Principal } from '../../auth/index.js';
import type { CallContext } from '../../concurrency/call.js';
import type { Config } from '../../config/index.js';
import {
  CassetteError,
  invalidArgument,
  isCassetteError,
  type ErrorCode,
  type ErrorStatus,
} from '../../errors/index.js';
import type { Logger } from '../../observability/logger.js';
import type { RegistrySync } from '../../registry/sync.js';
import type { TransportSecurity } from '../../server/grpc-transport.js';
import type { FeatureWriter } from '../../write/index.js';
import type { FeastJsonRequest } from '../serving/plan.js';
import type { FeastReader } from '../serving/reader.js';
import { parseFeastJson } from './json-body.js';
import { FeastWriter, type FeastPushRequest, type FeastWriteRequest } from './writes.js';

/**
 * Feast's HTTP/JSON API, as `feast serve` offers it, on its own listener (http.listen):
 * POST /get-online-features, POST /push, POST /write-to-online-store and GET /health. The Feast
 * SDK's remote online store (`online_store: {type: remote, path: http://host:6567}`) calls the
 * first and the last of these. Reads and writes go through the serving core like gRPC calls.
 *
 * Bodies are checked against a JSON schema first (a wrong shape is a 400 naming the field), then
 * converted and validated like Cassette's own requests. Errors are answered the way `feast
 * serve` answers them, a JSON string holding `{"module", "class", "message"}`, so that the Feast
 * SDK raises the matching Feast exception with Cassette's message; Cassette's error code and the
 * field ride along in the same object.
 */

const GET_ONLINE_FEATURES_SCHEMA = {
  type: 'object',
  required: ['entities'],
  properties: {
    entities: { type: 'object', additionalProperties: { type: 'array' } },
    feature_service: { type: ['string', 'null'] },
    features: { type: 'array', items: { type: 'string' } },
    full_feature_names: { type: 'boolean' },
    include_feature_view_version_metadata: { type: 'boolean' },
  },
} as const;

const FRAME_SCHEMA = { type: 'object', additionalProperties: { type: 'array' } } as const;

const WRITE_SCHEMA = {
  type: 'object',
  required: ['feature_view_name', 'df'],
  properties: {
    feature_view_name: { type: 'string' },
    df: FRAME_SCHEMA,
    allow_registry_cache: { type: 'boolean' },
    transform_on_write: { type: 'boolean' },
  },
} as const;

const PUSH_SCHEMA = {
  type: 'object',
  required: ['push_source_name', 'df'],
  properties: {
    push_source_name: { type: 'string' },
    df: FRAME_SCHEMA,
    to: { type: 'string' },
    allow_registry_cache: { type: 'boolean' },
    transform_on_write: { type: 'boolean' },
  },
} as const;

const HTTP_STATUS: Record<ErrorStatus, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  FAILED_PRECONDITION: 400,
  RESOURCE_EXHAUSTED: 429,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  CANCELLED: 499,
  INTERNAL: 500,
};

/** Errors Feast has a class (and status) of its own for; the rest are FeastError. */
const FEAST_ERRORS: Partial<Record<ErrorCode, { readonly class: string; readonly status: number }>> = {
  CST_ERR_UNKNOWN_FEATURE_VIEW: { class: 'FeatureViewNotFoundException', status: 404 },
  CST_ERR_UNKNOWN_FEATURE_SERVICE: { class: 'FeatureServiceNotFoundException', status: 404 },
  CST_ERR_UNKNOWN_PUSH_SOURCE: { class: 'PushSourceNotFoundException', status: 422 },
};

/** An answered error: its HTTP status and body. */
export interface HttpError {
  readonly status: number;
  readonly body: string;
}

const MATERIALIZE_MESSAGE =
  'Cassette has no offline store to materialize from: load files with `cassette ingest`, or write rows with ' +
  'FeatureStore.write_to_online_store / POST /write-to-online-store / POST /push';

/**
 * An error body as `feast serve` sends one: a JSON string holding a JSON object that names a
 * class of feast.errors and a message (the Feast SDK raises that class with that message).
 */
function feastErrorBody(feastClass: string, message: string, extra: Readonly<Record<string, string>> = {}): string {
  return JSON.stringify(JSON.stringify({ module: 'feast.errors', class: feastClass, message, ...extra }));
}

/** The answer to a failed request, with Cassette's error code and field in the body too. */
export function httpErrorOf(error: CassetteError): HttpError {
  const feast = FEAST_ERRORS[error.code];
  return {
    status: feast?.status ?? HTTP_STATUS[error.status],
    body: feastErrorBody(feast?.class ?? 'FeastError', error.message, { code: error.code, ...error.metadata }),
  };
}

/** A schema violation as Cassette names fields: `entities["user_id"]: must be array`. */
function schemaError(error: FastifyError): CassetteError {
  const first = error.validation?.[0];
  if (!first) return invalidArgument(error.message);
  const missing = (first.params as { missingProperty?: unknown }).missingProperty;
  const path = first.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (typeof missing === 'string') path.push(missing);
  const field = path
    .map((segment, i) => (i === 0 ? segment : /^\d+$/.test(segment) ? `[${segment}]` : `[${JSON.stringify(segment)}]`))
    .join('');
  const message = typeof missing === 'string' ? 'is required' : (first.message ?? 'is not valid');
  return invalidArgument(`${field || 'body'}: ${message}`, undefined, { field: field || 'body' });
}

type Counters = { requests: number; errors: Partial<Record<number, number>> };

const READ: AccessRule = { kind: 'read' };
const WRITE: AccessRule = { kind: 'write' };
const UNAUTHENTICATED_CALLER: Principal = { ...ANONYMOUS, name: 'unauthenticated' };

export class FeastHttpServer {
  private readonly app: FastifyInstance;
  private readonly writes: FeastWriter;
  /** Request and error counts (by HTTP status), for the stats line and, later, metrics. */
  readonly counters: Counters = { requests: 0, errors: {} };
  /** Listening and not draining. */
  private serving = false;
  /** Cassandra can serve (see CassandraAvailability); /health needs both. */
  private storeAvailable = true;
  private boundAddress = '';

  constructor(
    core: {
      readonly feast: FeastReader;
      readonly writer: FeatureWriter;
      readonly registry: Pick<RegistrySync, 'current'>;
    },
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly security: TransportSecurity = {},
  ) {
    this.writes = new FeastWriter(core.registry, core.writer, config.ingest.maxRowsPerRequest);
    const tls = security.tls;
    // With TLS configured, this listener serves HTTPS with the same (reloaded) certificate as gRPC.
    this.app = Fastify({
      ...(tls && { https: tls.httpsOptions }),
      bodyLimit: config.http.maxBodyBytes,
      // Wrong types are errors, not coerced (Feast's pydantic models do not coerce either).
      ajv: { customOptions: { coerceTypes: false } },
      forceCloseConnections: 'idle',
      return503OnClosing: true,
    }) as unknown as FastifyInstance;
    tls?.onReload((options) => (this.app.server as unknown as TlsServer).setSecureContext(options));
    this.app.removeAllContentTypeParsers();
    // Every body is read as JSON, whatever content type the client named (curl often names none).
    this.app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseFeastJson(body as string));
      } catch (error) {
        done(invalidArgument(`body: not valid JSON (${(error as Error).message})`, undefined, { field: 'body' }));
      }
    });
    const readDeadlineMs = config.serving.defaultDeadlineMs;
    const writeDeadlineMs = config.http.writeDeadlineMs;

    this.app.post<{ Body: FeastJsonRequest }>(
      '/get-online-features',
      { schema: { body: GET_ONLINE_FEATURES_SCHEMA } },
      async (request, reply) => {
        this.counters.requests++;
        await this.admit(request, READ, request.body);
        const text = await core.feast.getOnlineFeaturesJson(request.body, callContext(request, readDeadlineMs));
        return reply.type('application/json').send(text);
      },
    );
    this.app.post<{ Body: FeastWriteRequest }>(
      '/write-to-online-store',
      { schema: { body: WRITE_SCHEMA } },
      async (request, reply) => {
        this.counters.requests++;
        const view = request.body.feature_view_name;
        await this.audited(request, '/write-to-online-store', view, () =>
          this.writes.writeToOnlineStore(request.body, callContext(request, writeDeadlineMs)),
        );
        // `feast serve` answers this endpoint with a JSON null.
        return reply.type('application/json').send('null');
      },
    );
    this.app.post<{ Body: FeastPushRequest }>('/push', { schema: { body: PUSH_SCHEMA } }, async (request, reply) => {
      this.counters.requests++;
      const view = request.body.push_source_name;
      await this.audited(request, '/push', view, () =>
        this.writes.push(request.body, callContext(request, writeDeadlineMs)),
      );
      return reply.code(200).send();
    });
    this.app.get('/health', async (_request, reply) =>
      reply.code(this.serving && this.storeAvailable ? 200 : 503).send(),
    );
    // The Feast SDK sends `feast materialize` here when its online store is remote; there is no
    // offline store behind Cassette to read from.
    for (const path of ['/materialize', '/materialize-incremental']) {
      this.app.post(path, async (_request, reply) =>
        reply.code(501).type('application/json').send(feastErrorBody('FeastError', MATERIALIZE_MESSAGE)),
      );
    }
    this.app.setNotFoundHandler((request, reply) => {
      const message = `${request.method} ${request.url}: no such endpoint (Cassette offers POST /get-online-features, /push, /write-to-online-store and GET /health)`;
      void reply.code(404).type('application/json').send(feastErrorBody('FeastError', message));
    });
    this.app.setErrorHandler((error: FastifyError, request, reply) => {
      const { status, body } = this.answerTo(error, request.url);
      void reply.code(status).type('application/json').send(body);
    });
  }

  /**
   * The caller's principal, once it is known to be allowed `rule` on `target`: the same
   * authentication and authorization as every gRPC call (AccessGuard); ANONYMOUS when auth is off.
   */
  private async admit(request: FastifyRequest, rule: AccessRule, target: unknown): Promise<Principal> {
    const guard = this.security.guard;
    if (!guard) return ANONYMOUS;
    const header = request.headers.authorization;
    const socket = request.socket as Partial<TLSSocket>;
    const principal = await guard.authenticate(header, () => socket.getPeerCertificate?.());
    const refusal = guard.authorize(principal, rule, target);
    if (refusal) throw Object.assign(refusal, { principal });
    return principal;
  }

  /** A write, admitted, run and audited (principal, endpoint, view, rows, outcome). */
  private async audited(
    request: FastifyRequest,
    endpoint: string,
    view: string,
    write: () => Promise<number>,
  ): Promise<void> {
    let principal: Principal | undefined;
    let rows = 0;
    let outcome = 'OK';
    try {
      principal = await this.admit(request, WRITE, { feature_view: view });
      rows = await write();
    } catch (error) {
      principal ??= (error as { principal?: Principal }).principal;
      outcome = isCassetteError(error) ? error.status : 'INTERNAL';
      throw error;
    } finally {
      this.security.audit?.record({
        principal: principal ?? UNAUTHENTICATED_CALLER,
        method: `feast.http${endpoint}`,
        views: [view],
        rows,
        outcome,
      });
    }
  }

  private answerTo(error: FastifyError | CassetteError, url: string): HttpError {
    let known: CassetteError;
    if (isCassetteError(error)) known = error;
    else if (error.validation) known = schemaError(error);
    else if (typeof error.statusCode === 'number' && error.statusCode < 500) {
      // Fastify's own refusals: a body over the limit (413), an empty body, and the like.
      const answer = httpErrorOf(invalidArgument(`body: ${error.message}`, undefined, { field: 'body' }));
      this.count(error.statusCode);
      return { status: error.statusCode, body: answer.body };
    } else {
      known = new CassetteError('INTERNAL', 'internal error', { cause: error });
    }
    const answer = httpErrorOf(known);
    this.count(answer.status);
    if (known.status === 'INTERNAL') this.logger.error({ err: error, url }, 'HTTP request failed');
    else if (known.status === 'UNAVAILABLE') this.logger.warn({ url, message: known.message }, 'HTTP request failed');
    else this.logger.debug({ url, code: known.code, message: known.message }, 'HTTP request rejected');
    return answer;
  }

  private count(status: number): void {
    this.counters.errors[status] = (this.counters.errors[status] ?? 0) + 1;
  }

  /** The bound address, e.g. 127.0.0.1:6567 (with the real port when 0 was asked for). */
  get address(): string {
    return this.boundAddress;
  }

  async listen(): Promise<string> {
    const listen = this.config.http.listen;
    const separator = listen.lastIndexOf(':');
    const host = listen.slice(0, separator);
    try {
      await this.app.listen({ host, port: Number(listen.slice(separator + 1)) });
    } catch (error) {
      throw new Error(`cannot listen on ${listen} (http.listen): ${(error as Error).message}`);
    }
    const bound = this.app.server.address();
    this.boundAddress = `${host}:${typeof bound === 'object' && bound !== null ? bound.port : 0}`;
    this.serving = true;
    return this.boundAddress;
  }

  /** False while draining: /health answers 503 so balancers move away, and requests are still taken. */
  setServing(serving: boolean): void {
    this.serving = serving;
  }

  setStoreAvailable(available: boolean): void {
    this.storeAvailable = available;
  }

  /** Stops taking requests, lets running ones finish for up to `graceMs`, then cuts them off. */
  async close(graceMs = 5000): Promise<void> {
    this.serving = false;
    const force = setTimeout(() => this.app.server.closeAllConnections(), graceMs);
    force.unref();
    try {
      await this.app.close();
    } finally {
      clearTimeout(force);
    }
  }
}

function callContext(request: FastifyRequest, deadlineMs: number): CallContext {
  const socket = request.socket;
  return { deadline: Date.now() + deadlineMs, isCancelled: () => socket.destroyed };
}
