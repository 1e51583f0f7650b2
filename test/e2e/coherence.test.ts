import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  call,
  connectClients,
  ConsistentSession,
  deadlineIn,
  errorCodeOf,
  type CassetteClients,
} from '../../src/client/index.js';
import { coherenceTableStatements, INVALIDATION_LOG_TABLE } from '../../src/coherence/index.js';
import type { Config, ConfigInput } from '../../src/config/index.js';
import type { GetOnlineFeaturesRequest } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { GetOnlineFeaturesResponse__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { WriteFeaturesResponse__Output } from '../../src/generated/cassette/v1/WriteFeaturesResponse.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { CassandraClient } from '../../src/store/index.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import {
  applyYaml,
  connectTestSession,
  dropKeyspace,
  silentLogger,
  testConfig,
  uniqueKeyspace,
} from '../helpers/cluster.js';

/**
 * Cache coherence across replicas, end to end: three Cassette servers (in this process, each with
 * its own Cassandra session and cache) on the shared test Cassandra, and the real `cassette ingest`.
 *
 * "A read older than the bound": a read that started more than maxStalenessMs after some write
 * to its entity was acknowledged (the writer got its response), and returned a value older than
 * that write. Reads and writes are timed on this process's clock.
 *
 * READS: how many reads the mixed workload makes (10,000 here; COHERENCE_READS=100000 for the
 * issue's figure, see README, Consistency).
 */
const READS = Number(process.env.COHERENCE_READS ?? 10_000);
const MAX_STALENESS_MS = 1000;
const ENTITIES = 40;

const REGISTRY = `
project: coherence
entities: [{ name: item, join_key: item_id, type: int64 }]
feature_views:
  - name: counter
    entities: [item]
    features:
      - { name: seq, type: int64 }
`;

interface Replica {
  readonly server: RunningServer;
  readonly session: CassandraClient;
  readonly clients: CassetteClients;
}

const int64 = (n: number) => ({ val: 'int64_val' as const, int64_val: String(n) });

function readRequest(ids: number[], extra: Partial<GetOnlineFeaturesRequest> = {}): GetOnlineFeaturesRequest {
  return {
    features: { val: ['counter:seq'] },
    entities: { item_id: { val: ids.map(int64) } },
    ...extra,
  };
}

function seqsOf(response: GetOnlineFeaturesResponse__Output): number[] {
  return response.results[0]!.values.map((v) => Number(v.int64_val ?? -1));
}

async function startReplicas(config: Config, count: number): Promise<Replica[]> {
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) {
    const session = await connectTestSession(config);
    const server = await startServer(config, silentLogger, { client: session });
    replicas.push({ server, session, clients: connectClients(server.address) });
  }
  return replicas;
}

