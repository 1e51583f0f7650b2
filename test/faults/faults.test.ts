import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ManagedCluster } from '../../src/cassandra/index.js';
import type { ScenarioName, ScenarioReport } from '../../bench/lib/faults/report.js';
import type { FaultEnv } from '../../bench/lib/faults/run.js';
import { QUICK } from '../../bench/lib/faults/settings.js';
import {
  killServers,
  makeClusterWhole,
  prepareFaultEnv,
  runScenario,
  startFaultCluster,
} from '../../bench/lib/faults/suite.js';

/**
 * The fault suite of issue 11: the quick mode of `npm run bench:faults` (the same scenario
 * functions) on a 3-node cluster of this file's own (127.0.2.1–3, RF 3, LOCAL_QUORUM reads and
 * writes, cache off), each scenario against a real `cassette serve`. The assertions are the
 * issue's targets, as counts and ratios measured in the same run; the only times asserted are
 * the issue's own seconds-scale bounds (health within 5 s and 10 s, exit within the shutdown
 * timeout). Every figure is also in the scenario's report (see bench/README.md).
 */

/** The cluster's addresses and port: nothing else here uses 127.0.2.x. */
const BASE_ADDRESS = '127.0.2.1';
const PORT = 9042;
const MINUTE = 60_000;

const logger = pino({ level: process.env.CASSETTE_TEST_LOG_LEVEL || 'silent' });
const say = (message: string) => {
  if (process.env.CASSETTE_TEST_LOG_LEVEL) process.stdout.write(`[faults] ${message}\n`);
};

/** The measured figure of check `id` (null if the scenario could not measure it). */
function figure(report: ScenarioReport, id: string): number | null {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`scenario ${report.name} has no check ${id}`);
  return found.value;
}

/** Every check of the report, for failure messages. */
function describeChecks(report: ScenarioReport): string {
  return report.checks.map((c) => `${c.pass ? 'pass' : 'FAIL'} ${c.id}: ${c.value} ${c.op} ${c.limit}`).join('\n');
}

/**
 * Outage-and-recovery cycles of the all-down test: QUICK's 2, or CASSETTE_FAULT_CYCLES (CI sets 1
 * to keep the suite near 10 minutes; 20 for the full count) (each cycle restarts three nodes,
 * 2–3 minutes on a busy 2-core machine; `npm run bench:faults` runs 20 by default).
 */
function outageCycles(): number {
  const raw = process.env.CASSETTE_FAULT_CYCLES;
  if (raw === undefined || raw === '') return QUICK.cycles;
  const cycles = Number(raw);
  if (!Number.isInteger(cycles) || cycles < 1)
    throw new Error(`CASSETTE_FAULT_CYCLES must be a positive integer, got ${raw}`);
  return cycles;
}

/** Scenario reports and server logs stay here after the run (test-results/ is not committed). */
const OUT_DIR = fileURLToPath(new URL('../../test-results/faults/', import.meta.url));

