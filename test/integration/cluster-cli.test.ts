import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client } from 'cassandra-driver';
import { afterAll, describe, expect, it } from 'vitest';

import type { NodeStatus } from '../../src/cassandra/index.js';
import { processState } from '../../src/cassandra/process-state.js';
import { runCli, type CliResult } from '../helpers/cli.js';

/**
 * `cassette cassandra ...` run as a user would: the real CLI starts a 3-node cluster on its
 * own port, returns, and later invocations inspect, freeze, crash, restart and stop its nodes.
 */
describe('cassette cassandra: a local 3-node cluster driven from the CLI', () => {
  const port = 9442;
  const dataDir = mkdtempSync(join(tmpdir(), 'cassette-cluster-cli-'));
  const location = ['--data-dir', dataDir, '--base-address', '127.0.0.1', '--port', String(port)];
  const env: NodeJS.ProcessEnv = { ...process.env, CASSETTE_LOG_LEVEL: 'warn' };
  delete env.CASSANDRA_CONTACT_POINTS;
  // Every JVM pid this file saw, so none can outlive it.
  const pids = new Set<number>();

  const cassandra = (args: readonly string[], timeoutMs = 120_000): Promise<CliResult> =>
    runCli(['cassandra', ...args, ...location], env, timeoutMs);

  async function status(): Promise<NodeStatus[]> {
    const result = await cassandra(['status', '--json']);
    expect(result.status, result.stderr).toBe(0);
    const nodes = JSON.parse(result.stdout) as NodeStatus[];
    for (const node of nodes) if (node.pid !== null) pids.add(node.pid);
    return nodes;
  }

  /** Polls status until `accept` holds (a resumed or restarted node may take a moment to answer CQL). */
  async function statusUntil(accept: (nodes: NodeStatus[]) => boolean, timeoutMs = 30_000): Promise<NodeStatus[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nodes = await status();
      if (accept(nodes) || Date.now() > deadline) return nodes;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  const summary = (nodes: NodeStatus[]): string[] => nodes.map((node) => `${node.process}/${node.cql ? 'up' : 'down'}`);

  afterAll(async () => {
    try {
      const state = JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as {
        nodes: { pid: number | null }[];
      };
      for (const node of state.nodes) if (node.pid !== null) pids.add(node.pid);
    } catch {
      // no state file: the cluster was stopped (or never started)
    }
    await cassandra(['stop'], 180_000);
    // Last resort, should `stop` have failed: the recorded JVMs (their command line names dataDir).
    for (const pid of pids) {
      if ((await processState(pid, dataDir)) !== 'gone') process.kill(pid, 'SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 240_000);

  it('start --nodes 3 returns once every node answers CQL, and leaves them running', async () => {
    const started = await cassandra(['start', '--nodes', '3', '--heap', '512m'], 600_000);
    expect(started.status, started.stderr).toBe(0);
    expect(started.stdout).toContain(`CASSANDRA_CONTACT_POINTS=127.0.0.1:${port},127.0.0.2:${port},127.0.0.3:${port}`);

    const nodes = await status();
    expect(nodes.map((node) => node.address)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    expect(summary(nodes)).toEqual(['running/up', 'running/up', 'running/up']);

    // One ring, not three single nodes: node 1 knows the other two.
    const client = new Client({
      contactPoints: [`127.0.0.1:${port}`],
      localDataCenter: 'datacenter1',
      protocolOptions: { port },
    });
    try {
      await client.connect();
      const peers = await client.execute('SELECT peer FROM system.peers');
      expect(peers.rows.map((row) => String(row.get('peer'))).sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    } finally {
      await client.shutdown();
    }
  }, 660_000);

  it('rejects a node or signal it does not know, and a port the cluster does not use', async () => {
    const noSuchNode = await cassandra(['kill', '--node', '4']);
    expect(noSuchNode.status).toBe(1);
    expect(noSuchNode.stderr).toContain('--node 4: expected an integer from 1 to 3');
    const badSignal = await cassandra(['kill', '--node', '1', '--signal', 'HUP']);
    expect(badSignal.status).toBe(1);
    expect(badSignal.stderr).toContain('expected one of KILL, STOP, CONT');
    const otherPort = await runCli(['cassandra', 'status', '--data-dir', dataDir, '--port', '9043'], env);
    expect(otherPort.status).toBe(1);
    expect(otherPort.stderr).toContain(`is based at 127.0.0.1:${port}, not 127.0.0.1:9043`);
  });

  it('kill --signal STOP freezes a node and CONT resumes it', async () => {
    const stopped = await cassandra(['kill', '--node', '2', '--signal', 'STOP']);
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(summary(await status())).toEqual(['running/up', 'stopped/down', 'running/up']);

    const resumed = await cassandra(['kill', '--node', '2', '--signal', 'CONT']);
    expect(resumed.status, resumed.stderr).toBe(0);
    const nodes = await statusUntil((all) => all.every((node) => node.cql));
    expect(summary(nodes)).toEqual(['running/up', 'running/up', 'running/up']);
  }, 120_000);

  it('kill (SIGKILL) crashes a node and restart brings it back', async () => {
    const before = await status();
    const killed = await cassandra(['kill', '--node', '3']);
    expect(killed.status, killed.stderr).toBe(0);
    expect(summary(await status())).toEqual(['running/up', 'running/up', 'gone/down']);

    const restarted = await cassandra(['restart', '--node', '3'], 300_000);
    expect(restarted.status, restarted.stderr).toBe(0);
    const after = await status();
    expect(summary(after)).toEqual(['running/up', 'running/up', 'running/up']);
    expect(after[2]?.pid).not.toBe(before[2]?.pid);
  }, 360_000);

  it('stop ends every JVM and forgets the cluster', async () => {
    const recorded = (await status()).map((node) => node.pid);
    const stopped = await cassandra(['stop'], 180_000);
    expect(stopped.status, stopped.stderr).toBe(0);
    for (const pid of recorded) expect(await processState(pid ?? 0, dataDir)).toBe('gone');
    for (const pid of pids) expect(await processState(pid, dataDir)).toBe('gone');
    const after = await cassandra(['status']);
    expect(after.status).toBe(1);
    expect(after.stderr).toContain('No cluster in');
  }, 240_000);
});
