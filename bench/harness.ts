/**
 * The latency harness: `npm run bench -- [--quick] [options]` (see bench/README.md, or --help).
 *
 * Finds or starts Cassandra, starts two Cassette server processes (row cache on and off), loads
 * a deterministic dataset through WriteFeatures (skipped when already there), then runs every
 * scenario from a separate load-generator process and writes bench/out/report.json and
 * report.html. Open-loop scenarios first probe the maximum rate with a short closed loop, then
 * send at a fraction of it on a fixed schedule, measuring latency from intended send times.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';

import pino from 'pino';

import { findOrStartCassandra, type CassandraEndpoint } from '../src/cassandra/index.js';
import { loadConfig } from '../src/config/index.js';
import { connectSession, type CassandraClient } from '../src/store/index.js';
import type { Job, JobResult, LoadSpec, TargetSpec } from './loadgen/protocol.js';
import {
  datasetFingerprint,
  describeKeys,
  featureRefs,
  firstEntityToLoad,
  JOIN_KEY,
  keyBatches,
  poolRequests,
  requestedFeatures,
} from './lib/dataset.js';
import {
  GHZ_POOL_MAX_REQUESTS,
  GHZ_START_ALLOWANCE_MS,
  ghzRequestData,
  ghzVersionOf,
  runGhz,
  writeGhzProto,
  type GhzLoad,
  type GhzProto,
} from './lib/ghz.js';
import { Generator } from './lib/generator.js';
import { decodeHistogram, percentileCurve, percentileMs, summarize } from './lib/histogram.js';
import { renderHtml } from './lib/html.js';
import { loadDataset, loadedFingerprint, prepareKeyspace, setLoaded } from './lib/load.js';
import { parseHarnessArgs, USAGE, type HarnessOptions } from './lib/options.js';
import { buildPlan, type ScenarioSpec, type ServerName } from './lib/plan.js';
import { CpuMeter, cpuSeconds, CpuTimeline, MachineCpuMeter, pidListeningOn } from './lib/proc.js';
import {
  baselineRatios,
  cpuUsPerRequest,
  feastRatios,
  generatorRatios,
  reportSchema,
  variantRatios,
  type Report,
  type ScenarioResult,
} from './lib/report.js';
import { git, machineInfo, progress } from './lib/run-info.js';
import { PYTHON_CALLER, runPythonCaller } from './lib/python-caller.js';
import { ServerChild, type StatsLine } from './lib/servers.js';
import { prepareBenchSecurity, SECURE_ADDRESSES_ENV, SECURITY_VARIANTS } from './lib/security.js';
import { VARIANTS } from './lib/variants.js';

const OPEN_LOOP_MAX_IN_FLIGHT = 512;
/** ghz's callers in a fixed-rate run: enough that its rate limiter, not its callers, sets the pace. */
const GHZ_RATE_CONCURRENCY = 64;
/** Keep-alive connections of the Feast HTTP target: HTTP/1.1 carries one request at a time on each. */
const HTTP_CONNECTIONS = 64;
const quietLogger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' });
const startedAt = performance.now();

const say = progress('bench', startedAt);

/** Everything started by this run, stopped in reverse order on the way out (also on Ctrl-C). */
class Resources {
  generator: Generator | undefined;
  servers: ServerChild[] = [];
  session: CassandraClient | undefined;
  endpoint: CassandraEndpoint | undefined;

  async stopAll(): Promise<void> {
    await this.generator?.stop().catch(() => this.generator?.kill());
    await Promise.all(this.servers.map((s) => s.stop().catch(() => s.kill())));
    await this.session?.shutdown().catch(() => undefined);
    await this.endpoint?.stop().catch(() => undefined);
  }

  killAll(): void {
    this.generator?.kill();
    for (const server of this.servers) server.kill();
  }
}

interface Context {
  options: HarnessOptions;
  generator: Generator;
  /** Which server answers the scenarios of each ServerName (the same one for all with --target). */
  servers: Record<ServerName, ServerChild | string>;
  cassandra: { contactPoints: string[]; localDataCenter: string } | undefined;
  cassandraPid: number | null;
  results: ScenarioResult[];
  /** ghz's proto and the request pools written for it (one JSON file per batch, features and key mix). */
  ghz: { proto: GhzProto; dir: string; dataFiles: Map<string, string> } | undefined;
}

