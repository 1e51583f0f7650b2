import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

/** Process CPU accounting from /proc (Linux): user + system time of a process, in seconds. */

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** The sum of two /proc/<pid>/stat fields (indexes after the command name), in seconds; null if unreadable. */
function statSeconds(pid: number | 'self', first: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const a = Number(fields[first]);
    const b = Number(fields[first + 1]);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
    return (a + b) / clockTicks();
  } catch {
    return null;
  }
}

/** CPU seconds (utime + stime) the process has used so far; null if it cannot be read. */
export function cpuSeconds(pid: number): number | null {
  return statSeconds(pid, 11);
}

/**
 * CPU seconds (cutime + cstime) used by this process's children that have exited and been
 * reaped: around a child's whole life (e.g. a ghz run), the difference is that child's CPU.
 */
export function childrenCpuSeconds(): number | null {
  return statSeconds('self', 13);
}

/** A CPU meter over a window: percent of one core (200 = two cores busy). */
export class CpuMeter {
  private startCpu: number | null = null;
  private startWall = 0;

  constructor(readonly pid: number | null) {}

  start(): void {
    this.startCpu = this.pid === null ? null : cpuSeconds(this.pid);
    this.startWall = performance.now();
  }

  stop(): number | null {
    if (this.pid === null || this.startCpu === null) return null;
    const end = cpuSeconds(this.pid);
    const wallSeconds = (performance.now() - this.startWall) / 1000;
    if (end === null || wallSeconds <= 0) return null;
    return Math.round(((end - this.startCpu) / wallSeconds) * 1000) / 10;
  }
}

/**
 * The pid of the local process listening on a TCP port (e.g. the Cassandra JVM on 9042), found
 * through /proc/net/tcp and the processes' socket descriptors; null when not found or not ours.
 */
export function pidListeningOn(port: number): number | null {
  const inodes = new Set<string>();
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; inode is column 9.
      if (cols.length > 9 && cols[1]?.endsWith(`:${portHex}`) && cols[3] === '0A') inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode !== undefined && inodes.has(inode)) return Number(entry);
      } catch {
        // The descriptor closed while we looked.
      }
    }
  }
  return null;
}

/** CPU seconds all cores of the machine have spent busy (not idle or waiting for I/O) so far. */
export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [, ...fields] = line.trim().split(/\s+/);
    const ticks = fields.map(Number);
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (total - idle) / clockTicks();
  } catch {
    return null;
  }
}

/** Busy CPU of the whole machine over a window (100 = one core): shows load from anything else. */
export class MachineCpuMeter {
  private startBusy: number | null = null;
  private startWall = 0;

  start(): void {
    this.startBusy = machineBusySeconds();
    this.startWall = performance.now();
  }

  stop(): number | null {
    const end = machineBusySeconds();
    const wallSeconds = (performance.now() - this.startWall) / 1000;
    if (end === null || this.startBusy === null || wallSeconds <= 0) return null;
    return Math.round(((end - this.startBusy) / wallSeconds) * 1000) / 10;
  }
}

/** Resident set size of a process in bytes (VmRSS); null if it cannot be read (e.g. it is gone). */
export function rssBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** One sample of a CpuTimeline: wall time (ms since the epoch) and each source's CPU seconds so far. */
interface CpuSample {
  readonly atMs: number;
  readonly seconds: readonly (number | null)[];
}

/**
 * CPU seconds of several sources (process ids, or 'machine' for the whole machine's busy time),
 * sampled every `intervalMs` while it runs, so that CPU can be read afterwards over a window known
 * only later (e.g. from a child's own report of when it sent its load). Percentages are of one
 * core over the window, by linear interpolation between samples.
 */
export class CpuTimeline {
  private readonly samples: CpuSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sources: (number | 'machine' | null)[]) {}

  /** Starts sampling process `pid` as source `index` (e.g. a child once it has been spawned). */
  track(index: number, pid: number | null): void {
    this.sources[index] = pid;
  }

  private sample(): void {
    const seconds = this.sources.map((source) =>
      source === null ? null : source === 'machine' ? machineBusySeconds() : cpuSeconds(source),
    );
    this.samples.push({ atMs: Date.now(), seconds });
  }

  start(intervalMs = 50): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** Source `index`'s CPU seconds at `atMs` (epoch), interpolated; null when unknown or outside the samples. */
  private secondsAt(index: number, atMs: number): number | null {
    const samples = this.samples;
    for (let i = 1; i < samples.length; i++) {
      const before = samples[i - 1]!;
      const after = samples[i]!;
      if (atMs < before.atMs || atMs > after.atMs) continue;
      const a = before.seconds[index];
      const b = after.seconds[index];
      if (a == null || b == null) return null;
      const span = after.atMs - before.atMs;
      return span <= 0 ? b : a + ((b - a) * (atMs - before.atMs)) / span;
    }
    return null;
  }

  /** Each source's CPU over [fromMs, toMs] (epoch ms) as a percentage of one core, 0.1 % steps. */
  percentOver(fromMs: number, toMs: number): (number | null)[] {
    return this.sources.map((_, index) => {
      const from = this.secondsAt(index, fromMs);
      const to = this.secondsAt(index, toMs);
      if (from === null || to === null || toMs <= fromMs) return null;
      return Math.round(((to - from) / ((toMs - fromMs) / 1000)) * 1000) / 10;
    });
  }
}

/** Event-loop delay percentiles (monitorEventLoopDelay, 10 ms resolution, as the server's stats line). */
export interface LoopDelay {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Measures its own event loop, doing nothing else, until its stdin ends (the parent stopping it,
 * or dying), then prints LoopDelay as JSON. Ends on its own after two hours whatever happens.
 */
const IDLE_LOOP_SCRIPT = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const report = () => {
  h.disable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  process.stdout.write(JSON.stringify({ p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) }));
  process.exit(0);
};
process.stdin.on('data', () => {}).on('end', report);
setTimeout(report, 7_200_000).unref();
`;

/**
 * A Node process that does nothing but measure its event-loop delay, from start() to stop():
 * the machine's scheduling floor under whatever else runs on it. No process here (the server, a
 * generator) can answer faster than this at the same percentile, whatever its code does.
 */
export class IdleProcessProbe {
  private constructor(
    private readonly child: ChildProcessByStdio<Writable, Readable, null>,
    private readonly result: Promise<LoopDelay | null>,
  ) {}

  static start(): IdleProcessProbe {
    const child = spawn(process.execPath, ['-e', IDLE_LOOP_SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdin.on('error', () => {}); // EPIPE if it is already gone
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const result = new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(null));
      child.once('close', resolve);
    }).then((code) => {
      if (code !== 0) return null;
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoopDelay;
      } catch {
        return null;
      }
    });
    return new IdleProcessProbe(child, result);
  }

  /** Ends the measurement: the delays since start(), or null when the probe could not run or report. */
  async stop(): Promise<LoopDelay | null> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    try {
      return await this.result;
    } finally {
      clearTimeout(timer);
    }
  }
}
