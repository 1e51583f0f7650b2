/**
 * Bulk loads and cache coherence: after a direct `cassette ingest` job of many rows ends, does every
 * running server serve the job's values within the staleness bound, although each had the old
 * values cached?
 *
 *   npm run bench:bulk-coherence -- [--rows 1000000] [--sample 2000] [--servers 3] [--port 9042]
 *
 * 1. Applies a one-view registry (int64 key, ten features, no ttl) to a fresh keyspace and loads
 *    an "old" file of --rows rows (event times 8 to 15 days ago) with `cassette ingest`.
 * 2. Starts --servers servers (cache and coherence on, the defaults) and reads a sample of the keys
 *    through each until each answers them from its cache.
 * 3. Runs `cassette ingest` again with a "new" file for the same keys (event times in the last 7
 *    days), while the sample keeps being read through every server (so each keeps caching rows,
 *    some of them read before the job wrote them).
 * 4. From the moment the job exits, reads the sample through every server every 50 ms and records
 *    when each server first serves every sampled row with a new event time; and, at exactly
 *    maxStalenessMs after the exit, how many sampled rows each still serves old.
 *
 * Event times tell old from new: every old row is older than every new one, so a sampled row is
 * new when each of its features carries an event time inside the new file's window.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import pino from 'pino';

import { findOrStartCassandra } from '../src/cassandra/index.js';
import { call, connectClients, deadlineIn, type CassetteClients } from '../src/client/index.js';
import type { GetOnlineFeaturesResponse__Output } from '../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import { loadConfig } from '../src/config/index.js';
import { parseRegistry } from '../src/registry/index.js';
import { applyRegistry } from '../src/registry/storage.js';
import { connectSession } from '../src/store/index.js';
import { generateFile } from '../src/synthetic/index.js';
import { ServerChild } from './lib/servers.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    sample: { type: 'string', default: '2000' },
    servers: { type: 'string', default: '3' },
    port: { type: 'string', default: '9042' },
    out: { type: 'string', default: 'bench/out/bulk-coherence' },
    'keep-data': { type: 'boolean', default: false },
  },
});

const ROWS = Number(args.rows);
const SAMPLE = Math.min(Number(args.sample), ROWS);
const SERVERS = Number(args.servers);
const BATCH = 100;
/** The servers' bound (the default); the check is made this long after the job exits. */
const MAX_STALENESS_MS = 1000;
/** How long after the job each server is given to converge before the run gives up on it. */
const GIVE_UP_MS = 30_000;
const DAY_MS = 86_400_000;
const BIN = fileURLToPath(new URL('../bin/cassette.js', import.meta.url));
const VIEW = 'bulk_profile';
const REGISTRY = `
project: bulk
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: ${VIEW}
    entities: [user]
    features:
${Array.from({ length: 10 }, (_, i) => `      - { name: f${i}, type: ${i % 2 === 0 ? 'double' : 'int64'} }`).join('\n')}
`;

const logger = pino({ level: 'warn' });
const out = args.out;
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'cassette-bulk-'));
const keyspace = `bench_bulk_${Date.now().toString(36)}`;
const say = (message: string) => console.log(`[bulk ${new Date().toISOString().slice(11, 19)}] ${message}`);