/** The server that answers `name`'s scenarios. */
function serverOf(ctx: Context, name: ServerName): ServerChild | string {
  const server = ctx.servers[name];
  if (server === undefined) throw new Error(`no server ${name} in this run`);
  return server;
}

function addressOf(server: ServerChild | string): string {
  return typeof server === 'string' ? server : server.address;
}

const NO_HTTP_ADDRESS = "skipped: Feast's HTTP API is measured only on servers the harness starts (not --target)";

/** Why a scenario cannot run in this context, or null when it can. */
function skipReason(ctx: Context, spec: ScenarioSpec): string | null {
  if (spec.generator === 'ghz') {
    if (!ctx.options.ghz) {
      return 'skipped: ghz not found (go install github.com/bojand/ghz/cmd/ghz@v0.121.0, or --ghz <path>)';
    }
    if (process.env.BENCH_SECURITY) return 'skipped: ghz runs without TLS or tokens, and BENCH_SECURITY is set';
  }
  if (spec.server === null) return ctx.cassandra ? null : 'skipped: baselines need Cassandra (--contact-points)';
  const server = serverOf(ctx, spec.server);
  if (spec.system === 'feast-http' && (typeof server === 'string' || server.httpAddress === undefined)) {
    return NO_HTTP_ADDRESS;
  }
  return null;
}

function targetOf(ctx: Context, spec: ScenarioSpec): TargetSpec {
  const { options } = ctx;
  if (spec.server !== null) {
    const server = serverOf(ctx, spec.server);
    if (spec.system === 'feast-http') {
      if (typeof server === 'string' || server.httpAddress === undefined) throw new Error(NO_HTTP_ADDRESS);
      return {
        kind: 'feast-http',
        address: server.httpAddress,
        connections: HTTP_CONNECTIONS,
        deadlineMs: options.deadlineMs,
      };
    }
    return {
      kind: spec.system === 'feast-grpc' ? 'feast-grpc' : 'cassette',
      address: addressOf(server),
      channels: options.channels,
      deadlineMs: options.deadlineMs,
    };
  }
  if (!ctx.cassandra) throw new Error('baselines need Cassandra: pass --contact-points');
  const cassandra = { ...ctx.cassandra, keyspace: options.keyspace };
  return spec.system === 'direct-driver'
    ? { kind: 'direct-driver', cassandra, deadlineMs: options.deadlineMs }
    : { kind: 'connect-per-request', cassandra };
}

interface Window {
  machineCpu: number | null;
  serverCpu: number | null;
  cassandraCpu: number | null;
  stats: StatsLine | null;
}

/** Runs one job; around its measured window, samples server and Cassandra CPU and the cache counters. */
async function measure(
  ctx: Context,
  spec: ScenarioSpec,
  load: LoadSpec,
): Promise<{ result: JobResult; window: Window }> {
  if (spec.generator === 'ghz') return measureWithGhz(ctx, spec, load);
  const server = spec.server === null ? undefined : serverOf(ctx, spec.server);
  const child = typeof server === 'object' ? server : undefined;
  const serverCpu = new CpuMeter(child?.pid ?? null);
  const cassandraCpu = new CpuMeter(ctx.cassandraPid);
  const machineCpu = new MachineCpuMeter();
  let statsAtStart: Promise<StatsLine | null> = Promise.resolve(null);
  let statsAtEnd: Promise<StatsLine | null> = Promise.resolve(null);
  const window: Window = { machineCpu: null, serverCpu: null, cassandraCpu: null, stats: null };
  const job: Omit<Job, 'id'> = {
    target: targetOf(ctx, spec),
    workload: {
      batch: spec.batch,
      features: spec.features,
      keys: spec.keys,
      entities: ctx.options.entities,
      seed: ctx.options.seed,
    },
    load,
    verify: ctx.options.verify,
  };
  const result = await ctx.generator.run(job, {
    onStart: () => {
      serverCpu.start();
      cassandraCpu.start();
      machineCpu.start();
      if (child) statsAtStart = child.stats();
    },
    onEnd: () => {
      window.serverCpu = serverCpu.stop();
      window.cassandraCpu = cassandraCpu.stop();
      window.machineCpu = machineCpu.stop();
      // Lines arrive in order: the start line is consumed before the end line.
      if (child) statsAtEnd = statsAtStart.then(() => child.stats());
    },
  });
  window.stats = await statsAtEnd;
  return { result, window };
}

