/**
 * The fault benchmark: `npm run bench:faults -- [--quick] [options]` (see bench/README.md, or --help).
 *
 * Starts a local 3-node Cassandra cluster (RF 3, LOCAL_QUORUM), loads the demo data, and runs the
 * fault scenarios of issue 11 (kill, freeze, overload, drain, all-down), each against its own
 * `cassette serve`, checking the targets. Writes bench/out/faults/report.json (after every
 * scenario) and report.html; exits 1 if a target was missed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import pino from 'pino';

import type { ManagedCluster } from '../src/cassandra/index.js';
import { renderFaultHtml } from './lib/faults/html.js';
import type { FaultReport, ScenarioReport } from './lib/faults/report.js';
import type { FaultEnv } from './lib/faults/run.js';
import { parseFaultArgs, USAGE } from './lib/faults/settings.js';
import { git, machineInfo, progress } from './lib/run-info.js';
import {
  killServers,
  NODES,
  prepareFaultEnv,
  REPLICATION_FACTOR,
  runScenarios,
  startFaultCluster,
} from './lib/faults/suite.js';

const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn' });
const startedAt = performance.now();

const say = progress('faults', startedAt);

async function main(): Promise<void> {
  const parsed = parseFaultArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const options = parsed;
  mkdirSync(options.outDir, { recursive: true });
  const date = new Date().toISOString();
  let cluster: ManagedCluster | undefined;
  let env: FaultEnv | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping what this run started`);
    killServers(env);
    // The JVMs are tied to this process and die with it; stopping them first is only tidier.
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const scenarios: ScenarioReport[] = [];
  const report = (): FaultReport => ({
    schema_version: 1,
    date,
    git_commit: git(['rev-parse', 'HEAD']) || 'unknown',
    git_dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    command: `npm run bench:faults -- ${process.argv.slice(2).join(' ')}`.trim(),
    quick: options.settings.quick,
    machine: machineInfo(),
    cluster: {
      nodes: NODES,
      contact_points: cluster?.contactPoints ?? [],
      heap: options.heap,
      replication_factor: REPLICATION_FACTOR,
      consistency: 'LOCAL_QUORUM reads and writes',
    },
    settings: { ...options.settings },
    calibration: env?.calibration ?? null,
    wall_seconds: Math.round((performance.now() - startedAt) / 1000),
    scenarios,
    passed: scenarios.every((s) => s.error === null && s.checks.every((c) => c.pass)),
  });
  const jsonPath = join(options.outDir, 'report.json');
  const htmlPath = join(options.outDir, 'report.html');
  const write = () => {
    const final = report();
    writeFileSync(jsonPath, JSON.stringify(final, null, 2) + '\n');
    writeFileSync(htmlPath, renderFaultHtml(final));
    return final;
  };
  try {
    say(
      `starting ${NODES} Cassandra nodes at ${options.baseAddress}:${options.port} (${options.dataDir}, heap ${options.heap}) …`,
    );
    cluster = await startFaultCluster({ ...options, logger });
    say(`cluster up: ${cluster.contactPoints.join(', ')}`);
    env = await prepareFaultEnv(cluster, options.settings, { ...options, logger, say });
    await runScenarios(env, options.scenarios, (scenario) => {
      scenarios.push(scenario);
      // Written after every scenario, so an interrupted run still leaves its figures.
      write();
    });
    const final = write();
    say(`report: ${jsonPath}, ${htmlPath} (wall time ${final.wall_seconds} s)`);
    const missed = final.scenarios.flatMap((s) => s.checks.filter((c) => !c.pass).map((c) => `${s.name}: ${c.target}`));
    if (missed.length > 0 || !final.passed) {
      say(`${missed.length} target(s) missed:\n  ${missed.join('\n  ')}`);
      process.exitCode = 1;
    } else {
      say('every target met');
    }
  } finally {
    if (!interrupted) {
      killServers(env);
      await cluster?.stop();
    }
  }
}

await main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
