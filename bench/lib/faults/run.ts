import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import type { ManagedCluster } from '../../../src/cassandra/index.js';
import type { ConfigInput } from '../../../src/config/index.js';
import { openChannels } from '../../loadgen/targets.js';
import { IdleProcessProbe } from '../proc.js';
import { ServerChild, type ServerExit } from '../servers.js';
import { CpuSampler, HealthWatcher, ProcessSampler, type ProcessSample } from './monitor.js';
import {
  perSecond,
  phaseStats,
  round,
  type Check,
  type ScenarioName,
  type ScenarioReport,
  type TimelineEvent,
} from './report.js';
import type { FaultSettings } from './settings.js';
import { Caller, clockFrom, closedLoop, SteadyLoad, type Clock, type Outcome } from './traffic.js';
import { LOOKUP_METHOD } from './workload.js';

/** What every scenario runs against: the cluster, the data, and where its files go. */
export interface FaultEnv {
  cluster: ManagedCluster;
  keyspace: string;
  outDir: string;
  settings: FaultSettings;
  /** Encoded ranking_v1 lookups, sent in turn. */
  lookups: readonly Buffer[];
  /** What the machine sustains, measured once before the scenarios (see calibrate). */
  calibration: Calibration;
  logger: Logger;
  say(message: string): void;
  /** Every server process started, so the caller can kill what is left on the way out. */
  servers: Set<ServerChild>;
}

/** One level of the calibration sweep. */
export interface SweepPoint {
  concurrency: number;
  rps: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

/**
 * Calibration: a closed-loop concurrency sweep of ranking_v1 lookups, the steady load's rates
 * derived from it, and the knee (the fewest lookups in flight reaching 90 % of the best throughput).
 */
export interface Calibration {
  sweep: SweepPoint[];
  maxRps: number;
  kneeConcurrency: number;
  lookupsPerSecond: number;
  writesPerSecond: number;
}

/** Each scenario writes its own users: acknowledged writes of one never meet another's. */
export const FIRST_USER: Record<ScenarioName, number> = {
  kill: 10_000_000,
  freeze: 20_000_000,
  'all-down': 30_000_000,
  overload: 40_000_000,
  drain: 50_000_000,
};

/** The JVM pids of the cluster's nodes now (they change when a node restarts). */
function jvmPids(cluster: ManagedCluster): number[] {
  const pids: number[] = [];
  for (let i = 1; i <= cluster.size; i++) {
    const pid = cluster.pidOf(i);
    if (pid !== null) pids.push(pid);
  }
  return pids;
}

/**
 * One scenario while it runs: its clock (ms since it began), its `cassette serve` process (cache
 * off) with a health watcher and an RSS sampler on it, the client channels, the events and phases
 * of its timeline, and the machine's load. finish() turns all of it into a ScenarioReport.
 */
export class ScenarioRun {
  readonly events: TimelineEvent[] = [];
  private readonly phases: Array<{ name: string; fromMs: number; toMs: number }> = [];
  private readonly startedAt = new Date();
  private readonly loadAtStart = loadavg();
  private readonly cassandraCpu: CpuSampler;
  private readonly idleProbe: IdleProcessProbe;
  /** Servers this run asked to stop: their exit is no death. */
  private readonly stopping = new Set<ServerChild>();
  private deaths = 0;
  private readonly extraChannels: grpc.Client[][] = [];

  private constructor(
    readonly env: FaultEnv,
    /** Milliseconds since the scenario began; every time in its report is on this clock. */
    readonly clock: Clock,
    readonly name: ScenarioName,
    readonly description: string,
    readonly server: ServerChild,
    readonly channels: grpc.Client[],
    readonly health: HealthWatcher,
    /** The server process: RSS and CPU, and the machine's CPU. */
    readonly process: ProcessSampler,
  ) {
    this.cassandraCpu = new CpuSampler(() => jvmPids(env.cluster));
    this.idleProbe = IdleProcessProbe.start();
  }

  /** Starts the scenario's server and everything that watches it. */
  static async begin(
    env: FaultEnv,
    name: ScenarioName,
    description: string,
    serving: ConfigInput['serving'] = {},
    channels = 2,
  ): Promise<ScenarioRun> {
    const server = await startServer(env, name, serving);
    const clock = clockFrom();
    const opened = await openChannels(server.address, channels);
    const health = new HealthWatcher(server.address, clock);
    const sampler = new ProcessSampler(server.pid!, clock);
    const run = new ScenarioRun(env, clock, name, description, server, opened, health, sampler);
    run.watch(server);
    health.start();
    sampler.start();
    run.cassandraCpu.start();
    return run;
  }

  get caller(): Caller {
    return new Caller(this.channels);
  }

  now(): number {
    return this.clock();
  }

  /** A performance.now() time on the scenario's clock. */
  clockOf(performanceMs: number): number {
    return performanceMs - (performance.now() - this.clock());
  }

  /** Sends a few lookups, unrecorded, so the server and its session are past their warm-up. */
  async warmUp(lookups = 20): Promise<void> {
    const caller = this.caller;
    const { deadlineMs } = this.env.settings;
    await closedLoop(
      'lookup',
      2,
      60_000,
      lookups,
      this.clock,
      (i, done) => caller.send(LOOKUP_METHOD, this.env.lookups[i % this.env.lookups.length]!, deadlineMs, done),
      () => undefined,
    );
  }

