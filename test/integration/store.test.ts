import { status } from '@grpc/grpc-js';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { GetOnlineFeaturesRequest__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import { parseRegistry } from '../../src/registry/index.js';
import { CassandraStore, connectSession, sessionCounters } from '../../src/store/index.js';
import { prepareStatement } from '../../src/store/prepare.js';
import { applyYaml, silentLogger, testConfig, uniqueKeyspace } from '../helpers/cluster.js';
import { grpcError, startTestServer, ts, type TestServer } from '../helpers/server.js';

const REGISTRY = `
project: store
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: session, join_key: session_id, type: string }
feature_views:
  - name: profile
    entities: [user]
    features:
      - { name: a, type: int32 }
      - { name: b, type: string }
  - name: short_lived
    entities: [user]
    ttl: 2s
    features:
      - { name: n, type: int32 }
  - name: by_session
    entities: [session]
    features:
      - { name: n, type: int32 }
  - name: pair
    entities: [user, session]
    features:
      - { name: n, type: int32 }
  - name: history
    entities: [user]
    features:
      - { name: n, type: int32 }
      - { name: s, type: string }
      - { name: l, type: int32_list }
`;

const { Long } = cassandra.types;
const user = (id: string) => ({ user_id: { int64_val: id } });
const users = (...ids: string[]) => ({ user_id: { val: ids.map((id) => ({ int64_val: id })) } });

type StoreCall = (this: CassandraStore, ...args: unknown[]) => Promise<unknown>;

/**
 * Holds the calls of an CassandraStore method (those `held` picks) until `release()`, so a test
 * decides when the store answers rather than depending on how fast it does. `hold()` closes the
 * gate again; `running` counts the calls not yet ended, held or not.
 */
function gateStore(method: 'read' | 'write', held: (args: unknown[]) => boolean = () => true) {
  const prototype = CassandraStore.prototype as unknown as Record<typeof method, StoreCall>;
  const original = prototype[method];
  let gate!: Promise<void>;
  let open!: () => void;
  const state = {
    running: 0,
    release: () => open(),
    hold: () => {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
  };
  state.hold();
  const spy = vi.spyOn(prototype, method).mockImplementation(async function (this: CassandraStore, ...args: unknown[]) {
    state.running++;
    try {
      if (held(args)) await gate;
      return await original.apply(this, args);
    } finally {
      state.running--;
    }
  });
  return Object.assign(state, { spy });
}

describe('store behaviour against a real Cassandra', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer('store', REGISTRY, {
      // No grace (below): values past the ttl are expired by Cassandra at once.
      // One read (and write) at a time makes a large batch take long enough to outlast a
      // short deadline.
      serving: { maxConcurrentReads: 1 },
      ingest: { expiryGraceSeconds: 0, writeConcurrency: 1 },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('prepares statements through the driver before they are first executed', async () => {
    const query = `SELECT a FROM "${t.config.cassandra.keyspace}".profile WHERE user_id = ?`;
    await prepareStatement(t.session, query);
    const metadata = t.session.metadata as unknown as {
      getPreparedInfo(ks: string | null, q: string): { queryId?: Buffer };
    };
    expect(Buffer.isBuffer(metadata.getPreparedInfo(null, query).queryId)).toBe(true);
  });

  it('writes a batch of one partition as if row by row: per-row timestamps, unset and empty values', async () => {
    const store = new CassandraStore(t.session, t.config.cassandra.keyspace, t.config.cassandra);
    const registry = parseRegistry(REGISTRY);
    await store.prepare(registry);
    const view = registry.featureViews.get('history')!;
    const key = [Long.fromNumber(42)];
    const at = (micros: number) => Long.fromNumber(1_700_000_000_000_000 + micros);
    await store.writePartitionBatch(
      view,
      [
        { key, features: [1, 'first', [1, 2]], eventTimeMicros: at(10), ttlSeconds: 0 },
        // Newer, but leaves `s` alone (unset) and empties the list.
        { key, features: [2, undefined, []], eventTimeMicros: at(20), ttlSeconds: 0 },
        // Older than both, arriving last: it changes nothing.
        { key, features: [0, 'stale', [9]], eventTimeMicros: at(5), ttlSeconds: 0 },
      ],
      5000,
    );
    const row = await store.read(view, key, 5000);
    expect(row?.values).toEqual([2, 'first', []]);
    expect([...row!.writeTimesMicros]).toEqual([at(20), at(10), at(20)].map((l) => l.toNumber()));
  });

  it('orders writes sent without an event time as they arrived, even within one millisecond', async () => {
    for (let i = 0; i < 40; i++) {
      await t.write({
        feature_view: 'profile',
        rows: [{ entity_keys: user('1'), features: { a: { int32_val: 100 - i } } }],
      });
      await t.write({ feature_view: 'profile', rows: [{ entity_keys: user('1'), features: { a: { int32_val: i } } }] });
      const response = await t.get({ features: { val: ['profile:a'] }, entities: users('1') });
      expect(response.results[0]!.values[0]!.int32_val).toBe(i);
    }
    // Rows of one request for the same entity: the last one wins.
    await t.write({
      feature_view: 'profile',
      rows: [
        { entity_keys: user('2'), features: { a: { int32_val: 9 } } },
        { entity_keys: user('2'), features: { a: { int32_val: 1 } } },
      ],
    });
    const response = await t.get({ features: { val: ['profile:a'] }, entities: users('2') });
    expect(response.results[0]!.values[0]!.int32_val).toBe(1);
  });

  it('expires values past the ttl physically', async () => {
    await t.write({
      feature_view: 'short_lived',
      rows: [{ entity_keys: user('5'), features: { n: { int32_val: 1 } } }],
    });
    const fresh = await t.get({ features: { val: ['short_lived:n'] }, entities: users('5') });
    expect(fresh.results[0]!.statuses).toEqual(['PRESENT']);
    // Cassandra drops the row once its 2 s ttl has passed: wait for that, however long it takes.
    await vi.waitFor(
      async () => {
        const rows = await t.session.execute(
          `SELECT n FROM "${t.config.cassandra.keyspace}".short_lived WHERE user_id = 5`,
        );
        expect(rows.rowLength).toBe(0);
      },
      { timeout: 30_000, interval: 200 },
    );
    t.server.core.cache.clear();
    const gone = await t.get({ features: { val: ['short_lived:n'] }, entities: users('5') });
    expect(gone.results[0]!.statuses).toEqual(['NOT_FOUND']);
  });

  it('does not store a row whose event is already past ttl and grace', async () => {
    const written = await t.write({
      feature_view: 'short_lived',
      rows: [{ entity_keys: user('6'), features: { n: { int32_val: 1 } }, event_timestamp: ts(Date.now() - 60_000) }],
    });
    expect(written).toMatchObject({ rows_written: '0', rows_expired: '1' });
  });

  it('answers NOT_FOUND for an empty key and refuses to write one', async () => {
    const response = await t.get({
      features: { val: ['by_session:n'] },
      entities: { session_id: { val: [{ string_val: '' }, { string_val: 'x' }] } },
    });
    expect(response.results[0]!.statuses).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    const error = await grpcError(
      t.write({
        feature_view: 'by_session',
        rows: [{ entity_keys: { session_id: { string_val: '' } }, features: { n: { int32_val: 1 } } }],
      }),
    );
    expect(error.details).toMatch(/rows\[0\]\.entity_keys\["session_id"\]: an entity key cannot be empty/);
  });

  it('refuses keys longer than Cassandra allows with INVALID_ARGUMENT', async () => {
    const error = await grpcError(
      t.get({
        features: { val: ['by_session:n'] },
        entities: { session_id: { val: [{ string_val: 'x'.repeat(70_000) }] } },
      }),
    );
    expect(error.details).toMatch(/entities\["session_id"\]\[0\]: an entity key may be at most 65535 bytes/);
  });

  it('ends a read at its deadline with DEADLINE_EXCEEDED, not UNAVAILABLE, and leaves nothing unhandled', async () => {
    const request: GetOnlineFeaturesRequest__Output = {
      kind: 'features',
      features: { val: ['profile:a'] },
      entities: {
        user_id: {
          val: Array.from({ length: 1000 }, (_, i) => ({ val: 'int64_val' as const, int64_val: String(10_000 + i) })),
        },
      },
      full_feature_names: false,
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    // The store's reads are held until the call has answered, so none can finish before the
    // deadline however fast the machine is.
    const reads = gateStore('read');
    process.on('unhandledRejection', onUnhandled);
    try {
      t.server.core.cache.clear();
      const outcome = await t.server.core.reader
        .getOnlineFeatures(request, { deadline: Date.now() + 200, isCancelled: () => false })
        .then(
          () => 'ok',
          (error: { status?: string }) => error.status,
        );
      expect(outcome).toBe('DEADLINE_EXCEEDED');
      // It answered at its deadline, not when the reads already running finished: none has.
      expect(reads.running).toBe(reads.spy.mock.calls.length);
      reads.release();
      // Let the reads already running settle: none may surface as an unhandled rejection.
      await vi.waitFor(() => expect(reads.running).toBe(0), { timeout: 30_000 });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      reads.release();
      reads.spy.mockRestore();
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('refuses a composite key longer than Cassandra allows', async () => {
    const error = await grpcError(
      t.get({
        features: { val: ['pair:n'] },
        entities: { user_id: { val: [{ int64_val: '1' }] }, session_id: { val: [{ string_val: 'x'.repeat(65_530) }] } },
      }),
    );
    expect(error.details).toMatch(
      /entities: the key of row 0 for feature view "pair" is 65544 bytes; Cassandra allows 65535/,
    );
  });

  it('leaves no stale cache entry for rows written by a request that ended at its deadline', async () => {
    await t.write({
      feature_view: 'profile',
      rows: [{ entity_keys: user('3000'), features: { a: { int32_val: 1 } } }],
    });
    const readA = async () =>
      (await t.get({ features: { val: ['profile:a'] }, entities: users('3000') })).results[0]!.values[0]!.int32_val;
    expect(await readA()).toBe(1); // now cached
    const stored = async () =>
      (await t.session.execute(`SELECT a FROM "${t.config.cassandra.keyspace}".profile WHERE user_id = 3000`))
        .first()
        ?.get('a') as number;
    const rows = [
      { entity_keys: user('3000'), features: { a: { int32_val: 2 } } },
      ...Array.from({ length: 9000 }, (_, i) => ({
        entity_keys: user(String(4000 + i)),
        features: { a: { int32_val: i } },
      })),
    ];
    // Written one at a time, 9,001 rows outlast the deadline, while the first one is written
    // early: the writes of the other rows are held until the request has ended, so this holds
    // however fast the machine is. On a busy machine the request may arrive with its deadline
    // already spent and write nothing, so allow a few tries for the first row to reach Cassandra.
    const writes = gateStore('write', ([, key]) => String((key as unknown[])[0]) !== '3000');
    const outcomes: string[] = [];
    try {
      for (const deadlineMs of [1_000, 3_000, 10_000]) {
        writes.hold();
        const error = await grpcError(t.write({ feature_view: 'profile', rows }, deadlineMs));
        outcomes.push(status[error.code]);
        writes.release();
        // The first row's write may end after the request did: wait for every write it started.
        await vi.waitFor(() => expect(writes.running).toBe(0), { timeout: 30_000 });
        if ((await stored()) === 2) break;
      }
    } finally {
      writes.release();
      writes.spy.mockRestore();
    }
    expect(outcomes.every((code) => code === 'DEADLINE_EXCEEDED')).toBe(true);
    expect(await stored()).toBe(2);
    // The server must not keep serving the value it cached before the write.
    await vi.waitFor(async () => expect(await readA()).toBe(2), { timeout: 5_000, interval: 50 });
  });

  it('never serves a row read under an older registry with the new feature positions', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => String(1000 + i));
    await t.write({
      feature_view: 'profile',
      rows: ids.map((id) => ({
        entity_keys: user(id),
        features: { a: { int32_val: Number(id) }, b: { string_val: `s${id}` } },
      })),
    });
    t.server.core.cache.clear();
    // v2 drops `a`, so `b` moves to position 0. It is applied, but this server still serves v1.
    await applyYaml(t.session, t.config, REGISTRY.replace('      - { name: a, type: int32 }\n', ''));
    // Hold the store's reads until v2 has been picked up: the v1 request below then does all
    // its reading (and caching) after the switch.
    const reads = gateStore('read');
    try {
      const v1Read = t.get({ features: { val: ['profile:a', 'profile:b'] }, entities: users(...ids) });
      await vi.waitFor(() => expect(reads.spy).toHaveBeenCalled());
      await t.server.core.registry.refresh();
      reads.release();
      const v1 = await v1Read;
      expect(v1.results[1]!.values.map((v) => v.string_val)).toEqual(ids.map((id) => `s${id}`));
    } finally {
      reads.spy.mockRestore();
    }
    const response = await t.get({ features: { val: ['profile:b'] }, entities: users(...ids) });
    expect(response.results[0]!.values.map((v) => v.string_val)).toEqual(ids.map((id) => `s${id}`));
  });
});

describe('a session on a single-node cluster', () => {
  it('hedges nothing, however slow its requests: there is no other host to hedge on', async () => {
    // A 1 ms hedge delay: most requests are slower than that, and each used to count a hedge
    // (and spend the failover budget) although the driver then found no host to send it to.
    const config = testConfig(uniqueKeyspace('hedge'), { cassandra: { speculativeDelayMs: 1 } });
    const session = await connectSession(config.cassandra, silentLogger);
    try {
      const reads = Array.from({ length: 40 }, () =>
        session.execute('SELECT release_version FROM system.local', [], { prepare: true, isIdempotent: true }),
      );
      expect((await Promise.all(reads)).every((result) => result.rows.length === 1)).toBe(true);
      expect(session.hosts.length).toBe(1);
      expect(sessionCounters(session).speculativeExecutions).toBe(0);
    } finally {
      await session.shutdown();
    }
  });
});
