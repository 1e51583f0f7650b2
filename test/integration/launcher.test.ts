import { Client } from 'cassandra-driver';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeLayout } from '../../src/cassandra/config.js';
import { findOrStartCassandra, parseContactPoints, type CassandraEndpoint } from '../../src/cassandra/index.js';
import { spawnNode } from '../../src/cassandra/jvm.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });

/** Environment without any CASSANDRA_CONTACT_POINTS the developer may have exported. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('CASSANDRA_CONTACT_POINTS' in extra)) delete env.CASSANDRA_CONTACT_POINTS;
  return env;
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');

describe('parseContactPoints', () => {
  it('defaults the port to 9042', () => {
    expect(parseContactPoints('127.0.0.1')).toEqual(['127.0.0.1:9042']);
    expect(parseContactPoints('cassandra.internal')).toEqual(['cassandra.internal:9042']);
  });

  it('keeps explicit ports, trims whitespace and drops empty entries and duplicates', () => {
    expect(parseContactPoints(' a:9142 , b-2.example.com:19042,,a:9142 ')).toEqual(['a:9142', 'b-2.example.com:19042']);
  });

  it('accepts IPv6, bracketed when it carries a port', () => {
    expect(parseContactPoints('[::1]:9142,::1,[fe80::1]')).toEqual(['[::1]:9142', '[::1]:9042', '[fe80::1]:9042']);
  });

  it.each([
    ['', /No Cassandra contact points/],
    [' , ', /No Cassandra contact points/],
    ['host:', /Invalid port/],
    ['host:0', /Invalid port/],
    ['host:65536', /Invalid port/],
    ['host:90a', /Invalid port/],
    ['bad host', /Invalid host/],
    ['-leading.example', /Invalid host/],
    ['1.2.3.999', /Invalid host/],
    ['[127.0.0.1]:9042', /only IPv6/],
    ['::1:9042:x', /IPv6/],
  ])('rejects %j', (input, message) => {
    expect(() => parseContactPoints(input)).toThrow(message);
  });
});

// The JVM wrapper, exercised with a stand-in "JVM" (a shell loop) so it runs in a second.
describe('JVM process wrapper', () => {
  // Ignores SIGTERM, and says so once it does (a SIGTERM sent before the trap is set would end it).
  const stubbornJvm = ['-c', 'trap "" TERM; echo trapped; while :; do sleep 1; done'];
  /** Waits until the stand-in has set its trap (it prints to the node's stdout.log). */
  async function untilTrapped(logDir: string): Promise<void> {
    const giveUpAt = Date.now() + 20_000;
    while (!(await readFile(join(logDir, 'stdout.log'), 'utf8').catch(() => '')).includes('trapped')) {
      if (Date.now() > giveUpAt) throw new Error('the stand-in JVM never set its SIGTERM trap');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('stop() escalates to SIGKILL after the grace period', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cassette-wrapper-'));
    try {
      const node = nodeLayout({ root, index: 1, nodes: 1, baseAddress: '127.0.0.1', nativePort: 9042 });
      await mkdir(node.logDir, { recursive: true });
      const proc = await spawnNode({ java: '/bin/sh', args: stubbornJvm, node, env: process.env, stopGraceMs: 1_000 });
      expect(alive(proc.pid)).toBe(true);
      await untilTrapped(node.logDir);
      await proc.stop();
      expect(alive(proc.pid)).toBe(false);
      // The wrapper itself sent the SIGKILL and reported it (128 + 9), rather than stop()'s
      // last resort of killing the wrapper's whole process group.
      expect(await proc.exited).toEqual({ code: 137, signal: null });
      expect(proc.hasExited()).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 30_000);

  it('the JVM dies with a SIGKILLed parent Node process', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cassette-orphan-'));
    try {
      const script = join(root, 'parent.ts');
      await writeFile(
        script,
        `import { mkdirSync } from 'node:fs';
import { nodeLayout } from ${JSON.stringify(join(repoRoot, 'src/cassandra/config.ts'))};
import { spawnNode } from ${JSON.stringify(join(repoRoot, 'src/cassandra/jvm.ts'))};
const node = nodeLayout({ root: ${JSON.stringify(root)}, index: 1, nodes: 1, baseAddress: '127.0.0.1', nativePort: 9042 });
mkdirSync(node.logDir, { recursive: true });
const proc = await spawnNode({ java: '/bin/sh', args: ${JSON.stringify(stubbornJvm)}, node, env: process.env, stopGraceMs: 1000 });
console.log('JVM_PID=' + proc.pid);
setInterval(() => {}, 1000);
`,
      );
      const parent = spawn(process.execPath, [join(repoRoot, 'node_modules/vite-node/vite-node.mjs'), script], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const jvmPid = await new Promise<number>((resolvePid, reject) => {
        let out = '';
        parent.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /JVM_PID=(\d+)/.exec(out);
          if (match) resolvePid(Number(match[1]));
        });
        parent.once('exit', () => reject(new Error(`parent exited early: ${out}`)));
      });
      expect(alive(jvmPid)).toBe(true);
      parent.kill('SIGKILL');
      // SIGTERM is ignored by the stand-in, so this also covers the SIGKILL after 1 s.
      expect(await waitUntil(() => !alive(jvmPid), 10_000)).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('findOrStartCassandra', () => {
  it('uses CASSANDRA_CONTACT_POINTS without starting anything', async () => {
    const endpoint = await findOrStartCassandra({
      logger,
      env: cleanEnv({ CASSANDRA_CONTACT_POINTS: 'db1:9142, db2', CASSANDRA_LOCAL_DC: 'dc-east' }),
    });
    expect(endpoint).toMatchObject({
      source: 'env',
      contactPoints: ['db1:9142', 'db2:9042'],
      localDataCenter: 'dc-east',
    });
    await endpoint.stop(); // no-op
  });

  it('rejects a malformed CASSANDRA_CONTACT_POINTS', async () => {
    await expect(
      findOrStartCassandra({ logger, env: cleanEnv({ CASSANDRA_CONTACT_POINTS: 'db1:notaport' }) }),
    ).rejects.toThrow(/Invalid port/);
  });

  it('explains how to provide a Cassandra when none can be found or started', async () => {
    // No java/mvn on this PATH. Should a Docker engine be reachable, the last
    // resort legitimately succeeds instead; then just check and stop it.
    const attempt = findOrStartCassandra({
      logger,
      port: 9642,
      env: { PATH: '/nonexistent', HOME: tmpdir() },
    });
    const endpoint = await attempt.catch((err: unknown) => err);
    if (endpoint instanceof Error) {
      expect(endpoint.message).toMatch(/no Java 17\+ found/);
      expect(endpoint.message).toMatch(/CASSANDRA_CONTACT_POINTS/);
      expect(endpoint.message).toMatch(/Maven/);
      expect(endpoint.message).toMatch(/Docker/);
    } else {
      expect((endpoint as CassandraEndpoint).source).toBe('testcontainers');
      await (endpoint as CassandraEndpoint).stop();
    }
  }, 300_000);

  describe('local node on port 9242', () => {
    const port = 9242;
    let dataDir: string | undefined;
    let started: CassandraEndpoint | undefined;

    afterAll(async () => {
      await started?.stop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    }, 120_000);

    it('starts Cassandra 5.0, answers CQL, is reused, and stops', async () => {
      expect(await portOpen('127.0.0.1', port), `something already listens on ${port}`).toBe(false);
      dataDir = await mkdtemp(join(tmpdir(), 'cassette-launcher-'));

      const endpoint = await findOrStartCassandra({ logger, port, dataDir, env: cleanEnv() });
      started = endpoint;
      expect(endpoint.source).toBe('local-jvm');
      expect(endpoint.contactPoints).toEqual([`127.0.0.1:${port}`]);
      expect(endpoint.localDataCenter).toBe('datacenter1');

      const client = new Client({
        contactPoints: endpoint.contactPoints,
        localDataCenter: endpoint.localDataCenter,
      });
      try {
        await client.connect();
        const local = await client.execute('SELECT release_version FROM system.local');
        expect(String(local.first().get('release_version'))).toMatch(/^5\.0\./);
        await client.execute(
          "CREATE KEYSPACE IF NOT EXISTS launcher_test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        );
        await client.execute('CREATE TABLE IF NOT EXISTS launcher_test.kv (k text PRIMARY KEY, v int)');
        await client.execute('INSERT INTO launcher_test.kv (k, v) VALUES (?, ?)', ['a', 1], { prepare: true });
        const row = await client.execute('SELECT v FROM launcher_test.kv WHERE k = ?', ['a'], { prepare: true });
        expect(row.first().get('v')).toBe(1);
      } finally {
        await client.shutdown();
      }

      // A second call finds the running node and must not own it.
      const reused = await findOrStartCassandra({ logger, port, dataDir, env: cleanEnv() });
      expect(reused.source).toBe('existing');
      expect(reused.contactPoints).toEqual([`127.0.0.1:${port}`]);
      expect(reused.localDataCenter).toBe('datacenter1');
      await reused.stop();
      expect(await portOpen('127.0.0.1', port)).toBe(true);

      await endpoint.stop();
      await endpoint.stop(); // idempotent
      started = undefined;
      expect(await portOpen('127.0.0.1', port)).toBe(false); // native transport
      expect(await portOpen('127.0.0.1', port - 2042)).toBe(false); // storage
    }, 300_000);
  });
});
