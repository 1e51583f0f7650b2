import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ManagedCluster } from '../../src/cassandra/index.js';
import { call, connectClients, deadlineIn, errorCodeOf, type CassetteClients } from '../../src/client/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { parseRegistry } from '../../src/registry/index.js';
import { applyRegistry } from '../../src/registry/storage.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { connectSession, sessionCounters, type CassandraClient, type StoreCounters } from '../../src/store/index.js';
import type { Value } from '../../src/api/types.js';
import { silentLogger } from '../helpers/cluster.js';

/**
 * Node loss under steady load, on a real 3-node cluster (RF 3, LOCAL_QUORUM reads and writes,
 * cache off) started by this file on its own port: freezing one node (SIGSTOP) and then killing
 * another (SIGKILL) fails no lookup and no write, and every acknowledged write reads back.
 */

const PORT = 9842;
const KEYSPACE = 'node_loss';
/** Callers' deadline: the issue's promise holds for deadlines of 1 s or more. */
const DEADLINE_MS = 1000;
/** The load: a lookup every 200 ms, a write every 100 ms (slowed on a busy machine, see untilSteady). */
const LOOKUP_EVERY_MS = 200;
const WRITE_EVERY_MS = 100;
/** untilSteady slows the load by this factor per unclean round, down to MAX_SLOWDOWN times the rate. */
const SLOWDOWN_STEP = 1.5;
const MAX_SLOWDOWN = 4;
const USERS = 10;
const ITEMS = 10;

const REGISTRY = `
project: node_loss
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: item, join_key: item_id, type: string }
feature_views:
  - name: user_profile
    entities: [user]
    features: [{ name: age, type: int32 }, { name: country, type: string }]
  - name: item_features
    entities: [item]
    features: [{ name: price, type: double }]
  - name: user_item_affinity
    entities: [user, item]
    features: [{ name: affinity, type: float }]
  - name: scores
    entities: [user]
    features: [{ name: score, type: int64 }]
feature_services:
  - name: ranking
    features: [user_profile:age, user_profile:country, item_features:price, user_item_affinity:affinity]
`;

/** 10 users x 10 items: a batch of 100 rows, 120 distinct partitions to read. */
const LOOKUP = {
  feature_service: 'ranking',
  entities: {
    user_id: { val: Array.from({ length: USERS * ITEMS }, (_, i) => ({ int64_val: String(Math.floor(i / ITEMS)) })) },
    item_id: { val: Array.from({ length: USERS * ITEMS }, (_, i) => ({ string_val: `item-${i % ITEMS}` })) },
  },
};

interface Outcome {
  /** Start, ms since the phase began. */
  at: number;
  ms: number;
  /** gRPC error code name, or undefined on success. */
  error: string | undefined;
}

interface PhaseResult {
  lookups: Outcome[];
  writes: Outcome[];
  /** Score id -> value of every acknowledged write. */
  acknowledged: Map<number, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function p99(outcomes: readonly Outcome[]): number {
  const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

function failures(outcomes: readonly Outcome[]): string[] {
  return outcomes.filter((o) => o.error !== undefined).map((o) => `${o.error} at ${o.at} ms`);
}

function counterSnapshot(counters: StoreCounters): StoreCounters {
  return { ...counters };
}

/** How much each counter grew from `before` to `after`. */
function counterGrowth(before: StoreCounters, after: StoreCounters): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof StoreCounters]]));
}

