import cluster, { type Worker } from 'node:cluster';

import type { PeerCaches } from '../cache/index.js';
import type { Logger } from '../observability/logger.js';

export type { PeerCaches } from '../cache/index.js';

/**
 * Serving on several cores: N worker processes share one listening port (node:cluster hands
 * each new connection to the next worker). Each worker is a whole Cassette server with its own
 * Cassandra session, made after the fork, and its own cache.
 *
 * Separate caches must not break read-your-writes: a write through one worker invalidates its
 * rows in every worker before it is acknowledged. The worker sends the keys to the primary,
 * which relays them to the other workers and answers once each has dropped them.
 */

/** Worker -> primary. */
type WorkerMessage =
  | { type: 'cassette:ready'; address: string }
  | { type: 'cassette:invalidate'; id: number; keys: string[] }
  | { type: 'cassette:invalidated'; id: number };

/** Primary -> worker. */
type PrimaryMessage =
  | { type: 'cassette:invalidate'; id: number; keys: string[] }
  | { type: 'cassette:invalidated'; id: number }
  | { type: 'cassette:shutdown' };

function isMessage<T extends { type: string }>(message: unknown): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('cassette:')
  );
}

/**
 * Joins the worker group from inside a worker. `invalidateLocal` drops keys from this worker's
 * cache when a sibling wrote them; `onShutdown` is called when the primary asks this worker to stop
 * or goes away.
 */
export function joinWorkerGroup(invalidateLocal: (keys: string[]) => void, onShutdown: () => void): PeerCaches {
  const pending = new Map<number, () => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage<PrimaryMessage>(message)) return;
    switch (message.type) {
      case 'cassette:invalidate':
        invalidateLocal(message.keys);
        process.send?.({ type: 'cassette:invalidated', id: message.id } satisfies WorkerMessage);
        return;
      case 'cassette:invalidated':
        pending.get(message.id)?.();
        pending.delete(message.id);
        return;
      case 'cassette:shutdown':
        onShutdown();
        return;
    }
  });
  // The primary is gone (even SIGKILLed): nobody will route connections here any more.
  process.once('disconnect', onShutdown);
  return {
    invalidate: (keys) =>
      new Promise<void>((resolve) => {
        if (keys.length === 0 || !process.connected) return resolve();
        const id = nextId++;
        pending.set(id, resolve);
        process.send?.({ type: 'cassette:invalidate', id, keys } satisfies WorkerMessage);
      }),
  };
}

/** Tells the primary this worker is serving. */
export function reportWorkerReady(address: string): void {
  process.send?.({ type: 'cassette:ready', address } satisfies WorkerMessage);
}

export const isWorkerProcess = (): boolean => cluster.isWorker;

export interface WorkerGroup {
  /** The address every worker listens on. */
  readonly address: string;
  readonly pids: readonly number[];
  /** Sends `signal` to every live worker. */
  signal(signal: NodeJS.Signals): void;
  close(): Promise<void>;
}

/**
 * A worker that dies is replaced after a delay that doubles with each death within
 * RESTART_WINDOW_MS (from RESTART_BASE_DELAY_MS up to RESTART_MAX_DELAY_MS), so a crash loop
 * (say, workers failing to start while Cassandra is away) costs little, and the primary never
 * gives up: the port stays served by the workers still alive, and the group recovers when the
 * cause goes away.
 */
const RESTART_BASE_DELAY_MS = 500;
const RESTART_MAX_DELAY_MS = 30_000;
const RESTART_WINDOW_MS = 60_000;

/** The delay before replacing a worker, given how many died within the window (this one included). */
export function restartDelayMs(recentDeaths: number): number {
  return Math.min(RESTART_MAX_DELAY_MS, RESTART_BASE_DELAY_MS * 2 ** Math.max(0, recentDeaths - 1));
}

/**
 * From the primary: forks `count` workers that re-run this process's command with `env` added
 * (the primary has already resolved Cassandra, so workers never start one), waits until all of
 * them serve, relays cache invalidations between them, and replaces one that dies (see restartDelayMs).
 */