async function stopReplicas(replicas: readonly Replica[]): Promise<void> {
  for (const { server, session, clients } of replicas) {
    clients.close();
    await server.close();
    await session.shutdown();
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

function write(replica: Replica, id: number, seq: number): Promise<WriteFeaturesResponse__Output> {
  return call((cb) =>
    replica.clients.ingestion.WriteFeatures(
      { feature_view: 'counter', rows: [{ entity_keys: { item_id: int64(id) }, features: { seq: int64(seq) } }] },
      deadlineIn(10_000),
      cb,
    ),
  );
}

function read(replica: Replica, ids: number[], extra: Partial<GetOnlineFeaturesRequest> = {}) {
  return call<GetOnlineFeaturesResponse__Output>((cb) =>
    replica.clients.serving.GetOnlineFeatures(readRequest(ids, extra), deadlineIn(10_000), cb),
  );
}

/** A load balancer in front of the replicas: each call goes to a random one. */
function anyReplica(replicas: readonly Replica[]): Pick<CassetteClients, 'serving' | 'ingestion'> {
  return {
    serving: {
      GetOnlineFeatures: (...args: unknown[]) =>
        (pick(replicas).clients.serving.GetOnlineFeatures as (...a: unknown[]) => unknown)(...args),
    } as unknown as CassetteClients['serving'],
    ingestion: {
      WriteFeatures: (...args: unknown[]) =>
        (pick(replicas).clients.ingestion.WriteFeatures as (...a: unknown[]) => unknown)(...args),
    } as unknown as CassetteClients['ingestion'],
  };
}

interface MixResult {
  reads: number;
  /** Reads older than the bound (must be 0 with coherence on). */
  violations: number;
  /** Reads that missed a write acknowledged before they started, within the bound (allowed). */
  staleWithinBound: number;
  /** The largest gap between a missed write's acknowledgement and the read's start, ms. */
  maxStalenessSeenMs: number;
  /** Reads through a session with its consistency token, and those older than its own last write. */
  tokenReads: number;
  tokenViolations: number;
  writes: number;
  elapsedMs: number;
}

/**
 * Writes through random replicas (each entity written by one writer at a time, so its values
 * come in order) and reads through random replicas until `reads` reads and `minDurationMs` have
 * passed; then checks every read against the writes acknowledged before it started.
 */
async function runMix(
  replicas: readonly Replica[],
  options: { reads: number; minDurationMs: number; firstSeq: number },
): Promise<MixResult> {
  const writers = 3;
  const readers = 6;
  const history: { seq: number; ackMs: number }[][] = Array.from({ length: ENTITIES }, () => []);
  const observed: { id: number; startMs: number; seq: number }[] = [];
  let nextSeq = options.firstSeq;
  // Every entity has a value, and every replica has it cached.
  for (let id = 0; id < ENTITIES; id++) {
    const seq = nextSeq++;
    await write(replicas[0]!, id, seq);
    history[id]!.push({ seq, ackMs: Date.now() });
  }
  const all = Array.from({ length: ENTITIES }, (_, i) => i);
  for (const replica of replicas) await read(replica, all);

  const started = Date.now();
  const done = () => observed.length >= options.reads && Date.now() - started >= options.minDurationMs;
  let tokenReads = 0;
  let tokenViolations = 0;
  let writes = 0;
  const writer = async (w: number): Promise<void> => {
    const session = new ConsistentSession(anyReplica(replicas));
    const owned = all.filter((id) => id % writers === w);
    while (!done()) {
      const id = pick(owned);
      const seq = nextSeq++;
      await session.writeFeatures(
        { feature_view: 'counter', rows: [{ entity_keys: { item_id: int64(id) }, features: { seq: int64(seq) } }] },
        deadlineIn(10_000),
      );
      history[id]!.push({ seq, ackMs: Date.now() });
      writes++;
      // Read-your-writes through any replica: the session sends its token.
      const [got] = seqsOf(await session.getOnlineFeatures(readRequest([id]), deadlineIn(10_000)));
      tokenReads++;
      if (got! < seq) tokenViolations++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const reader = async (): Promise<void> => {
    while (!done()) {
      const id = pick(all);
      const startMs = Date.now();
      const [seq] = seqsOf(await read(pick(replicas), [id]));
      observed.push({ id, startMs, seq: seq! });
    }
  };
  await Promise.all([
    ...Array.from({ length: writers }, (_, w) => writer(w)),
    ...Array.from({ length: readers }, () => reader()),
  ]);
  const elapsedMs = Date.now() - started;

  let violations = 0;
  let staleWithinBound = 0;
  let maxStalenessSeenMs = 0;
  for (const { id, startMs, seq } of observed) {
    // The writes to this entity acknowledged before the read started, newest last.
    const acked = history[id]!.filter((w) => w.ackMs < startMs);
    const missed = acked.filter((w) => w.seq > seq);
    if (missed.length === 0) continue;
    const gap = startMs - missed[0]!.ackMs;
    if (gap > maxStalenessSeenMs) maxStalenessSeenMs = gap;
    if (gap > MAX_STALENESS_MS) violations++;
    else staleWithinBound++;
  }
  return {
    reads: observed.length,
    violations,
    staleWithinBound,
    maxStalenessSeenMs,
    tokenReads,
    tokenViolations,
    writes,
    elapsedMs,
  };
}

describe('cache coherence across three replicas on one Cassandra', () => {
  let config: Config;
  let admin: CassandraClient;
  const dir = mkdtempSync(join(tmpdir(), 'cassette-coherence-'));

  const configFor = (coherence: ConfigInput['cache']) =>
    testConfig(config.cassandra.keyspace, { cache: { ttlMs: 120_000, ...coherence } });

  beforeAll(async () => {
    config = testConfig(uniqueKeyspace('coherence'));
    admin = await connectTestSession(config);
    await applyYaml(admin, config, REGISTRY);
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dropKeyspace(admin, config.cassandra.keyspace);
    await admin.shutdown();
  });

  it(
    `serves no read older than the bound across ${READS} reads, and every session its own writes`,
    async () => {
      const startedMs = Date.now();
      const replicas = await startReplicas(configFor({ coherence: { maxStalenessMs: MAX_STALENESS_MS } }), 3);
      try {
        const result = await runMix(replicas, { reads: READS, minDurationMs: 3000, firstSeq: 1 });
        const polls = replicas.map((r) => r.server.core.coherence!.stats());
        const seconds = (Date.now() - startedMs) / 1000;
        // The cost of coherence to Cassandra: the queries each replica's polls sent, per second.
        const pollQueriesPerSecond = polls.map((s) => Math.round((s.queries / seconds) * 10) / 10);
        console.info('coherence mix', {
          ...result,
          pollQueriesPerSecond,
          polls: polls.map(({ polls, pollFailures, clock, clockSkewWarnings }) => ({
            polls,
            pollFailures,
            clock,
            clockSkewWarnings,
          })),
          lag: polls.map((s) => s.lag),
        });
        expect(result.reads).toBeGreaterThanOrEqual(READS);
        expect(result.writes).toBeGreaterThan(50);
        expect(result.violations).toBe(0);
        expect(result.tokenReads).toBeGreaterThan(50);
        expect(result.tokenViolations).toBe(0);
        for (const stats of polls) {
          expect(stats.entriesApplied).toBeGreaterThan(0);
          // A poll may fail on a busy machine (the bound still holds: see the last test); few do.
          expect(stats.pollFailures).toBeLessThan(stats.polls / 10);
          // One machine: its clock and Cassandra's agree within the round trip.
          expect(stats.clock).toBeDefined();
          expect(stats.clockSkewWarnings).toBe(0);
        }
      } finally {
        await stopReplicas(replicas);
      }
    },
    Math.max(180_000, READS * 10),
  );

  it('without coherence, the same workload does read older than the bound (the check can fail)', async () => {
    const replicas = await startReplicas(configFor({ coherence: { enabled: false } }), 3);
    try {
      const result = await runMix(replicas, { reads: 2000, minDurationMs: 4000, firstSeq: 10_000_000 });
      expect(replicas[0]!.server.core.coherence).toBeUndefined();
      expect(result.violations).toBeGreaterThan(0);
    } finally {
      await stopReplicas(replicas);
    }
  }, 120_000);

  it('after a direct `cassette ingest` job, every replica serves the new values within the bound', async () => {
    const replicas = await startReplicas(configFor({ coherence: { maxStalenessMs: MAX_STALENESS_MS } }), 3);
    try {
      const all = Array.from({ length: ENTITIES }, (_, i) => i);
      for (const id of all) await write(replicas[0]!, id, 1);
      for (const replica of replicas) expect(seqsOf(await read(replica, all))).toEqual(all.map(() => 1));
      const file = join(dir, 'counter.csv');
      writeFileSync(file, ['item_id,seq', ...all.map((id) => `${id},${20_000_000 + id}`)].join('\n') + '\n');
      const result = await runCli(
        ['ingest', '--view', 'counter', file, '--json', '--no-progress'],
        cliEnv(config.cassandra.keyspace),
      );
      const endedMs = Date.now();
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 'finished', rowsWritten: ENTITIES });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, endedMs + MAX_STALENESS_MS - Date.now())));
      for (const replica of replicas) {
        expect(seqsOf(await read(replica, all))).toEqual(all.map((id) => 20_000_000 + id));
        expect(replica.server.core.coherence!.stats().viewDrops).toBeGreaterThan(0);
      }
    } finally {
      await stopReplicas(replicas);
    }
  }, 120_000);

  it('a replica that cannot read the log serves no cached row older than the bound, then recovers', async () => {
    const replicas = await startReplicas(configFor({ coherence: { maxStalenessMs: MAX_STALENESS_MS } }), 2);
    const [writer, reader] = replicas as [Replica, Replica];
    const keyspace = config.cassandra.keyspace;
    try {
      await write(writer, 1, 100);
      expect(seqsOf(await read(reader, [1]))).toEqual([100]); // cached by the reader
      await admin.execute(`DROP TABLE "${keyspace}"."${INVALIDATION_LOG_TABLE}"`, [], { readTimeout: 60_000 });
      // A write cannot be logged for the other replicas now: it fails (the row is written; a retry is safe).
      const refused = await write(writer, 1, 101).catch((error: unknown) => error);
      expect(errorCodeOf(refused)).toBe('CST_ERR_COHERENCE_LOG');
      // Once the bound has passed without a readable log, the reader does not serve its cached 100.
      await new Promise((resolve) => setTimeout(resolve, MAX_STALENESS_MS + 300));
      const stats = reader.server.core.coherence!.stats();
      expect(stats.behind).toBe(true);
      expect(stats.pollFailures).toBeGreaterThan(0);
      expect(seqsOf(await read(reader, [1]))).toEqual([101]);
      // The cached row was either refused as too old, or dropped with the whole cache.
      expect(stats.wholeCacheDrops + reader.server.core.cache.stats().tooOld).toBeGreaterThan(0);

      for (const statement of coherenceTableStatements(keyspace)) {
        await admin.execute(statement, [], { readTimeout: 60_000 });
      }
      const deadline = Date.now() + 30_000;
      while (reader.server.core.coherence!.stats().behind && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(reader.server.core.coherence!.stats().behind).toBe(false);
      expect(reader.server.core.coherence!.stats().wholeCacheDrops).toBeGreaterThan(0);
      await write(writer, 1, 102);
      await new Promise((resolve) => setTimeout(resolve, MAX_STALENESS_MS + 100));
      expect(seqsOf(await read(reader, [1]))).toEqual([102]);
    } finally {
      await stopReplicas(replicas);
    }
  }, 120_000);
});
