import { readFileSync } from 'node:fs';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { CassetteError } from '../errors/index.js';

/**
 * Configuration, layered: defaults < config file < environment < command-line flags.
 * Every layer is a partial object of the same shape; the merged result is validated once.
 */

const readConsistency = z.enum(['one', 'localOne', 'quorum', 'localQuorum', 'all']);
// EACH_QUORUM is valid for writes only; Cassandra refuses it for reads.
const writeConsistency = z.enum(['one', 'localOne', 'quorum', 'localQuorum', 'all', 'eachQuorum']);
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, { message: 'must be host:port, e.g. 127.0.0.1:6566' });

const filePath = z.string().min(1);

export const configSchema = z.strictObject({
  /** gRPC listen address. */
  listen: hostPort.default('127.0.0.1:6566'),
  /**
   * Serve a non-loopback address (gRPC or HTTP) without TLS. Off: such a config refuses to start,
   * since tokens and features would cross the network in clear text.
   */
  insecure: z.boolean().default(false),
  /** TLS on the gRPC port and Feast's HTTP API; the files are re-read when they change. */
  tls: z
    .strictObject({
      certFile: filePath,
      keyFile: filePath,
      /** When set (mTLS), every client must present a certificate signed by this CA. */
      clientCaFile: filePath.optional(),
      /** How often the files are checked besides file-change events (which some volumes never send). */
      reloadCheckMs: z.number().int().min(100).default(10_000),
    })
    .optional(),
  /** Authentication and per-view authorization; off unless a tokens file or a JWKS is configured. */
  auth: z
    .strictObject({
      /** YAML: `tokens: [{name, sha256, scopes}]` and `certificates: [{name, subject|san, scopes}]`. */
      tokensFile: filePath.optional(),
      jwt: z
        .strictObject({
          /** A JSON Web Key Set (the `keys` of an OIDC provider's jwks_uri), re-read when it changes. */
          jwksFile: filePath,
          issuer: z.string().min(1),
          audience: z.string().min(1),
          /** Claim holding the scopes: a space-separated string or an array of strings. */
          scopesClaim: z.string().min(1).default('scope'),
          /** Claim naming the principal in logs and the audit line. */
          principalClaim: z.string().min(1).default('sub'),
          /** Accepted clock difference when checking exp and nbf. */
          clockToleranceSeconds: z.number().int().nonnegative().default(30),
        })
        .optional(),
      /** Resolved credentials kept per token (a token is verified and its scopes compiled once). */
      cacheEntries: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  cassandra: z
    .strictObject({
      /** `host[:port]` entries; empty means "find or start a local Cassandra". */
      contactPoints: z.array(z.string().min(1)).default([]),
      localDataCenter: z.string().min(1).default('datacenter1'),
      keyspace: z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,47}$/, { message: 'must be a lower-case CQL identifier' })
        .default('cassette'),
      /** Replication used when `apply` creates the keyspace (NetworkTopologyStrategy, local DC). */
      replicationFactor: z.number().int().min(1).max(9).default(1),
      readConsistency: readConsistency.default('localQuorum'),
      writeConsistency: writeConsistency.default('localQuorum'),
      connectTimeoutMs: z.number().int().positive().default(5000),
      /** Upper bound on the driver's wait for one read or write (a caller's deadline can only shorten it). */
      requestTimeoutMs: z.number().int().positive().default(2000),
      /**
       * Lower bound on the driver's wait, however close the caller's deadline: the deadline is
       * still enforced, but a driver timeout counts against its connection (enough of them close
       * it), so a burst of tight deadlines must not churn connections.
       */
      minDriverTimeoutMs: z.number().int().positive().default(250),
      /**
       * Longest wait for one attempt of a read or write; an attempt not answered by then is retried
       * on the next replica if a whole attempt still fits before the caller's deadline. 400 ms is
       * far above a healthy read's few milliseconds, and leaves room for a retry within a 1 s deadline.
       */
      attemptTimeoutMs: z.number().int().positive().default(400),
      /** Attempts per read or write on successive hosts (1 = no retry), within the caller's deadline. */
      maxAttempts: z.number().int().min(1).max(10).default(3),
      /**
       * A read still unanswered after this long is also sent to the next replica (a hedge); the
       * first answer wins. 0 turns hedging off. 50 ms is an order of magnitude above a healthy
       * read's p99 (a few ms), so hedges stay rare in normal operation and cost little load, yet
       * a read stuck on a slow or frozen node answers ~50 ms late instead of timing out.
       */
      speculativeDelayMs: z.number().int().nonnegative().default(50),
      /** Hedges per read at most (each on another host). One covers the loss of one node. */
      maxSpeculativeExecutions: z.number().int().min(1).max(4).default(1),
      coreConnectionsPerHost: z.number().int().min(1).max(64).default(2),
      maxRequestsPerConnection: z.number().int().min(1).max(32768).default(2048),
      /** Where a locally started Cassandra keeps its data. */
      localDataDir: z.string().default('.cassette/cassandra'),
      localPort: z.number().int().min(1).max(65535).default(9042),
      /** Cassandra user (PasswordAuthenticator); the password comes from CASSANDRA_PASSWORD or passwordFile. */
      username: z.string().min(1).optional(),
      /** A file holding the password (trailing newline ignored), e.g. a mounted secret. */
      passwordFile: filePath.optional(),
      /** TLS to Cassandra (client_encryption_options). */
      tls: z
        .strictObject({
          /** CA to verify Cassandra's certificates with (default: the system's CAs). */
          caFile: filePath.optional(),
          /** A client certificate and key, for nodes that require one. */
          certFile: filePath.optional(),
          keyFile: filePath.optional(),
          /** Check that a node's certificate names the address it is reached at. */
          verifyHostname: z.boolean().default(true),
        })
        .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
          message: 'certFile and keyFile go together',
          path: ['certFile'],
        })
        .optional(),
    })
    .refine((c) => c.minDriverTimeoutMs <= c.requestTimeoutMs, {
      message: 'minDriverTimeoutMs must not exceed requestTimeoutMs',
      path: ['minDriverTimeoutMs'],
    })
    .prefault({}),
  serving: z
    .strictObject({
      /** Entity rows in one GetOnlineFeatures request. */
      maxBatchSize: z.number().int().positive().default(1000),
      /** Concurrent single-partition reads one request may have in flight. */
      maxConcurrentReads: z.number().int().positive().default(128),
      /** Deadline applied to a request whose caller sent none. */
      defaultDeadlineMs: z.number().int().positive().default(2000),
      /** Server processes sharing the listening port, each with its own session and cache. */
      workers: z.number().int().positive().max(256).default(1),
      /**
       * Entity reads (rows x views not answered by the cache) admitted at once, over all requests.
       * Beyond it requests queue briefly, then are refused RESOURCE_EXHAUSTED: past the point where
       * Cassandra is busy, more reads in flight only add waiting (see README, Operating it).
       */
      maxInFlightReads: z.number().int().positive().default(1024),
      /** Rows being written at once over all WriteFeatures calls (a stream counts its write window). */
      maxInFlightWriteRows: z.number().int().positive().default(4096),
      /** Longest a request waits for room under maxInFlightReads / maxInFlightWriteRows; 0 = no queue. */
      maxQueueWaitMs: z.number().int().nonnegative().default(100),
      /** A request with less time than this left before its deadline is refused before its reads start. */
      minTimeLeftMs: z.number().int().nonnegative().default(10),
      /** HTTP/2 streams (calls) one client connection may have open at once. */
      maxConcurrentStreams: z.number().int().positive().default(256),
      /** Largest request message accepted; a larger one is refused RESOURCE_EXHAUSTED. */
      maxReceiveMessageBytes: z
        .number()
        .int()
        .min(1024)
        .default(4 * 1024 * 1024),
      /** After SIGTERM: how long health says NOT_SERVING while requests are still taken. */
      drainMs: z.number().int().nonnegative().default(5000),
      /** After SIGTERM: the bound on the whole shutdown (drain, in-flight calls, Cassandra session). */
      shutdownTimeoutMs: z.number().int().positive().default(15_000),
      /** How often each Cassandra host is asked a trivial query to tell whether it still answers. */
      healthProbeIntervalMs: z.number().int().positive().default(1000),
      /** How long such a probe may take before it counts as a failure (two in a row: the host is not answering). */
      healthProbeTimeoutMs: z.number().int().positive().default(1000),
      /** gRPC server reflection (grpcurl, Postman); it lists the services and messages, never data. */
      reflection: z.boolean().default(true),
    })
    .refine((s) => s.drainMs < s.shutdownTimeoutMs, {
      message: 'drainMs must be less than shutdownTimeoutMs',
      path: ['drainMs'],
    })
    .prefault({}),
  http: z
    .strictObject({
      /** Feast's HTTP/JSON API (POST /get-online-features, /push, /write-to-online-store, GET /health). */
      enabled: z.boolean().default(true),
      listen: hostPort.default('127.0.0.1:6567'),
      /** Largest request body accepted (a write's data frame); larger ones are answered 413. */
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .default(16 * 1024 * 1024),
      /** Deadline of a write through HTTP, which carries none (a read takes serving.defaultDeadlineMs). */
      writeDeadlineMs: z.number().int().positive().default(60_000),
    })
    .prefault({}),
  cache: z
    .strictObject({
      enabled: z.boolean().default(true),
      maxBytes: z
        .number()
        .int()
        .positive()
        .default(256 * 1024 * 1024),
      ttlMs: z.number().int().positive().default(30_000),
      /** Keeps the caches of every replica coherent with writes made anywhere (see README, Consistency). */
      coherence: z
        .strictObject({
          /** Off: a write elsewhere (another replica, a direct ingest job) is seen here only once ttlMs passes. */
          enabled: z.boolean().default(true),
          /**
           * The bound: a read that starts this long after a write was acknowledged (through any
           * replica) or after a direct ingest job ended does not get a cached row older than that write.
           */
          maxStalenessMs: z.number().int().min(100).max(60_000).default(1000),
          /** How often the invalidation log is read; default a quarter of maxStalenessMs. */
          pollIntervalMs: z.number().int().min(10).optional(),
          /** The assumed bound on the difference between any two servers' clocks (and a writer's). */
          maxClockSkewMs: z.number().int().nonnegative().default(50),
          /**
           * Longest a log entry may take from its timestamp to being acknowledged; a slower one is
           * logged again with a new timestamp (readers' windows overlap by this much plus the skew).
           */
          logWriteBudgetMs: z.number().int().min(10).default(200),
        })
        .refine((c) => (c.pollIntervalMs ?? c.maxStalenessMs / 4) <= c.maxStalenessMs / 2, {
          message: 'pollIntervalMs must be at most half of maxStalenessMs (a poll may fail and the bound still hold)',
          path: ['pollIntervalMs'],
        })
        .prefault({}),
    })
    .prefault({}),
  registry: z
    .strictObject({
      /** How often a server checks Cassandra for a newly applied registry. */
      refreshIntervalMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** Event times further than this in the future are rejected: they would shadow real writes. */
      maxFutureSkewMs: z
        .number()
        .int()
        .nonnegative()
        .default(5 * 60_000),
      /**
       * A value past its view's ttl is still stored this long (reported OUTSIDE_MAX_AGE),
       * then Cassandra expires it physically.
       */
      expiryGraceSeconds: z.number().int().nonnegative().default(3600),
      /** Row writes in flight at most, per request, stream or ingestion job. */
      writeConcurrency: z.number().int().positive().default(64),
      maxRowsPerRequest: z.number().int().positive().default(10_000),
      /** Most elements one list value may hold; a longer one is refused INVALID_ARGUMENT. */
      maxListLength: z.number().int().positive().default(65_536),
      /** Row writes an ingestion job starts per second at most (0 = unlimited), to spare reads served meanwhile. */
      maxRowsPerSecond: z.number().int().nonnegative().default(0),
      /** Attempts per row write; transient failures (timeouts, Unavailable, Overloaded) are retried. */
      writeAttempts: z.number().int().min(1).max(20).default(4),
      /** Driver timeout per write attempt of an ingestion job (RPCs derive theirs from the caller's deadline). */
      writeTimeoutMs: z.number().int().positive().default(10_000),
      /**
       * Consecutive rows of one entity waiting for a write slot go as one UNLOGGED BATCH of at most
       * this many rows (one mutation, one round trip); 1 turns batching off.
       */
      partitionBatchRows: z.number().int().min(1).max(1000).default(32),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** JSON lines, or readable lines (pino-pretty); auto: readable when stderr is a terminal. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      /** Interval of the periodic stats line (cache hits and misses, requests); 0 turns it off. */
      statsIntervalMs: z.number().int().nonnegative().default(60_000),
      /** A call taking at least this long logs a warn line with its shape (never its keys); 0 turns it off. */
      slowRequestMs: z.number().int().nonnegative().default(500),
      /** One `audit` line per write call, write stream and registry change (principal, method, view, rows, outcome). */
      audit: z.boolean().default(true),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /** Serve Prometheus metrics (a serving process; an ingest job only with --metrics-listen). */
      enabled: z.boolean().default(true),
      /** Address of the metrics HTTP listener (GET /metrics), apart from the gRPC port. */
      listen: hostPort.default('127.0.0.1:9464'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** Whether `host:port` names a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackAddress(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Refuses a server config that would serve a non-loopback address in clear text, unless
 * `insecure` says that is meant (e.g. TLS ends at a sidecar on the same host).
 */
export function assertSafeListen(config: Config): void {
  if (config.tls || config.insecure) return;
  const exposed = [config.listen, ...(config.http.enabled ? [config.http.listen] : [])].filter(
    (address) => !isLoopbackAddress(address),
  );
  if (exposed.length > 0) {
    throw new ConfigError(
      `refusing to serve ${exposed.join(' and ')} without TLS: anyone on the network could read features and ` +
        'tokens in transit. Set tls.certFile and tls.keyFile, listen on 127.0.0.1, or pass --insecure ' +
        '(insecure: true) if TLS ends before this process (e.g. a sidecar proxy).',
    );
  }
}
export type ConfigInput = z.input<typeof configSchema>;

export class ConfigError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_CONFIG', message);
    this.name = 'ConfigError';
  }
}

type Layer = Record<string, unknown>;

function isPlainObject(value: unknown): value is Layer {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Layer, over: Layer): Layer {
  const out: Layer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : value;
  }
  return out;
}

function setPath(target: Layer, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = isPlainObject(next) ? next : (node[key] = {});
  }
  node[path[path.length - 1] as string] = value;
}

