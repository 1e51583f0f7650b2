import { parseArgs } from 'node:util';

import { positiveNumber } from '../options.js';
import type { ScenarioName } from './report.js';

/** What the fault scenarios do and for how long: the full run, or the short one (`--quick`, CI). */
export interface FaultSettings {
  quick: boolean;
  /** Deadline of every lookup and write of the steady load (the targets hold from 1 s up). */
  deadlineMs: number;
  lookupsPerSecond: number;
  writesPerSecond: number;
  /**
   * The steady load is capped at this share of the lookups/s a closed-loop probe sustains on the
   * machine (writes scaled alike): a fault scenario measures faults, not a machine too busy for
   * the load (see calibrateSteadyLoad).
   */
  steadyShareOfMax: number;
  /** Seconds of steady load before a fault, and after recovery. */
  beforeS: number;
  afterS: number;
  /** kill: which node is SIGKILLed, and how long it stays down before its restart begins. */
  killNode: number;
  killDownS: number;
  /** freeze: which node is SIGSTOPped, and for how long. */
  freezeNode: number;
  freezeS: number;
  /** all-down: outage-and-recovery cycles, and how long every node stays down in each. */
  cycles: number;
  outageS: number;
  /** Calibration sweep (probeS / 2 per level) and the overload's probe; the unloaded reference; the overload itself. */
  probeS: number;
  unloadedFraction: number;
  unloadedS: number;
  overloadFactor: number;
  overloadS: number;
  /** drain: the server's drain and shutdown bounds, and the load multiplier while it drains. */
  drainMs: number;
  shutdownTimeoutMs: number;
  drainLoadFactor: number;
}

export const FULL: FaultSettings = {
  quick: false,
  deadlineMs: 2000,
  lookupsPerSecond: 5,
  writesPerSecond: 10,
  steadyShareOfMax: 0.3,
  beforeS: 15,
  afterS: 15,
  killNode: 2,
  killDownS: 20,
  freezeNode: 3,
  freezeS: 15,
  cycles: 20,
  outageS: 10,
  probeS: 10,
  unloadedFraction: 0.25,
  unloadedS: 15,
  overloadFactor: 10,
  overloadS: 20,
  drainMs: 2000,
  shutdownTimeoutMs: 8000,
  drainLoadFactor: 2,
};

export const QUICK: FaultSettings = {
  ...FULL,
  quick: true,
  beforeS: 8,
  afterS: 6,
  killDownS: 10,
  cycles: 2,
  outageS: 6,
  probeS: 5,
  unloadedS: 6,
  overloadS: 8,
};

export const SCENARIOS: readonly ScenarioName[] = ['kill', 'freeze', 'overload', 'drain', 'all-down'];

export interface FaultOptions {
  settings: FaultSettings;
  scenarios: ScenarioName[];
  outDir: string;
  dataDir: string;
  baseAddress: string;
  port: number;
  heap: string;
  keyspace: string;
}

export const USAGE = `npm run bench:faults -- [options]

  --quick                 the short run (CI's): shorter phases, 2 outage cycles instead of 20
  --scenarios <list>      comma-separated, from ${SCENARIOS.join(', ')} (default: all, in that order)
  --cycles <n>            all-down: outage-and-recovery cycles (default 20, --quick 2)
  --deadline-ms <n>       deadline of each lookup and write (default 2000)
  --out <dir>             report directory (default bench/out/faults)
  --data-dir <dir>        the 3-node cluster's directory (default .cassette/faults)
  --base-address <addr>   address of node 1; nodes 2 and 3 get the next two (default 127.0.1.1)
  --port <n>              CQL port of every node (default 9042; see bench/README.md)
  --heap <size>           JVM heap per node (default 512m)
`;

export function parseFaultArgs(argv: readonly string[]): FaultOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      cycles: { type: 'string' },
      'deadline-ms': { type: 'string' },
      out: { type: 'string', default: 'bench/out/faults' },
      'data-dir': { type: 'string', default: '.cassette/faults' },
      'base-address': { type: 'string', default: '127.0.1.1' },
      port: { type: 'string', default: '9042' },
      heap: { type: 'string', default: '512m' },
    },
  });
  if (values.help) return 'help';
  const settings = { ...(values.quick ? QUICK : FULL) };
  if (values.cycles !== undefined) settings.cycles = positiveNumber('cycles', values.cycles, true);
  if (values['deadline-ms'] !== undefined)
    settings.deadlineMs = positiveNumber('deadline-ms', values['deadline-ms'], true);
  const scenarios = values.scenarios === undefined ? [...SCENARIOS] : values.scenarios.split(',').map((s) => s.trim());
  for (const name of scenarios) {
    if (!SCENARIOS.includes(name as ScenarioName)) {
      throw new Error(`--scenarios: unknown scenario "${name}" (expected ${SCENARIOS.join(', ')})`);
    }
  }
  return {
    settings,
    scenarios: scenarios as ScenarioName[],
    outDir: values.out,
    dataDir: values['data-dir'],
    baseAddress: values['base-address'],
    port: positiveNumber('port', values.port, true),
    heap: values.heap,
    keyspace: 'cassette_faults',
  };
}
