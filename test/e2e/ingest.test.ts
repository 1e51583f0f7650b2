import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { Checkpoint, ImportSummary } from '../../src/import/index.js';
import { VALUE_TYPES, type ValueType } from '../../src/registry/index.js';
import type { CassandraClient } from '../../src/store/index.js';
import { valueToJson } from '../../src/values/index.js';
import { cliEnv, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { applyYaml, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * End to end: the real `cassette ingest` and `cassette generate` processes against the test
 * Cassandra, read back through a real server's gRPC API or with CQL.
 */
const REGISTRY = `
project: ingest_e2e
entities:
  - { name: user, join_key: user_id, type: int64 }
feature_views:
  - name: every_type
    entities: [user]
    features:
${VALUE_TYPES.map((t) => `      - { name: f_${t}, type: ${t} }`).join('\n')}
  - name: profile
    entities: [user]
    features:
      - { name: age, type: int32 }
      - { name: score, type: double }
      - { name: country, type: string }
      - { name: tags, type: string_list }
      - { name: embedding, type: float_list }
      - { name: updated, type: unix_timestamp }
`;
const PROFILE_COLUMNS = ['age', 'score', 'country', 'tags', 'embedding', 'updated'];

const dir = mkdtempSync(join(tmpdir(), 'cassette-ingest-e2e-'));
const registryFile = join(dir, 'registry.yaml');
writeFileSync(registryFile, REGISTRY);

function summaryOf(result: CliResult): ImportSummary {
  try {
    return JSON.parse(result.stdout) as ImportSummary;
  } catch {
    throw new Error(`no JSON summary (exit ${result.status}): ${result.stdout}\n${result.stderr}`);
  }
}

function okSummary(result: CliResult): ImportSummary {
  if (result.status !== 0) throw new Error(`exit ${result.status}: ${result.stdout}\n${result.stderr}`);
  return summaryOf(result);
}

// ---------------------------------------------------------------------------------------------
// Every value type, in each format, read back through the API.

type Json = unknown;
/** A row of the fixture: undefined leaves a feature out, null clears it. */
interface FixtureRow {
  user: number;
  /** ISO-8601, unix seconds (number), or none. */
  time?: string | number;
  values: Partial<Record<ValueType, Json | null>>;
}

const T1 = '2026-01-15T10:20:30.123456Z';
const T1_MICROS = Date.parse('2026-01-15T10:20:30Z') * 1000 + 123456;
const T2_SECONDS = 1768473630.5;
const T3 = '2026-01-15T11:20:30.000001Z';
const T3_MICROS = Date.parse('2026-01-15T11:20:30Z') * 1000 + 1;

/** Values as the API's JSON renders them (valueToJson): int64 and timestamps as text, bytes base64. */
const ROW_A: Record<ValueType, Json> = {
  int32: 42,
  int64: '9007199254740993',
  float: 1.5,
  double: 3.141592653589793,
  string: 'plain',
  bytes: Buffer.from([1, 2, 3]).toString('base64'),
  bool: true,
  unix_timestamp: '1700000000',
  int32_list: [1, -2, 3],
  int64_list: ['-9223372036854775808', '9223372036854775807'],
  float_list: [0.25, -1],
  double_list: [1e-300, 2.5],
  string_list: ['a', 'b,c', 'say "x"'],
  bytes_list: [Buffer.from([0]).toString('base64'), Buffer.from([255, 254]).toString('base64')],
  bool_list: [true, false],
  unix_timestamp_list: ['0', '1700000000'],
};
const ROW_B: Record<ValueType, Json> = {
  int32: -2147483648,
  int64: '-1',
  float: 'NaN',
  double: -0,
  string: 'comma, "quote"\nnew line, é 日本',
  bytes: Buffer.from([0, 255]).toString('base64'),
  bool: false,
  unix_timestamp: '0',
  int32_list: [],
  int64_list: [],
  float_list: [],
  double_list: [],
  string_list: [],
  bytes_list: [],
  bool_list: [],
  unix_timestamp_list: [],
};

const FIXTURE: FixtureRow[] = [
  { user: 1, time: T1, values: ROW_A },
  { user: 2, time: T2_SECONDS, values: ROW_B },
  // Later for user 1: int32 left out (keeps 42), string cleared, double replaced.
  { user: 1, time: T3, values: { string: null, double: 2.75 } },
  // No event time: the job's start time.
  { user: 4, values: { int32: 7 } },
];

const column = (type: ValueType) => `f_${type}`;

function csvQuote(text: string): string {
  return /[",\r\n]/.test(text) || text === '' ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvFixture(): string {
  const header = ['user_id', ...VALUE_TYPES.map(column), 'event_timestamp'];
  const lines = FIXTURE.map((row) => {
    const cells = [String(row.user)];
    for (const type of VALUE_TYPES) {
      const value = row.values[type];
      if (value === undefined) cells.push('');
      else if (value === null) cells.push('\\N');
      else if (Array.isArray(value)) cells.push(csvQuote(JSON.stringify(value)));
      else cells.push(csvQuote(Object.is(value, -0) ? '-0' : String(value)));
    }
    cells.push(row.time === undefined ? '' : String(row.time));
    return cells.join(',');
  });
  return [header.join(','), ...lines].join('\r\n') + '\r\n';
}

function jsonlFixture(): string {
  return (
    FIXTURE.map((row) => {
      const parts = [`"user_id": ${row.user}`];
      for (const type of VALUE_TYPES) {
        const value = row.values[type];
        if (value === undefined) continue;
        parts.push(`"${column(type)}": ${Object.is(value, -0) ? '-0' : JSON.stringify(value)}`);
      }
      if (row.time !== undefined) parts.push(`"event_timestamp": ${JSON.stringify(row.time)}`);
      return `{${parts.join(', ')}}`;
    }).join('\n') + '\n'
  );
}

/**
 * Parquet as another tool might write it: INT64 unix seconds, TIMESTAMP(MICROS) event times as
 * a logical type, 3-level lists. Parquet cannot say "clear": a null leaves the feature as it is.
 */
function parquetFixture(offset: number): Buffer {
  const leaf = (name: string, type: ValueType, repetition: 'OPTIONAL' | 'REQUIRED'): SchemaElement => {
    const element = type.replace(/_list$/, '');
    const physical: Record<string, Partial<SchemaElement>> = {
      int32: { type: 'INT32' },
      int64: { type: 'INT64' },
      float: { type: 'FLOAT' },
      double: { type: 'DOUBLE' },
      string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
      bytes: { type: 'BYTE_ARRAY' },
      bool: { type: 'BOOLEAN' },
      unix_timestamp: { type: 'INT64' },
    };
    return { name, repetition_type: repetition, ...physical[element] } as SchemaElement;
  };
  const schema: SchemaElement[] = [{ name: 'root', num_children: VALUE_TYPES.length + 2 }];
  schema.push({ name: 'user_id', type: 'INT64', repetition_type: 'REQUIRED' });
  for (const type of VALUE_TYPES) {
    if (type.endsWith('_list')) {
      schema.push(
        { name: column(type), repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        leaf('element', type, 'REQUIRED'),
      );
    } else {
      schema.push(leaf(column(type), type, 'OPTIONAL'));
    }
  }
  schema.push({
    name: 'event_timestamp',
    type: 'INT64',
    repetition_type: 'OPTIONAL',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
  });
  const scalar = (type: string, value: Json): unknown => {
    if (type === 'int64' || type === 'unix_timestamp') return BigInt(value as string);
    if (type === 'bytes') return Buffer.from(value as string, 'base64');
    if (value === 'NaN') return Number.NaN;
    return value;
  };
  const toParquet = (type: ValueType, value: Json | null | undefined): unknown => {
    if (value === undefined || value === null) return null;
    const element = type.replace(/_list$/, '');
    return Array.isArray(value) ? value.map((v) => scalar(element, v)) : scalar(element, value);
  };
  const micros = (time: string | number | undefined): bigint | null => {
    if (time === undefined) return null;
    if (typeof time === 'number') return BigInt(Math.round(time * 1e6));
    return time === T1 ? BigInt(T1_MICROS) : BigInt(T3_MICROS);
  };
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({ writer, schema });
  void parquet.write({
    columnData: [
      { name: 'user_id', data: FIXTURE.map((r) => BigInt(r.user + offset)) },
      ...VALUE_TYPES.map((type) => ({ name: column(type), data: FIXTURE.map((r) => toParquet(type, r.values[type])) })),
      { name: 'event_timestamp', data: FIXTURE.map((r) => micros(r.time)) },
    ],
  });
  void parquet.finish();
  return Buffer.from(writer.getBuffer());
}

function timestampMicros(ts: { seconds: string | number; nanos: number } | undefined): number {
  return Number(ts!.seconds) * 1e6 + Math.floor(ts!.nanos / 1000);
}

/** What the API should return for a feature of a user: [status, value, event time in micros]. */
function expected(
  format: 'csv' | 'jsonl' | 'parquet',
  user: number,
  type: ValueType,
  jobStart: [number, number],
): [string, Json, number | [number, number]] {
  const fromA = (): [string, Json, number] => ['PRESENT', ROW_A[type], T1_MICROS];
  if (user === 1) {
    if (type === 'double') return ['PRESENT', 2.75, T3_MICROS];
    if (type === 'string') return format === 'parquet' ? fromA() : ['NULL_VALUE', null, 0];
    return fromA();
  }
  if (user === 2) return ['PRESENT', ROW_B[type], T2_SECONDS * 1e6];
  if (type === 'int32') return ['PRESENT', 7, jobStart];
  return ['NULL_VALUE', null, 0];
}

describe('cassette ingest', () => {
  let t: TestServer;
  let session: CassandraClient;
  const keyspaces: string[] = [];

  /** A fresh keyspace with the registry applied (for jobs whose results are compared with CQL). */
  const freshKeyspace = async (prefix: string): Promise<string> => {
    const keyspace = uniqueKeyspace(prefix);
    keyspaces.push(keyspace);
    await applyYaml(session, testConfig(keyspace), REGISTRY);
    return keyspace;
  };

  /** Every row of the profile table, with each feature's WRITETIME, keyed by user. */
  const profileTable = async (keyspace: string): Promise<Map<string, string>> => {
    const selected = PROFILE_COLUMNS.map((c) => `${c}, WRITETIME(${c})`).join(', ');
    const rows = new Map<string, string>();
    const stream = session.stream(`SELECT user_id, ${selected} FROM "${keyspace}".profile`, [], {
      prepare: true,
      autoPage: true,
      fetchSize: 5000,
    });
    for await (const row of stream as unknown as AsyncIterable<{ values(): unknown[] }>) {
      const values = row.values();
      rows.set(
        String(values[0]),
        JSON.stringify(values.slice(1), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      );
    }
    return rows;
  };

  const expectSameTables = async (a: string, b: string, rows: number) => {
    const [left, right] = await Promise.all([profileTable(a), profileTable(b)]);
    expect(left.size).toBe(rows);
    expect(right.size).toBe(rows);
    const differing = [...left].filter(([key, value]) => right.get(key) !== value).slice(0, 3);
    expect(differing).toEqual([]);
  };

  beforeAll(async () => {
    t = await startTestServer('ingest_e2e', REGISTRY);
    session = t.session;
  });

  afterAll(async () => {
    for (const keyspace of keyspaces) await dropKeyspace(session, keyspace);
    await t?.close();
  });

  it.each([
    ['csv', 0],
    ['jsonl', 100],
    ['parquet', 200],
  ] as const)(
    'loads every value type from %s, read back through the API with its event times',
    async (format, offset) => {
      const file = join(dir, `every_type.${format}`);
      const shifted = (text: string) =>
        text.replace(/^(\{"user_id": |)(\d+)/gm, (_m, lead: string, id: string) => `${lead}${Number(id) + offset}`);
      if (format === 'csv')
        writeFileSync(
          file,
          csvFixture().replace(/\r\n(\d+),/g, (_m, id: string) => `\r\n${Number(id) + offset},`),
        );
      else if (format === 'jsonl') writeFileSync(file, shifted(jsonlFixture()));
      else writeFileSync(file, parquetFixture(offset));
      const before = Date.now();
      // Users of their own per format: the server caches what it read for the other formats.
      const users = [1, 2, 4].map((u) => u + offset);
      const result = await runCli(
        ['ingest', '--view', 'every_type', file, '--json'],
        cliEnv(t.config.cassandra.keyspace),
      );
      const after = Date.now();
      expect(okSummary(result)).toMatchObject({
        status: 'finished',
        files: 1,
        rowsRead: 4,
        rowsWritten: 4,
        rowsRejected: 0,
        rowsExpired: 0,
      });

      const response: GetOnlineFeaturesResponse__Output = await t.get({
        features: { val: VALUE_TYPES.map((type) => `every_type:${column(type)}`) },
        entities: { user_id: { val: users.map((u) => ({ int64_val: String(u) })) } },
      });
      VALUE_TYPES.forEach((type, f) => {
        const vector = response.results[f]!;
        users.forEach((user, i) => {
          const [status, value, time] = expected(format, [1, 2, 4][i]!, type, [before * 1000, after * 1000]);
          const where = `${format} user ${user} ${type}`;
          expect(vector.statuses[i], where).toBe(status);
          if (status !== 'PRESENT') return;
          expect(valueToJson(vector.values[i]!), where).toEqual(value);
          const got = timestampMicros(vector.event_timestamps[i]);
          if (Array.isArray(time)) {
            expect(got, where).toBeGreaterThanOrEqual(time[0]);
            expect(got, where).toBeLessThanOrEqual(time[1]);
          } else {
            expect(got, where).toBe(time);
          }
        });
      });
    },
  );

  it('writes bad records to the reject file with file, line and reason, and --max-rejects fails the job by count or share', async () => {
    const keyspace = t.config.cassandra.keyspace;
    const env = cliEnv(keyspace);
    const file = join(dir, 'bad.jsonl');
    const generated = await runCli(
      [
        'generate',
        '--schema',
        registryFile,
        '--view',
        'profile',
        '--rows',
        '2000',
        '--out',
        file,
        '--bad-rows',
        '0.05',
        '--seed',
        '9',
        '--json',
      ],
      env,
    );
    expect(generated.status).toBe(0);
    const { badRows } = JSON.parse(generated.stdout) as { badRows: number };
    expect(badRows).toBeGreaterThan(50);

    const rejectsFile = join(dir, 'bad.rejects.jsonl');
    const summary = okSummary(
      await runCli(['ingest', '--view', 'profile', file, '--rejects', rejectsFile, '--json'], env),
    );
    expect(summary).toMatchObject({
      status: 'finished',
      rowsRead: 2000,
      rowsRejected: badRows,
      rowsWritten: 2000 - badRows,
    });
    expect(summary.rejectsFile).toBe(rejectsFile);
    const lines = readFileSync(file, 'utf8').split('\n');
    const rejects = readFileSync(rejectsFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; line: number; reason: string; record: string });
    expect(rejects).toHaveLength(badRows);
    for (const reject of rejects) {
      expect(reject.file).toBe(file);
      // The line number points at the record the reject holds (1-based).
      expect(lines[reject.line - 1]).toBe(reject.record);
      expect(reject.reason).toMatch(
        /not valid JSON|missing join key "user_id"|expected .* got "not-a-number"|not an ISO-8601 time|"not-a-time"/,
      );
    }

    const byCount = await runCli(
      ['ingest', '--view', 'profile', file, '--restart', '--max-rejects', '10', '--no-progress'],
      env,
    );
    expect(byCount.status).toBe(1);
    expect(byCount.stderr).toMatch(/cassette: ingest failed: 11 records were rejected, more than --max-rejects 10/);
    const byShare = await runCli(
      ['ingest', '--view', 'profile', file, '--restart', '--max-rejects', '1%', '--json'],
      env,
    );
    expect(byShare.status).toBe(1);
    expect(summaryOf(byShare).error).toMatch(/records \(\d+\.\d+%\) were rejected, more than --max-rejects 1%/);
    const within = await runCli(
      ['ingest', '--view', 'profile', file, '--restart', '--max-rejects', '20%', '--json'],
      env,
    );
    expect(okSummary(within)).toMatchObject({ status: 'finished', rowsRejected: badRows });
  }, 180_000);

  it('ends in the same state whatever order files come in, and when a job runs twice', async () => {
    const newer = join(dir, 'newer.csv');
    const older = join(dir, 'older.csv');
    const common = [
      '--schema',
      registryFile,
      '--view',
      'profile',
      '--rows',
      '3000',
      '--entities',
      '1000',
      '--sparse',
      '0.2',
    ];
    // Two exports of the same entities, a day apart, with different values.
    expect(
      (
        await runCli(
          ['generate', ...common, '--seed', '1', '--anchor', '2026-11-20T00:00:00Z', '--out', newer],
          cliEnv('x'),
        )
      ).status,
    ).toBe(0);
    expect(
      (
        await runCli(
          ['generate', ...common, '--seed', '2', '--anchor', '2026-11-19T00:00:00Z', '--out', older],
          cliEnv('x'),
        )
      ).status,
    ).toBe(0);

    const [a, b, c] = await Promise.all([freshKeyspace('order_a'), freshKeyspace('order_b'), freshKeyspace('twice')]);
    const ingest = async (keyspace: string, ...files: string[]) =>
      okSummary(
        await runCli(
          [
            'ingest',
            '--view',
            'profile',
            ...files,
            '--checkpoint',
            join(dir, `${keyspace}.ckpt`),
            '--rejects',
            join(dir, `${keyspace}.rej`),
            '--json',
          ],
          cliEnv(keyspace),
        ),
      );
    await ingest(a, newer, older);
    await ingest(b, older);
    await ingest(b, newer);
    await ingest(c, older, newer);
    const second = await ingest(c, older, newer);
    expect(second).toMatchObject({ status: 'finished', rowsRead: 6000, resumed: false });
    const rows = (await profileTable(a)).size;
    expect(rows).toBeGreaterThan(900);
    await expectSameTables(a, b, rows);
    await expectSameTables(a, c, rows);
  }, 180_000);

  it('--server sends rows through StreamWriteFeatures, so the server serves them at once; a direct job waits for the cache', async () => {
    const cacheTtlMs = 5000;
    // Without cache coherence: with it, a direct job's rows are served within its bound instead
    // (test/e2e/coherence.test.ts).
    const server = await startTestServer('ingest_server', REGISTRY, {
      cache: { ttlMs: cacheTtlMs, coherence: { enabled: false } },
    });
    try {
      const env = cliEnv(server.config.cassandra.keyspace);
      const age = async () => {
        const response = await server.get({
          features: { val: ['profile:age'] },
          entities: { user_id: { val: [{ int64_val: '5001' }] } },
        });
        return response.results[0]!.values[0]!.int32_val;
      };
      const load = async (value: number, time: string, ...extra: string[]) => {
        const file = join(dir, `server-${value}.jsonl`);
        writeFileSync(file, JSON.stringify({ user_id: 5001, age: value, event_timestamp: time }) + '\n');
        return okSummary(await runCli(['ingest', '--view', 'profile', file, '--json', ...extra], env));
      };
      expect(await load(10, '2026-11-01T00:00:00Z', '--server', server.server.address)).toMatchObject({
        status: 'finished',
        rowsWritten: 1,
      });
      expect(await age()).toBe(10); // now cached
      await load(20, '2026-11-02T00:00:00Z', '--server', server.server.address);
      // The entry is cached during this read: fresh until at least cachedFrom + TTL, gone by
      // cachedBy + TTL (with a little slack for the cache's clock).
      let cachedFrom = performance.now();
      expect(await age()).toBe(20);
      let cachedBy = performance.now();
      let cached = 20;
      // Straight to Cassandra: the server still serves its cached row until the entry ages out.
      // That shows only if the job ends while the entry is fresh, which depends on how fast it
      // runs; if it ran too long, the round shows nothing and another one is run.
      for (let round = 1; ; round++) {
        const value = cached + 10;
        await load(value, `2026-11-${String(2 + round).padStart(2, '0')}T00:00:00Z`);
        const served = await age();
        const stillFresh = performance.now() - cachedFrom < cacheTtlMs - 100;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, cachedBy + cacheTtlMs + 100 - performance.now())),
        );
        if (stillFresh) {
          expect(served).toBe(cached);
          expect(await age()).toBe(value);
          break;
        }
        expect(round, `a direct ingest took longer than the ${cacheTtlMs} ms cache TTL ${round} times`).toBeLessThan(3);
        cachedFrom = performance.now();
        expect(await age()).toBe(value);
        cachedBy = performance.now();
        cached = value;
      }
    } finally {
      await server.close();
    }
  });

  it('resumes a job killed with SIGKILL midway and ends row for row (and WRITETIME for WRITETIME) like an uninterrupted one', async () => {
    const file = join(dir, 'resume.csv');
    const generated = await runCli(
      [
        'generate',
        '--schema',
        registryFile,
        '--view',
        'profile',
        '--rows',
        '24000',
        '--bad-rows',
        '0.01',
        '--seed',
        '4',
        '--out',
        file,
      ],
      cliEnv('x'),
    );
    expect(generated.status).toBe(0);
    const [killed, whole] = await Promise.all([freshKeyspace('killed'), freshKeyspace('whole')]);
    const checkpoint = join(dir, 'resume.ckpt.json');
    const killedRejects = join(dir, 'killed.rejects.jsonl');
    const args = [
      'ingest',
      '--view',
      'profile',
      file,
      '--checkpoint',
      checkpoint,
      '--rejects',
      killedRejects,
      '--json',
    ];

    // Slowed down so the kill lands midway; killed once the checkpoint shows progress.
    const { child, done } = startCli([...args, '--max-rows-per-second', '2000'], cliEnv(killed));
    let progress: Checkpoint | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (existsSync(checkpoint)) {
        try {
          progress = JSON.parse(readFileSync(checkpoint, 'utf8')) as Checkpoint;
        } catch {
          progress = undefined; // replaced while being read
        }
        if (progress && progress.counts.written >= 3000) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGKILL');
    const ended = await done;
    expect(ended.signal).toBe('SIGKILL');
    const atKill = JSON.parse(readFileSync(checkpoint, 'utf8')) as Checkpoint;
    expect(atKill.finished).toBe(false);
    expect(atKill.counts.written).toBeGreaterThanOrEqual(3000);
    expect(atKill.counts.read).toBeLessThan(24_000);
    expect(atKill.files[0]).toMatchObject({ state: 'in progress' });

    const resumed = okSummary(await runCli([...args, '--resume'], cliEnv(killed)));
    expect(resumed).toMatchObject({ status: 'finished', resumed: true, rowsRead: 24_000 });
    const wholeRejects = join(dir, 'whole.rejects.jsonl');
    const uninterrupted = okSummary(
      await runCli(
        [
          'ingest',
          '--view',
          'profile',
          file,
          '--checkpoint',
          join(dir, 'whole.ckpt.json'),
          '--rejects',
          wholeRejects,
          '--json',
        ],
        cliEnv(whole),
      ),
    );
    expect(resumed.rowsWritten).toBe(uninterrupted.rowsWritten);
    expect(resumed.rowsRejected).toBe(uninterrupted.rowsRejected);
    expect(uninterrupted.rowsRejected).toBeGreaterThan(0);
    expect(readFileSync(killedRejects, 'utf8')).toBe(readFileSync(wholeRejects, 'utf8'));
    await expectSameTables(killed, whole, uninterrupted.rowsWritten);

    const again = await runCli([...args, '--resume'], cliEnv(killed));
    expect(okSummary(again).status).toBe('already finished');
  }, 180_000);
});
