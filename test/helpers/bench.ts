import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, inject } from 'vitest';

import { connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from './cluster.js';

/** Running the latency harness (bench/harness.ts) from tests, on a tiny dataset of the tests' Cassandra. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A keyspace and a report directory of its own for a harness run in the current describe block,
 * both removed after it; `args` are the harness's arguments for a quick run of 500 entities (seed
 * 7) there, on the tests' Cassandra.
 */
export function tinyHarnessRun(prefix: string): { out: string; args: string[] } {
  const keyspace = uniqueKeyspace(prefix);
  const out = mkdtempSync(join(tmpdir(), `cassette-${prefix}-`));
  const cassandra = inject('cassandra');
  afterAll(async () => {
    const session = await connectTestSession(testConfig(keyspace));
    await dropKeyspace(session, keyspace);
    await session.shutdown();
    rmSync(out, { recursive: true, force: true });
  });
  const args = [
    '--quick',
    '--entities',
    '500',
    '--seed',
    '7',
    '--seconds',
    '0.5',
    '--contact-points',
    cassandra.contactPoints.join(','),
    '--local-dc',
    cassandra.localDataCenter,
    '--keyspace',
    keyspace,
    '--out',
    out,
  ];
  return { out, args };
}

/** Runs the harness to its end: its exit code and everything it printed. */
export function runHarness(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/harness.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, CASSANDRA_CONTACT_POINTS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}
