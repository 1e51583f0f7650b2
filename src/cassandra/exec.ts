import { spawn } from 'node:child_process';

export interface RunResult {
  /** Exit code, or null when the command could not be started or was killed by a signal. */
  code: number | null;
  /** stdout and stderr interleaved, capped to the last `maxOutput` characters. */
  output: string;
  /** Set when the command could not be started at all (e.g. ENOENT: not on PATH). */
  spawnError?: Error;
}

/**
 * Runs a short-lived command to completion, collecting its output.
 * Never rejects: a missing binary is reported through `spawnError`.
 */
export function run(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; maxOutput?: number },
): Promise<RunResult> {
  const maxOutput = options.maxOutput ?? 64 * 1024;
  return new Promise((resolve) => {
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-maxOutput);
    };
    const child = spawn(command, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
    });
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (spawnError) => resolve({ code: null, output, spawnError }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Last `lines` lines of a text, for error messages. */
export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
