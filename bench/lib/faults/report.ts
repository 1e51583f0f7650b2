import * as grpc from '@grpc/grpc-js';

import { createHistogram, percentileMs, recordMs } from '../histogram.js';
import type { HealthState, HealthWatcher, ProcessSampler } from './monitor.js';
import type { Calibration } from './run.js';
import type { Outcome, RequestKind } from './traffic.js';

/** The fault benchmark's report: what bench/out/faults/report.json holds. */

export type ScenarioName = 'kill' | 'freeze' | 'all-down' | 'overload' | 'drain';

/** Requests of one kind in one window. Latency counts from the intended send time (open loop). */
export interface RequestStats {
  requests: number;
  ok: number;
  failed: number;
  /** gRPC status name -> count. */
  failures_by_code: Record<string, number>;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

export interface PhaseStats {
  name: string;
  /** Seconds on the scenario's clock; requests due in [from_s, to_s) belong to the phase. */
  from_s: number;
  to_s: number;
  lookups: RequestStats;
  writes: RequestStats;
}

/** One second of a scenario: the requests due in it and what the monitors saw. */
export interface SecondStats {
  t_s: number;
  lookups: number;
  lookup_failures: Record<string, number>;
  lookup_p50_ms: number | null;
  lookup_p99_ms: number | null;
  lookup_max_ms: number | null;
  writes: number;
  write_failures: Record<string, number>;
  /** Health at the end of the second. */
  health: HealthState | null;
  /** Largest server RSS sampled in the second, MiB. */
  rss_mib: number | null;
  /** CPU of the server and of the whole machine in the second, 100 = one core. */
  server_cpu_percent: number | null;
  machine_cpu_percent: number | null;
}

export interface Check {
  /** Stable identifier, e.g. `failed_lookups`. */
  id: string;
  /** The target, in words. */
  target: string;
  value: number | null;
  op: '<=' | '>=' | '==';
  limit: number;
  unit: string;
  pass: boolean;
}

export interface TimelineEvent {
  t_s: number;
  label: string;
}

export interface MachineLoad {
  /** CPU over the scenario, 100 = one core. */
  machine_cpu_percent: number | null;
  server_cpu_percent: number | null;
  /** All Cassandra JVMs together. */
  cassandra_cpu_percent: number | null;
  load_average_start: number[];
  load_average_end: number[];
  /**
   * Event-loop delay of an idle Node process over the scenario (IdleProcessProbe): the machine's
   * scheduling floor under every latency in the report.
   */
  idle_process_event_loop_delay_p99_ms: number | null;
  idle_process_event_loop_delay_max_ms: number | null;
}

export interface ScenarioReport {
  name: ScenarioName;
  description: string;
  started_at: string;
  duration_s: number;
  events: TimelineEvent[];
  phases: PhaseStats[];
  per_second: SecondStats[];
  checks: Check[];
  /** Scenario-specific figures (rates, baselines, times), for the record. */
  figures: Record<string, number | string | null>;
  writes: { acknowledged: number; read_back: number; missing: number[] } | null;
  /** Server processes that exited without being asked to. */
  process_deaths: number;
  load: MachineLoad;
  /** Set when the scenario could not run to the end. */
  error: string | null;
}

export interface FaultReport {
  schema_version: 1;
  date: string;
  git_commit: string;
  git_dirty: boolean;
  command: string;
  quick: boolean;
  machine: { cores: number; cpu_model: string; memory_gb: number; node: string; platform: string };
  cluster: { nodes: number; contact_points: string[]; heap: string; replication_factor: number; consistency: string };
  settings: Record<string, number | string | boolean>;
  /** What the machine sustained before the scenarios, and the steady load chosen from it. */
  calibration: Calibration | null;
  wall_seconds: number;
  scenarios: ScenarioReport[];
  /** Every check of every scenario passed. */
  passed: boolean;
}

export const codeName = (code: number): string => grpc.status[code] ?? `CODE_${code}`;

const round = (n: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** Latency of an outcome: from its intended send time (what the caller saw) or from the actual send. */
export type LatencyFrom = 'intended' | 'sent';

export function latencyOf(outcome: Outcome, from: LatencyFrom = 'intended'): number {
  return outcome.doneMs - (from === 'intended' ? outcome.intendedMs : outcome.sentMs);
}

/** Stats of the `kind` requests due in [fromMs, toMs), optionally only those answered with one of `codes`. */
export function requestStats(
  outcomes: readonly Outcome[],
  kind: RequestKind,
  fromMs: number,
  toMs: number,
  options: { from?: LatencyFrom; codes?: readonly number[] } = {},
): RequestStats {
  const histogram = createHistogram();
  const failures: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  for (const outcome of outcomes) {
    if (outcome.kind !== kind || outcome.intendedMs < fromMs || outcome.intendedMs >= toMs) continue;
    if (options.codes && !options.codes.includes(outcome.code)) continue;
    requests++;
    if (outcome.code === grpc.status.OK) ok++;
    else failures[codeName(outcome.code)] = (failures[codeName(outcome.code)] ?? 0) + 1;
    recordMs(histogram, latencyOf(outcome, options.from));
  }
  const pct = (p: number) => (requests === 0 ? null : percentileMs(histogram, p));
  return {
    requests,
    ok,
    failed: requests - ok,
    failures_by_code: failures,
    p50_ms: pct(50),
    p99_ms: pct(99),
    max_ms: pct(100),
  };
}

export function phaseStats(outcomes: readonly Outcome[], name: string, fromMs: number, toMs: number): PhaseStats {
  return {
    name,
    from_s: round(fromMs / 1000),
    to_s: round(toMs / 1000),
    lookups: requestStats(outcomes, 'lookup', fromMs, toMs),
    writes: requestStats(outcomes, 'write', fromMs, toMs),
  };
}

/** One entry per second from 0 to `endMs`. */
export function perSecond(
  outcomes: readonly Outcome[],
  endMs: number,
  health: HealthWatcher | undefined,
  sampler: ProcessSampler | undefined,
): SecondStats[] {
  const seconds: SecondStats[] = [];
  const buckets: Outcome[][] = Array.from({ length: Math.ceil(endMs / 1000) }, () => []);
  for (const outcome of outcomes) buckets[Math.floor(outcome.intendedMs / 1000)]?.push(outcome);
  for (let t = 0; t < buckets.length; t++) {
    const from = t * 1000;
    const to = from + 1000;
    const lookups = requestStats(buckets[t]!, 'lookup', from, to);
    const writes = requestStats(buckets[t]!, 'write', from, to);
    const peak = sampler?.peakRss(from, to) ?? null;
    const cpu = sampler?.mean((sample) => sample.cpuPercent, from, to) ?? null;
    const machine = sampler?.mean((sample) => sample.machinePercent, from, to) ?? null;
    seconds.push({
      t_s: t,
      lookups: lookups.requests,
      lookup_failures: lookups.failures_by_code,
      lookup_p50_ms: lookups.p50_ms,
      lookup_p99_ms: lookups.p99_ms,
      lookup_max_ms: lookups.max_ms,
      writes: writes.requests,
      write_failures: writes.failures_by_code,
      health: health?.stateAt(to) ?? null,
      rss_mib: peak === null ? null : round(peak / 2 ** 20),
      server_cpu_percent: cpu === null ? null : round(cpu),
      machine_cpu_percent: machine === null ? null : round(machine),
    });
  }
  return seconds;
}

export function check(
  id: string,
  target: string,
  value: number | null,
  op: Check['op'],
  limit: number,
  unit = '',
): Check {
  const pass =
    value !== null &&
    Number.isFinite(value) &&
    (op === '<=' ? value <= limit : op === '>=' ? value >= limit : value === limit);
  return {
    id,
    target,
    value: value === null || !Number.isFinite(value) ? null : round(value, 3),
    op,
    limit,
    unit,
    pass,
  };
}

export { round };
