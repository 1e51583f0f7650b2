import { describeKeys, type KeyDistribution } from './dataset.js';
import type { GhzRpc } from './ghz.js';
import { VARIANT_CELLS, variantScenarioName } from './variants.js';

/** The scenarios of a harness run, in the order they run. Pure: options in, a list out. */

export type SystemName = 'cassette' | 'feast-grpc' | 'feast-http' | 'direct-driver' | 'connect-per-request';

/** Feast's APIs on the same Cassette servers: its gRPC ServingService and its HTTP/JSON endpoint. */
export const FEAST_SYSTEMS = ['feast-grpc', 'feast-http'] as const;
/** The cells Feast's APIs are measured in (entities × features). */
export const FEAST_CELLS = [
  [1, 10],
  [100, 50],
] as const;

export type Flow =
  /** Closed-loop probe for the maximum sustainable rate, then an open loop at `fraction` of it. */
  | { readonly kind: 'probe-then-open'; readonly probeConcurrency: number; readonly fraction: number }
  /**
   * A baseline: its own closed-loop probe (for the throughput ratio), then an open loop at the
   * same offered rate as the Cassette scenario `match`, so latencies compare at equal load
   * (at `fraction` of its own maximum if that scenario did not run).
   */
  | {
      readonly kind: 'probe-then-match';
      readonly probeConcurrency: number;
      readonly match: string;
      readonly fraction: number;
    }
  /** A closed loop at fixed concurrency, optionally capped at `maxRequests` measured requests. */
  | { readonly kind: 'closed'; readonly concurrency: number; readonly maxRequests?: number };

export interface ScenarioSpec {
  readonly name: string;
  /** matrix, variant (a cache server variant), zipf, feast (Feast's APIs), baseline or sweep: how the report groups it. */
  readonly group: 'matrix' | 'variant' | 'zipf' | 'feast' | 'baseline' | 'sweep';
  readonly system: SystemName;
  /** Which Cassette server: with the row cache, without, a variant of the cache server; null for the baselines. */
  readonly server: ServerName | null;
  readonly batch: number;
  readonly features: number;
  readonly keys: KeyDistribution;
  readonly flow: Flow;
  /** Sweep scenarios: the curve they belong to. */
  readonly series?: string;
  /** Who sends the load: the grpc-js generator (bench/loadgen, the default) or ghz (bench/lib/ghz.ts). */
  readonly generator?: GeneratorName;
  /** ghz scenarios: the RPC called (default GetOnlineFeatures). */
  readonly rpc?: GhzRpc;
}

/** The load generators: the harness's own grpc-js one, and ghz (Go) for Cassette's gRPC API. */
export const GENERATORS = ['loadgen', 'ghz'] as const;
export type GeneratorName = (typeof GENERATORS)[number];

/** A Cassette scenario measured with ghz: the grpc-js generator's name with " (ghz)". */
export function ghzScenarioName(name: string): string {
  return `${name} (ghz)`;
}

/** The loadgen scenario a ghz scenario repeats, or undefined for any other name. */
export function parseGhzScenarioName(name: string): string | undefined {
  return name.endsWith(' (ghz)') ? name.slice(0, -' (ghz)'.length) : undefined;
}

/** Cells where ghz also drives GetOnlineFeaturesArrow (warm and cold): where the response is large. */
export const ARROW_CELLS = [[100, 50]] as const;

/** The harness's servers: `cache`, `no-cache`, and `variant:NAME` for each --variant. */
export type ServerName = 'cache' | 'no-cache' | `variant:${string}`;

export interface PlanOptions {
  readonly quick: boolean;
  /** Open-loop rate as a fraction of the probed maximum. */
  readonly rateFraction: number;
  readonly hotSet: number;
  readonly zipfExponent: number;
  /** Optional name filter. */
  readonly filter?: RegExp;
  /** Variants of the cache server (see variants.ts). */
  readonly variants?: readonly string[];
  /** Which generators measure Cassette's matrix scenarios (default: the grpc-js one alone). */
  readonly generators?: readonly GeneratorName[];
}

export const BATCH_SIZES = [1, 10, 100] as const;
export const FEATURE_COUNTS = [10, 50] as const;
export const FULL_SWEEP = [1, 2, 4, 8, 16, 32] as const;
export const QUICK_SWEEP = [1, 4, 16] as const;
const PROBE_CONCURRENCY = 16;

export function cell(batch: number, features: number): string {
  return `b${batch} f${features}`;
}

