import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { stringify } from 'yaml';

import type { ConfigInput } from '../../src/config/index.js';
import { benchServerSecurity } from './security.js';

const BIN = fileURLToPath(new URL('../../bin/cassette.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STATS_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 15_000;

/** Counters of one `stats` log line (deltas since the previous line). */
export interface StatsLine {
  requests: number;
  cacheHits: number;
  cacheMisses: number;
  cacheCoalesced: number;
  /** Totals since start of the read admission gate: admitted, queued, shed, late. */
  readAdmission: Record<string, number> | null;
  /** Since the previous line: event-loop utilization and delay (p99, max) of the server. */
  eventLoop: Record<string, number> | null;
}

export interface ServerChildOptions {
  /** Used in file names and messages, e.g. "cache" or "no-cache". */
  name: string;
  cache: boolean;
  keyspace: string;
  contactPoints: readonly string[];
  localDataCenter: string;
  /** Config files, logs and (with cpuProf) profiles go under here. */
  outDir: string;
  cpuProf: boolean;
  /** Settings on top of the benchmark's (merged key by key), e.g. serving limits, consistency, a variant's. */
  overrides?: ConfigInput;
  /** How long it may take to say it is serving. Default 60 s. */
  startTimeoutMs?: number;
}

/** How a server process ended; `atMs` is performance.now() when it did. */
export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  atMs: number;
}

/**
 * A `cassette serve` child process with its own config file and port. Its JSON log on stderr
 * is kept in a file, and its `stats` lines (logged on SIGUSR2) are handed to `stats()` callers.
 */
export class ServerChild {
  private readonly waiting: Array<(line: StatsLine) => void> = [];
  private exited = false;
  /** Resolves once the process has exited. */
  readonly exit: Promise<ServerExit>;

  private constructor(
    readonly name: string,
    readonly cache: boolean,
    readonly address: string,
    /** Feast's HTTP/JSON API of this server (POST /get-online-features), for an HTTP target. */
    readonly httpAddress: string | undefined,
    private readonly child: ChildProcess,
    readonly configPath: string,
    readonly logPath: string,
  ) {
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, atMs: performance.now() })),
    );
    void this.exit.then(() => (this.exited = true));
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  static async start(options: ServerChildOptions): Promise<ServerChild> {
    const dir = join(options.outDir, 'servers');
    mkdirSync(dir, { recursive: true });
    const configPath = join(dir, `${options.name}.yaml`);
    const logPath = join(dir, `${options.name}.log`);
    const config: ConfigInput = {
      listen: '127.0.0.1:0',
      // Feast's HTTP/JSON API on a free port too (two servers run side by side); the serving log line names it (`http`).
      http: { listen: '127.0.0.1:0' },
      cassandra: {
        contactPoints: [...options.contactPoints],
        localDataCenter: options.localDataCenter,
        keyspace: options.keyspace,
      },
      // The default size; a 10-minute TTL (default 30 s) so the hot set warmed before a scenario
      // is still cached when a slow machine reaches its measured window: a hot key in production
      // is asked for far more often than the harness's cycle over 1,000 keys at a low rate.
      // BENCH_COHERENCE=off: the cache without cross-replica coherence (an A/B of its cost).
      cache: {
        enabled: options.cache,
        maxBytes: 256 * 1024 * 1024,
        ttlMs: 600_000,
        coherence: { enabled: process.env.BENCH_COHERENCE !== 'off' },
      },
      // No periodic stats lines: the harness asks for one (SIGUSR2) at each window boundary.
      log: { level: 'info', statsIntervalMs: 0 },
      // No load balancer to drain for: the harness stops its servers at once.
      serving: { drainMs: 0 },
      // Metrics on a free port (several servers run at once); BENCH_METRICS=off measures without them.
      metrics: { enabled: process.env.BENCH_METRICS !== 'off', listen: '127.0.0.1:0' },
      // BENCH_SECURITY: TLS and/or token checks (bench/lib/security.ts).
      ...benchServerSecurity(),
    };
    writeFileSync(
      configPath,
      `# Written by a benchmark (bench/)\n${stringify(mergeSettings(config, options.overrides ?? {}))}`,
    );
    // The config file alone decides: no CASSETTE_*/CASSANDRA_* settings leak in from this shell.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(CASSETTE_|CASSANDRA_)/.test(name)),
    );
    // Extra node flags for the servers, e.g. BENCH_SERVER_FLAGS='--trace-gc' (output in the log file).
    const extra = (process.env.BENCH_SERVER_FLAGS ?? '').split(/\s+/).filter((flag) => flag.length > 0);
    const nodeArgs = options.cpuProf
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          join(options.outDir, 'profiles'),
          '--cpu-prof-name',
          `${options.name}.cpuprofile`,
        ]
      : [];
    // stdout (where e.g. --trace-gc writes) goes straight to a file; the JSON log on stderr is read here.
    const stdout = openSync(join(dir, `${options.name}.stdout.log`), 'w');
    const child = spawn(process.execPath, [...extra, ...nodeArgs, BIN, '-c', configPath, 'serve'], {
      env,
      stdio: ['ignore', stdout, 'pipe'],
    });
    closeSync(stdout);
    const logFile = createWriteStream(logPath);
    const recent: string[] = [];
    // Set once serving: from then on, log lines go to the ServerChild.
    const started: { server?: ServerChild } = {};
    const lines = createInterface({ input: child.stderr! });
    let httpAddress: string | undefined;
    const startTimeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server ${options.name} did not start within ${startTimeoutMs / 1000} s`)),
        startTimeoutMs,
      );
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(`server ${options.name} exited with ${code} before serving:\n${recent.slice(-20).join('\n')}`),
        );
      });
      lines.on('line', (line) => {
        logFile.write(line + '\n');
        if (started.server) {
          started.server.onLogLine(line);
          return;
        }
        recent.push(line);
        const entry = parseLogLine(line);
        if (entry?.msg === 'Cassette is serving' && typeof entry.address === 'string') {
          if (typeof entry.http === 'string') httpAddress = entry.http;
          clearTimeout(timer);
          resolve(entry.address);
        }
      });
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    child.removeAllListeners('exit');
    child.once('exit', () => logFile.end());
    started.server = new ServerChild(options.name, options.cache, address, httpAddress, child, configPath, logPath);
    return started.server;
  }

  private onLogLine(line: string): void {
    const entry = parseLogLine(line);
    if (entry?.msg !== 'stats') return;
    const next = this.waiting.shift();
    next?.({
      requests: Number(entry.requests ?? 0),
      cacheHits: Number(entry.cacheHits ?? 0),
      cacheMisses: Number(entry.cacheMisses ?? 0),
      cacheCoalesced: Number(entry.cacheCoalesced ?? 0),
      readAdmission:
        typeof entry.readAdmission === 'object' && entry.readAdmission !== null
          ? (entry.readAdmission as Record<string, number>)
          : null,
      eventLoop:
        typeof entry.eventLoop === 'object' && entry.eventLoop !== null
          ? (entry.eventLoop as Record<string, number>)
          : null,
    });
  }

  /** Asks the server for a stats line now (SIGUSR2) and returns its counters: the delta since the last one. */
  stats(): Promise<StatsLine | null> {
    if (this.exited || this.child.pid === undefined) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(deliver);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(null);
      }, STATS_TIMEOUT_MS);
      const deliver = (line: StatsLine) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiting.push(deliver);
      this.child.kill('SIGUSR2');
    });
  }

  /** SIGTERM (a graceful stop, which also writes a --cpu-prof profile), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exit;
    clearTimeout(timer);
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.exited;
  }

  /** Sends `signal` (e.g. SIGTERM to watch it drain) without waiting. */
  signal(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Last resort on the way out (e.g. the harness is interrupted): no waiting. */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

type Settings = { readonly [key: string]: unknown };

const isSection = (value: unknown): value is Settings =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `base` with `overrides` laid over it, section by section (nested objects merged, anything else replaced). */
function mergeSettings<T extends object>(base: T, overrides: object): T {
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    merged[key] = isSection(current) && isSection(value) ? mergeSettings(current, value) : value;
  }
  return merged as T;
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
