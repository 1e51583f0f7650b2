import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

import { cpuSeconds, machineBusySeconds, rssBytes } from '../proc.js';
import type { Clock } from './traffic.js';

/**
 * What a scenario watches besides its requests: the server's health (every service it reports,
 * polled a few times a second) and its resident memory.
 */

/** The services whose health a scenario follows: the server as a whole and both data services. */
export const HEALTH_SERVICES = ['', 'cassette.v1.FeatureServing', 'cassette.v1.FeatureIngestion'] as const;

/** SERVING or NOT_SERVING when every service says so; MIXED when they differ; UNREACHABLE when the call fails. */
export type HealthState = 'SERVING' | 'NOT_SERVING' | 'MIXED' | 'UNREACHABLE';

export interface HealthChange {
  /** Scenario-clock ms of the first poll that saw the state. */
  readonly atMs: number;
  readonly state: HealthState;
}

type HealthClient = grpc.Client & {
  check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (error: Error | null, response?: { status: string }) => void,
  ): void;
};

const POLL_INTERVAL_MS = 200;
const CHECK_DEADLINE_MS = 1000;

function healthClient(address: string): HealthClient {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

/** Polls the health of every HEALTH_SERVICES entry and keeps the changes of their combined state. */
export class HealthWatcher {
  readonly changes: HealthChange[] = [];
  private readonly client: HealthClient;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly waiters: Array<{ state: HealthState; resolve: (atMs: number) => void }> = [];

  constructor(
    address: string,
    private readonly clock: Clock,
  ) {
    this.client = healthClient(address);
  }

  get state(): HealthState | undefined {
    return this.changes.at(-1)?.state;
  }

  start(): void {
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client.close();
    for (const waiter of this.waiters.splice(0)) waiter.resolve(Number.NaN);
  }

  /**
   * Resolves with the scenario-clock ms at which the state was first seen to be `state` (at once
   * if it is now), or NaN after `timeoutMs` or when the watcher stops.
   */
  until(state: HealthState, timeoutMs: number): Promise<number> {
    const current = this.changes.at(-1);
    if (current?.state === state) return Promise.resolve(current.atMs);
    return new Promise((resolve) => {
      const waiter = {
        state,
        resolve: (atMs: number) => {
          clearTimeout(timer);
          resolve(atMs);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve(Number.NaN);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The first time at or after `fromMs` at which the state was `state` (NaN if never). */
  firstAt(state: HealthState, fromMs: number): number {
    if (this.stateAt(fromMs) === state) return fromMs;
    return this.changes.find((change) => change.atMs >= fromMs && change.state === state)?.atMs ?? Number.NaN;
  }

  /** The combined state at scenario-clock ms `atMs` (undefined before the first poll). */
  stateAt(atMs: number): HealthState | undefined {
    let state: HealthState | undefined;
    for (const change of this.changes) {
      if (change.atMs > atMs) break;
      state = change.state;
    }
    return state;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    const statuses = await Promise.all(HEALTH_SERVICES.map((service) => this.check(service)));
    if (this.stopped) return;
    const state: HealthState = statuses.includes('UNREACHABLE')
      ? 'UNREACHABLE'
      : statuses.every((s) => s === 'SERVING')
        ? 'SERVING'
        : statuses.every((s) => s === 'NOT_SERVING')
          ? 'NOT_SERVING'
          : 'MIXED';
    if (this.state !== state) {
      const atMs = this.clock();
      this.changes.push({ atMs, state });
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i]!.state === state) this.waiters.splice(i, 1)[0]!.resolve(atMs);
      }
    }
    this.timer = setTimeout(() => void this.poll(), POLL_INTERVAL_MS);
  }

  private check(service: string): Promise<string> {
    return new Promise((resolve) =>
      this.client.check({ service }, { deadline: Date.now() + CHECK_DEADLINE_MS }, (error, response) =>
        resolve(error || !response ? 'UNREACHABLE' : response.status),
      ),
    );
  }
}

export interface ProcessSample {
  readonly atMs: number;
  readonly rssBytes: number | null;
  /** CPU of the process since the previous sample, 100 = one core. */
  readonly cpuPercent: number | null;
  /** Busy CPU of the whole machine since the previous sample, 100 = one core. */
  readonly machinePercent: number | null;
}

/** Samples a process's RSS and CPU, and the machine's CPU, every `intervalMs`. */
export class ProcessSampler {
  readonly samples: ProcessSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { wall: number; cpu: number | null; machine: number | null } | undefined;

  constructor(
    private readonly pid: number,
    private readonly clock: Clock,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The largest RSS sampled in [fromMs, toMs), or null. */
  peakRss(fromMs: number, toMs: number): number | null {
    let peak: number | null = null;
    for (const s of this.samples) {
      if (s.atMs >= fromMs && s.atMs < toMs && s.rssBytes !== null && (peak === null || s.rssBytes > peak)) {
        peak = s.rssBytes;
      }
    }
    return peak;
  }

  /** Mean of `pick` over the samples in [fromMs, toMs), or null. */
  mean(pick: (sample: ProcessSample) => number | null, fromMs: number, toMs: number): number | null {
    let sum = 0;
    let count = 0;
    for (const s of this.samples) {
      const value = s.atMs >= fromMs && s.atMs < toMs ? pick(s) : null;
      if (value === null) continue;
      sum += value;
      count++;
    }
    return count === 0 ? null : sum / count;
  }

  private sample(): void {
    const wall = performance.now();
    const cpu = cpuSeconds(this.pid);
    const machine = machineBusySeconds();
    const last = this.last;
    const seconds = last ? (wall - last.wall) / 1000 : 0;
    const percent = (now: number | null, before: number | null | undefined) =>
      now === null || before == null || seconds <= 0 ? null : Math.round(((now - before) / seconds) * 1000) / 10;
    this.samples.push({
      atMs: this.clock(),
      rssBytes: rssBytes(this.pid),
      cpuPercent: percent(cpu, last?.cpu),
      machinePercent: percent(machine, last?.machine),
    });
    this.last = { wall, cpu, machine };
  }
}

/**
 * CPU seconds spent by a changing set of processes (Cassandra JVMs come and go as nodes are
 * killed and restarted), summed from per-process deltas sampled every `intervalMs`.
 */
export class CpuSampler {
  private readonly last = new Map<number, number>();
  private total = 0;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(
    private readonly pids: () => readonly number[],
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Stops; returns the CPU used since start() as a percentage of one core. */
  stop(): number | null {
    clearInterval(this.timer);
    this.sample();
    const seconds = (performance.now() - this.startedAt) / 1000;
    return seconds > 0 ? Math.round((this.total / seconds) * 1000) / 10 : null;
  }

  private sample(): void {
    for (const pid of this.pids()) {
      const now = cpuSeconds(pid);
      if (now === null) continue;
      const before = this.last.get(pid);
      if (before !== undefined && now > before) this.total += now - before;
      this.last.set(pid, now);
    }
  }
}