describe('losing a node of three under steady load', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cassette-node-loss-'));
  let cluster: ManagedCluster;
  /** Signals the load loop sends to a node, and any that failed (checked by each test). */
  const signalFailures: unknown[] = [];
  const signalNode = (node: number, signal: 'KILL' | 'STOP' | 'CONT') => (): void => {
    cluster.signal(node, signal).catch((error: unknown) => signalFailures.push(error));
  };
  let config: Config;
  let session: CassandraClient;
  let server: RunningServer;
  let clients: CassetteClients;
  let nextScoreId = 1_000;
  /** How much slower than the rate the load runs (1 = as specified); set by untilSteady. */
  let slowdown = 1;

  /**
   * Steady load for `durationMs`: a lookup every 200 ms and a single-row write every 100 ms (times
   * `slowdown`), each with a 1 s deadline, started on schedule whatever the answers (open loop, bounded).
   * Each fault runs at its time (ms since the start).
   */
  async function steadyLoad(durationMs: number, faults: [atMs: number, run: () => void][]): Promise<PhaseResult> {
    const result: PhaseResult = { lookups: [], writes: [], acknowledged: new Map() };
    const pending: Promise<void>[] = [];
    const started = performance.now();
    const timed = (list: Outcome[], work: () => Promise<unknown>): Promise<void> => {
      const at = performance.now() - started;
      return work().then(
        () => void list.push({ at: Math.round(at), ms: performance.now() - started - at, error: undefined }),
        (error: unknown) =>
          void list.push({
            at: Math.round(at),
            ms: performance.now() - started - at,
            error: `${errorCodeOf(error) ?? ''} ${(error as Error).message}`,
          }),
      );
    };
    let faultsDone = 0;
    const tickMs = WRITE_EVERY_MS * slowdown;
    const ticks = Math.floor(durationMs / tickMs);
    for (let tick = 0; tick < ticks; tick++) {
      const due = tick * tickMs;
      const wait = started + due - performance.now();
      if (wait > 0) await sleep(wait);
      while (faultsDone < faults.length && due >= faults[faultsDone]![0]) faults[faultsDone++]![1]();
      if (tick % (LOOKUP_EVERY_MS / WRITE_EVERY_MS) === 0) {
        pending.push(
          timed(result.lookups, () =>
            call((cb) => clients.serving.GetOnlineFeatures(LOOKUP, deadlineIn(DEADLINE_MS), cb)),
          ),
        );
      }
      const id = nextScoreId++;
      const write = {
        feature_view: 'scores',
        rows: [
          { entity_keys: { user_id: { int64_val: String(id) } }, features: { score: { int64_val: String(id * 7) } } },
        ],
      };
      pending.push(
        timed(result.writes, async () => {
          await call((cb) => clients.ingestion.WriteFeatures(write, deadlineIn(DEADLINE_MS), cb));
          result.acknowledged.set(id, id * 7);
        }),
      );
    }
    await Promise.all(pending);
    return result;
  }

  /**
   * Runs the steady load in short rounds until one round is clean, for two minutes at most: a
   * fault is only injected into a system that serves this load without it, so what a test counts
   * afterwards is what the fault did (a cold or busy start is not). Clean means nothing failed and
   * the lookup p99 left half the deadline spare. A shared 2-core machine may not serve the issue's
   * rate at all: each unclean round slows the load (up to MAX_SLOWDOWN times), as the fault
   * benchmark's calibration does. Throws if no round is clean, with the last round's failures.
   */
  async function untilSteady(): Promise<void> {
    const giveUpAt = Date.now() + 120_000;
    for (;;) {
      const round = await steadyLoad(3_000, []);
      const failed = [...failures(round.lookups), ...failures(round.writes)];
      const roundP99 = p99(round.lookups);
      if (failed.length === 0 && roundP99 <= DEADLINE_MS / 2) return;
      if (Date.now() > giveUpAt) {
        throw new Error(
          `no clean round of steady load (p99 ${Math.round(roundP99)} ms, slowdown ${slowdown}): ${failed.slice(0, 5).join('; ')}`,
        );
      }
      slowdown = Math.min(MAX_SLOWDOWN, slowdown * SLOWDOWN_STEP);
    }
  }

  /** Reads every acknowledged write back at LOCAL_QUORUM; returns the ids that do not match. */
  async function unreadable(acknowledged: ReadonlyMap<number, number>): Promise<number[]> {
    const missing: number[] = [];
    const ids = [...acknowledged.keys()];
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map(async (id) => {
          const result = await session.execute(
            `SELECT score FROM ${KEYSPACE}.scores WHERE user_id = ?`,
            [cassandra.types.Long.fromNumber(id)],
            { prepare: true, consistency: cassandra.types.consistencies.localQuorum, readTimeout: 10_000 },
          );
          const score = (result.first() as { score?: cassandra.types.Long } | null)?.score;
          if (score?.toNumber() !== acknowledged.get(id)) missing.push(id);
        }),
      );
    }
    return missing;
  }

  /** Runs `work` until it succeeds, for two minutes at most. */
  async function eventually<T>(work: () => Promise<T>): Promise<T> {
    const giveUpAt = Date.now() + 120_000;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (Date.now() > giveUpAt) throw error;
        await sleep(1000);
      }
    }
  }

  /** Waits until each node, as coordinator, can reach every replica (a read at consistency ALL). */
  async function everyNodeSeesAllUp(): Promise<void> {
    for (const host of session.hosts.values()) {
      await eventually(() =>
        session.execute(`SELECT score FROM ${KEYSPACE}.scores WHERE user_id = 0`, [], {
          consistency: cassandra.types.consistencies.all,
          host,
          readTimeout: 10_000,
        }),
      );
    }
  }

  beforeAll(async () => {
    cluster = await ManagedCluster.start({
      logger: silentLogger,
      nativePort: PORT,
      nodes: 3,
      dataDir,
      heap: '512m',
      startTimeoutMs: 240_000,
    });
    config = loadConfig({
      env: {},
      overrides: {
        listen: '127.0.0.1:0',
        // The cache would answer from memory; node loss is about the store path.
        cache: { enabled: false },
        cassandra: {
          contactPoints: cluster.contactPoints,
          localDataCenter: cluster.localDataCenter,
          keyspace: KEYSPACE,
          replicationFactor: 3,
          readConsistency: 'localQuorum',
          writeConsistency: 'localQuorum',
        },
        log: { statsIntervalMs: 0 },
      },
    });
    session = await connectSession(config.cassandra, silentLogger);
    // Each node answered CQL, but gossip may not have told every node about the others yet.
    await eventually(() =>
      applyRegistry(
        session,
        { keyspace: KEYSPACE, localDataCenter: config.cassandra.localDataCenter, replicationFactor: 3 },
        parseRegistry(REGISTRY, 'node loss registry'),
        REGISTRY,
        silentLogger,
      ),
    );
    await everyNodeSeesAllUp();
    server = await startServer(config, silentLogger, { client: session });
    clients = connectClients(server.address);
    const rows = (
      view: string,
      keys: (i: number) => Record<string, Value>,
      features: (i: number) => Record<string, Value>,
      n: number,
    ) =>
      call((cb) =>
        clients.ingestion.WriteFeatures(
          {
            feature_view: view,
            rows: Array.from({ length: n }, (_, i) => ({ entity_keys: keys(i), features: features(i) })),
          },
          deadlineIn(30_000),
          cb,
        ),
      );
    await rows(
      'user_profile',
      (i) => ({ user_id: { int64_val: String(i) } }),
      (i) => ({ age: { int32_val: 20 + i }, country: { string_val: 'NL' } }),
      USERS,
    );
    await rows(
      'item_features',
      (i) => ({ item_id: { string_val: `item-${i}` } }),
      (i) => ({ price: { double_val: i + 0.5 } }),
      ITEMS,
    );
    await rows(
      'user_item_affinity',
      (i) => ({ user_id: { int64_val: String(Math.floor(i / ITEMS)) }, item_id: { string_val: `item-${i % ITEMS}` } }),
      (i) => ({ affinity: { float_val: i / 100 } }),
      USERS * ITEMS,
    );
    // Every connection up and every statement warm (a cold cluster may fail some) before the clock starts.
    for (let i = 0; i < 10; i++) {
      await eventually(() => call((cb) => clients.serving.GetOnlineFeatures(LOOKUP, deadlineIn(10_000), cb)));
    }
  }, 900_000);

  afterAll(async () => {
    clients?.close();
    await server?.close();
    await session?.shutdown();
    // A node left frozen would hold stop() for its whole grace period.
    await cluster?.signal(2, 'CONT').catch(() => undefined);
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  it('a frozen node (SIGSTOP) fails no lookup and no write', async () => {
    const frozen = 2;
    await untilSteady();
    const before = counterSnapshot(sessionCounters(session));
    // Frozen 6 s into the load for 12 s, then thawed while the load goes on.
    const result = await steadyLoad(24_000, [
      [6_000, signalNode(frozen, 'STOP')],
      [18_000, signalNode(frozen, 'CONT')],
    ]);
    const after = counterSnapshot(sessionCounters(session));
    const during = result.lookups.filter((o) => o.at >= 6_000 && o.at < 18_000);
    console.info('freeze', {
      slowdown,
      lookups: result.lookups.length,
      writes: result.writes.length,
      p99Before: Math.round(p99(result.lookups.filter((o) => o.at < 6_000))),
      p99Frozen: Math.round(p99(during)),
      p99After: Math.round(p99(result.lookups.filter((o) => o.at >= 18_000))),
      counters: counterGrowth(before, after),
    });
    expect(signalFailures).toEqual([]);
    expect(failures(result.lookups)).toEqual([]);
    expect(failures(result.writes)).toEqual([]);
    expect(await unreadable(result.acknowledged)).toEqual([]);
    // The frozen node was noticed: reads stuck on it were hedged or retried elsewhere.
    const growth = counterGrowth(before, after);
    expect(growth.speculativeExecutions! + growth.retriesAfterTimeout!).toBeGreaterThan(0);
  }, 120_000);

  it('a killed node (SIGKILL) fails no lookup and no write, and every acknowledged write reads back', async () => {
    // The node frozen before is back; wait until the cluster and the driver use all three again.
    await everyNodeSeesAllUp();
    await eventually(async () => expect(session.getState().getConnectedHosts()).toHaveLength(3));
    const killed = 3;
    await untilSteady();
    const before = counterSnapshot(sessionCounters(session));
    const result = await steadyLoad(30_000, [[8_000, signalNode(killed, 'KILL')]]);
    const after = counterSnapshot(sessionCounters(session));
    console.info('kill', {
      slowdown,
      lookups: result.lookups.length,
      writes: result.writes.length,
      acknowledged: result.acknowledged.size,
      p99Before: Math.round(p99(result.lookups.filter((o) => o.at < 8_000))),
      p99After: Math.round(p99(result.lookups.filter((o) => o.at >= 8_000))),
      counters: counterGrowth(before, after),
    });
    expect(signalFailures).toEqual([]);
    expect(failures(result.lookups)).toEqual([]);
    expect(failures(result.writes)).toEqual([]);
    expect(result.acknowledged.size).toBe(result.writes.length);
    expect(await unreadable(result.acknowledged)).toEqual([]);
  }, 120_000);
});