describe('faults: node loss, overload, drain and Cassandra outages on 3 nodes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cassette-faults-'));
  const settings = { ...QUICK, cycles: outageCycles() };
  let cluster: ManagedCluster | undefined;
  let env: FaultEnv;

  beforeAll(async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    cluster = await startFaultCluster({ dataDir, baseAddress: BASE_ADDRESS, port: PORT, heap: '512m', logger });
    env = await prepareFaultEnv(cluster, settings, {
      keyspace: 'cassette_faults',
      outDir: OUT_DIR,
      logger,
      say,
    });
  }, 15 * MINUTE);

  afterAll(async () => {
    killServers(env);
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 5 * MINUTE);

  async function scenario(name: ScenarioName): Promise<ScenarioReport> {
    await makeClusterWhole(cluster!);
    const report = await runScenario(env, name);
    writeFileSync(join(OUT_DIR, `${name}.json`), JSON.stringify(report, null, 2) + '\n');
    expect(report.error, describeChecks(report)).toBeNull();
    expect(report.process_deaths, 'server processes that died').toBe(0);
    return report;
  }

  it(
    'one node SIGKILLed under load: no failed lookup or write, every acknowledged write reads back',
    async () => {
      const report = await scenario('kill');
      const context = describeChecks(report);
      expect(report.writes!.acknowledged, context).toBeGreaterThan(0);
      expect(figure(report, 'failed_lookups'), context).toBe(0);
      expect(figure(report, 'failed_writes'), context).toBe(0);
      expect(figure(report, 'writes_lost'), context).toBe(0);
    },
    10 * MINUTE,
  );

  it(
    'one node frozen: p99 at most 2× the p99 before, no failed lookup',
    async () => {
      const report = await scenario('freeze');
      const context = describeChecks(report);
      expect(figure(report, 'freeze_p99_ratio'), context).toBeLessThanOrEqual(2);
      expect(figure(report, 'failed_lookups'), context).toBe(0);
      expect(figure(report, 'writes_lost'), context).toBe(0);
    },
    10 * MINUTE,
  );

  it(
    'open loop at 10× the sustainable rate: goodput ≥ 80 % of it, sheds fast, admitted p99 ≤ 3× unloaded, RSS bounded',
    async () => {
      const report = await scenario('overload');
      const context = describeChecks(report);
      expect(figure(report, 'overloaded'), context).toBeGreaterThanOrEqual(1);
      expect(figure(report, 'goodput_ratio'), context).toBeGreaterThanOrEqual(0.8);
      // The "under 5 ms" is a wall-clock figure (in the bench report); here, relative to
      // the same run: refusing is faster than serving an unloaded lookup.
      expect(figure(report, 'shed_p99_vs_unloaded_p50'), context).toBeLessThanOrEqual(1);
      expect(figure(report, 'admitted_p99_ratio'), context).toBeLessThanOrEqual(3);
      expect(figure(report, 'rss_ratio'), context).toBeLessThanOrEqual(1.5);
    },
    10 * MINUTE,
  );

  it(
    'SIGTERM under load: NOT_SERVING at once, no failed request while draining, exit 0 within the shutdown timeout',
    async () => {
      const report = await scenario('drain');
      const context = describeChecks(report);
      expect(figure(report, 'answered_during_drain'), context).toBeGreaterThanOrEqual(1);
      expect(figure(report, 'failed_during_drain'), context).toBe(0);
      expect(figure(report, 'not_serving_within_s'), context).toBeLessThanOrEqual(settings.drainMs / 1000);
      expect(figure(report, 'exit_code'), context).toBe(0);
      expect(figure(report, 'exit_s'), context).toBeLessThanOrEqual(settings.shutdownTimeoutMs / 1000 + 1);
      expect(figure(report, 'writes_lost'), context).toBe(0);
    },
    10 * MINUTE,
  );

  it(
    `every node down, ${settings.cycles} times: NOT_SERVING within 5 s, UNAVAILABLE in time, RSS bounded, back within 10 s, no death`,
    async () => {
      const report = await scenario('all-down');
      const context = describeChecks(report);
      expect(figure(report, 'cycles'), context).toBe(settings.cycles);
      expect(figure(report, 'not_serving_within_s'), context).toBeLessThanOrEqual(5);
      expect(figure(report, 'outage_lookups_not_unavailable'), context).toBe(0);
      expect(figure(report, 'rss_ratio'), context).toBeLessThanOrEqual(1.5);
      expect(figure(report, 'serving_within_s'), context).toBeLessThanOrEqual(10);
      expect(figure(report, 'lookups_ok_within_s'), context).toBeLessThanOrEqual(10);
      expect(figure(report, 'failed_after_recovery'), context).toBe(0);
      // A server stopped during the outage exits, cleanly, within its shutdown timeout.
      expect(figure(report, 'drain_exit_code'), context).toBe(0);
      expect(figure(report, 'drain_exit_s'), context).toBeLessThanOrEqual(settings.shutdownTimeoutMs / 1000 + 1);
      expect(figure(report, 'writes_lost'), context).toBe(0);
    },
    // Each cycle restarts three nodes: a few minutes each on a busy machine.
    (5 + 5 * settings.cycles) * MINUTE,
  );
});