const endpoint = await findOrStartCassandra({ logger, port: Number(args.port) });
const { contactPoints, localDataCenter } = endpoint;
const registry = parseRegistry(REGISTRY);
const config = loadConfig({ env: {}, overrides: { cassandra: { contactPoints, localDataCenter, keyspace } } });
const session = await connectSession(config.cassandra, logger);
const servers: ServerChild[] = [];
const clients: CassetteClients[] = [];
try {
  await applyRegistry(session, { keyspace, localDataCenter, replicationFactor: 1 }, registry, REGISTRY, logger);
  const view = registry.featureViews.get(VIEW)!;
  const now = Date.now();
  const oldAnchor = now - 8 * DAY_MS;
  const newWindowStartMs = now - 7 * DAY_MS;
  const files = { old: join(work, 'old.csv'), new: join(work, 'new.csv') };
  for (const [name, anchorMillis, seed] of [
    ['old', oldAnchor, 1],
    ['new', now, 2],
  ] as const) {
    const started = Date.now();
    await generateFile({
      view,
      rows: ROWS,
      format: 'csv',
      out: files[name],
      seed,
      badFraction: 0,
      sparseFraction: 0,
      anchorMillis,
      entities: 0,
      rowGroupSize: 20_000,
      eventTimeColumn: 'event_timestamp',
    });
    say(`generated ${ROWS} ${name} rows in ${Date.now() - started} ms`);
  }

  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CASSETTE_|CASSANDRA_)/.test(k))),
    CASSANDRA_CONTACT_POINTS: contactPoints.join(','),
    CASSANDRA_LOCAL_DC: localDataCenter,
    CASSETTE_KEYSPACE: keyspace,
    CASSETTE_LOG_LEVEL: 'warn',
  };
  const ingest = async (file: string): Promise<{ ms: number; exitedAtMs: number }> => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, 'ingest', '--view', VIEW, file], { env, stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const exitedAtMs = Date.now();
    if (code !== 0) throw new Error(`cassette ingest ${file} exited ${code}`);
    return { ms: exitedAtMs - started, exitedAtMs };
  };
  const oldLoad = await ingest(files.old);
  say(`old file ingested in ${oldLoad.ms} ms (${Math.round(ROWS / (oldLoad.ms / 1000))} rows/s)`);

  for (let i = 0; i < SERVERS; i++) {
    servers.push(
      await ServerChild.start({
        name: `replica-${i + 1}`,
        cache: true,
        keyspace,
        contactPoints,
        localDataCenter,
        outDir: out,
        cpuProf: false,
      }),
    );
    clients.push(connectClients(servers[i]!.address));
  }
  say(`${SERVERS} servers: ${servers.map((s) => s.address).join(', ')}`);

  // The sample: spread over the whole key range (row i has user_id 10,000,000,000 + i).
  const sampleIds = Array.from({ length: SAMPLE }, (_, i) => 10_000_000_000n + BigInt(Math.floor((i * ROWS) / SAMPLE)));
  const features = view.features.map((f) => `${VIEW}:${f.name}`);
  /** Sampled rows each server serves with an event time older than the new window (still old). */
  const oldRows = async (client: CassetteClients): Promise<number> => {
    let old = 0;
    for (let at = 0; at < sampleIds.length; at += BATCH) {
      const ids = sampleIds.slice(at, at + BATCH);
      const response = await call<GetOnlineFeaturesResponse__Output>((cb) =>
        client.serving.GetOnlineFeatures(
          { features: { val: features }, entities: { user_id: { val: ids.map((id) => ({ int64_val: String(id) })) } } },
          deadlineIn(10_000),
          cb,
        ),
      );
      for (let r = 0; r < ids.length; r++) {
        const isOld = response.results.some((vector) => {
          const ts = vector.event_timestamps[r];
          const ms = ts ? Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6) : 0;
          return ms < newWindowStartMs;
        });
        if (isOld) old++;
      }
    }
    return old;
  };
  for (const client of clients) {
    const old = await oldRows(client);
    if (old !== SAMPLE) throw new Error(`before the new load, ${old} of ${SAMPLE} sampled rows are old`);
    await oldRows(client); // cached now: the second read is answered from memory
  }
  const hitsBefore = await Promise.all(servers.map((s) => s.stats()));
  say(
    `sample of ${SAMPLE} rows read through every server (cached: ${hitsBefore.map((s) => s?.cacheHits).join(', ')} hits)`,
  );

  // While the job runs, every server keeps reading the sample, so rows it cached before the job
  // wrote them are still cached (old) when it ends, unless coherence drops them.
  let loading = true;
  let readsDuringLoad = 0;
  const readers = clients.map(async (client) => {
    while (loading) {
      await oldRows(client);
      readsDuringLoad++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  const newLoad = await ingest(files.new).finally(() => (loading = false));
  await Promise.all(readers);
  say(
    `new file ingested in ${newLoad.ms} ms (${Math.round(ROWS / (newLoad.ms / 1000))} rows/s); ` +
      `the sample was read ${readsDuringLoad} times through the servers meanwhile`,
  );

  // Every server, read every 50 ms from the job's exit until all its sampled rows are new.
  const convergedAfterMs: (number | null)[] = new Array<number | null>(SERVERS).fill(null);
  const oldAtBound: (number | null)[] = new Array<number | null>(SERVERS).fill(null);
  await Promise.all(
    clients.map(async (client, i) => {
      for (;;) {
        const startedAt = Date.now();
        const old = await oldRows(client);
        if (oldAtBound[i] === null && startedAt >= newLoad.exitedAtMs + MAX_STALENESS_MS) oldAtBound[i] = old;
        if (old === 0 && convergedAfterMs[i] === null) convergedAfterMs[i] = startedAt - newLoad.exitedAtMs;
        if (convergedAfterMs[i] !== null && oldAtBound[i] !== null) return;
        if (startedAt - newLoad.exitedAtMs > GIVE_UP_MS) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }),
  );
  const result = {
    rows: ROWS,
    sample: SAMPLE,
    servers: SERVERS,
    maxStalenessMs: MAX_STALENESS_MS,
    oldIngestMs: oldLoad.ms,
    newIngestMs: newLoad.ms,
    readsOfTheSampleDuringTheJob: readsDuringLoad,
    /** Per server: ms from the job's exit to the first read of the sample that was all new (read start). */
    convergedAfterMs,
    /** Per server: sampled rows still old in the first read started at or after the bound. */
    oldAtBound,
    passed: oldAtBound.every((n) => n === 0),
  };
  writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
  say(JSON.stringify(result));
  if (!result.passed) process.exitCode = 1;
} finally {
  for (const client of clients) client.close();
  await Promise.all(servers.map((s) => s.stop()));
  if (!args['keep-data']) await session.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 120_000 });
  await session.shutdown();
  await endpoint.stop();
  rmSync(work, { recursive: true, force: true });
}