/** The request pool of `spec` as ghz call data: the same batches the grpc-js generator sends. */
function ghzDataFile(ctx: Context, spec: ScenarioSpec): string {
  const ghz = ctx.ghz!;
  const key = `b${spec.batch}-f${spec.features}-${describeKeys(spec.keys).replace(/[^a-z0-9.]+/gi, '_')}`;
  let file = ghz.dataFiles.get(key);
  if (file === undefined) {
    const { entities, seed } = ctx.options;
    // The grpc-js generator's pool, or its first GHZ_POOL_MAX_REQUESTS batches: ghz parses them all
    // before it sends anything.
    const batches = keyBatches(spec.keys, entities, spec.batch, poolRequests(spec.batch), seed).slice(
      0,
      GHZ_POOL_MAX_REQUESTS,
    );
    file = join(ghz.dir, `requests-${key}.json`);
    writeFileSync(file, ghzRequestData(batches, featureRefs(requestedFeatures(spec.features)), JOIN_KEY));
    ghz.dataFiles.set(key, file);
  }
  return file;
}

/**
 * The ghz form of measure(): an unrecorded ghz run for the warm-up, then the measured one. Server,
 * Cassandra and machine CPU are sampled through the measured process and read over the window its
 * report gives (first call sent to last answer), leaving out its start-up and report writing.
 */
async function measureWithGhz(
  ctx: Context,
  spec: ScenarioSpec,
  load: LoadSpec,
): Promise<{ result: JobResult; window: Window }> {
  const ghz = ctx.ghz!;
  const server = serverOf(ctx, spec.server!);
  const child = typeof server === 'object' ? server : undefined;
  const base = {
    address: addressOf(server),
    rpc: spec.rpc ?? 'GetOnlineFeatures',
    proto: ghz.proto,
    dataFile: ghzDataFile(ctx, spec),
    connections: ctx.options.channels,
    deadlineMs: ctx.options.deadlineMs,
  } as const;
  const loadFor = (durationMs: number): GhzLoad =>
    load.mode === 'closed'
      ? { mode: 'closed', concurrency: ctx.options.ghzConcurrency, durationMs }
      : { mode: 'rate', rps: load.ratePerSecond, concurrency: GHZ_RATE_CONCURRENCY, durationMs };
  const run = (durationMs: number, onSpawn?: (pid: number | null) => void) =>
    runGhz(
      ctx.options.ghz!,
      { ...base, load: loadFor(durationMs) },
      durationMs + GHZ_START_ALLOWANCE_MS + base.deadlineMs + 30_000,
      onSpawn,
    );
  if (load.warmupMs > 0) await run(load.warmupMs);
  // Sampled through ghz's whole life, read over its sending window only (from its report).
  const cpu = new CpuTimeline([child?.pid ?? null, ctx.cassandraPid, 'machine', null]);
  // Each stats line holds the counters since the previous one: this one starts the window's.
  if (child) await child.stats();
  cpu.start();
  const measured = await run(load.durationMs, (pid) => cpu.track(3, pid)).finally(() => cpu.stop());
  const [serverCpu = null, cassandraCpu = null, machineCpu = null, ghzCpu = null] = cpu.percentOver(
    measured.windowStartMs,
    measured.windowEndMs,
  );
  const window: Window = { serverCpu, cassandraCpu, machineCpu, stats: child ? await child.stats() : null };
  const windowS = (measured.windowEndMs - measured.windowStartMs) / 1000;
  return {
    result: {
      histogram: measured.histogram,
      sendLag: null,
      completed: measured.count,
      achievedRps: measured.achievedRps,
      errors: measured.errors,
      errorsByCode: measured.errorsByCode,
      windowMs: windowS * 1000,
      // ghz's CPU in the window; failing that (it exited within a sample of its last answer), over its life.
      cpuPercent: ghzCpu ?? (measured.cpuSeconds === null || windowS <= 0 ? 0 : (measured.cpuSeconds / windowS) * 100),
      gcPauseTotalMs: 0,
      gcPauseMaxMs: 0,
      verified: 0,
      verifyFailures: 0,
      firstVerifyFailure: null,
    },
    window,
  };
}

