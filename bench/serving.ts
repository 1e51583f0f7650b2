/**
 * Serving latency benchmark: GetOnlineFeatures through a real Cassette server process (cache on
 * and cache off) against a tuned in-process cassandra-driver baseline doing the same reads.
 *
 *   npm run bench:serving -- [--entities 10000] [--seconds 5] [--concurrency 8]
 *
 * Closed loop: `concurrency` callers each send the next request as soon as the previous one
 * answers. Latencies are recorded per request; the report gives medians, p99 and throughput.
 * The machine is shared and noisy: compare ratios within one run, not numbers across runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import cassandra from 'cassandra-driver';
import pino from 'pino';

import { findOrStartCassandra } from '../src/cassandra/index.js';
import { call, connectClients, deadlineIn, type CassetteClients } from '../src/client/index.js';
import { loadConfig } from '../src/config/index.js';
import type { FeatureRow } from '../src/generated/cassette/v1/FeatureRow.js';
import type { Value } from '../src/generated/cassette/v1/Value.js';
import { parseRegistry } from '../src/registry/index.js';
import { applyRegistry, connectSession } from '../src/store/index.js';

const { values: args } = parseArgs({
  options: {
    entities: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
    out: { type: 'string', default: 'bench/out/serving.json' },
  },
});
const ENTITIES = Number(args.entities);
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const KEYSPACE = 'cassette_bench';
const BIN = fileURLToPath(new URL('../bin/cassette.js', import.meta.url));
const logger = pino({ level: 'warn' });

// 50 features: a mix of int64, double, string and bool, plus a 32-float embedding.
const FEATURES = Array.from({ length: 50 }, (_, i) => ({
  name: `f${String(i).padStart(2, '0')}`,
  type: (['int64', 'double', 'string', 'bool'] as const)[i % 4]!,
}));
const REGISTRY = `
project: bench
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: wide
    entities: [user]
    features:
${FEATURES.map((f) => `      - { name: ${f.name}, type: ${f.type} }`).join('\n')}
      - { name: embedding, type: float_list }
`;

function featureValue(type: string, seed: number): Value {
  switch (type) {
    case 'int64':
      return { int64_val: String(seed * 7919) };
    case 'double':
      return { double_val: seed / 7 };
    case 'string':
      return { string_val: `value-${seed % 1000}` };
    default:
      return { bool_val: seed % 2 === 0 };
  }
}

interface Result {
  name: string;
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs `request` in a closed loop with CONCURRENCY callers for SECONDS. */
async function closedLoop(name: string, request: () => Promise<unknown>): Promise<Result> {
  // Warm up connections, JIT and (where on) the cache.
  const warmUntil = performance.now() + 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < warmUntil) await request();
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await request();
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const result = {
    name,
    requests: latencies.length,
    rps: Math.round(latencies.length / elapsed),
    p50_ms: Number(percentile(sorted, 50).toFixed(3)),
    p99_ms: Number(percentile(sorted, 99).toFixed(3)),
    errors,
  };
  console.log(
    `${name.padEnd(34)} ${String(result.rps).padStart(7)} req/s  p50 ${result.p50_ms.toFixed(2)} ms  p99 ${result.p99_ms.toFixed(2)} ms  errors ${errors}`,
  );
  return result;
}

async function startServerProcess(
  env: NodeJS.ProcessEnv,
  extra: string[],
): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', ...extra], {
    env: { ...env, CASSETTE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; address?: string };
      if (entry.msg === 'Cassette is serving' && entry.address) resolve(entry.address);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, address };
}

