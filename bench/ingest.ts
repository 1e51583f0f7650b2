/**
 * Bulk ingestion benchmark: the RowSink write path (what `cassette ingest` uses) against the raw
 * cassandra-driver `executeConcurrent` ceiling, writing the same rows with the same prepared INSERT.
 *
 *   npm run bench:ingest -- [--rows 1000000] [--rounds 2] [--port 9042]
 *
 * Every scenario runs in a child process of its own, so its peak RSS is its own; scenarios
 * alternate within a round, in reverse order every other round (A B C, C B A, …), so that the
 * noise of this shared machine hits all alike, and each run starts once Cassandra has finished
 * the flushes and compactions of the previous one. Compare medians and ratios within one run.
 *
 * Scenarios (--scenarios a,b,…; each may carry settings, e.g. `sink:connections=1`):
 *   driver          executeConcurrent on a plain cassandra-driver client (the ceiling)
 *   sink            RowSink from stored values (the write path, without parsing)
 *   sink-validate   validateRow on protobuf-shaped rows, then RowSink (what a WriteFeatures row costs)
 *   sink-record     CSV cells through the codecs' text doors, validateRecord, then RowSink (what a file row costs)
 *   driver-batch    raw driver, consecutive rows of one entity as UNLOGGED BATCHes (with --per-entity)
 *   driver-session  executeConcurrent over Cassette's bulk session (isolates session settings)
 *   store           CassandraStore.write with bounded concurrency, no sink (isolates the sink's scheduling)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import cassandra from 'cassandra-driver';
import pino from 'pino';

import { findOrStartCassandra } from '../src/cassandra/index.js';
import { runBounded } from '../src/concurrency/index.js';
import { loadConfig, type Config } from '../src/config/index.js';
import type { FeatureRow__Output } from '../src/generated/cassette/v1/FeatureRow.js';
import type { Value__Output } from '../src/generated/cassette/v1/Value.js';
import {
  newRecordRow,
  RowSink,
  validateRecord,
  validateRow,
  type RecordRow,
  type ValidatedRow,
  type WriteRow,
} from '../src/write/index.js';
import { parseRegistry, type FeatureViewDef } from '../src/registry/index.js';
import { applyRegistry } from '../src/registry/storage.js';
import { CassandraStore, connectSession, insertStatement, type CassandraClient } from '../src/store/index.js';
import { timestampFromMicros } from '../src/time/index.js';
import { codecOf, entityKeyString, scalarCodecOf, type StoredValue } from '../src/values/index.js';

const { values: args } = parseArgs({
  options: {
    child: { type: 'string' },
    rows: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '2' },
    port: { type: 'string', default: '9042' },
    scenarios: { type: 'string', default: 'driver,sink,sink-validate' },
    concurrency: { type: 'string', default: '' },
    connections: { type: 'string', default: '' },
    'max-requests': { type: 'string', default: '' },
    coalescing: { type: 'string', default: '' },
    'per-entity': { type: 'string', default: '1' },
    'partition-batch': { type: 'string', default: '' },
    contact: { type: 'string', default: '' },
    dc: { type: 'string', default: 'datacenter1' },
    label: { type: 'string', default: '' },
    out: { type: 'string', default: 'bench/out/ingest.json' },
  },
});

const KEYSPACE = 'cassette_ingest_bench';
const VIEW = 'events';
const logger = pino({ level: 'warn' });

// 20 features: int64, double, string and bool in turn, and an 8-float list last.
const SCALAR_TYPES = ['int64', 'double', 'string', 'bool'] as const;
const FEATURES = Array.from({ length: 20 }, (_, i) => ({
  name: `f${String(i).padStart(2, '0')}`,
  type: i === 19 ? ('float_list' as const) : SCALAR_TYPES[i % 4]!,
}));
const REGISTRY = `
project: ingest_bench
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: ${VIEW}
    entities: [user]
    features:
${FEATURES.map((f) => `      - { name: ${f.name}, type: ${f.type} }`).join('\n')}
`;
/** Event times: a fixed base (so reruns write the same cells), one microsecond apart. */
const BASE_MICROS = 1_700_000_000_000_000;
const FLOATS = 8;