function hitRatio(stats: StatsLine | null): number | null {
  if (!stats) return null;
  const lookups = stats.cacheHits + stats.cacheMisses + stats.cacheCoalesced;
  return lookups === 0 ? null : Math.round((stats.cacheHits / lookups) * 10_000) / 10_000;
}

function entryOf(
  ctx: Context,
  spec: ScenarioSpec,
  load: LoadSpec,
  result: JobResult,
  window: Window,
  /** The closed-loop probe before an open-loop run: its throughput and server CPU (null: no probe). */
  probe: { rps: number; serverCpu: number | null } | null,
): ScenarioResult {
  const maxRps = probe?.rps ?? null;
  const histogram = decodeHistogram(result.histogram);
  const summary = summarize(histogram);
  if (summary.count === 0) throw new Error('no request completed in the measured window');
  const lag = result.sendLag === null ? null : percentileMs(decodeHistogram(result.sendLag), 99);
  const cache =
    spec.server === null ? 'off' : ctx.options.target ? 'unknown' : spec.server === 'no-cache' ? 'off' : 'on';
  const round1 = (n: number) => Math.round(n * 10) / 10;
  return {
    name: spec.name,
    group: spec.group,
    system: spec.system,
    generator: spec.generator ?? 'loadgen',
    mode: load.mode,
    batch_size: spec.batch,
    features: spec.features,
    cache,
    key_distribution: describeKeys(spec.keys),
    concurrency: load.mode === 'closed' ? load.concurrency : null,
    target_rps: load.mode === 'open' ? round1(load.ratePerSecond) : null,
    achieved_rps: round1(result.achievedRps),
    max_rps: maxRps === null ? null : round1(maxRps),
    requests: summary.count,
    p50_ms: summary.p50_ms,
    p90_ms: summary.p90_ms,
    p99_ms: summary.p99_ms,
    p999_ms: summary.p999_ms,
    max_ms: summary.max_ms,
    mean_ms: summary.mean_ms,
    errors: result.errors,
    errors_by_code: result.errorsByCode,
    cache_hit_ratio: cache === 'on' ? hitRatio(window.stats) : null,
    server_cpu_percent: window.serverCpu,
    server_cpu_us_per_request: cpuUsPerRequest(window.serverCpu, result.achievedRps),
    max_server_cpu_percent: probe?.serverCpu ?? null,
    max_server_cpu_us_per_request: cpuUsPerRequest(probe?.serverCpu ?? null, maxRps),
    cassandra_cpu_percent: window.cassandraCpu,
    generator_cpu_percent: round1(result.cpuPercent),
    generator_gc_max_ms: Math.round(result.gcPauseMaxMs * 100) / 100,
    generator_gc_ms_per_s: Math.round((result.gcPauseTotalMs / (result.windowMs / 1000)) * 100) / 100,
    machine_cpu_percent: window.machineCpu,
    send_lag_p99_ms: lag,
    window_s: Math.round(result.windowMs) / 1000,
    verified: result.verified,
    verify_failures: result.verifyFailures,
    verify_first_failure: result.firstVerifyFailure,
    histogram: result.histogram,
    percentile_curve: percentileCurve(histogram),
    series: spec.series ?? null,
  };
}

