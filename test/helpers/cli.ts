import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
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
    // Test files run side by side: each server's metrics on a port of its own.
    CASSETTE_METRICS_LISTEN: '127.0.0.1:0',
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

/** A JSON log line of a server process. */
export interface LogLine {
  readonly msg?: string;
  readonly address?: string;
  readonly [field: string]: unknown;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly address: string;
  /** Every log line so far. */
  readonly lines: readonly LogLine[];
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Starts `cassette serve --listen 127.0.0.1:0 …args` and waits until it says it is serving. */
export async function startServe(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: {
      CASSETTE_LOG_LEVEL: 'info',
      CASSETTE_HTTP_LISTEN: '127.0.0.1:0',
      CASSETTE_METRICS_LISTEN: '127.0.0.1:0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: LogLine[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      if (line.msg === 'Cassette is serving' && typeof line.address === 'string') resolve(line.address);
    });
    void exited.then((code) => reject(new Error(`serve exited early with ${code}`)));
  });
  return { child, address, lines, exited };
}
