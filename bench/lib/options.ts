import { parseArgs } from 'node:util';

import { findGhz } from './ghz.js';
import { GENERATORS, type GeneratorName } from './plan.js';
import { VARIANTS } from './variants.js';

/** Command-line options of `npm run bench`. */

export interface HarnessOptions {
  quick: boolean;
  seed: number;
  entities: number;
  /** Seconds of each measured window, and of the other phases. */
  durations: { probeS: number; warmupS: number; measureS: number; sweepS: number; sweepWarmupS: number };
  filter: RegExp | undefined;
  target: string | undefined;
  skipLoad: boolean;
  cpuProf: boolean;
  contactPoints: string[] | undefined;
  localDataCenter: string;
  cassandraPort: number;
  keyspace: string;
  outDir: string;
  verify: boolean;
  poisson: boolean;
  channels: number;
  rateFraction: number;
  /** A fixed open-loop rate for every open-loop scenario (no probe). */
  rate: number | undefined;
  hotSet: number;
  zipfExponent: number;
  deadlineMs: number;
  /** Server variants measured beside the cache server (see variants.ts). */
  variants: string[];
  /** Python with grpcio, pyarrow and NumPy for the Python-caller scenario (none: it is skipped). */
  python: string | undefined;
  /** Which generators measure Cassette's matrix scenarios. */
  generators: GeneratorName[];
  /** The ghz binary (none found: ghz scenarios are skipped, saying so). */
  ghz: string | undefined;
  /** ghz's callers in its closed-loop (maximum throughput) runs. */
  ghzConcurrency: number;
}

export const USAGE = `npm run bench -- [options]

  --quick                 short run (under 3 minutes): short phases, fewer sweep levels,
                          20,000 entities
  --seed <n>              dataset and key-mix seed (default 42)
  --entities <n>          entities in the dataset (default 100000, --quick 20000; a larger load
                          of the same seed serves a smaller run)
  --seconds <s>           measured seconds per open-loop scenario (default 10, --quick 1.5);
                          the probe, warm-up and sweep phases scale with it
  --scenarios <regex>     run only scenarios whose name matches, e.g. 'b1 f10|sweep'
  --target <host:port>    benchmark a running server: start none (cache and CPU figures unknown)
  --skip-load             do not load the dataset
  --cpu-prof              start the servers with node --cpu-prof (profiles in <out>/profiles)
  --contact-points <list> Cassandra to use (default $CASSANDRA_CONTACT_POINTS, else find or start
                          one on --cassandra-port); with --target, baselines need this
  --local-dc <name>       Cassandra data center (default $CASSANDRA_LOCAL_DC or datacenter1)
  --cassandra-port <n>    port of the local Cassandra to find or start (default 9042)
  --keyspace <name>       keyspace of the dataset (default cassette_bench)
  --out <dir>             report directory (default bench/out)
  --verify                decode a sample of responses and check every value against the dataset
  --poisson               Poisson arrivals (seeded) instead of a constant rate
  --channels <n>          gRPC channels (HTTP/2 connections) per server (default 2)
  --rate-fraction <f>     open-loop rate as a fraction of the probed maximum (default 0.5)
  --rate <rps>            a fixed open-loop rate instead (no probe), e.g. to compare with ghz
  --hot-set <n>           entities in the warm-cache hot set (default 1000)
  --zipf <s>              Zipf exponent of the skewed key mix (default 0.99)
  --deadline-ms <n>       deadline of each request (default 5000)
  --variant <names>       also start these variants of the cache server and run the warm b1 f10
                          and b100 f50 scenarios on each, right after the cache server's, with
                          ratios against it (comma-separated: ${Object.keys(VARIANTS).join(', ')})
  --python <path>         Python with grpcio, pyarrow and NumPy, for the python-caller scenario
                          (default $CASSETTE_CLIENT_PYTHON, which .ci/run's environment sets)
  --generator <name>      who drives Cassette's warm and cold scenarios: loadgen (the grpc-js
                          generator, default), ghz, or both (each scenario twice, the ghz one
                          named "... (ghz)", plus GetOnlineFeaturesArrow at b100 f50 with ghz);
                          baselines and Feast's APIs always use loadgen
  --ghz <path>            the ghz binary (default: ghz on PATH, else $GOPATH/bin or ~/go/bin)
  --ghz-concurrency <n>   ghz's callers in its maximum-throughput runs (default 16, as the
                          loadgen probe), spread over --channels connections
`;

