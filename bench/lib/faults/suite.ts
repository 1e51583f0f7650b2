import { setTimeout as sleep } from 'node:timers/promises';

import type { Logger } from 'pino';

import { ManagedCluster } from '../../../src/cassandra/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { connectSession } from '../../../src/store/index.js';
import { ServerChild } from '../servers.js';
import type { ScenarioName, ScenarioReport } from './report.js';
import type { FaultEnv } from './run.js';
import { SCENARIO_FUNCTIONS } from './scenarios.js';
import type { FaultSettings } from './settings.js';
import { openChannels } from '../../loadgen/targets.js';
import { Caller, clockFrom, closedLoop } from './traffic.js';
import { applyDemoRegistry, loadDemoData, LOOKUP_METHOD, lookupRequests } from './workload.js';

export const NODES = 3;
export const REPLICATION_FACTOR = 3;
const LOOKUP_POOL = 50;
const LOOKUP_SEED = 11;
const PROBE_CONCURRENCY = 4;

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
    steady: {
      lookupsPerSecond: settings.lookupsPerSecond,
      writesPerSecond: settings.writesPerSecond,
      probedMaxRps: null,
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
    env.steady = await calibrateSteadyLoad(loader.address, env.lookups, settings);
    options.say(
      `steady load: ${env.steady.lookupsPerSecond.toFixed(2)} lookups/s, ${env.steady.writesPerSecond.toFixed(2)} writes/s ` +
        `(closed-loop maximum ${env.steady.probedMaxRps?.toFixed(1)} lookups/s)`,
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

/**
 * The steady load's rates on this machine: the settings' rates, or less when a closed-loop probe
 * (4 lookups in flight for probeS seconds) shows the machine cannot sustain them with room to
 * spare (steadyShareOfMax of its maximum). A 2-core machine shared with other work may serve a
 * few ranking_v1 lookups a second, and at its limit every request times out, fault or not.
 */
export async function calibrateSteadyLoad(
  address: string,
  lookups: readonly Buffer[],
  settings: FaultSettings,
): Promise<FaultEnv['steady']> {
  const channels = await openChannels(address, 2);
  try {
    const caller = new Caller(channels);
    const clock = clockFrom();
    const send = (i: number, done: (code: number) => void) =>
      caller.send(LOOKUP_METHOD, lookups[i % lookups.length]!, settings.deadlineMs, done);
    await closedLoop('lookup', 2, 60_000, 20, clock, send, () => undefined);
    let ok = 0;
    const from = clock();
    await closedLoop('lookup', PROBE_CONCURRENCY, settings.probeS * 1000, 1_000_000, clock, send, (outcome) => {
      if (outcome.code === 0) ok++;
    });
    const probedMaxRps = ok / ((clock() - from) / 1000);
    const scale = Math.min(1, (settings.steadyShareOfMax * probedMaxRps) / settings.lookupsPerSecond);
    return {
      lookupsPerSecond: settings.lookupsPerSecond * scale,
      writesPerSecond: settings.writesPerSecond * scale,
      probedMaxRps,
    };
  } finally {
    for (const channel of channels) channel.close();
  }
}
