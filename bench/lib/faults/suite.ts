import { setTimeout as sleep } from 'node:timers/promises';

import type { Logger } from 'pino';

import { ManagedCluster } from '../../../src/cassandra/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { connectSession } from '../../../src/store/index.js';
import { ServerChild } from '../servers.js';
import { requestStats, round, type ScenarioName, type ScenarioReport } from './report.js';
import type { Calibration, FaultEnv, SweepPoint } from './run.js';
import { SCENARIO_FUNCTIONS } from './scenarios.js';
import type { FaultSettings } from './settings.js';
import { openChannels } from '../../loadgen/targets.js';
import { Caller, clockFrom, closedLoop, type Outcome } from './traffic.js';
import { applyDemoRegistry, loadDemoData, LOOKUP_METHOD, lookupRequests } from './workload.js';

export const NODES = 3;
export const REPLICATION_FACTOR = 3;
const LOOKUP_POOL = 50;
const LOOKUP_SEED = 11;

export interface FaultClusterOptions {
  dataDir: string;
  baseAddress: string;
  port: number;
  heap: string;
  logger: Logger;
}

/**
 * Starts the 3-node cluster of the fault scenarios, tied to this process (its JVMs die with it,
 * even a SIGKILLed one), reusing the data of an earlier run in the same directory.
 */
export async function startFaultCluster(options: FaultClusterOptions): Promise<ManagedCluster> {
  const env = { ...process.env };
  delete env.CASSANDRA_CONTACT_POINTS;
  return ManagedCluster.start({
    dataDir: options.dataDir,
    baseAddress: options.baseAddress,
    nativePort: options.port,
    nodes: NODES,
    heap: options.heap,
    detached: false,
    logger: options.logger,
    env,
    // A shared 2-core machine can take minutes to start a JVM.
    startTimeoutMs: 600_000,
  });
}

/**
 * Brings every node back to running and answering CQL (a scenario that failed half-way may have
 * left one killed or frozen), so that the next scenario starts from a whole cluster.
 */
export async function makeClusterWhole(cluster: ManagedCluster, timeoutMs = 120_000): Promise<void> {
  for (const node of await cluster.status()) {
    if (node.process === 'stopped') await cluster.signal(node.index, 'CONT');
    else if (node.process === 'gone') await cluster.restart(node.index);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await cluster.status();
    if (nodes.every((node) => node.cql)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `nodes not answering CQL: ${nodes
          .filter((n) => !n.cql)
          .map((n) => n.index)
          .join(', ')}`,
      );
    }
    await sleep(500);
  }
}

/**
 * Applies the demo registry with RF 3 and writes the demo rows through a short-lived server,
 * then builds the lookups the scenarios send. Safe to repeat (the same rows are rewritten).
 */
export async function prepareFaultEnv(
  cluster: ManagedCluster,
  settings: FaultSettings,
  options: { keyspace: string; outDir: string; logger: Logger; say: (message: string) => void },
): Promise<FaultEnv> {
  const config = loadConfig({
    env: {},
    overrides: {
      cassandra: {
        contactPoints: cluster.contactPoints,
        localDataCenter: cluster.localDataCenter,
        keyspace: options.keyspace,
      },
    },
  });
  const session = await connectSession(config.cassandra, options.logger);
  try {
    await applyDemoRegistry(session, options.keyspace, cluster.localDataCenter, REPLICATION_FACTOR, options.logger);
  } finally {
    await session.shutdown();
  }
  const env: FaultEnv = {
    cluster,
    keyspace: options.keyspace,
    outDir: options.outDir,
    settings,
    lookups: lookupRequests(LOOKUP_POOL, LOOKUP_SEED),
    calibration: {
      sweep: [],
      maxRps: Number.NaN,
      kneeConcurrency: 1,
      lookupsPerSecond: settings.lookupsPerSecond,
      writesPerSecond: settings.writesPerSecond,
    },
    logger: options.logger,
    say: options.say,
    servers: new Set(),
  };
  const loader = await ServerChild.start({
    name: 'load',
    cache: false,
    keyspace: options.keyspace,
    contactPoints: cluster.contactPoints,
    localDataCenter: cluster.localDataCenter,
    outDir: options.outDir,
    cpuProf: false,
    startTimeoutMs: 180_000,
  });
  env.servers.add(loader);
  try {
    const rows = await loadDemoData(loader.address);
    options.say(`loaded ${rows} demo rows (RF ${REPLICATION_FACTOR}) into ${options.keyspace}`);
    env.calibration = await calibrate(loader.address, env.lookups, settings);
    const c = env.calibration;
    options.say(
      `calibration: ${c.sweep.map((p) => `c${p.concurrency} ${p.rps.toFixed(1)}/s`).join(', ')}; knee at ${c.kneeConcurrency} in flight; ` +
        `steady load ${c.lookupsPerSecond.toFixed(2)} lookups/s, ${c.writesPerSecond.toFixed(2)} writes/s`,
    );
  } finally {
    await loader.stop();
    env.servers.delete(loader);
  }
  return env;
}