export function buildPlan(options: PlanOptions): ScenarioSpec[] {
  const hot: KeyDistribution = { kind: 'hot', hotSet: options.hotSet };
  const uniform: KeyDistribution = { kind: 'uniform' };
  const zipf: KeyDistribution = { kind: 'zipf', exponent: options.zipfExponent };
  const probe = { probeConcurrency: PROBE_CONCURRENCY, fraction: options.rateFraction };
  const plan: ScenarioSpec[] = [];
  const generators = options.generators ?? ['loadgen'];
  /** A Cassette matrix scenario once per generator asked for, the grpc-js one first. */
  const perGenerator = (spec: ScenarioSpec): ScenarioSpec[] =>
    generators.map((generator) =>
      generator === 'loadgen' ? spec : { ...spec, name: ghzScenarioName(spec.name), generator },
    );

  for (const batch of BATCH_SIZES) {
    for (const features of FEATURE_COUNTS) {
      const at = cell(batch, features);
      /** Cassette warm (the cache server, hot keys) or cold (the cache-off server, uniform keys). */
      const matrix = (state: 'warm' | 'cold'): ScenarioSpec => ({
        name: `cassette ${state} ${at}`,
        group: 'matrix',
        system: 'cassette',
        server: state === 'warm' ? 'cache' : 'no-cache',
        batch,
        features,
        keys: state === 'warm' ? hot : uniform,
        flow: { kind: 'probe-then-open', ...probe },
      });
      const warm = matrix('warm');
      plan.push(...perGenerator(warm));
      // Each variant right after its base scenario, so both see the machine alike, and at the same
      // offered rate: CPU per request depends on the rate (how many calls share a wake-up), so a
      // variant measured at its own probed rate would differ from its base for that alone.
      if (VARIANT_CELLS.some(([b, f]) => b === batch && f === features)) {
        for (const variant of options.variants ?? []) {
          plan.push({
            ...warm,
            name: variantScenarioName(warm.name, variant),
            group: 'variant',
            server: `variant:${variant}`,
            flow: { kind: 'probe-then-match', match: warm.name, ...probe },
          });
        }
      }
      const coldSpec = matrix('cold');
      plan.push(...perGenerator(coldSpec));
      if (generators.includes('ghz') && ARROW_CELLS.some(([b, f]) => b === batch && f === features)) {
        for (const spec of [warm, coldSpec]) {
          plan.push({
            ...spec,
            name: ghzScenarioName(`${spec.name} arrow`),
            generator: 'ghz',
            rpc: 'GetOnlineFeaturesArrow',
          });
        }
      }
      plan.push({
        name: `direct-driver ${at}`,
        group: 'baseline',
        system: 'direct-driver',
        server: null,
        batch,
        features,
        keys: uniform,
        // The direct driver runs in the grpc-js generator (ghz cannot drive it), at the offered
        // rate of the cache-off scenario, measured by whichever generator ran it first.
        flow: { kind: 'probe-then-match', match: perGenerator(coldSpec)[0]!.name, ...probe },
      });
    }
  }

  // Feast's APIs on the same two servers with the same keys as `cassette warm` and `cassette cold`,
  // each at its own fraction of its own probed maximum (an HTTP endpoint slower than gRPC would be
  // overloaded at gRPC's rate, and its latency then says nothing but "overloaded").
  for (const [batch, features] of FEAST_CELLS) {
    for (const system of FEAST_SYSTEMS) {
      for (const [state, server, keys] of [
        ['warm', 'cache', hot],
        ['cold', 'no-cache', uniform],
      ] as const) {
        plan.push({
          name: `${system} ${state} ${cell(batch, features)}`,
          group: 'feast',
          system,
          server,
          batch,
          features,
          keys,
          flow: { kind: 'probe-then-open', ...probe },
        });
      }
    }
  }

  plan.push({
    name: `cassette zipf ${cell(10, 10)}`,
    group: 'zipf',
    system: 'cassette',
    server: 'cache',
    batch: 10,
    features: 10,
    keys: zipf,
    flow: { kind: 'probe-then-open', ...probe },
  });

  plan.push({
    name: `connect-per-request ${cell(1, 10)}`,
    group: 'baseline',
    system: 'connect-per-request',
    server: null,
    batch: 1,
    features: 10,
    keys: uniform,
    // Each request costs a full session set-up: one at a time, and only a few.
    flow: { kind: 'closed', concurrency: 1, maxRequests: options.quick ? 5 : 30 },
  });

  const levels = options.quick ? QUICK_SWEEP : FULL_SWEEP;
  const sweeps: Array<{ series: string; system: SystemName; server: ScenarioSpec['server']; keys: KeyDistribution }> = [
    { series: `cassette warm ${cell(10, 10)}`, system: 'cassette', server: 'cache', keys: hot },
    { series: `cassette cold ${cell(10, 10)}`, system: 'cassette', server: 'no-cache', keys: uniform },
    { series: `direct-driver ${cell(10, 10)}`, system: 'direct-driver', server: null, keys: uniform },
  ];
  for (const sweep of sweeps) {
    for (const concurrency of levels) {
      plan.push({
        name: `sweep ${sweep.series} c${concurrency}`,
        group: 'sweep',
        system: sweep.system,
        server: sweep.server,
        batch: 10,
        features: 10,
        keys: sweep.keys,
        flow: { kind: 'closed', concurrency },
        series: sweep.series,
      });
    }
  }

  return options.filter ? plan.filter((s) => options.filter!.test(s.name)) : plan;
}

export function keysLabel(spec: ScenarioSpec): string {
  return describeKeys(spec.keys);
}
