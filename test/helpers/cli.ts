import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { inject } from 'vitest';

/** The real `cassette` binary (run `npm run build` first). */
export const BIN = fileURLToPath(new URL('../../bin/cassette.js', import.meta.url));

export interface CliResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment pointing the CLI at the test Cassandra and `keyspace`. */
export function cliEnv(keyspace: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const cassandra = inject('cassandra');
  return {
    ...process.env,
    CASSANDRA_CONTACT_POINTS: cassandra.contactPoints.join(','),
    CASSANDRA_LOCAL_DC: cassandra.localDataCenter,
    CASSETTE_KEYSPACE: keyspace,
    CASSETTE_LOG_LEVEL: 'warn',
    CASSETTE_HTTP_LISTEN: '127.0.0.1:0',
    ...extra,
  };
}

/** Starts the CLI without waiting (e.g. to kill it). */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs the CLI to the end, without blocking this process (servers in it keep answering). */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliResult> {
  const { child, done } = startCli(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}