/** Row `i` of the data set, deterministic: `perEntity` consecutive rows share a user. */
function userOf(i: number, perEntity: number): number {
  return Math.floor(i / perEntity);
}

/** Stored (driver) values of row `i`, in view order. */
function storedFeatures(i: number): StoredValue[] {
  const values = new Array<StoredValue>(FEATURES.length);
  for (let f = 0; f < 19; f++) {
    const seed = i * 31 + f;
    switch (f % 4) {
      case 0:
        values[f] = cassandra.types.Long.fromNumber(seed * 7919);
        break;
      case 1:
        values[f] = seed / 7;
        break;
      case 2:
        values[f] = `value-${seed % 10_000}`;
        break;
      default:
        values[f] = seed % 3 === 0;
    }
  }
  const list = new Array<number>(FLOATS);
  for (let k = 0; k < FLOATS; k++) list[k] = Math.fround(((i + k) % 1000) / 1000);
  values[19] = list;
  return values;
}

/** The same row as a decoded protobuf message, as the gRPC transport hands it to validateRow. */
function protoRow(i: number, perEntity: number): FeatureRow__Output {
  const features: Record<string, Value__Output> = {};
  for (let f = 0; f < 19; f++) {
    const seed = i * 31 + f;
    const name = FEATURES[f]!.name;
    switch (f % 4) {
      case 0:
        features[name] = { val: 'int64_val', int64_val: String(seed * 7919) } as Value__Output;
        break;
      case 1:
        features[name] = { val: 'double_val', double_val: seed / 7 } as Value__Output;
        break;
      case 2:
        features[name] = { val: 'string_val', string_val: `value-${seed % 10_000}` } as Value__Output;
        break;
      default:
        features[name] = { val: 'bool_val', bool_val: seed % 3 === 0 } as Value__Output;
    }
  }
  const list = new Array<number>(FLOATS);
  for (let k = 0; k < FLOATS; k++) list[k] = Math.fround(((i + k) % 1000) / 1000);
  features[FEATURES[19]!.name] = { val: 'float_list_val', float_list_val: { val: list } } as Value__Output;
  const micros = BASE_MICROS + i;
  return {
    entity_keys: { user_id: { val: 'int64_val', int64_val: String(userOf(i, perEntity)) } as Value__Output },
    features,
    event_timestamp: timestampFromMicros(BigInt(micros)),
  };
}

const KEY_CODEC = scalarCodecOf('int64');
const FEATURE_CODECS = FEATURES.map((f) => codecOf(f.type));
const FEATURE_WHERES = FEATURES.map((f) => `column "${f.name}"`);

/** The same row as a CSV file's cells, each read through its column's codec as the CSV source does. */
function recordRow(view: FeatureViewDef, i: number, perEntity: number): RecordRow {
  const record = newRecordRow(view, BigInt(BASE_MICROS + i));
  record.key[0] = KEY_CODEC.fromTextValue(String(userOf(i, perEntity)), 'column "user_id"');
  const cells = storedFeatures(i).map((value) => (Array.isArray(value) ? JSON.stringify(value) : String(value)));
  for (let f = 0; f < cells.length; f++) {
    record.features[f] = FEATURE_CODECS[f]!.fromTextValue(cells[f]!, FEATURE_WHERES[f]!);
  }
  return record;
}

function writeRow(i: number, perEntity: number): WriteRow {
  const key = [cassandra.types.Long.fromNumber(userOf(i, perEntity))];
  return {
    key,
    keyString: entityKeyString(key),
    features: storedFeatures(i),
    eventTimeMicros: cassandra.types.Long.fromNumber(BASE_MICROS + i),
    ttlSeconds: 0,
  };
}