type EnvKind = 'string' | 'number' | 'boolean' | 'list';

/** Environment variables and the config paths they set. */
const ENVIRONMENT: ReadonlyArray<readonly [string, readonly string[], EnvKind]> = [
  ['CASSETTE_LISTEN', ['listen'], 'string'],
  ['CASSANDRA_CONTACT_POINTS', ['cassandra', 'contactPoints'], 'list'],
  ['CASSANDRA_LOCAL_DC', ['cassandra', 'localDataCenter'], 'string'],
  ['CASSETTE_KEYSPACE', ['cassandra', 'keyspace'], 'string'],
  ['CASSETTE_REPLICATION_FACTOR', ['cassandra', 'replicationFactor'], 'number'],
  ['CASSETTE_READ_CONSISTENCY', ['cassandra', 'readConsistency'], 'string'],
  ['CASSETTE_WRITE_CONSISTENCY', ['cassandra', 'writeConsistency'], 'string'],
  ['CASSETTE_MAX_BATCH_SIZE', ['serving', 'maxBatchSize'], 'number'],
  ['CASSETTE_MAX_CONCURRENT_READS', ['serving', 'maxConcurrentReads'], 'number'],
  ['CASSETTE_SERVING_WORKERS', ['serving', 'workers'], 'number'],
  ['CASSETTE_MAX_IN_FLIGHT_READS', ['serving', 'maxInFlightReads'], 'number'],
  ['CASSETTE_MAX_IN_FLIGHT_WRITE_ROWS', ['serving', 'maxInFlightWriteRows'], 'number'],
  ['CASSETTE_DRAIN_MS', ['serving', 'drainMs'], 'number'],
  ['CASSETTE_SHUTDOWN_TIMEOUT_MS', ['serving', 'shutdownTimeoutMs'], 'number'],
  ['CASSETTE_HTTP_ENABLED', ['http', 'enabled'], 'boolean'],
  ['CASSETTE_HTTP_LISTEN', ['http', 'listen'], 'string'],
  ['CASSETTE_CACHE_ENABLED', ['cache', 'enabled'], 'boolean'],
  ['CASSETTE_CACHE_MAX_BYTES', ['cache', 'maxBytes'], 'number'],
  ['CASSETTE_CACHE_TTL_MS', ['cache', 'ttlMs'], 'number'],
  ['CASSETTE_CACHE_COHERENCE', ['cache', 'coherence', 'enabled'], 'boolean'],
  ['CASSETTE_CACHE_MAX_STALENESS_MS', ['cache', 'coherence', 'maxStalenessMs'], 'number'],
  ['CASSETTE_REGISTRY_REFRESH_MS', ['registry', 'refreshIntervalMs'], 'number'],
  ['CASSETTE_WRITE_CONCURRENCY', ['ingest', 'writeConcurrency'], 'number'],
  ['CASSETTE_MAX_ROWS_PER_SECOND', ['ingest', 'maxRowsPerSecond'], 'number'],
  ['CASSETTE_LOG_LEVEL', ['log', 'level'], 'string'],
  ['CASSETTE_LOG_FORMAT', ['log', 'format'], 'string'],
  ['CASSETTE_SLOW_REQUEST_MS', ['log', 'slowRequestMs'], 'number'],
  ['CASSETTE_METRICS_ENABLED', ['metrics', 'enabled'], 'boolean'],
  ['CASSETTE_METRICS_LISTEN', ['metrics', 'listen'], 'string'],
  ['CASSETTE_TLS_CERT_FILE', ['tls', 'certFile'], 'string'],
  ['CASSETTE_TLS_KEY_FILE', ['tls', 'keyFile'], 'string'],
  ['CASSETTE_TLS_CLIENT_CA_FILE', ['tls', 'clientCaFile'], 'string'],
  ['CASSETTE_AUTH_TOKENS_FILE', ['auth', 'tokensFile'], 'string'],
  ['CASSETTE_REFLECTION', ['serving', 'reflection'], 'boolean'],
  ['CASSANDRA_USERNAME', ['cassandra', 'username'], 'string'],
  ['CASSANDRA_PASSWORD_FILE', ['cassandra', 'passwordFile'], 'string'],
];

