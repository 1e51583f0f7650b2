import cassandra from 'cassandra-driver';

import { withDeadline } from '../concurrency/index.js';
import type { Logger } from '../observability/logger.js';
import type { CassandraClient } from './session.js';

export interface AvailabilityOptions {
  /** How often every up host is probed. */
  readonly probeIntervalMs: number;
  /** How long a probe may take before it counts as failed. */
  readonly probeTimeoutMs: number;
}

/** Consecutive failed probes after which a host that the driver holds up counts as not answering. */
const FAILED_PROBES = 2;
/** Answered from the coordinator's own tables: no replica, no consistency, nothing to prepare. */
const PROBE_QUERY = 'SELECT release_version FROM system.local';
/** Driver errors are logged once per this interval at most, with the count in between. */
const DRIVER_LOG_INTERVAL_MS = 5_000;

interface HostState {
  /** A probe has answered since the host last came up. */
  answered: boolean;
  /** Probes failed in a row. */
  failures: number;
}

export type AvailabilityListener = (canServe: boolean, reason: string) => void;

/**
 * Whether Cassandra can serve this process: at least one host is up as the driver sees it (its
 * connections, the hostUp/hostDown events) and answering, as a probe of each up host
 * (`SELECT … FROM system.local` with a short timeout) shows. The probe catches what the driver
 * does not see quickly: a frozen node keeps its connections open until heartbeats give up on it.
 *
 * Whether a query would meet its consistency level is not judged here: that is the store's
 * answer to each request (UNAVAILABLE), while this answers "is it worth sending traffic here".
 */
export class CassandraAvailability {
  private readonly states = new Map<string, HostState>();
  private readonly listeners: AvailabilityListener[] = [];
  private available = true;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  /** A host came up during a round: probe again as soon as it ends. */
  private probeAgain = false;
  private stopped = false;
  private driverLog = { last: 0, suppressed: 0 };
  private readonly noRetry = new cassandra.policies.retry.FallthroughRetryPolicy();

  constructor(
    private readonly client: CassandraClient,
    private readonly logger: Logger,
    private readonly options: AvailabilityOptions,
  ) {}

  /** True while some host is up and answering. */
  get canServe(): boolean {
    return this.available;
  }

  /** Called on every change of canServe. */
  onChange(listener: AvailabilityListener): void {
    this.listeners.push(listener);
  }

  /**
   * Starts watching. The session has just connected (and served the start-up queries), so the
   * hosts that are up count as answering until a probe says otherwise.
   */
  start(): void {
    for (const host of this.client.hosts.values()) {
      this.states.set(host.address, { answered: host.isUp(), failures: 0 });
    }
    this.client.on('hostUp', this.onHostUp);
    this.client.on('hostDown', this.onHostDown);
    this.client.on('hostAdd', this.onHostUp);
    this.client.on('hostRemove', this.onHostRemove);
    this.client.on('log', this.onDriverLog);
    this.available = this.computeAvailable();
    this.schedule(this.options.probeIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client.off('hostUp', this.onHostUp);
    this.client.off('hostDown', this.onHostDown);
    this.client.off('hostAdd', this.onHostUp);
    this.client.off('hostRemove', this.onHostRemove);
    this.client.off('log', this.onDriverLog);
  }

  private readonly onHostUp = (host: cassandra.Host): void => {
    // Up again as the driver sees it; counted once a probe has answered.
    this.states.set(host.address, { answered: false, failures: 0 });
    this.logger.info({ host: host.address }, 'Cassandra host is up');
    if (this.probing) {
      this.probeAgain = true;
    } else {
      clearTimeout(this.timer);
      this.schedule(0);
    }
  };

  private readonly onHostDown = (host: cassandra.Host): void => {
    this.logger.warn({ host: host.address }, 'Cassandra host is down');
    this.update(`Cassandra host ${host.address} is down`);
  };

  private readonly onHostRemove = (host: cassandra.Host): void => {
    this.states.delete(host.address);
    this.update(`Cassandra host ${host.address} left the cluster`);
  };

  /** The driver reports trouble it handles itself through 'log' events, never 'error' events. */
  private readonly onDriverLog = (level: string, className: string, message: string, furtherInfo?: unknown): void => {
    if (level !== 'error') return;
    const now = Date.now();
    if (now - this.driverLog.last < DRIVER_LOG_INTERVAL_MS) {
      this.driverLog.suppressed++;
      return;
    }
    this.logger.warn(
      { driver: className, err: furtherInfo, suppressedSinceLastLine: this.driverLog.suppressed },
      `Cassandra driver: ${message}`,
    );
    this.driverLog = { last: now, suppressed: 0 };
  };

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probeRound(), delayMs);
    this.timer.unref();
  }

  /** Probes every up host at once; the next round starts an interval after this one started. */
  private async probeRound(): Promise<void> {
    this.probing = true;
    const started = Date.now();
    const up = this.client.hosts.values().filter((host) => host.isUp());
    await Promise.all(up.map((host) => this.probe(host)));
    this.probing = false;
    if (this.stopped) return;
    this.update('probe');
    if (this.probeAgain) {
      this.probeAgain = false;
      this.schedule(0);
    } else {
      this.schedule(Math.max(0, this.options.probeIntervalMs - (Date.now() - started)));
    }
  }

  private async probe(host: cassandra.Host): Promise<void> {
    const timeoutMs = this.options.probeTimeoutMs;
    let ok = true;
    try {
      await withDeadline(
        this.client.execute(PROBE_QUERY, [], {
          host,
          prepare: false,
          readTimeout: timeoutMs,
          isIdempotent: true,
          retry: this.noRetry,
          consistency: cassandra.types.consistencies.localOne,
        }),
        // The driver's timer starts once the request is written; this one bounds the whole wait.
        Date.now() + timeoutMs + 100,
        () => new Error('probe timed out'),
      );
    } catch {
      ok = false;
    }
    // A host that went down or away meanwhile has a fresh state (or none) that this must not touch.
    const state = this.states.get(host.address);
    if (!state || !host.isUp()) return;
    if (ok) {
      state.answered = true;
      state.failures = 0;
    } else {
      state.failures++;
    }
  }

  private computeAvailable(): boolean {
    for (const host of this.client.hosts.values()) {
      const state = this.states.get(host.address);
      if (host.isUp() && state !== undefined && state.answered && state.failures < FAILED_PROBES) return true;
    }
    return false;
  }

  private update(cause: string): void {
    const available = this.computeAvailable();
    if (available === this.available) return;
    this.available = available;
    const reason = available
      ? 'a Cassandra host answers again'
      : cause === 'probe'
        ? `no Cassandra host answered its last ${FAILED_PROBES} probes within ${this.options.probeTimeoutMs} ms`
        : `no Cassandra host is up (${cause})`;
    if (available) this.logger.info({ reason }, 'Cassandra can serve again');
    else this.logger.warn({ reason }, 'Cassandra cannot serve');
    for (const listener of this.listeners) listener(available, reason);
  }
}