/** The INSERT CassandraStore prepares for the view; insertParams fills its parameters in the same order. */
const INSERT = insertStatement(KEYSPACE, parseRegistry(REGISTRY).featureViews.get(VIEW)!);

function insertParams(i: number, perEntity: number): unknown[] {
  return [
    cassandra.types.Long.fromNumber(userOf(i, perEntity)),
    ...storedFeatures(i),
    cassandra.types.Long.fromNumber(BASE_MICROS + i),
    0,
  ];
}

interface Settings {
  rows: number;
  concurrency: number;
  connections: number;
  maxRequests: number;
  coalescing: number;
  perEntity: number;
  partitionBatch: number;
}

interface ChildResult {
  scenario: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  peakRssMb: number;
  cpuMicrosPerRow: number;
  retried?: number;
  batches?: number;
  writesPer100Rows: number;
  readsPer100Rows: number;
}

/** Read and write system calls of this process so far (Linux /proc). */
function syscalls(): { reads: number; writes: number } {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    return { reads: Number(/syscr: (\d+)/.exec(io)?.[1]), writes: Number(/syscw: (\d+)/.exec(io)?.[1]) };
  } catch {
    return { reads: Number.NaN, writes: Number.NaN };
  }
}

function childConfig(settings: Settings, contactPoints: string[], dc: string): Config {
  return loadConfig({
    env: {},
    overrides: {
      cassandra: {
        contactPoints,
        localDataCenter: dc,
        keyspace: KEYSPACE,
        coreConnectionsPerHost: settings.connections,
        maxRequestsPerConnection: settings.maxRequests,
      },
      ingest: { writeConcurrency: settings.concurrency },
    },
  });
}

