import { z } from 'zod';

import { parseGhzScenarioName } from './plan.js';
import { parseVariantScenarioName } from './variants.js';

/** The harness report (bench/out/report.json): its schema, and the baseline ratios derived from it. */

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });
const nonNegative = finite.refine((n) => n >= 0, { message: 'must be >= 0' });
const count = z.number().int().nonnegative();

export const scenarioResultSchema = z.strictObject({
  name: z.string().min(1),
  group: z.enum(['matrix', 'variant', 'zipf', 'feast', 'baseline', 'sweep']),
  system: z.enum(['cassette', 'feast-grpc', 'feast-http', 'direct-driver', 'connect-per-request']),
  /**
   * Who sent the load and timed it: loadgen (the harness's grpc-js generator, bench/loadgen) or
   * ghz (Go; its fixed-rate runs time each call from its actual send, not its intended one).
   */
  generator: z.enum(['loadgen', 'ghz']),
  /** Open loop (fixed arrival rate, latency from intended send time) or closed loop (fixed concurrency). */
  mode: z.enum(['open', 'closed']),
  batch_size: z.number().int().positive(),
  features: z.number().int().positive(),
  /** Row cache of the server measured: on, off, or unknown (--target); off for the baselines. */
  cache: z.enum(['on', 'off', 'unknown']),
  key_distribution: z.string().min(1),
  /** Closed loop: requests in flight. Null for open loop. */
  concurrency: z.number().int().positive().nullable(),
  /** Open loop: the arrival rate asked for. Null for closed loop. */
  target_rps: nonNegative.nullable(),
  /** Completed measured requests per second of the measured window. */
  achieved_rps: nonNegative,
  /** Throughput of the closed-loop probe before an open-loop run (null when there was none). */
  max_rps: nonNegative.nullable(),
  requests: count,
  p50_ms: nonNegative,
  p90_ms: nonNegative,
  p99_ms: nonNegative,
  p999_ms: nonNegative,
  max_ms: nonNegative,
  mean_ms: nonNegative,
  errors: count,
  errors_by_code: z.record(z.string(), count),
  /** hits / (hits + misses + coalesced) in the window, from the server's stats; null without a cache or stats. */
  cache_hit_ratio: z.number().min(0).max(1).nullable(),
  /** Server process CPU over the window, 100 = one core; null when unknown (baselines, --target). */
  server_cpu_percent: nonNegative.nullable(),
  /** Server CPU time per request answered in the window, µs; null when server CPU is unknown. */
  server_cpu_us_per_request: nonNegative.nullable(),
  /** Server CPU during the closed-loop probe (the maximum throughput run); null without a probe. */
  max_server_cpu_percent: nonNegative.nullable(),
  /** Server CPU per request during that probe, µs: the cost per request with the server at its busiest. */
  max_server_cpu_us_per_request: nonNegative.nullable(),
  /** Cassandra JVM CPU over the window, when its process is visible on this machine. */
  cassandra_cpu_percent: nonNegative.nullable(),
  generator_cpu_percent: nonNegative,
  /** The generator's longest GC pause in the window, and GC time per second of window. */
  generator_gc_max_ms: nonNegative,
  generator_gc_ms_per_s: nonNegative,
  /** Busy CPU of the whole machine over the window (100 = one core): more than the parts above means other load. */
  machine_cpu_percent: nonNegative.nullable(),
  /** Open loop: p99 of how late requests left the generator after their intended time. */
  send_lag_p99_ms: nonNegative.nullable(),
  window_s: nonNegative,
  verified: count,
  verify_failures: count,
  /** The first wrong value `--verify` found, if any. */
  verify_first_failure: z.string().nullable(),
  /** The latency HdrHistogram (µs), compressed and base64-encoded, for re-analysis. */
  histogram: z.string().min(1),
  /** [percentile, ms] points evenly spaced in "nines", ending with [100, max]. */
  percentile_curve: z.array(z.tuple([finite, nonNegative])),
  /** Sweep scenarios: the curve they belong to. */
  series: z.string().nullable(),
});