async function runScenario(ctx: Context, spec: ScenarioSpec): Promise<ScenarioResult> {
  const d = ctx.options.durations;
  const flow = spec.flow;
  if (flow.kind === 'closed') {
    const isSweep = spec.group === 'sweep';
    const load: LoadSpec = {
      mode: 'closed',
      concurrency: flow.concurrency,
      warmupMs: (isSweep ? d.sweepWarmupS : 0) * 1000,
      // A capped run (connect-per-request) gets time for its few costly requests.
      durationMs: (isSweep ? d.sweepS : Math.max(d.measureS, 5)) * 1000,
      ...(flow.maxRequests === undefined ? {} : { maxRequests: flow.maxRequests }),
    };
    const { result, window } = await measure(ctx, spec, load);
    return entryOf(ctx, spec, load, result, window, null);
  }
  // Probe: a short closed loop for the maximum sustainable rate (also warms cache and connections).
  let probe: { rps: number; serverCpu: number | null } | null = null;
  if (ctx.options.rate === undefined) {
    const probed = await measure(ctx, spec, {
      mode: 'closed',
      concurrency: flow.probeConcurrency,
      warmupMs: (d.warmupS / 2) * 1000,
      durationMs: d.probeS * 1000,
    });
    probe = { rps: probed.result.achievedRps, serverCpu: probed.window.serverCpu };
  }
  const maxRps = probe?.rps ?? null;
  const matched = flow.kind === 'probe-then-match' ? ctx.results.find((r) => r.name === flow.match) : undefined;
  // At least a handful of arrivals in the window, even after a probe that barely got answers.
  const rate = Math.max(5 / d.measureS, ctx.options.rate ?? matched?.target_rps ?? flow.fraction * (maxRps ?? 0));
  const load: LoadSpec = {
    mode: 'open',
    ratePerSecond: rate,
    poisson: ctx.options.poisson,
    warmupMs: d.warmupS * 1000,
    durationMs: d.measureS * 1000,
    maxInFlight: OPEN_LOOP_MAX_IN_FLIGHT,
  };
  const { result, window } = await measure(ctx, spec, load);
  return entryOf(ctx, spec, load, result, window, probe);
}

/** The longest a count-bounded warm-up may take before the harness gives up waiting for it. */
const HOT_SET_WARMUP_LIMIT_MS = 120_000;

/**
 * Before the first scenario: a short unrecorded closed loop against each system the plan uses,
 * so connections are open and the generator, the servers and the driver are past their JIT
 * warm-up when the first probe starts. A cache scenario over the hot set also reads every hot
 * key once, counted in requests rather than time, so its scenarios start with the hot set
 * cached however slow the machine is.
 */
async function warmUp(ctx: Context, plan: readonly ScenarioSpec[]): Promise<void> {
  const seen = new Set<string>();
  const batch = 10;
  for (const spec of plan) {
    const key = `${spec.system}/${spec.server}/${spec.keys.kind}`;
    if (seen.has(key) || spec.system === 'connect-per-request') continue;
    seen.add(key);
    const workload = { batch, features: 10, keys: spec.keys, entities: ctx.options.entities, seed: ctx.options.seed };
    await ctx.generator.run({
      target: targetOf(ctx, spec),
      workload,
      load: { mode: 'closed', concurrency: 8, warmupMs: 0, durationMs: ctx.options.durations.warmupS * 2000 },
      verify: false,
    });
    if (spec.keys.kind === 'hot' && spec.server !== null && spec.server !== 'no-cache') {
      // Hot batches cycle through the hot set in order, so ceil(hot / batch) consecutive requests
      // cover it. The generator's pool of batches may wrap around mid-run (back to the first id):
      // twice that many leaves one unbroken stretch long enough on one side of the wrap.
      const covering = 2 * Math.ceil(Math.min(spec.keys.hotSet, ctx.options.entities) / batch);
      await ctx.generator.run({
        target: targetOf(ctx, spec),
        workload,
        load: {
          mode: 'closed',
          concurrency: 8,
          warmupMs: 0,
          durationMs: HOT_SET_WARMUP_LIMIT_MS,
          maxRequests: covering,
        },
        verify: false,
      });
    }
  }
}

function describe(entry: ScenarioResult): string {
  const rate =
    entry.mode === 'open'
      ? `${entry.achieved_rps}/${entry.target_rps} req/s (max ${entry.max_rps})`
      : `${entry.achieved_rps} req/s c${entry.concurrency}`;
  const extras = [
    entry.cache_hit_ratio === null ? '' : `hits ${(entry.cache_hit_ratio * 100).toFixed(1)}%`,
    entry.server_cpu_percent === null ? '' : `server ${entry.server_cpu_percent}%`,
    entry.errors > 0 ? `ERRORS ${entry.errors} ${JSON.stringify(entry.errors_by_code)}` : '',
    entry.verify_failures > 0 ? `VERIFY FAILURES ${entry.verify_failures}: ${entry.verify_first_failure}` : '',
  ].filter(Boolean);
  return `${entry.name.padEnd(38)} ${rate.padEnd(34)} p50 ${entry.p50_ms} p99 ${entry.p99_ms} p99.9 ${entry.p999_ms} ms ${extras.join(' ')}`;
}