/**
 * Runs the named scenarios in order, each from a whole cluster. A scenario that throws (rather
 * than reporting a failed target) is reported with its error and the next one still runs.
 */
export async function runScenarios(
  env: FaultEnv,
  names: readonly ScenarioName[],
  onReport: (report: ScenarioReport) => void = () => undefined,
): Promise<ScenarioReport[]> {
  const reports: ScenarioReport[] = [];
  for (const name of names) {
    await makeClusterWhole(env.cluster);
    env.say(`scenario ${name}`);
    const report = await runScenario(env, name);
    reports.push(report);
    onReport(report);
  }
  return reports;
}

export async function runScenario(env: FaultEnv, name: ScenarioName): Promise<ScenarioReport> {
  const report = await SCENARIO_FUNCTIONS[name](env);
  for (const c of report.checks) {
    env.say(`  ${c.pass ? 'pass' : 'FAIL'}  ${c.target}: ${c.value ?? '–'} ${c.unit} (${c.op} ${c.limit})`);
  }
  return report;
}

/** Kills every server process still running (the way out of an interrupted run). */
export function killServers(env: FaultEnv | undefined): void {
  for (const server of env?.servers ?? []) server.kill();
}

/** Concurrency levels of the calibration sweep. */
const SWEEP = [1, 2, 4, 8] as const;
/** The knee: the fewest lookups in flight that reach this share of the best throughput. */
const KNEE_SHARE = 0.9;

/**
 * Measures what the machine sustains: a closed-loop sweep of ranking_v1 lookups (1, 2, 4 and 8 in
 * flight, probeS / 2 seconds each). The steady load runs at the settings' rates, or less when the
 * machine cannot sustain them with room to spare (steadyShareOfMax of the best throughput): a
 * 2-core machine shared with other work may serve only a few of these lookups a second, and at
 * its limit every request times out, fault or not. The knee sizes the overload scenario's
 * in-flight limit, as an operator sizes serving.maxInFlightReads for a cluster.
 */
export async function calibrate(
  address: string,
  lookups: readonly Buffer[],
  settings: FaultSettings,
): Promise<Calibration> {
  const channels = await openChannels(address, 2);
  try {
    const caller = new Caller(channels);
    const clock = clockFrom();
    const send = (i: number, done: (code: number) => void) =>
      caller.send(LOOKUP_METHOD, lookups[i % lookups.length]!, settings.deadlineMs, done);
    await closedLoop('lookup', 2, 60_000, 20, clock, send, () => undefined);
    const sweep: SweepPoint[] = [];
    for (const concurrency of SWEEP) {
      const outcomes: Outcome[] = [];
      const from = clock();
      await closedLoop('lookup', concurrency, (settings.probeS * 1000) / 2, 1_000_000, clock, send, (o) =>
        outcomes.push(o),
      );
      const stats = requestStats(outcomes, 'lookup', 0, Number.POSITIVE_INFINITY, { codes: [0] });
      sweep.push({
        concurrency,
        rps: round(stats.requests / ((clock() - from) / 1000), 2),
        p50_ms: stats.p50_ms,
        p99_ms: stats.p99_ms,
      });
    }
    const maxRps = Math.max(...sweep.map((p) => p.rps));
    const knee = sweep.find((p) => p.rps >= KNEE_SHARE * maxRps)!;
    const scale = Math.min(1, (settings.steadyShareOfMax * maxRps) / settings.lookupsPerSecond);
    return {
      sweep,
      maxRps,
      kneeConcurrency: knee.concurrency,
      lookupsPerSecond: settings.lookupsPerSecond * scale,
      writesPerSecond: settings.writesPerSecond * scale,
    };
  } finally {
    for (const channel of channels) channel.close();
  }
}