  /** Records an event on the timeline (and says it); returns its time. */
  event(label: string): number {
    const atMs = this.clock();
    this.events.push({ t_s: round(atMs / 1000, 2), label });
    this.env.say(`  ${this.name} +${(atMs / 1000).toFixed(1)}s: ${label}`);
    return atMs;
  }

  /** A phase of the timeline: requests due in [fromMs, toMs) are its requests. */
  mark(name: string, fromMs: number, toMs: number): void {
    this.phases.push({ name, fromMs, toMs });
  }

  /** Lets `seconds` pass as the phase `name`. */
  async hold(name: string, seconds: number): Promise<void> {
    const from = this.clock();
    await sleep(seconds * 1000);
    this.mark(name, from, this.clock());
  }

  /** The steady load of lookups and writes (started). */
  steadyLoad(rateFactor = 1, maxDurationMs = 3_600_000): SteadyLoad {
    const { settings, calibration } = this.env;
    const load = new SteadyLoad(
      {
        lookupsPerSecond: calibration.lookupsPerSecond * rateFactor,
        writesPerSecond: calibration.writesPerSecond * rateFactor,
        deadlineMs: settings.deadlineMs,
        maxDurationMs,
        firstUser: FIRST_USER[this.name],
      },
      this.caller,
      this.env.lookups,
      this.clock,
    );
    load.start();
    return load;
  }

  /** Another server for this scenario, watched for deaths like the first. */
  async extraServer(suffix: string, serving: ConfigInput['serving'] = {}): Promise<ServerChild> {
    const server = await startServer(this.env, `${this.name}-${suffix}`, serving);
    this.watch(server);
    return server;
  }

  /** Channels to another server, closed with the run. */
  async channelsTo(address: string, count: number): Promise<grpc.Client[]> {
    const channels = await openChannels(address, count);
    this.extraChannels.push(channels);
    return channels;
  }

  /** SIGTERM to a server of this run (an expected exit); resolves with how it ended. */
  terminate(server: ServerChild): Promise<ServerExit> {
    this.stopping.add(server);
    server.signal('SIGTERM');
    return server.exit;
  }

  /** Stops the watchers, the channels and the servers, and builds the report. */
  async finish(result: {
    outcomes: readonly Outcome[];
    checks: Check[];
    figures?: Record<string, number | string | null>;
    writes?: ScenarioReport['writes'];
    error?: string | null;
  }): Promise<ScenarioReport> {
    const endMs = this.clock();
    const cassandraCpu = this.cassandraCpu.stop();
    const idleLoop = await this.idleProbe.stop();
    this.health.stop();
    this.process.stop();
    const meanOf = (pick: (s: ProcessSample) => number | null) => {
      const mean = this.process.mean(pick, 0, endMs);
      return mean === null ? null : round(mean);
    };
    for (const channel of [this.channels, ...this.extraChannels].flat()) channel.close();
    await this.stopServers();
    const perSecondStats = perSecond(result.outcomes, endMs, this.health, this.process);
    const checks = [
      ...result.checks,
      {
        id: 'process_deaths',
        target: 'no server process dies',
        value: this.deaths,
        op: '==' as const,
        limit: 0,
        unit: '',
        pass: this.deaths === 0,
      },
    ];
    return {
      name: this.name,
      description: this.description,
      started_at: this.startedAt.toISOString(),
      duration_s: round(endMs / 1000),
      events: this.events,
      phases: this.phases.map((p) => phaseStats(result.outcomes, p.name, p.fromMs, p.toMs)),
      per_second: perSecondStats,
      checks,
      figures: result.figures ?? {},
      writes: result.writes ?? null,
      process_deaths: this.deaths,
      load: {
        machine_cpu_percent: meanOf((s) => s.machinePercent),
        server_cpu_percent: meanOf((s) => s.cpuPercent),
        cassandra_cpu_percent: cassandraCpu,
        load_average_start: this.loadAtStart.map((n) => round(n, 2)),
        load_average_end: loadavg().map((n) => round(n, 2)),
        idle_process_event_loop_delay_p99_ms: idleLoop?.p99Ms ?? null,
        idle_process_event_loop_delay_max_ms: idleLoop?.maxMs ?? null,
      },
      error: result.error ?? null,
    };
  }

  private watch(server: ServerChild): void {
    void server.exit.then((exit) => {
      if (this.stopping.has(server)) return;
      this.deaths++;
      this.event(`server ${server.name} DIED (code ${exit.code}, signal ${exit.signal}); see ${server.logPath}`);
    });
  }

  private async stopServers(): Promise<void> {
    const servers = [...this.env.servers].filter((s) => s.name === this.name || s.name.startsWith(`${this.name}-`));
    for (const server of servers) this.stopping.add(server);
    await Promise.all(servers.map((server) => server.stop().catch(() => server.kill())));
    for (const server of servers) this.env.servers.delete(server);
  }
}

async function startServer(env: FaultEnv, name: string, serving: ConfigInput['serving']): Promise<ServerChild> {
  const server = await ServerChild.start({
    name,
    cache: false,
    keyspace: env.keyspace,
    contactPoints: env.cluster.contactPoints,
    localDataCenter: env.cluster.localDataCenter,
    outDir: env.outDir,
    cpuProf: false,
    overrides: { serving },
    startTimeoutMs: 180_000,
  });
  env.servers.add(server);
  return server;
}
