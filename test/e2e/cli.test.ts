import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';

import { connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';
import { healthStatus } from '../helpers/health.js';

/** End to end: the real `cassette` binary, a real server process, a real gRPC client. */
const BIN = fileURLToPath(new URL('../../bin/cassette.js', import.meta.url));

const REGISTRY = `
project: e2e
entities:
  - { name: user, join_key: user_id, type: int64 }
feature_views:
  - name: profile
    entities: [user]
    features:
      - { name: age, type: int32 }
      - { name: tags, type: string_list }
`;

const BROKEN = `
project: e2e
entities:
  - { name: user, join_key: user_id, type: int65 }
feature_views:
  - name: profile
    entities: [customer]
    ttl: 3 days
    features:
      - { name: age, type: int32 }
`;

describe('the cassette CLI and server process', () => {
  const keyspace = uniqueKeyspace('e2e');
  const cassandra = inject('cassandra');
  const env = {
    ...process.env,
    CASSANDRA_CONTACT_POINTS: cassandra.contactPoints.join(','),
    CASSANDRA_LOCAL_DC: cassandra.localDataCenter,
    CASSETTE_KEYSPACE: keyspace,
    CASSETTE_LOG_LEVEL: 'info',
    CASSETTE_HTTP_LISTEN: '127.0.0.1:0',
    CASSETTE_METRICS_LISTEN: '127.0.0.1:0',
  };
  const dir = mkdtempSync(join(tmpdir(), 'cassette-e2e-'));
  const registryFile = join(dir, 'registry.yaml');
  const brokenFile = join(dir, 'broken.yaml');
  writeFileSync(registryFile, REGISTRY);
  writeFileSync(brokenFile, BROKEN);
  let server: ChildProcess | undefined;
  let address = '';

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });

  beforeAll(() => {
    const applied = cli('apply', registryFile);
    expect(applied.stderr).not.toMatch(/cassette:/);
    expect(applied.status).toBe(0);
  });

  afterAll(async () => {
    server?.kill('SIGKILL');
    const session = await connectTestSession(testConfig(keyspace));
    await dropKeyspace(session, keyspace);
    await session.shutdown();
  });

  it('apply is idempotent', () => {
    const again = cli('apply', registryFile);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/already applied .* nothing changed/);
  });

  it('apply reports every problem in a bad file at once, with its path and line, and exits 1', () => {
    const result = cli('apply', brokenFile);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/3 problem\(s\)/);
    expect(result.stderr).toMatch(/broken\.yaml:4 entities\[0\]\.type: must be one of int32, int64, string, bytes/);
    expect(result.stderr).toMatch(/broken\.yaml:7 feature_views\[0\]\.entities\[0\]: unknown entity "customer"/);
    expect(result.stderr).toMatch(/broken\.yaml:8 feature_views\[0\]\.ttl: "3 days" is not a duration/);
  });

  it('serves, reports SERVING, writes and gets through the CLI, and stops cleanly on SIGTERM', async () => {
    server = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    address = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: server!.stderr! });
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === 'Cassette is serving' && entry.address) resolve(entry.address);
      });
      void exited.then((code) => reject(new Error(`server exited early with ${code}`)));
    });

    const state = await healthStatus(address, 'cassette.v1.FeatureServing');
    expect(state).toBe('SERVING');

    const written = cli(
      'write',
      '--server',
      address,
      '--view',
      'profile',
      JSON.stringify([
        { user_id: 7, age: 41, tags: ['a', 'b'] },
        { user_id: 8, age: null, tags: [] },
      ]),
    );
    expect(written.stderr).toBe('');
    expect(written.stdout).toMatch(/wrote 2 row\(s\) to profile/);

    const got = cli(
      'get',
      '--server',
      address,
      '--features',
      'profile:age,profile:tags',
      '--entity',
      'user_id=7,8,9',
      '--json',
    );
    expect(got.status).toBe(0);
    const rows = JSON.parse(got.stdout) as {
      user_id: string;
      age: { value: unknown; status: string };
      tags: { value: unknown; status: string };
    }[];
    expect(rows.map((r) => [r.user_id, r.age.status, r.age.value, r.tags.status, r.tags.value])).toEqual([
      ['7', 'PRESENT', 41, 'PRESENT', ['a', 'b']],
      ['8', 'NULL_VALUE', null, 'PRESENT', []],
      ['9', 'NOT_FOUND', null, 'NOT_FOUND', null],
    ]);

    const table = cli('get', '--server', address, '--features', 'profile:age', '--entity', 'user_id=7');
    expect(table.stdout).toMatch(/│ user_id │ age │/);
    expect(table.stdout).toMatch(/│ 7\s+│ 41\s+│/);

    const bad = cli('get', '--server', address, '--features', 'profile:nope', '--entity', 'user_id=7');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/INVALID_ARGUMENT: features\[0\]: feature view "profile" has no feature "nope"/);

    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    server = undefined;
  });

  it('get --direct reads the cluster from CASSANDRA_CONTACT_POINTS without a server', () => {
    const got = cli('get', '--direct', '--features', 'profile:age', '--entity', 'user_id=7', '--json');
    expect(got.stderr).not.toMatch(/cassette:/);
    expect(got.status).toBe(0);
    expect((JSON.parse(got.stdout) as { age: { value: number } }[])[0]!.age.value).toBe(41);
  });
});