/** A command-line number that must be positive (and whole, if `integer`). */
export function positiveNumber(name: string, raw: string, integer: boolean): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} ${raw}: expected a positive ${integer ? 'integer' : 'number'}`);
  }
  return value;
}

export function parseHarnessArgs(argv: readonly string[], env: NodeJS.ProcessEnv): HarnessOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
      entities: { type: 'string' },
      seconds: { type: 'string' },
      scenarios: { type: 'string' },
      target: { type: 'string' },
      'skip-load': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'contact-points': { type: 'string' },
      'local-dc': { type: 'string' },
      'cassandra-port': { type: 'string', default: '9042' },
      keyspace: { type: 'string', default: 'cassette_bench' },
      out: { type: 'string', default: 'bench/out' },
      verify: { type: 'boolean', default: false },
      poisson: { type: 'boolean', default: false },
      channels: { type: 'string', default: '2' },
      'rate-fraction': { type: 'string', default: '0.5' },
      rate: { type: 'string' },
      'hot-set': { type: 'string', default: '1000' },
      zipf: { type: 'string', default: '0.99' },
      'deadline-ms': { type: 'string', default: '5000' },
      variant: { type: 'string', default: '' },
      python: { type: 'string' },
      generator: { type: 'string', default: 'loadgen' },
      ghz: { type: 'string' },
      'ghz-concurrency': { type: 'string', default: '16' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick;
  const defaults = quick
    ? { probeS: 0.75, warmupS: 0.25, measureS: 1.5, sweepS: 1, sweepWarmupS: 0.25 }
    : { probeS: 3, warmupS: 2, measureS: 10, sweepS: 4, sweepWarmupS: 1 };
  const measureS = values.seconds === undefined ? defaults.measureS : positiveNumber('seconds', values.seconds, false);
  const scale = measureS / defaults.measureS;
  const round = (s: number) => Math.round(s * 1000) / 1000;
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed ${values.seed}: expected an integer`);
  const rateFraction = positiveNumber('rate-fraction', values['rate-fraction'], false);
  if (rateFraction > 1) throw new Error('--rate-fraction must be at most 1');
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(values.keyspace)) {
    throw new Error(`--keyspace ${values.keyspace}: must be a lower-case CQL identifier`);
  }
  const variants = values.variant
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const variant of variants) {
    if (!(variant in VARIANTS))
      throw new Error(`--variant ${variant}: expected one of ${Object.keys(VARIANTS).join(', ')}`);
  }
  if (variants.length > 0 && values.target !== undefined) {
    throw new Error('--variant starts servers of its own: it cannot be used with --target');
  }
  const generators = parseGenerators(values.generator);
  const contactPointsRaw = values['contact-points'] ?? env.CASSANDRA_CONTACT_POINTS;
  const contactPoints = contactPointsRaw
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return {
    quick,
    seed,
    entities: positiveNumber('entities', values.entities ?? (quick ? '20000' : '100000'), true),
    durations: {
      probeS: round(defaults.probeS * scale),
      warmupS: round(defaults.warmupS * scale),
      measureS,
      sweepS: round(defaults.sweepS * scale),
      sweepWarmupS: round(defaults.sweepWarmupS * scale),
    },
    filter: values.scenarios === undefined ? undefined : new RegExp(values.scenarios),
    target: values.target,
    skipLoad: values['skip-load'],
    cpuProf: values['cpu-prof'],
    contactPoints: contactPoints && contactPoints.length > 0 ? contactPoints : undefined,
    localDataCenter: values['local-dc'] ?? env.CASSANDRA_LOCAL_DC ?? 'datacenter1',
    cassandraPort: positiveNumber('cassandra-port', values['cassandra-port'], true),
    keyspace: values.keyspace,
    outDir: values.out,
    verify: values.verify,
    poisson: values.poisson,
    channels: positiveNumber('channels', values.channels, true),
    rateFraction,
    rate: values.rate === undefined ? undefined : positiveNumber('rate', values.rate, false),
    hotSet: positiveNumber('hot-set', values['hot-set'], true),
    zipfExponent: positiveNumber('zipf', values.zipf, false),
    deadlineMs: positiveNumber('deadline-ms', values['deadline-ms'], true),
    variants,
    python: values.python ?? env.CASSETTE_CLIENT_PYTHON,
    generators,
    ghz: values.ghz ?? (generators.includes('ghz') ? findGhz(env) : undefined),
    ghzConcurrency: positiveNumber('ghz-concurrency', values['ghz-concurrency'], true),
  };
}

/** --generator: loadgen, ghz or both. */
function parseGenerators(raw: string): GeneratorName[] {
  if (raw === 'both') return [...GENERATORS];
  const known: readonly string[] = GENERATORS;
  if (known.includes(raw)) return [raw as GeneratorName];
  throw new Error(`--generator ${raw}: expected loadgen, ghz or both`);
}