function contactPort(contactPoint: string): number {
  const match = /:(\d+)$/.exec(contactPoint);
  return match ? Number(match[1]) : 9042;
}

async function main(): Promise<void> {
  const parsed = parseHarnessArgs(process.argv.slice(2), process.env);
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const options = parsed;
  const startDate = new Date().toISOString();
  const loadAtStart = loadavg().map((n) => Math.round(n * 100) / 100);
  const outDir = options.outDir;
  mkdirSync(outDir, { recursive: true });
  const security = prepareBenchSecurity(
    outDir,
    options.variants.some((variant) => variant in SECURITY_VARIANTS),
  );
  if (security !== 'off') say(`security: ${security} (BENCH_SECURITY)`);
  const res = new Resources();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping what this run started`);
    res.killAll();
    void res.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // --- Cassandra
    let cassandra: Context['cassandra'];
    let cassandraSource = 'none';
    if (options.contactPoints) {
      cassandra = { contactPoints: options.contactPoints, localDataCenter: options.localDataCenter };
      cassandraSource = 'given';
    } else if (!options.target) {
      const env = { ...process.env };
      delete env.CASSANDRA_CONTACT_POINTS;
      say(`finding or starting Cassandra on port ${options.cassandraPort} …`);
      res.endpoint = await findOrStartCassandra({ logger: quietLogger, port: options.cassandraPort, env });
      cassandra = { contactPoints: res.endpoint.contactPoints, localDataCenter: res.endpoint.localDataCenter };
      cassandraSource = res.endpoint.source;
    }
    const firstContact = cassandra?.contactPoints[0];
    const cassandraPid =
      firstContact && /^(127\.|localhost)/.test(firstContact) ? pidListeningOn(contactPort(firstContact)) : null;
    if (cassandra) {
      say(
        `Cassandra (${cassandraSource}) at ${cassandra.contactPoints.join(', ')}${cassandraPid ? `, pid ${cassandraPid}` : ''}`,
      );
      const config = loadConfig({
        env: {},
        overrides: { cassandra: { ...cassandra, keyspace: options.keyspace } },
      });
      res.session = await connectSession(config.cassandra, quietLogger);
      await prepareKeyspace(res.session, options.keyspace, cassandra.localDataCenter, quietLogger);
    }

    // --- Servers
    let servers: Context['servers'];
    if (options.target) {
      servers = { cache: options.target, 'no-cache': options.target };
      say(`benchmarking the running server at ${options.target}`);
    } else {
      const common = {
        keyspace: options.keyspace,
        contactPoints: cassandra!.contactPoints,
        localDataCenter: cassandra!.localDataCenter,
        outDir,
        cpuProf: options.cpuProf,
      };
      const [withCache, withoutCache, ...variants] = await Promise.all([
        ServerChild.start({ ...common, name: 'cache', cache: true }),
        ServerChild.start({ ...common, name: 'no-cache', cache: false }),
        ...options.variants.map((variant) =>
          ServerChild.start({
            ...common,
            name: `variant-${variant}`,
            cache: true,
            overrides: VARIANTS[variant]!.overrides,
          }),
        ),
      ]);
      res.servers.push(withCache, withoutCache, ...variants);
      servers = { cache: withCache, 'no-cache': withoutCache };
      options.variants.forEach((variant, i) => (servers[`variant:${variant}`] = variants[i]!));
      // The load generator (forked later, with this environment) connects to it with TLS and the token.
      process.env[SECURE_ADDRESSES_ENV] = options.variants
        .map((variant, i) =>
          variant in SECURITY_VARIANTS ? `${variants[i]!.address}=${SECURITY_VARIANTS[variant]!.join('+')}` : '',
        )
        .filter(Boolean)
        .join(',');
      say(`servers: ${res.servers.map((s) => `${s.name} ${s.address} (pid ${s.pid})`).join(', ')}`);
    }

    // --- Data
    const loadInfo: Report['load'] = { skipped: true, rows: 0, seconds: 0, rows_per_s: null, cpu_seconds: null };
    const fingerprint = datasetFingerprint(options.seed, options.entities);
    const from = res.session
      ? firstEntityToLoad(await loadedFingerprint(res.session, options.keyspace), options.seed, options.entities)
      : 0;
    if (options.skipLoad) {
      say('--skip-load: using whatever data is there');
    } else if (from === null) {
      say(`dataset already loaded (${fingerprint} or a larger load of the same seed): skipping the load`);
    } else {
      say(
        `loading entities ${from}..${options.entities - 1} (${fingerprint}) through WriteFeatures` +
          (from > 0 ? ', on top of an earlier load of the same dataset …' : ' …'),
      );
      // Another dataset is being replaced: its record goes first, in case this load is interrupted.
      if (res.session && from === 0) await setLoaded(res.session, options.keyspace, null);
      const loadStart = performance.now();
      // CPU seconds each process spends on the load: where a slow load goes.
      const cpuOf = () => ({
        harness: ((usage) => (usage.user + usage.system) / 1e6)(process.cpuUsage()),
        servers: res.servers.reduce((sum, s) => sum + (s.pid === null ? 0 : (cpuSeconds(s.pid) ?? 0)), 0),
        cassandra: cassandraPid === null ? null : cpuSeconds(cassandraPid),
      });
      const cpuBefore = cpuOf();
      let lastShown = 0;
      await loadDataset(
        [...new Set([addressOf(servers.cache), addressOf(servers['no-cache'])])],
        options.seed,
        from,
        options.entities,
        (done) => {
          if (done - lastShown >= options.entities / 10 || from + done === options.entities) {
            lastShown = done;
            say(`  ${from + done} / ${options.entities}`);
          }
        },
      );
      const seconds = (performance.now() - loadStart) / 1000;
      const cpuAfter = cpuOf();
      const cpuSpent = (a: number | null, b: number | null) =>
        a === null || b === null ? null : Math.round((b - a) * 10) / 10;
      const loadCpu = {
        harness: cpuSpent(cpuBefore.harness, cpuAfter.harness),
        servers: cpuSpent(cpuBefore.servers, cpuAfter.servers),
        cassandra: cpuSpent(cpuBefore.cassandra, cpuAfter.cassandra),
      };
      if (res.session) await setLoaded(res.session, options.keyspace, fingerprint);
      Object.assign(loadInfo, {
        skipped: false,
        rows: options.entities - from,
        seconds: Math.round(seconds * 10) / 10,
        rows_per_s: Math.round((options.entities - from) / seconds),
        cpu_seconds: loadCpu,
      });
      say(
        `loaded in ${seconds.toFixed(1)} s (${loadInfo.rows_per_s} rows/s); CPU seconds: harness ${loadCpu.harness}, ` +
          `servers ${loadCpu.servers}, Cassandra ${loadCpu.cassandra ?? '?'}`,
      );
    }

    // --- Scenarios
    res.generator = await Generator.start();
    let ghz: Context['ghz'];
    let ghzVersion = 'unknown';
    if (options.generators.includes('ghz') && options.ghz) {
      const dir = join(outDir, 'ghz');
      ghz = { proto: writeGhzProto(dir), dir, dataFiles: new Map() };
      ghzVersion = ghzVersionOf(options.ghz);
      say(
        `ghz ${ghzVersion}: ${options.ghz} (${options.ghzConcurrency} callers over ${options.channels} connections at maximum throughput)`,
      );
    }
    const ctx: Context = {
      options,
      generator: res.generator,
      servers,
      cassandra,
      cassandraPid,
      results: [],
      ghz,
    };
    const plan = buildPlan({
      quick: options.quick,
      rateFraction: options.rateFraction,
      hotSet: options.hotSet,
      zipfExponent: options.zipfExponent,
      ...(options.filter ? { filter: options.filter } : {}),
      variants: options.variants,
      generators: options.generators,
    });
    say(`${plan.length} scenarios, load generator pid ${res.generator.pid}; warming up`);
    await warmUp(
      ctx,
      plan.filter((spec) => skipReason(ctx, spec) === null),
    );
    const failures: Report['failures'] = [];
    let pythonCaller: Report['python_caller'] = null;
    const report = (): Report => ({
      schema_version: 1,
      date: startDate,
      git_commit: git(['rev-parse', 'HEAD']) || 'unknown',
      git_dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine: machineInfo(),
      seed: options.seed,
      entities: options.entities,
      quick: options.quick,
      durations: {
        probe_s: options.durations.probeS,
        warmup_s: options.durations.warmupS,
        measure_s: options.durations.measureS,
        sweep_s: options.durations.sweepS,
      },
      arrival: options.poisson ? 'poisson' : 'constant',
      rate_fraction: options.rateFraction,
      channels: options.channels,
      generators: options.generators,
      ghz: ghz ? { binary: options.ghz!, version: ghzVersion, concurrency: options.ghzConcurrency } : null,
      target: options.target ?? null,
      cassandra: cassandra ? { contact_points: cassandra.contactPoints, source: cassandraSource } : null,
      servers: res.servers.map((s) => ({
        name: s.name,
        cache: s.cache,
        address: s.address,
        config: relative(process.cwd(), s.configPath),
      })),
      load: loadInfo,
      wall_seconds: Math.round((performance.now() - startedAt) / 1000),
      load_average: { at_start: loadAtStart, at_end: loadavg().map((n) => Math.round(n * 100) / 100) },
      scenarios: ctx.results,
      ratios: [
        ...variantRatios(ctx.results),
        ...generatorRatios(ctx.results),
        ...feastRatios(ctx.results),
        ...baselineRatios(ctx.results),
      ],
      python_caller: pythonCaller,
      failures,
    });
    const jsonPath = join(outDir, 'report.json');
    for (const spec of plan) {
      if (interrupted) break;
      const skipped = skipReason(ctx, spec);
      if (skipped !== null) {
        failures.push({ name: spec.name, message: skipped });
        continue;
      }
      try {
        const entry = await runScenario(ctx, spec);
        ctx.results.push(entry);
        say(describe(entry));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push({ name: spec.name, message });
        say(`${spec.name}: FAILED ${message}`);
      }
      // Written after every scenario, so an interrupted run still leaves its figures.
      writeFileSync(jsonPath, JSON.stringify(report(), null, 2) + '\n');
    }
    if (!interrupted && (!options.filter || options.filter.test(PYTHON_CALLER))) {
      if (!options.python) {
        // Not a failure: the scenario needs a Python environment this machine may not have.
        say(`${PYTHON_CALLER}: skipped (no --python, and no $CASSETTE_CLIENT_PYTHON)`);
      } else {
        try {
          pythonCaller = await runPythonCaller(
            options.python,
            addressOf(servers.cache),
            Math.min(options.hotSet, options.entities),
            options.quick ? 100 : 400,
          );
          say(
            `${PYTHON_CALLER}: proto p50 ${pythonCaller.proto.p50_ms} ms, ${pythonCaller.proto.response_bytes} B; ` +
              `arrow p50 ${pythonCaller.arrow.p50_ms} ms, ${pythonCaller.arrow.response_bytes} B; ` +
              `time ${pythonCaller.time_ratio}×, bytes ${pythonCaller.bytes_ratio}×; with row_event_times ` +
              `time ${pythonCaller.row_event_times_time_ratio}×, bytes ${pythonCaller.row_event_times_bytes_ratio}×`,
          );
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          failures.push({ name: PYTHON_CALLER, message });
          say(`${PYTHON_CALLER}: FAILED ${message}`);
        }
      }
    }
    const final = reportSchema.parse(report());
    writeFileSync(jsonPath, JSON.stringify(final, null, 2) + '\n');
    const htmlPath = join(outDir, 'report.html');
    writeFileSync(htmlPath, renderHtml(final));
    say(`report: ${jsonPath}, ${htmlPath} (wall time ${final.wall_seconds} s)`);
    if (failures.length > 0) {
      say(`${failures.length} scenario(s) failed or were skipped`);
      process.exitCode = 1;
    }
  } finally {
    if (!interrupted) await res.stopAll();
  }
}

await main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
