import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { GENERATIONS_TABLE } from '../../src/coherence/log-tables.js';
import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import type { MigrationCheckpoint, MigrationSummary } from '../../src/feast/migrate/index.js';
import { encodeFeastValue } from '../../src/feast/registry-import/index.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { Value, Value__Output } from '../../src/generated/cassette/v1/Value.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { CassandraClient } from '../../src/store/index.js';
import { cliEnv, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { connectTestSession, dropKeyspace, silentLogger, testConfig, uniqueKeyspace } from '../helpers/cluster.js';

/**
 * End to end, with the real Feast (0.67, from CASSETTE_FEAST_PYTHON's environment): a Feast
 * repository defined in Python (test/feast/migrate-repo) is applied and materialized by Feast
 * into its Cassandra online tables on the test Cassandra; then `cassette import-feast`,
 * `cassette apply` and `cassette migrate-from-feast` (killed midway and resumed); then every
 * value and event time is read through Cassette's API and through Feast's own online read
 * (FeatureStore.get_online_features on the Feast repository), and compared with each other and
 * with the rows the test wrote.
 */
const PYTHON = process.env.CASSETTE_FEAST_PYTHON ?? '/work/feastvenv/bin/python';
const HAVE_PYTHON = existsSync(PYTHON);
if (!HAVE_PYTHON) {
  console.warn(
    `[feast-migrate] skipped: no Python at ${PYTHON}; set CASSETTE_FEAST_PYTHON to a virtual environment with feast[cassandra]==0.67.0 (.ci/run makes one)`,
  );
}

const REPO_TEMPLATE = fileURLToPath(new URL('../feast/migrate-repo', import.meta.url));
/** Kept out of the repository: `feast apply` imports every Python file in it. */
const SCRIPTS = fileURLToPath(new URL('../feast/scripts', import.meta.url));
const USERS = 120;
const ITEMS_PER_USER = 2;
const PROFILE_FEATURES = [
  'age',
  'clicks',
  'score',
  'ratio',
  'nickname',
  'avatar',
  'active',
  'signed_up',
  'ages',
  'click_history',
  'scores',
  'embedding',
  'tags',
  'blobs',
  'flags',
  'visits',
];
const AFFINITY_FEATURES = ['affinity', 'seen'];
/** Feast features Cassette has no type for: imported as a note, migrated as skipped rows. */
const UNSUPPORTED = ['prefs'];

type Json = unknown;

function b64(bytes: number[] | string): string {
  return Buffer.from(typeof bytes === 'string' ? bytes : Uint8Array.from(bytes)).toString('base64');
}

// Event times: an hour ago and before, at millisecond precision, one per user.
const BASE_MS = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const eventMs = (i: number) => BASE_MS - i * 60_000 - i * 7;

/** The rows Feast loads (bytes base64, event times in ms, UnixTimestamp features in s). */
function profileRow(i: number): Record<string, Json> {
  const seconds = Math.floor(eventMs(i) / 1000) - i * 86_400;
  return {
    user_id: 1000 + i,
    event_timestamp: eventMs(i),
    age: 20 + (i % 50),
    clicks: 2 ** 40 + i,
    score: i + 0.5,
    ratio: i / 4,
    nickname: i % 10 === 3 ? null : `nick_${i}_ü`,
    avatar: b64([i % 256, 255]),
    active: i % 2 === 0,
    signed_up: seconds,
    ages: [i, -(i + 1)],
    click_history: [2 ** 50, -(i + 1)],
    scores: [1.5, -(i + 1)],
    embedding: i === 5 ? [] : [0.5, i / 8, -1.25],
    tags: ['a', `t${i}`],
    blobs: [b64('x'), b64([i % 256])],
    flags: [true, i % 3 === 0],
    visits: [seconds, seconds - 86_400],
    prefs: JSON.stringify({ i }),
  };
}

function affinityRow(i: number, j: number): Record<string, Json> {
  return {
    user_id: 1000 + i,
    item_id: `item_${j}`,
    event_timestamp: eventMs(i) - j * 1000,
    affinity: i + j / 4,
    seen: i * j,
  };
}

const profileRows = Array.from({ length: USERS }, (_, i) => profileRow(i));
const affinityRows = Array.from({ length: USERS }, (_, i) =>
  Array.from({ length: ITEMS_PER_USER }, (_, j) => affinityRow(i, j)),
).flat();

/** A feature's expected value as plain JSON (read_online.py's form): int64 and times as text. */
function expectedPlain(feature: string, value: Json): Json {
  if (value === null) return null;
  if (['clicks', 'seen', 'signed_up'].includes(feature)) return String(value);
  if (['click_history', 'visits'].includes(feature)) return (value as number[]).map(String);
  return value;
}

/** A Value from Cassette's API as plain JSON, like read_online.py renders Feast's. */
function plain(value: Value__Output): Json {
  const valueCase = value.val;
  if (valueCase === undefined || valueCase === 'null_val') return null;
  const inner = value[valueCase];
  const render = (x: unknown): Json => (Buffer.isBuffer(x) ? x.toString('base64') : x);
  if (valueCase.endsWith('_list_val')) return ((inner as { val: unknown[] }).val ?? []).map(render);
  return render(inner);
}

interface FeastRead {
  feature_names: string[];
  results: { values: Json[]; statuses: number[]; event_ms: number[] }[];
}

/** Runs the Feast environment's Python in the repository. */
function python(args: readonly string[], cwd: string, timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

function ok(result: CliResult, what: string): CliResult {
  if (result.status !== 0)
    throw new Error(`${what} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The Feast CLI, as the environment's `feast` script runs it. */
function feast(args: readonly string[], cwd: string): Promise<CliResult> {
  return python(['-c', 'import sys; from feast.cli.cli import cli; sys.exit(cli())', ...args], cwd);
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** Feast's serialized entity key (version 3) of one int64 user_id, as its table stores it. */
function userKeyHex(userId: bigint): string {
  const name = Buffer.from('user_id');
  const head = Buffer.alloc(12);
  head.writeUInt32LE(1, 0);
  head.writeUInt32LE(2, 4);
  head.writeUInt32LE(name.length, 8);
  const value = Buffer.alloc(16);
  value.writeUInt32LE(4, 0);
  value.writeUInt32LE(8, 4);
  value.writeBigInt64LE(userId, 8);
  return Buffer.concat([head, name, value]).toString('hex');
}

describe.skipIf(!HAVE_PYTHON)('cassette migrate-from-feast, from a real Feast repository', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cassette-feast-migrate-'));
  const repo = join(dir, 'repo');
  const feastKeyspace = uniqueKeyspace('feast_online');
  const cassetteKeyspace = uniqueKeyspace('feast_migrated');
  const project = 'shop';
  const config = testConfig(cassetteKeyspace);
  const env = cliEnv(cassetteKeyspace);
  const checkpointPath = join(dir, 'migration.checkpoint.json');
  const rejectsPath = join(dir, 'migration.rejects.jsonl');
  let session: CassandraClient;
  let server: RunningServer | undefined;
  let clients: CassetteClients | undefined;
  /** Feast's rows, all of them: one per entity and feature (the null nickname included). */
  const feastRows = USERS * (PROFILE_FEATURES.length + UNSUPPORTED.length) + affinityRows.length * 2;
  /** Rows put into Feast's table by hand, that must be rejected (and one that must not). */
  const BAD_ROWS = 3;
  const GOOD_HANDMADE_ROWS = 1;
  let fullRun: MigrationSummary;

  beforeAll(async () => {
    session = await connectTestSession(config);
    const [host, port] = inject('cassandra').contactPoints[0]!.split(':');
    await session.execute(
      `CREATE KEYSPACE IF NOT EXISTS "${feastKeyspace}" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      [],
      { readTimeout: 60_000 },
    );
    cpSync(REPO_TEMPLATE, repo, { recursive: true });
    writeFileSync(
      join(repo, 'feature_store.yaml'),
      [
        `project: ${project}`,
        'registry: data/registry.db',
        'provider: local',
        'online_store:',
        '  type: cassandra',
        `  hosts: [${host}]`,
        `  port: ${port ?? 9042}`,
        `  keyspace: ${feastKeyspace}`,
        'offline_store:',
        '  type: file',
        'entity_key_serialization_version: 3',
        '',
      ].join('\n'),
    );
    mkdirSync(join(repo, 'data'));
    writeFileSync(join(repo, 'data', 'rows.json'), JSON.stringify({ profile: profileRows, affinity: affinityRows }));
  }, 60_000);

  afterAll(async () => {
    clients?.close();
    await server?.close();
    if (session) {
      await dropKeyspace(session, feastKeyspace);
      await dropKeyspace(session, cassetteKeyspace);
      await session.shutdown();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('feast apply and feast materialize load Feast online tables', async () => {
    ok(await python([join(SCRIPTS, 'make_data.py'), repo], repo), 'make_data.py');
    ok(await feast(['apply'], repo), 'feast apply');
    ok(
      await feast(['materialize', isoSeconds(BASE_MS - 10 * 86_400_000), isoSeconds(Date.now() + 60_000)], repo),
      'feast materialize',
    );
    let count = 0;
    for (const view of ['user_profile', 'user_item']) {
      const result = await session.execute(`SELECT COUNT(*) AS n FROM "${feastKeyspace}"."${project}_${view}"`, [], {
        readTimeout: 60_000,
      });
      count += Number(result.first()['n']);
    }
    expect(count).toBe(feastRows);

    // Rows Feast would never write, put there by hand: each must be rejected with its reason.
    const table = `"${feastKeyspace}"."${project}_user_profile"`;
    const insert = `INSERT INTO ${table} (entity_key, feature_name, value, event_ts) VALUES (?, ?, ?, ?)`;
    const at = new Date(BASE_MS);
    const value = (v: Value) => encodeFeastValue(v as never);
    const stray = userKeyHex(99_999n);
    await session.execute(insert, ['zz', 'age', value({ int32_val: 1 }), at], { prepare: true });
    await session.execute(insert, [stray, 'age', value({ string_val: 'old' }), at], { prepare: true });
    await session.execute(insert, [stray, 'score', Buffer.from([0x0a, 0x05, 0x01]), at], { prepare: true });
    await session.execute(insert, [stray, 'clicks', value({ int64_val: '7' }), at], { prepare: true });
  }, 600_000);

  it('cassette import-feast prints the registry, lists what it cannot represent, and it applies', async () => {
    const registryFile = join(dir, 'cassette.yaml');
    const imported = ok(await runCli(['import-feast', repo, '-o', registryFile], env), 'import-feast');
    const yaml = readFileSync(registryFile, 'utf8');
    for (const note of [
      'feature "user_profile:prefs": value type JSON has no Cassette type',
      'on-demand feature view "boosted_score"',
      'feature service "everything", view "boosted_score": an on-demand view',
    ]) {
      expect(imported.stderr).toContain(note);
      expect(yaml).toContain(note);
    }
    expect(yaml).toContain('- { name: user, join_key: user_id, type: int64, description: a shopper }');
    expect(yaml).toContain('- { name: embedding, type: float_list }');
    const applied = ok(await runCli(['apply', registryFile], env), 'apply');
    expect(applied.stdout).toContain('created table user_profile');
  }, 120_000);

  it('migrate-from-feast, killed midway, resumes and ends with every row migrated once', async () => {
    const args = [
      'migrate-from-feast',
      repo,
      '--feast-keyspace',
      feastKeyspace,
      '--checkpoint',
      checkpointPath,
      '--rejects',
      rejectsPath,
      '--ranges',
      '16',
      '--json',
    ];
    // Held back so that it is still running once a few ranges are done.
    const slow = startCli([...args, '--read-concurrency', '1', '--max-rows-per-second', '40'], env);
    const deadline = Date.now() + 120_000;
    let done = 0;
    while (Date.now() < deadline && slow.child.exitCode === null) {
      if (existsSync(checkpointPath)) {
        const checkpoint = JSON.parse(readFileSync(checkpointPath, 'utf8')) as MigrationCheckpoint;
        done = Object.values(checkpoint.doneRanges).reduce((n, ranges) => n + ranges.length, 0);
        if (done >= 3) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    slow.child.kill('SIGKILL');
    const killed = await slow.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(done).toBeGreaterThanOrEqual(3);

    const unfinished = await runCli(args, env);
    expect(unfinished.status).toBe(1);
    expect(unfinished.stderr).toContain('pass --resume to continue it, or --restart');

    const resumed = JSON.parse(ok(await runCli([...args, '--resume'], env), 'resume').stdout) as MigrationSummary;
    expect(resumed).toMatchObject({
      status: 'finished',
      resumed: true,
      feastRowsRead: feastRows + BAD_ROWS + GOOD_HANDMADE_ROWS,
      cellsWritten: feastRows - USERS * UNSUPPORTED.length + GOOD_HANDMADE_ROWS,
      rejected: BAD_ROWS,
      skipped: USERS * UNSUPPORTED.length,
      expired: 0,
      entityRowsWritten: USERS + affinityRows.length + 1,
    });
    expect(resumed.notMigrated).toEqual([
      'feature "user_profile:prefs": not in the Cassette view (its rows are skipped)',
    ]);
    // Each bad row once, although the killed run may have rejected some of them already.
    const rejects = readFileSync(rejectsPath, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    const reasons = new Map(rejects.map((r) => [`${r.entity_key} ${r.feature_name}`, r.reason]));
    expect(rejects).toHaveLength(BAD_ROWS);
    expect(reasons.get('zz age')).toBe('the entity key is not hex text');
    const stray = userKeyHex(99_999n);
    expect(reasons.get(`${stray} age`)).toBe('row.features["age"]: expected int32, got string_val');
    expect(reasons.get(`${stray} score`)).toMatch(/^the value is not a serialized feast.types.Value/);
    expect(rejects[0]!.file).toMatch(new RegExp(`^${feastKeyspace}\\.${project}_user_profile$`));

    // Every running server drops its cached rows of the migrated views: the job bumped their generations.
    const generations = await session.execute(
      `SELECT feature_view, generation FROM "${cassetteKeyspace}".${GENERATIONS_TABLE}`,
      [],
      { readTimeout: 30_000 },
    );
    const bumped = new Map(
      generations.rows.map((row) => [row.get('feature_view') as string, Number(row.get('generation'))]),
    );
    expect(bumped.get('user_profile')).toBeGreaterThan(0);

    const again = JSON.parse(ok(await runCli([...args, '--resume'], env), 'resume').stdout) as MigrationSummary;
    expect(again.status).toBe('already finished');

    // A whole run from the start (the same rows again, with the same write times): its pace
    // is the figure reported, and the data must be unchanged by it.
    fullRun = JSON.parse(ok(await runCli([...args, '--restart'], env), 'restart').stdout) as MigrationSummary;
    expect(fullRun).toMatchObject({ status: 'finished', resumed: false, feastRowsRead: resumed.feastRowsRead });
    console.log(
      `[feast-migrate] ${fullRun.feastRowsRead} Feast rows in ${fullRun.durationMs} ms: ` +
        `${fullRun.feastRowsPerSecond} Feast rows/s, ${fullRun.entityRowsPerSecond} Cassette rows/s`,
    );
  }, 300_000);

  it("every value and event time reads the same through Cassette's API and Feast's own online read", async () => {
    server = await startServer(config, silentLogger);
    clients = connectClients(server.address);
    const readCassette = (features: string[], entities: Record<string, Value[]>) =>
      call<GetOnlineFeaturesResponse__Output>((cb) =>
        clients!.serving.GetOnlineFeatures(
          {
            features: { val: features },
            entities: Object.fromEntries(Object.entries(entities).map(([k, v]) => [k, { val: v }])),
          },
          deadlineIn(30_000),
          cb,
        ),
      );
    const readFeast = async (features: string[], rows: Record<string, Json>[]): Promise<FeastRead> => {
      const request = join(dir, 'request.json');
      writeFileSync(request, JSON.stringify({ features, entity_rows: rows }));
      return JSON.parse(
        ok(await python([join(SCRIPTS, 'read_online.py'), repo, request], repo), 'read_online.py').stdout,
      ) as FeastRead;
    };

    interface Case {
      view: string;
      features: string[];
      rows: Record<string, Json>[];
      keys: (row: Record<string, Json>) => Record<string, Json>;
      cassetteKeys: Record<string, Value[]>;
    }
    const cases: Case[] = [
      {
        view: 'user_profile',
        features: PROFILE_FEATURES,
        rows: profileRows,
        keys: (row: Record<string, Json>) => ({ user_id: row.user_id }),
        cassetteKeys: { user_id: profileRows.map((r) => ({ int64_val: String(r.user_id) })) },
      },
      {
        view: 'user_item',
        features: AFFINITY_FEATURES,
        rows: affinityRows,
        keys: (row: Record<string, Json>) => ({ user_id: row.user_id, item_id: row.item_id }),
        cassetteKeys: {
          user_id: affinityRows.map((r) => ({ int64_val: String(r.user_id) })),
          item_id: affinityRows.map((r) => ({ string_val: String(r.item_id) })),
        },
      },
    ];
    let compared = 0;
    for (const c of cases) {
      const refs = c.features.map((f) => `${c.view}:${f}`);
      const cassette = await readCassette(refs, c.cassetteKeys);
      const feastRead = await readFeast(refs, c.rows.map(c.keys));
      // Feast answers the join keys first, then the features in an order of its own: by name.
      const feastIndex = new Map(feastRead.feature_names.map((name, i) => [name, i]));
      c.features.forEach((feature, f) => {
        const ours = cassette.results[f]!;
        const theirs = feastRead.results[feastIndex.get(feature)!]!;
        c.rows.forEach((row, r) => {
          const where = `${c.view}:${feature} row ${r}`;
          const expected = expectedPlain(feature, row[feature]);
          expect(theirs.values[r], `Feast ${where}`).toEqual(expected);
          expect(plain(ours.values[r]!), `Cassette ${where}`).toEqual(expected);
          if (expected === null) {
            // Feast answers PRESENT with an empty value; Cassette says NULL_VALUE.
            expect(ours.statuses[r], where).toBe('NULL_VALUE');
          } else {
            expect(ours.statuses[r], where).toBe('PRESENT');
            const ts = ours.event_timestamps[r]!;
            const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
            expect(ms, `Cassette event time ${where}`).toBe(row.event_timestamp);
            expect(theirs.event_ms[r], `Feast event time ${where}`).toBe(row.event_timestamp);
          }
          compared++;
        });
      });
    }
    expect(compared).toBe(USERS * PROFILE_FEATURES.length + affinityRows.length * AFFINITY_FEATURES.length);

    // The hand-made row: its good cell migrated, its bad ones not.
    const stray = await readCassette(['user_profile:clicks', 'user_profile:age'], {
      user_id: [{ int64_val: '99999' }],
    });
    expect(plain(stray.results[0]!.values[0]!)).toBe('7');
    expect(stray.results[1]!.statuses[0]).toBe('NULL_VALUE');
    expect(fullRun.feastRowsPerSecond).toBeGreaterThan(0);
  }, 300_000);
});