export type ScenarioResult = z.infer<typeof scenarioResultSchema>;

export const ratioSchema = z.strictObject({
  scenario: z.string(),
  baseline: z.string(),
  /** Scenario latency / baseline latency (above 1: the scenario slower). */
  p50_ratio: finite.nullable(),
  p99_ratio: finite.nullable(),
  /** Scenario max throughput / baseline max throughput (above 1: the scenario faster). */
  throughput_ratio: finite.nullable(),
  /** Server CPU per request of the scenario / of the baseline (null when either has no server or no figure). */
  server_cpu_per_request_ratio: finite.nullable(),
});

export type Ratio = z.infer<typeof ratioSchema>;

const pythonVariantSchema = z.strictObject({
  /** Call plus conversion to NumPy arrays, per request. */
  p50_ms: nonNegative,
  mean_ms: nonNegative,
  /** The conversion alone. */
  convert_p50_ms: nonNegative,
  response_bytes: count,
  embedding_shape: z.array(count).nullable(),
});

/**
 * A Python grpcio caller on the warm server, the same batches two ways: GetOnlineFeatures then
 * NumPy (proto), GetOnlineFeaturesArrow then NumPy (arrow). Ratios are arrow / proto.
 */
export const pythonCallerSchema = z.strictObject({
  name: z.string(),
  batch: z.number().int().positive(),
  features: z.number().int().positive(),
  requests: count,
  proto: pythonVariantSchema,
  arrow: pythonVariantSchema,
  /** The Arrow RPC with row_event_times (one event-time column instead of one per feature). */
  arrow_row_event_times: pythonVariantSchema,
  time_ratio: nonNegative,
  bytes_ratio: nonNegative,
  row_event_times_time_ratio: nonNegative,
  row_event_times_bytes_ratio: nonNegative,
  versions: z.record(z.string(), z.string()),
  /** Load averages when it ran (1, 5, 15 minutes). */
  load_average: z.array(nonNegative),
});

export type PythonCallerResult = z.infer<typeof pythonCallerSchema>;

export const reportSchema = z.strictObject({
  schema_version: z.literal(1),
  date: z.string(),
  git_commit: z.string(),
  git_dirty: z.boolean(),
  command: z.string(),
  machine: z.strictObject({
    cores: z.number().int().positive(),
    cpu_model: z.string(),
    memory_gb: nonNegative,
    node: z.string(),
    platform: z.string(),
  }),
  seed: z.number().int(),
  entities: z.number().int().positive(),
  quick: z.boolean(),
  durations: z.strictObject({
    probe_s: nonNegative,
    warmup_s: nonNegative,
    measure_s: nonNegative,
    sweep_s: nonNegative,
  }),
  arrival: z.enum(['constant', 'poisson']),
  rate_fraction: nonNegative,
  channels: z.number().int().positive(),
  /** Which generators measured Cassette's matrix scenarios (--generator); each row names its own. */
  generators: z.array(z.enum(['loadgen', 'ghz'])),
  /** The ghz used, when one was: its path, `ghz --version`, and its callers at maximum throughput. */
  ghz: z.strictObject({ binary: z.string(), version: z.string(), concurrency: z.number().int().positive() }).nullable(),
  target: z.string().nullable(),
  cassandra: z.strictObject({ contact_points: z.array(z.string()), source: z.string() }).nullable(),
  servers: z.array(z.strictObject({ name: z.string(), cache: z.boolean(), address: z.string(), config: z.string() })),
  load: z.strictObject({
    skipped: z.boolean(),
    rows: count,
    seconds: nonNegative,
    rows_per_s: nonNegative.nullable(),
    /** CPU seconds spent on the load by the harness, the servers and Cassandra (null: not measured). */
    cpu_seconds: z
      .strictObject({
        harness: nonNegative.nullable(),
        servers: nonNegative.nullable(),
        cassandra: nonNegative.nullable(),
      })
      .nullable(),
  }),
  wall_seconds: nonNegative,
  /** 1, 5 and 15-minute load averages: a busy shared machine shows here. */
  load_average: z.strictObject({ at_start: z.array(nonNegative), at_end: z.array(nonNegative) }),
  scenarios: z.array(scenarioResultSchema),
  ratios: z.array(ratioSchema),
  /** The Python-caller scenario (bench/python_caller.py), when it ran. */
  python_caller: pythonCallerSchema.nullable().optional(),
  /** Scenarios that could not be measured, and why. */
  failures: z.array(z.strictObject({ name: z.string(), message: z.string() })),
});