async function main(): Promise<void> {
  const node = await findOrStartCassandra({ logger });
  const config = loadConfig({
    env: {},
    overrides: {
      cassandra: { contactPoints: node.contactPoints, localDataCenter: node.localDataCenter, keyspace: KEYSPACE },
    },
  });
  const session = await connectSession(config.cassandra, logger);
  await applyRegistry(
    session,
    { keyspace: KEYSPACE, localDataCenter: config.cassandra.localDataCenter, replicationFactor: 1 },
    parseRegistry(REGISTRY),
    REGISTRY,
    logger,
  );

  const env = {
    ...process.env,
    CASSANDRA_CONTACT_POINTS: node.contactPoints.join(','),
    CASSANDRA_LOCAL_DC: node.localDataCenter,
    CASSETTE_KEYSPACE: KEYSPACE,
  };
  const cached = await startServerProcess(env, []);
  const uncached = await startServerProcess(env, ['--no-cache']);
  const clients: CassetteClients[] = [connectClients(cached.address), connectClients(uncached.address)];
  const [cachedClient, uncachedClient] = clients as [CassetteClients, CassetteClients];

  console.log(`loading ${ENTITIES} entities × ${FEATURES.length + 1} features …`);
  const loadStart = performance.now();
  for (let start = 0; start < ENTITIES; start += 500) {
    const rows: FeatureRow[] = [];
    for (let id = start; id < Math.min(ENTITIES, start + 500); id++) {
      const features: Record<string, Value> = {};
      for (const f of FEATURES) features[f.name] = featureValue(f.type, id);
      features.embedding = {
        float_list_val: { val: Array.from({ length: 32 }, (_, i) => Math.fround((id + i) / 1000)) },
      };
      rows.push({ entity_keys: { user_id: { int64_val: String(id) } }, features });
    }
    await call((cb) => cachedClient.ingestion.WriteFeatures({ feature_view: 'wide', rows }, deadlineIn(60_000), cb));
  }
  console.log(`loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);

  const refs = (n: number) => FEATURES.slice(0, n).map((f) => `wide:${f.name}`);
  let cursor = 0;
  const keys = (batch: number, hot: boolean): Value[] =>
    Array.from({ length: batch }, () => ({
      int64_val: String(hot ? cursor++ % 1000 : Math.floor(Math.random() * ENTITIES)),
    }));
  const viaServer = (client: CassetteClients, batch: number, features: number, hot: boolean) => () =>
    call((cb) =>
      client.serving.GetOnlineFeatures(
        { features: { val: refs(features) }, entities: { user_id: { val: keys(batch, hot) } } },
        deadlineIn(5000),
        cb,
      ),
    );

  // Baseline: the same single-partition reads straight from a tuned driver, no gRPC, no cache.
  const driver = new cassandra.Client({
    contactPoints: node.contactPoints,
    localDataCenter: node.localDataCenter,
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
  });
  await driver.connect();
  const select = (n: number) =>
    `SELECT ${FEATURES.slice(0, n)
      .map((f) => `${f.name}, WRITETIME(${f.name})`)
      .join(', ')} FROM ${KEYSPACE}.wide WHERE user_id = ?`;
  const direct = (batch: number, features: number) => () =>
    Promise.all(
      keys(batch, false).map((k) =>
        driver.execute(select(features), [cassandra.types.Long.fromString(k.int64_val as string)], { prepare: true }),
      ),
    );

  const results: Result[] = [];
  for (const [batch, features] of [
    [1, 10],
    [10, 10],
    [100, 10],
    [100, 50],
  ] as const) {
    results.push(await closedLoop(`direct-driver b${batch} f${features}`, direct(batch, features)));
    results.push(
      await closedLoop(`cassette cache-off b${batch} f${features}`, viaServer(uncachedClient, batch, features, false)),
    );
    results.push(
      await closedLoop(`cassette cache-warm b${batch} f${features}`, viaServer(cachedClient, batch, features, true)),
    );
  }

  mkdirSync('bench/out', { recursive: true });
  writeFileSync(
    args.out,
    JSON.stringify({ entities: ENTITIES, seconds: SECONDS, concurrency: CONCURRENCY, results }, null, 2),
  );
  console.log(`report: ${args.out}`);

  for (const c of clients) c.close();
  await driver.shutdown();
  await session.shutdown();
  cached.child.kill('SIGTERM');
  uncached.child.kill('SIGTERM');
  await node.stop();
}

await main();
