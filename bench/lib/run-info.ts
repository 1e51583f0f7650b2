import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** What every benchmark report says about where and when it ran, and how a benchmark talks. */

/** Output of `git <args>`, or '' when git is not there or fails. */
export function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export interface MachineInfo {
  cores: number;
  cpu_model: string;
  memory_gb: number;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  return {
    cores: cpus().length,
    cpu_model: cpus()[0]?.model.trim() ?? 'unknown',
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** A progress printer: `[<name> <seconds since startedAt>s] message` on stdout. */
export function progress(name: string, startedAt: number): (message: string) => void {
  return (message) => {
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(0).padStart(4);
    process.stdout.write(`[${name} ${seconds}s] ${message}\n`);
  };
}