export async function startWorkerGroup(options: {
  count: number;
  env: NodeJS.ProcessEnv;
  execArgv?: string[];
  logger: Logger;
  /** How long a worker asked to stop may take before it is killed. */
  shutdownTimeoutMs: number;
}): Promise<WorkerGroup> {
  const { count, logger } = options;
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...(options.execArgv ?? [])] });
  const workers = new Set<Worker>();
  // Invalidations relayed on behalf of a worker: who asked, and who still has to answer.
  const relays = new Map<string, { origin: Worker; id: number; waiting: Set<Worker> }>();
  let nextRelay = 0;
  let closing = false;
  let started = false;
  const deaths: number[] = [];
  const restartTimers = new Set<NodeJS.Timeout>();

  const settleRelay = (relayId: string) => {
    const relay = relays.get(relayId);
    if (!relay || relay.waiting.size > 0) return;
    relays.delete(relayId);
    if (relay.origin.isConnected()) {
      relay.origin.send({ type: 'cassette:invalidated', id: relay.id } satisfies PrimaryMessage);
    }
  };

  const onMessage = (worker: Worker, message: unknown) => {
    if (!isMessage<WorkerMessage>(message)) return;
    if (message.type === 'cassette:invalidate') {
      const relayId = String(nextRelay++);
      const waiting = new Set([...workers].filter((w) => w !== worker && w.isConnected()));
      relays.set(relayId, { origin: worker, id: message.id, waiting });
      for (const peer of waiting) {
        peer.send({ type: 'cassette:invalidate', id: Number(relayId), keys: message.keys } satisfies PrimaryMessage);
      }
      settleRelay(relayId);
    } else if (message.type === 'cassette:invalidated') {
      const relayId = String(message.id);
      relays.get(relayId)?.waiting.delete(worker);
      settleRelay(relayId);
    }
  };

  let firstAddress: string | undefined;
  const fork = (): Promise<string> => {
    const worker = cluster.fork(options.env);
    workers.add(worker);
    worker.on('message', (message: unknown) => onMessage(worker, message));
    const ready = new Promise<string>((resolve, reject) => {
      const onReady = (message: unknown) => {
        if (isMessage<WorkerMessage>(message) && message.type === 'cassette:ready') {
          worker.off('message', onReady);
          resolve(message.address);
        }
      };
      worker.on('message', onReady);
      worker.once('exit', (code, signal) =>
        reject(new Error(`worker ${worker.process.pid} exited before serving (code ${code}, signal ${signal})`)),
      );
    });
    worker.once('exit', (code, signal) => {
      workers.delete(worker);
      // Nobody waits for a worker that is gone: its cache went with it.
      for (const [relayId, relay] of relays) {
        relay.waiting.delete(worker);
        settleRelay(relayId);
      }
      // While the group starts, a death fails the start (see below) instead.
      if (closing || !started) return;
      const now = Date.now();
      deaths.push(now);
      while (deaths.length > 0 && deaths[0]! < now - RESTART_WINDOW_MS) deaths.shift();
      const delayMs = restartDelayMs(deaths.length);
      logger.error(
        { pid: worker.process.pid, code, signal, delayMs, deathsLastMinute: deaths.length, serving: workers.size },
        'serving worker died; starting another',
      );
      const timer = setTimeout(() => {
        restartTimers.delete(timer);
        if (closing) return;
        // A replacement that dies too is replaced in turn (its own exit handler), after a longer delay.
        fork().then(
          (address) => logger.info({ address, serving: workers.size }, 'replacement serving worker ready'),
          (error: unknown) => logger.warn({ err: error }, 'replacement serving worker did not start'),
        );
      }, delayMs);
      restartTimers.add(timer);
    });
    // Unexpected: a worker that started serving somewhere else.
    return ready.then((address) => {
      firstAddress ??= address;
      if (address !== firstAddress) throw new Error(`worker listens on ${address}, not ${firstAddress}`);
      return address;
    });
  };

  const close = async (): Promise<void> => {
    closing = true;
    for (const timer of restartTimers) clearTimeout(timer);
    await Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const force = setTimeout(() => worker.process.kill('SIGKILL'), options.shutdownTimeoutMs);
            worker.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            if (worker.isConnected()) worker.send({ type: 'cassette:shutdown' } satisfies PrimaryMessage);
            else worker.process.kill('SIGTERM');
          }),
      ),
    );
  };

  try {
    const addresses = await Promise.all(Array.from({ length: count }, fork));
    started = true;
    return {
      address: addresses[0]!,
      pids: [...workers].map((w) => w.process.pid!),
      signal: (signal) => {
        for (const worker of workers) if (!worker.isDead()) worker.process.kill(signal);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