export type Report = z.infer<typeof reportSchema>;

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || !(b > 0) || !Number.isFinite(a) ? null : Math.round((a / b) * 100) / 100;

/**
 * Cassette against each baseline in the same cell (batch, features): the cache-off scenario
 * (same store-bound path) and the cache-on one, against direct-driver and connect-per-request.
 */
export function baselineRatios(scenarios: readonly ScenarioResult[]): Ratio[] {
  const ratios: Ratio[] = [];
  const byCell = (s: ScenarioResult) => `${s.batch_size}/${s.features}`;
  const baselines = scenarios.filter((s) => s.group === 'baseline');
  const cassette = scenarios.filter((s) => s.system === 'cassette' && s.group === 'matrix');
  for (const base of baselines) {
    for (const own of cassette.filter((c) => byCell(c) === byCell(base))) ratios.push(ratioOf(own, base));
  }
  return ratios;
}

function ratioOf(own: ScenarioResult, base: ScenarioResult): Ratio {
  return {
    scenario: own.name,
    baseline: base.name,
    p50_ratio: ratio(own.p50_ms, base.p50_ms),
    p99_ratio: ratio(own.p99_ms, base.p99_ms),
    throughput_ratio: ratio(own.max_rps ?? own.achieved_rps, base.max_rps ?? base.achieved_rps),
    server_cpu_per_request_ratio: ratio(serverCpuPerRequest(own), serverCpuPerRequest(base)),
  };
}

/** Server CPU time per request in the measured window (ms), or null when not measured. */
export function serverCpuPerRequest(s: ScenarioResult): number | null {
  return s.server_cpu_percent == null || !(s.achieved_rps > 0) ? null : (s.server_cpu_percent * 10) / s.achieved_rps;
}

/** CPU µs per request from a CPU percentage (100 = one core) and a request rate; null when either is unknown. */
export function cpuUsPerRequest(cpuPercent: number | null, rps: number | null): number | null {
  return cpuPercent == null || rps == null || !(rps > 0) ? null : Math.round((cpuPercent * 100_000) / rps) / 10;
}

/** Each ghz scenario against the same scenario measured by the grpc-js generator (above 1: ghz got more). */
export function generatorRatios(scenarios: readonly ScenarioResult[]): Ratio[] {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const ratios: Ratio[] = [];
  for (const own of scenarios.filter((s) => s.generator === 'ghz')) {
    const base = byName.get(parseGhzScenarioName(own.name) ?? '');
    if (base && base.generator === 'loadgen') ratios.push(ratioOf(own, base));
  }
  return ratios;
}

/** Each variant scenario against the same scenario on the cache server (see variants.ts). */
export function variantRatios(scenarios: readonly ScenarioResult[]): Ratio[] {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const ratios: Ratio[] = [];
  for (const own of scenarios.filter((s) => s.group === 'variant')) {
    const parsed = parseVariantScenarioName(own.name);
    const base = parsed && byName.get(parsed.base);
    if (base) ratios.push(ratioOf(own, base));
  }
  return ratios;
}

/**
 * Feast's APIs against Cassette's own gRPC API on the same server and keys: `feast-http warm b1
 * f10` against `cassette warm b1 f10`, and so on.
 */
export function feastRatios(scenarios: readonly ScenarioResult[]): Ratio[] {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const ratios: Ratio[] = [];
  for (const own of scenarios.filter((s) => s.group === 'feast')) {
    const base = byName.get(own.name.replace(own.system, 'cassette'));
    if (base) ratios.push(ratioOf(own, base));
  }
  return ratios;
}
