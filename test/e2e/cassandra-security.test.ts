import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { auth, Client } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ManagedCluster } from '../../src/cassandra/index.js';
import { call, connectClients, deadlineIn } from '../../src/client/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { startServer } from '../../src/server/index.js';
import { connectSession } from '../../src/store/index.js';
import { BIN } from '../helpers/cli.js';
import { silentLogger } from '../helpers/cluster.js';
import { int64, SHOP_YAML, users } from '../helpers/serving-fixtures.js';
import { capturingLogger } from '../helpers/logs.js';
import { makeCa, makeCert } from '../helpers/tls.js';

const run = promisify(execFile);

/**
 * Cassette against a Cassandra with PasswordAuthenticator and client TLS on: a node of its own
 * (port 9742, its own data dir) started by the local launcher with a keystore made here, a role
 * made for Cassette, `cassette apply` with CASSANDRA_PASSWORD, and a server with passwordFile.
 * The password must appear in no log line and no error message.
 */

const PORT = 9742;
const PASSWORD = 'Cassette-Secret-Pw-4711';
const KEYSTORE_PASSWORD = 'keystore-pw-0815';

describe('Cassandra with authentication and client TLS', () => {
  let dir: string;
  let cluster: ManagedCluster | undefined;
  let caFile: string;
  let registryFile: string;
  /** Every log line of this file's runs, scanned for secrets at the end. */
  const { logger, lines: logLines } = capturingLogger();

  const configFor = (overrides: { username?: string; passwordFile?: string; tls?: boolean } = {}): Config =>
    loadConfig({
      env: {},
      overrides: {
        listen: '127.0.0.1:0',
        http: { enabled: false },
        metrics: { enabled: false },
        log: { statsIntervalMs: 0 },
        cassandra: {
          contactPoints: [`127.0.0.1:${PORT}`],
          keyspace: 'secured',
          username: overrides.username,
          passwordFile: overrides.passwordFile,
          ...(overrides.tls !== false && { tls: { caFile } }),
        },
      },
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cassette-cassandra-security-'));
    const ca = await makeCa(dir, 'ca');
    caFile = ca.cert;
    const node = await makeCert(dir, 'node', ca, '127.0.0.1', ['IP:127.0.0.1']);
    const keystore = join(dir, 'node.p12');
    await run('openssl', [
      'pkcs12',
      '-export',
      '-in',
      node.cert,
      '-inkey',
      node.key,
      '-name',
      'node',
      '-out',
      keystore,
      '-passout',
      `pass:${KEYSTORE_PASSWORD}`,
    ]);
    cluster = await ManagedCluster.start({
      logger: silentLogger,
      dataDir: join(dir, 'cluster'),
      nativePort: PORT,
      nodes: 1,
      heap: '512m',
      startTimeoutMs: 300_000,
      security: {
        passwordAuthentication: true,
        clientEncryption: { keystore, keystorePassword: KEYSTORE_PASSWORD },
      },
    });
    // The superuser makes Cassette's role, as an operator would.
    const admin = new Client({
      contactPoints: [`127.0.0.1:${PORT}`],
      localDataCenter: 'datacenter1',
      authProvider: new auth.PlainTextAuthProvider('cassandra', 'cassandra'),
      sslOptions: { ca: [await readFile(caFile)], rejectUnauthorized: true },
    });
    try {
      await admin.connect();
      await admin.execute(`CREATE ROLE IF NOT EXISTS cassette WITH PASSWORD = '${PASSWORD}' AND LOGIN = true`);
      await admin.execute('GRANT ALL PERMISSIONS ON ALL KEYSPACES TO cassette');
    } finally {
      await admin.shutdown();
    }
    registryFile = join(dir, 'registry.yaml');
    await writeFile(registryFile, SHOP_YAML);
  }, 400_000);

  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('applies with the password from CASSANDRA_PASSWORD, over TLS; a wrong password fails without echoing it', async () => {
    const configFile = join(dir, 'cassette.yaml');
    await writeFile(
      configFile,
      `cassandra:\n  contactPoints: ["127.0.0.1:${PORT}"]\n  keyspace: secured\n  username: cassette\n  tls: { caFile: ${JSON.stringify(caFile)} }\n`,
    );
    const env = { ...process.env, CASSETTE_LOG_FORMAT: 'json', CASSETTE_LOG_LEVEL: 'debug' };
    const applied = await run(process.execPath, [BIN, '--config', configFile, 'apply', registryFile], {
      env: { ...env, CASSANDRA_PASSWORD: PASSWORD },
    });
    expect(applied.stdout).toContain('secured');
    logLines.push(applied.stdout, applied.stderr);

    const wrong = await run(process.execPath, [BIN, '--config', configFile, 'apply', registryFile], {
      env: { ...env, CASSANDRA_PASSWORD: 'not-the-password-123' },
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect('code' in wrong && wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/[Aa]uthentication|password are incorrect|credentials/);
    expect(wrong.stderr).not.toContain('not-the-password-123');
    logLines.push(wrong.stdout, wrong.stderr);

    const noPassword = await run(process.execPath, [BIN, '--config', configFile, 'apply', registryFile], {
      env,
    }).catch((error: { code: number; stderr: string }) => error);
    expect(noPassword.stderr).toContain('CASSANDRA_PASSWORD');
  });

  it('serves reads and writes with the password from passwordFile', async () => {
    const passwordFile = join(dir, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const server = await startServer(configFor({ username: 'cassette', passwordFile }), logger);
    const clients = connectClients(server.address);
    try {
      await call((cb) =>
        clients.ingestion.WriteFeatures(
          {
            feature_view: 'user_stats',
            rows: [{ entity_keys: { user_id: int64(1) }, features: { clicks: int64(42) } }],
          },
          deadlineIn(20_000),
          cb,
        ),
      );
      const response = await call<{ results: { values: { int64_val?: string }[] }[] }>((cb) =>
        clients.serving.GetOnlineFeatures(
          { features: { val: ['user_stats:clicks'] }, entities: { user_id: users(1) } },
          deadlineIn(20_000),
          cb,
        ),
      );
      expect(response.results[0]!.values[0]!.int64_val).toBe('42');
    } finally {
      clients.close();
      await server.close();
    }
  });

  it('cannot connect without TLS or without credentials', async () => {
    const passwordFile = join(dir, 'password');
    await expect(
      connectSession(configFor({ username: 'cassette', passwordFile, tls: false }).cassandra, logger),
    ).rejects.toThrow();
    await expect(connectSession(configFor().cassandra, logger)).rejects.toThrow();
  });

  it('never logs the password', () => {
    expect(logLines.length).toBeGreaterThan(3);
    for (const line of logLines) expect(line).not.toContain(PASSWORD);
  });
});