export const ENVIRONMENT_VARIABLES: readonly string[] = ENVIRONMENT.map(([name]) => name);

function environmentLayer(env: NodeJS.ProcessEnv): Layer {
  const layer: Layer = {};
  for (const [name, path, kind] of ENVIRONMENT) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    let value: unknown = raw.trim();
    if (kind === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) throw new ConfigError(`${name}="${raw}" is not a number`);
    } else if (kind === 'boolean') {
      const lower = raw.trim().toLowerCase();
      if (!['true', 'false', '1', '0', 'yes', 'no'].includes(lower)) {
        throw new ConfigError(`${name}="${raw}" is not a boolean (true/false)`);
      }
      value = ['true', '1', 'yes'].includes(lower);
    } else if (kind === 'list') {
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    }
    setPath(layer, path, value);
  }
  return layer;
}

function fileLayer(path: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed == null) return {};
  if (!isPlainObject(parsed)) throw new ConfigError(`config file ${path} must hold a mapping`);
  return parsed;
}

export interface LoadConfigOptions {
  /** Path of a YAML/JSON config file; defaults to $CASSETTE_CONFIG. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags (highest precedence). */
  overrides?: ConfigInput;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.CASSETTE_CONFIG;
  let merged: Layer = {};
  if (file) merged = merge(merged, fileLayer(file));
  merged = merge(merged, environmentLayer(env));
  if (options.overrides) merged = merge(merged, options.overrides as Layer);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
