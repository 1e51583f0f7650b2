import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scrape } from '../helpers/metrics.js';
import { grpcError, startTestServer, type TestServer } from '../helpers/server.js';

const REGISTRY = `
project: metrics
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: profile
    entities: [user]
    features: [{ name: age, type: int32 }, { name: country, type: string }]
`;

const users = (...ids: number[]) => ({ user_id: { val: ids.map((id) => ({ int64_val: String(id) })) } });
const lookup = (...ids: number[]) => ({
  features: { val: ['profile:age', 'profile:country'] },
  entities: users(...ids),
});

/** GET /metrics on a real server after real calls, as Prometheus would scrape it. */
describe('the metrics endpoint', () => {
  let t: TestServer;
  let metricsUrl: string;

  beforeAll(async () => {
    t = await startTestServer('metrics', REGISTRY);
    expect(t.server.metricsAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    metricsUrl = `http://${t.server.metricsAddress}/metrics`;
    const row = (id: number, age: number) => ({
      entity_keys: { user_id: { int64_val: String(id) } },
      features: { age: { int32_val: age }, country: { string_val: 'NZ' } },
    });
    await t.write({ feature_view: 'profile', rows: [row(1, 30), row(2, 40), row(3, 50)] });
    // Refused as invalid: both of its rows count as rejected.
    await grpcError(
      t.write({
        feature_view: 'profile',
        rows: [row(4, 1), { entity_keys: { user_id: { string_val: 'x' } }, features: { age: { int32_val: 1 } } }],
      }),
    );
    // Five lookups of three users: the first reads Cassandra, the others are cache hits.
    for (let i = 0; i < 5; i++) await t.get(lookup(1, 2, 3));
    const unknown = await grpcError(t.get({ features: { val: ['profile:nope'] }, entities: users(1) }));
    expect(unknown.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers GET /metrics in the Prometheus text format, and nothing else', async () => {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toMatch(/^# HELP /m);
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(405);
  });

  it('counts the calls by method and status code, and the shape of each lookup', async () => {
    const values = await scrape(metricsUrl);
    const count = (method: string, code: string) => {
      const service = method === 'GetOnlineFeatures' ? 'FeatureServing' : 'FeatureIngestion';
      return values.get(
        `cassette_request_duration_seconds_count{service="cassette.v1.${service}",method="${method}",code="${code}"}`,
      );
    };
    expect(count('GetOnlineFeatures', 'OK')).toBe(5);
    expect(count('GetOnlineFeatures', 'INVALID_ARGUMENT')).toBe(1);
    expect(count('WriteFeatures', 'OK')).toBe(1);
    expect(count('WriteFeatures', 'INVALID_ARGUMENT')).toBe(1);
    expect(
      values.get(
        'cassette_request_duration_seconds_bucket{service="cassette.v1.FeatureServing",method="GetOnlineFeatures",code="OK",le="+Inf"}',
      ),
    ).toBe(5);
    // Only planned lookups have a shape: the five that succeeded.
    expect(values.get('cassette_request_entity_rows_count')).toBe(5);
    expect(values.get('cassette_request_entity_rows_sum')).toBe(15);
    expect(values.get('cassette_request_features_sum')).toBe(10);
  });

  it('reports the cache, the Cassandra reads and writes, and the rows written', async () => {
    const values = await scrape(metricsUrl);
    expect(values.get('cassette_cache_misses_total')).toBe(3);
    expect(values.get('cassette_cache_hits_total')).toBe(12);
    expect(values.get('cassette_cache_entries')).toBe(3);
    expect(values.get('cassette_cache_bytes')).toBeGreaterThan(0);
    expect(values.get('cassette_cassandra_read_duration_seconds_count{view="profile",outcome="ok"}')).toBe(3);
    expect(values.get('cassette_cassandra_read_duration_seconds_count{view="profile",outcome="error"}')).toBe(0);
    // Three rows of three entities: three writes (no two rows share a partition).
    expect(values.get('cassette_cassandra_write_duration_seconds_count{view="profile",outcome="ok"}')).toBe(3);
    expect(values.get('cassette_ingest_rows_written_total')).toBe(3);
    expect(values.get('cassette_ingest_rows_rejected_total')).toBe(2);
    expect(values.get('cassette_ingest_rows_read_total')).toBe(5);
  });

  it('reports the registry, admission, Cassandra connections and the process', async () => {
    const values = await scrape(metricsUrl);
    expect(values.get('cassette_registry_version')).toBeGreaterThanOrEqual(1);
    expect(values.get('cassette_registry_reload_failures_total')).toBe(0);
    expect(values.get('cassette_admission_admitted_total{gate="reads"}')).toBe(1);
    expect(values.get('cassette_admission_admitted_total{gate="writes"}')).toBe(1);
    expect(values.get('cassette_admission_shed_total{gate="reads",reason="overloaded"}')).toBe(0);
    expect(values.get('cassette_cassandra_available')).toBe(1);
    const connections = [...values].filter(([name]) => name.startsWith('cassette_cassandra_connections{host='));
    expect(connections.length).toBeGreaterThan(0);
    expect(connections.every(([, open]) => open > 0)).toBe(true);
    expect(values.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(values.get('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('reports cache coherence: the polls, what this server logged, and nothing dropped for its own writes', async () => {
    const values = await scrape(metricsUrl);
    expect(values.get('cassette_coherence_polls_total{outcome="ok"}')).toBeGreaterThan(0);
    expect(values.get('cassette_coherence_queries_total')).toBeGreaterThan(0);
    expect(values.get('cassette_coherence_log_entries_total')).toBe(3);
    expect(values.get('cassette_coherence_log_failures_total')).toBe(0);
    // Its own write dropped the rows locally before it was acknowledged; the log entry is not applied again.
    expect(values.get('cassette_coherence_entries_applied_total')).toBe(0);
    expect(values.get('cassette_coherence_behind')).toBe(0);
    expect(values.get('cassette_coherence_invalidation_lag_seconds_count')).toBe(0);
  });
});
