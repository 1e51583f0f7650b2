import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/** CPU seconds (utime + stime) the process has used so far; null if it cannot be read. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return (utime + stime) / clockTicks();
  } catch {
    return null;
  }
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