/** The baseline client: the driver alone, with the same pooling and socket settings as the bulk session. */
async function rawClient(config: Config, settings: Settings): Promise<CassandraClient> {
  const client = new cassandra.Client({
    contactPoints: config.cassandra.contactPoints,
    localDataCenter: config.cassandra.localDataCenter,
    pooling: {
      coreConnectionsPerHost: { [cassandra.types.distance.local]: settings.connections },
      maxRequestsPerConnection: settings.maxRequests,
    },
    socketOptions: {
      readTimeout: config.ingest.writeTimeoutMs,
      tcpNoDelay: true,
      coalescingThreshold: settings.coalescing,
    },
    queryOptions: { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
  });
  await client.connect();
  return client;
}

/** One scenario, in this (child) process: prints one JSON line with its result. */
async function runChild(scenario: string, settings: Settings): Promise<void> {
  const config = childConfig(settings, args.contact.split(','), args.dc);
  const { rows, perEntity } = settings;
  let client: CassandraClient;
  let work: () => Promise<{ retried?: number; batches?: number }>;
  if (scenario === 'driver' || scenario === 'driver-batch' || scenario === 'driver-session') {
    // driver-session: the same executeConcurrent over Cassette's session (connectSession, bulk).
    client =
      scenario === 'driver-session'
        ? await connectSession(config.cassandra, logger, { profile: 'bulk', coalescingThreshold: settings.coalescing })
        : await rawClient(config, settings);
    await client.execute(INSERT, insertParams(rows, perEntity), { prepare: true });
    work =
      scenario !== 'driver-batch'
        ? async () => {
            function* params(): Generator<unknown[]> {
              for (let i = 0; i < rows; i++) yield insertParams(i, perEntity);
            }
            await cassandra.concurrent.executeConcurrent(client, INSERT, Readable.from(params()), {
              concurrencyLevel: settings.concurrency,
            });
            return {};
          }
        : () => driverBatches(client, settings);
  } else {
    client = await connectSession(config.cassandra, logger, {
      profile: 'bulk',
      coalescingThreshold: settings.coalescing,
    });
    const registry = parseRegistry(REGISTRY);
    const view = registry.featureViews.get(VIEW)!;
    const store = new CassandraStore(client, KEYSPACE, config.cassandra);
    await store.prepare(registry);
    await store.write(
      view,
      [cassandra.types.Long.fromNumber(0)],
      storedFeatures(0),
      cassandra.types.Long.ZERO,
      0,
      5000,
    );
    if (scenario === 'store') {
      // Diagnostic: CassandraStore.write with bounded concurrency, no sink.
      work = async () => {
        await runBounded(rows, settings.concurrency, async (i) => {
          const row = writeRow(i, perEntity);
          await store.write(view, row.key, row.features, row.eventTimeMicros, row.ttlSeconds, 10_000);
        });
        return {};
      };
    } else
      work = async () => {
        const sink = new RowSink(store, view, {
          concurrency: settings.concurrency,
          maxRowsPerSecond: 0,
          writeTimeoutMs: config.ingest.writeTimeoutMs,
          maxAttempts: config.ingest.writeAttempts,
          partitionBatchRows: settings.partitionBatch,
        });
        const now = Date.now();
        for (let i = 0; i < rows; i++) {
          const row =
            scenario === 'sink-validate'
              ? written(validateRow(view, protoRow(i, perEntity), 'row', now, config.ingest))
              : scenario === 'sink-record'
                ? written(validateRecord(view, recordRow(view, i, perEntity), 'row', now, config.ingest))
                : writeRow(i, perEntity);
          const room = sink.push(row, i);
          if (room !== null) await room;
        }
        await sink.flush();
        return { retried: sink.stats.retried, batches: sink.stats.batches };
      };
  }
  const ioBefore = syscalls();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const { retried, batches } = await work();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const io = syscalls();
  const result: ChildResult = {
    scenario,
    rows,
    seconds: Number(seconds.toFixed(3)),
    rowsPerSecond: Math.round(rows / seconds),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    cpuMicrosPerRow: Number(((cpu.user + cpu.system) / rows).toFixed(1)),
    // Socket writes and reads per 100 rows: how well requests share a write (coalescing) and responses a read.
    writesPer100Rows: Number(((100 * (io.writes - ioBefore.writes)) / rows).toFixed(1)),
    readsPer100Rows: Number(((100 * (io.reads - ioBefore.reads)) / rows).toFixed(1)),
    ...(retried !== undefined ? { retried } : {}),
    ...(batches !== undefined ? { batches } : {}),
  };
  await client.shutdown();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function written(result: ValidatedRow): WriteRow {
  if (result.kind !== 'write') throw new Error('bench rows never expire');
  return result.row;
}

/**
 * The grouping experiment, on the raw driver: consecutive rows sharing a partition go as one
 * UNLOGGED BATCH (one mutation, one round trip), with at most `concurrency` requests in flight.
 */
async function driverBatches(client: CassandraClient, settings: Settings): Promise<{ retried?: number }> {
  const { rows, perEntity, concurrency } = settings;
  let next = 0;
  const worker = async () => {
    while (next < rows) {
      const first = next;
      const user = userOf(first, perEntity);
      let end = first + 1;
      while (end < rows && userOf(end, perEntity) === user) end++;
      next = end;
      if (end - first === 1) {
        await client.execute(INSERT, insertParams(first, perEntity), { prepare: true });
      } else {
        const queries = [];
        for (let i = first; i < end; i++) queries.push({ query: INSERT, params: insertParams(i, perEntity) });
        await client.batch(queries, { prepare: true, logged: false });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {};
}

/**
 * The pid of the Cassandra listening on `port`, when it runs on this machine (its CPU time is
 * read around each run: CPU per row is far less disturbed by other load than rows per second).
 */
function cassandraPid(port: number): number | undefined {
  try {
    const listing = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const match = /pid=(\d+)/.exec(listing);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used so far (Linux /proc). */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/**
 * Waits until Cassandra is idle (under 15% of a core for two seconds in a row, at most
 * `maxSeconds`): the flushes and compactions a run leaves behind must not be billed to the next.
 */
async function quiesce(pid: number | undefined, maxSeconds = 120): Promise<number> {
  if (pid === undefined) return 0;
  const started = performance.now();
  let calm = 0;
  let last = cpuSecondsOf(pid);
  while (calm < 2 && performance.now() - started < maxSeconds * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = cpuSecondsOf(pid);
    calm = now - last < 0.15 ? calm + 1 : 0;
    last = now;
  }
  return Math.round((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function spawnChild(scenario: string, childArgs: string[]): Promise<ChildResult> {
  const file = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, file, '--child', scenario, ...childArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${scenario} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

async function main(): Promise<void> {
  const node = await findOrStartCassandra({ logger, port: Number(args.port) });
  const config = loadConfig({
    env: {},
    overrides: {
      cassandra: { contactPoints: node.contactPoints, localDataCenter: node.localDataCenter, keyspace: KEYSPACE },
    },
  });
  const session = await connectSession(config.cassandra, logger);
  await applyRegistry(
    session,
    { keyspace: KEYSPACE, localDataCenter: node.localDataCenter, replicationFactor: 1 },
    parseRegistry(REGISTRY),
    REGISTRY,
    logger,
  );
  const rowCounts = args.rows.split(',').map(Number);
  const defaults: Record<string, string> = {
    concurrency: args.concurrency || String(config.ingest.writeConcurrency),
    connections: args.connections || String(config.cassandra.coreConnectionsPerHost),
    'max-requests': args['max-requests'] || String(config.cassandra.maxRequestsPerConnection),
    coalescing: args.coalescing || '65536',
    'per-entity': args['per-entity'],
    'partition-batch': args['partition-batch'] || String(config.ingest.partitionBatchRows),
  };
  // A scenario is `name[:setting=value…]`, e.g. `sink:connections=1:coalescing=8192`.
  const scenarios = args.scenarios.split(',').map((spec) => {
    const [name, ...overrides] = spec.split(':');
    const settings = { ...defaults };
    for (const override of overrides) {
      const [key, value] = override.split('=');
      if (!key || !value || !(key in settings)) throw new Error(`bad scenario setting "${override}" in ${spec}`);
      settings[key] = value;
    }
    return { spec, name: name!, settings };
  });
  const results: (ChildResult & {
    spec: string;
    rowsRequested: number;
    round: number;
    serverCpuMicrosPerRow: number;
  })[] = [];
  const serverPid = cassandraPid(Number(args.port));
  console.log(
    `ingest bench: ${FEATURES.length} features, rows ${args.rows}, rounds ${args.rounds}, ` +
      Object.entries(defaults)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
  );
  for (const rows of rowCounts) {
    for (let round = 0; round < Number(args.rounds); round++) {
      // ABBA: odd rounds run the scenarios in reverse, so no scenario always follows the same one.
      const order = round % 2 === 0 ? scenarios : [...scenarios].reverse();
      for (const { spec, name, settings } of order) {
        const waited = await quiesce(serverPid);
        const flags = Object.entries(settings).flatMap(([k, v]) => [`--${k}`, v]);
        const serverCpuBefore = cpuSecondsOf(serverPid);
        const child = await spawnChild(name, [
          '--rows',
          String(rows),
          ...flags,
          '--contact',
          node.contactPoints.join(','),
          '--dc',
          node.localDataCenter,
        ]);
        const serverCpu = cpuSecondsOf(serverPid) - serverCpuBefore;
        const result = { ...child, serverCpuMicrosPerRow: Number(((serverCpu * 1e6) / rows).toFixed(1)) };
        results.push({ ...result, spec, rowsRequested: rows, round });
        console.log(
          `${String(rows).padStart(8)} ${spec.padEnd(24)} ${String(result.rowsPerSecond).padStart(7)} rows/s  ` +
            `${result.seconds.toFixed(1).padStart(6)} s  peak RSS ${String(result.peakRssMb).padStart(4)} MB  ` +
            `CPU µs/row client ${result.cpuMicrosPerRow} Cassandra ${result.serverCpuMicrosPerRow}  ` +
            `syscalls/100 rows w ${result.writesPer100Rows} r ${result.readsPer100Rows}  (waited ${waited} s for Cassandra to idle)${result.retried ? `  retried ${result.retried}` : ''}${result.batches ? `  batches ${result.batches}` : ''}`,
        );
      }
    }
  }

  // A spot check that the rows landed: the last row's user holds the last row's values.
  const rows = Math.max(...rowCounts);
  const perEntity = Number(args['per-entity']);
  const last = await session.execute(`SELECT f00, f02 FROM "${KEYSPACE}"."${VIEW}" WHERE user_id = ?`, [
    cassandra.types.Long.fromNumber(userOf(rows - 1, perEntity)),
  ]);
  const expected = storedFeatures(rows - 1);
  if (String(last.rows[0]?.get('f00')) !== String(expected[0]) || last.rows[0]?.get('f02') !== expected[2]) {
    throw new Error('spot check failed: the last row was not written as generated');
  }

  // Ratios are taken per round against the first scenario given (run in the same round), and
  // their median reported: it cancels most of the drift of a shared machine.
  const baseline = scenarios[0]!.spec;
  const summary = rowCounts.flatMap((n) =>
    scenarios.map(({ spec }) => {
      const runs = results.filter((r) => r.rowsRequested === n && r.spec === spec);
      const ratios = runs.map((r) => {
        const base = results.find((b) => b.rowsRequested === n && b.round === r.round && b.spec === baseline)!;
        return r.rowsPerSecond / base.rowsPerSecond;
      });
      return {
        rows: n,
        scenario: spec,
        medianRowsPerSecond: Math.round(median(runs.map((r) => r.rowsPerSecond))),
        medianRatioToBaseline: Number(median(ratios).toFixed(3)),
        medianPeakRssMb: median(runs.map((r) => r.peakRssMb)),
        medianCpuMicrosPerRow: Number(median(runs.map((r) => r.cpuMicrosPerRow)).toFixed(1)),
        medianServerCpuMicrosPerRow: Number(median(runs.map((r) => r.serverCpuMicrosPerRow)).toFixed(1)),
      };
    }),
  );
  console.log(`\nmedians (rows/s, and the median of per-round ratios to ${baseline}):`);
  for (const s of summary) {
    console.log(
      `${String(s.rows).padStart(8)} ${s.scenario.padEnd(24)} ${String(s.medianRowsPerSecond).padStart(7)} rows/s ` +
        `${(100 * s.medianRatioToBaseline).toFixed(0).padStart(4)}%  peak RSS ${s.medianPeakRssMb} MB  ` +
        `CPU µs/row client ${s.medianCpuMicrosPerRow} Cassandra ${s.medianServerCpuMicrosPerRow}`,
    );
  }
  mkdirSync('bench/out', { recursive: true });
  writeFileSync(
    args.out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        label: args.label,
        features: FEATURES.length,
        perEntity,
        settings: defaults,
        baseline,
        cassandra: node.contactPoints,
        results,
        summary,
      },
      null,
      2,
    ),
  );
  console.log(`report: ${args.out}`);
  await session.shutdown();
  await node.stop();
}

if (args.child) {
  await runChild(args.child, {
    rows: Number(args.rows),
    concurrency: Number(args.concurrency),
    connections: Number(args.connections),
    maxRequests: Number(args['max-requests']),
    coalescing: Number(args.coalescing),
    perEntity: Number(args['per-entity']),
    partitionBatch: Number(args['partition-batch']),
  });
} else {
  await main();
}
