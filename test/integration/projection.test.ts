import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { Value } from '../../src/generated/cassette/v1/Value.js';
import { parseRegistry } from '../../src/registry/index.js';
import { CassandraStore } from '../../src/store/index.js';
import { startTestServer, ts, type TestServer } from '../helpers/server.js';

const REGISTRY = `
project: projection
entities:
  - { name: user, join_key: user_id, type: int64 }
feature_views:
  - name: wide
    entities: [user]
    features:
      - { name: a, type: int64 }
      - { name: b, type: string }
      - { name: c, type: double_list }
      - { name: d, type: bool }
      - { name: e, type: bytes }
feature_services:
  - name: bd
    features: [wide:d, wide:b]
`;

const int64 = (v: string): Value => ({ int64_val: v });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A server without a cache reads only the requested features: feature services' subsets are
 * prepared before it serves, other subsets on first use (whole rows serve meanwhile).
 */
describe('reads without a cache select only the requested features', () => {
  let t: TestServer;
  const eventTime = new Date(Date.now() - 30_000);

  beforeAll(async () => {
    t = await startTestServer('projection', REGISTRY, { cache: { enabled: false } });
    await t.write({
      feature_view: 'wide',
      rows: [
        {
          entity_keys: { user_id: int64('1') },
          features: {
            a: int64('-7'),
            b: { string_val: 'bee' },
            c: { double_list_val: { val: [1.5, -2] } },
            d: { bool_val: true },
            e: { bytes_val: Buffer.from([9]) },
          },
          event_timestamp: ts(eventTime),
        },
        // Row 2 has only `b`; the others are null.
        {
          entity_keys: { user_id: int64('2') },
          features: { b: { string_val: 'two' } },
          event_timestamp: ts(eventTime),
        },
      ],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers every subset the same before and after its statement is prepared', async () => {
    const subsets = [['wide:c', 'wide:a'], ['wide:e'], ['wide:a', 'wide:b', 'wide:c', 'wide:d', 'wide:e']];
    for (const features of subsets) {
      const answers = [];
      // The first request of an ad-hoc subset reads whole rows; later ones use its projection.
      for (let i = 0; i < 5; i++) {
        answers.push(
          await t.get({ features: { val: features }, entities: { user_id: { val: ['1', '2', '3'].map(int64) } } }),
        );
        await sleep(50);
      }
      for (const answer of answers) expect(answer).toEqual(answers[0]);
      const names = answers[0]!.metadata!.feature_names!.val;
      expect(names).toEqual(features.map((f) => f.slice('wide:'.length)));
      for (const vector of answers[0]!.results) {
        expect(vector.statuses[2]).toBe('NOT_FOUND');
        expect(Number(vector.event_timestamps[0]!.seconds)).toBe(Math.floor(eventTime.getTime() / 1000));
      }
    }
    const [c, a] = (
      await t.get({ features: { val: subsets[0]! }, entities: { user_id: { val: ['1', '2'].map(int64) } } })
    ).results;
    expect(c!.values[0]!.double_list_val?.val).toEqual([1.5, -2]);
    expect(c!.statuses).toEqual(['PRESENT', 'NULL_VALUE']);
    expect(a!.values[0]!.int64_val).toBe('-7');
  });

  it('serves feature services through their prepared projection', async () => {
    const response = await t.get({ feature_service: 'bd', entities: { user_id: { val: ['2', '1'].map(int64) } } });
    expect(response.metadata!.feature_names!.val).toEqual(['d', 'b']);
    const [d, b] = response.results;
    expect(d!.statuses).toEqual(['NULL_VALUE', 'PRESENT']);
    expect(d!.values[1]!.bool_val).toBe(true);
    expect(b!.values.map((v) => v.string_val)).toEqual(['two', 'bee']);
  });

  it('prepares service subsets up front and ad-hoc subsets in the background', async () => {
    const registry = parseRegistry(REGISTRY, 'projection.yaml');
    const view = registry.featureViews.get('wide')!;
    const store = new CassandraStore(t.session, t.config.cassandra.keyspace, t.config.cassandra);
    await store.prepare(registry);

    // The service "bd" reads d (3) and b (1).
    const service = store.projection(view, Int32Array.from([1, 3]));
    expect(service?.featureIndexes).toEqual(Int32Array.from([1, 3]));
    // All features: the whole-row statement.
    expect(store.projection(view, Int32Array.from([0, 1, 2, 3, 4]))?.featureIndexes).toHaveLength(5);

    // A new subset is not ready on first sight, and is once its prepare has finished.
    const adHoc = Int32Array.from([0, 4]);
    expect(store.projection(view, adHoc)).toBeUndefined();
    const statement = await vi.waitFor(
      () => {
        const ready = store.projection(view, adHoc);
        expect(ready).toBeDefined();
        return ready;
      },
      { timeout: 30_000, interval: 20 },
    );
    expect(statement?.cql).toMatch(/^SELECT "a" AS v0, WRITETIME\("a"\) AS w0, "e" AS v4, WRITETIME\("e"\) AS w4 FROM/);

    const key = [(await import('cassandra-driver')).default.types.Long.fromInt(1)];
    const projected = await store.read(view, key, 2000, statement);
    expect(projected!.values[0]!.toString()).toBe('-7');
    expect(projected!.values[4]).toEqual(Buffer.from([9]));
    // Features outside the projection are not read at all.
    expect(projected!.values[1]).toBeUndefined();
    const whole = await store.read(view, key, 2000);
    expect(whole!.values[1]).toBe('bee');
    expect(whole!.writeTimesMicros[4]).toBe(projected!.writeTimesMicros[4]);
  });
});
