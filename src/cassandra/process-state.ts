import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { run } from './exec.js';

/**
 * What a recorded pid is now: `running`, `stopped` (SIGSTOP), or `gone` —
 * which also covers a zombie (dead, not yet reaped by a parent that is not
 * Node) and a pid reused by another program (`marker` not in its command line).
 */
export type ProcessState = 'running' | 'stopped' | 'gone';

const HAS_PROC = existsSync('/proc/self/stat');

function stateOf(code: string | undefined): ProcessState {
  if (code === undefined || code === 'Z' || code === 'X' || code === 'x') return 'gone';
  return code === 'T' || code === 't' ? 'stopped' : 'running';
}

/** The state of `pid`, provided its command line contains `marker`. */
export async function processState(pid: number, marker: string): Promise<ProcessState> {
  if (HAS_PROC) {
    try {
      const [stat, cmdline] = await Promise.all([
        readFile(`/proc/${pid}/stat`, 'utf8'),
        readFile(`/proc/${pid}/cmdline`, 'utf8'),
      ]);
      if (!cmdline.includes(marker)) return 'gone';
      // "pid (comm) S ...": the comm may contain spaces and parentheses, the state follows the last ')'.
      return stateOf(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch {
      return 'gone';
    }
  }
  // macOS and other systems without /proc.
  const result = await run('ps', ['-ww', '-o', 'stat=,args=', '-p', String(pid)], {
    env: process.env,
    timeoutMs: 10_000,
  });
  const line = result.code === 0 ? result.output.trim() : '';
  if (!line.includes(marker)) return 'gone';
  return stateOf(line[0]);
}

/** Polls until `pid` reaches one of `states`; false if it has not within `timeoutMs`. */
export async function waitForProcessState(
  pid: number,
  marker: string,
  states: readonly ProcessState[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (states.includes(await processState(pid, marker))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** process.kill that treats "no such process" as done. (pid 0 would mean our own group: ignored.) */
export function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  if (pid === 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
