import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it, inject, vi } from 'vitest';

import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import { connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';
import { scrape } from '../helpers/metrics.js';

const BIN = fileURLToPath(new URL('../../bin/cassette.js', import.meta.url));

const REGISTRY = `
project: workers
entities:
  - { name: user, join_key: user_id, type: int64 }
feature_views:
  - name: profile
    entities: [user]
    features:
      - { name: score, type: int32 }
`;

interface LogLine {
  msg?: string;
  pid?: number;
  address?: string;
  pids?: number[];
}

/** `cassette serve --workers 2`: one port, two processes, caches kept coherent on writes. */
describe('serving with several worker processes', () => {
  const keyspace = uniqueKeyspace('workers');
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
  let primary: ChildProcess | undefined;
  let serving: LogLine = {};
  const lines: LogLine[] = [];
  // Channels with distinct options get connections of their own, which the cluster deals out
  // to the workers in turn.
  let channels: CassetteClients[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cassette-workers-'));
    writeFileSync(join(dir, 'registry.yaml'), REGISTRY);
    const applied = spawnSync(process.execPath, [BIN, 'apply', join(dir, 'registry.yaml')], { env, encoding: 'utf8' });
    expect(applied.status).toBe(0);
    primary = spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--listen', '127.0.0.1:0'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    serving = await new Promise<LogLine>((resolve, reject) => {
      createInterface({ input: primary!.stderr! }).on('line', (text) => {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        if (line.msg === 'Cassette is serving') resolve(line);
      });
      primary!.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    channels = Array.from({ length: 4 }, (_, i) =>
      connectClients(serving.address!, { 'grpc.primary_user_agent': `channel-${i}` }),
    );
  });

  afterAll(async () => {
    for (const channel of channels) channel.close();
    primary?.kill('SIGKILL');
    const session = await connectTestSession(testConfig(keyspace));
    await dropKeyspace(session, keyspace);
    await session.shutdown();
  });

  const read = (channel: CassetteClients, id: string) =>
    call<GetOnlineFeaturesResponse__Output>((cb) =>
      channel.serving.GetOnlineFeatures(
        { features: { val: ['profile:score'] }, entities: { user_id: { val: [{ int64_val: id }] } } },
        deadlineIn(10_000),
        cb,
      ),
    ).then((response) => response.results[0]!.values[0]!.int32_val);

  const write = (channel: CassetteClients, id: string, score: number) =>
    call((cb) =>
      channel.ingestion.WriteFeatures(
        {
          feature_view: 'profile',
          rows: [{ entity_keys: { user_id: { int64_val: id } }, features: { score: { int32_val: score } } }],
        },
        deadlineIn(10_000),
        cb,
      ),
    );

  it('starts two workers on one port, each with its own session', () => {
    expect(serving.pids).toHaveLength(2);
    const ready = lines.filter((line) => line.msg === 'serving worker ready');
    expect(new Set(ready.map((line) => line.pid))).toEqual(new Set(serving.pids));
    expect(new Set(ready.map((line) => line.address))).toEqual(new Set([serving.address]));
    expect(
      lines
        .filter((line) => line.msg === 'connected to Cassandra')
        .map((line) => line.pid)
        .sort(),
    ).toEqual([...serving.pids!].sort());
  });

  it('makes a write through any worker visible to the next read on every worker', async () => {
    for (let round = 1; round <= 8; round++) {
      // Every worker caches the current value ...
      for (const channel of channels) await read(channel, '7');
      // ... then a write lands on one of them, and every connection reads the new value at once.
      await write(channels[round % channels.length]!, '7', round);
      const seen = await Promise.all(channels.map((channel) => read(channel, '7')));
      expect(seen).toEqual(channels.map(() => round));
    }
  });

  it("serves one metrics endpoint, the primary's, summing every worker", async () => {
    const listening = lines.filter((line) => line.msg === 'serving metrics');
    expect(listening).toHaveLength(1);
    const url = listening[0]!.address!;
    const totals = async () => {
      const values = await scrape(url);
      const connections = [...values].filter(([name]) => name.startsWith('cassette_cassandra_connections{'));
      return {
        reads:
          values.get(
            'cassette_request_duration_seconds_count{service="cassette.v1.FeatureServing",method="GetOnlineFeatures",code="OK"}',
          ) ?? 0,
        connections: connections.reduce((sum, [, open]) => sum + open, 0),
        registryVersion: values.get('cassette_registry_version'),
      };
    };
    const before = await totals();
    for (let i = 0; i < 20; i++) await read(channels[i % channels.length]!, String(500 + i));
    const after = await totals();
    // Every call counted once, whichever worker took it.
    expect(after.reads - before.reads).toBe(20);
    // Both workers' sessions (two connections each to the one node): more than one worker reports.
    expect(after.connections).toBeGreaterThanOrEqual(3);
    expect(after.registryVersion).toBeGreaterThanOrEqual(1);
  });

  it('replaces a worker that dies, after a logged delay, while the port stays served', async () => {
    const [victim, survivor] = serving.pids!;
    process.kill(victim!, 'SIGKILL');
    const hasLine = (msg: string) => lines.some((line) => line.msg === msg);
    await vi.waitFor(() => expect(hasLine('serving worker died; starting another')).toBe(true), {
      timeout: 10_000,
      interval: 20,
    });
    // The port is still served: a new connection goes to a live worker.
    const fresh = connectClients(serving.address!, { 'grpc.primary_user_agent': 'after-the-death' });
    try {
      await write(fresh, '9', 1);
      expect(await read(fresh, '9')).toBe(1);
    } finally {
      fresh.close();
    }
    await vi.waitFor(() => expect(hasLine('replacement serving worker ready')).toBe(true), {
      timeout: 60_000,
      interval: 100,
    });
    const died = lines.find((line) => line.msg === 'serving worker died; starting another') as LogLine & {
      delayMs?: number;
    };
    expect(died.pid).toBe(victim);
    expect(died.delayMs).toBeGreaterThan(0);
    const replacement = lines.filter((line) => line.msg === 'serving worker ready').at(-1)!;
    expect([victim, survivor]).not.toContain(replacement.pid);
    serving = { ...serving, pids: [survivor!, replacement.pid!] };
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => primary!.once('exit', (code) => resolve(code)));
    primary!.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of serving.pids!) expect(() => process.kill(pid, 0)).toThrow();
  });
});
