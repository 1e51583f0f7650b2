import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import {
  RequestMetrics,
  StoreMetrics,
  watchAdmission,
  watchAvailability,
  watchBuild,
  watchCache,
  watchRegistry,
} from '../../../src/observability/catalogue.js';
import { MetricsRegistry } from '../../../src/observability/metrics.js';
import { parseExposition } from '../../helpers/metrics.js';

/** Every Cassette metric that needs no Cassandra session, over fake sources. */
function catalogue(): { metrics: MetricsRegistry; requests: RequestMetrics; store: StoreMetrics } {
  const metrics = new MetricsRegistry({ processDefaults: false });
  const requests = new RequestMetrics(metrics);
  const store = new StoreMetrics(metrics);
  watchCache(metrics, () => ({ hits: 7, misses: 3, coalesced: 1, evictions: 2, entries: 5, bytes: 1024 }));
  const gate = {
    counters: { admitted: 4, queued: 1, shed: 5, shedUndecoded: 3, shedAfterWaiting: 1, late: 1 },
    inFlight: 3,
    queued: 0,
  };
  watchAdmission(metrics, { reads: gate, writes: gate });
  watchRegistry(metrics, { current: { version: 9 }, failedRefreshes: 1 });
  watchAvailability(metrics, () => true);
  watchBuild(metrics, '1.2.3');
  return { metrics, requests, store };
}

describe('metric names', () => {
  it('follow the Prometheus conventions: cassette_ prefix, base units, _total only on counters', async () => {
    const { metrics } = catalogue();
    const exported = await metrics.registry.getMetricsAsJSON();
    expect(exported.length).toBeGreaterThan(20);
    for (const metric of exported) {
      expect(metric.name).toMatch(/^cassette_[a-z][a-z0-9_]*[a-z0-9]$/);
      expect(metric.help.length).toBeGreaterThan(10);
      const type = metric.type as unknown as string;
      if (type === 'counter') expect(metric.name).toMatch(/_total$/);
      else expect(metric.name).not.toMatch(/_total$/);
      // Times in seconds and sizes in bytes, never milliseconds or kilobytes.
      expect(metric.name).not.toMatch(/_(ms|milliseconds|micros|kb|mb|kib|mib)(_|$)/);
      if (/duration|latency/.test(metric.name)) expect(metric.name).toMatch(/_seconds$/);
    }
  });

  it('include the process defaults (event-loop lag, GC, memory) under their usual names', () => {
    const names = new MetricsRegistry().names();
    expect(names).toEqual(
      expect.arrayContaining([
        'nodejs_eventloop_lag_seconds',
        'nodejs_gc_duration_seconds',
        'nodejs_heap_size_used_bytes',
        'process_resident_memory_bytes',
        'process_cpu_seconds_total',
      ]),
    );
  });

  it('refuse a second metric of the same name', () => {
    const metrics = new MetricsRegistry({ processDefaults: false });
    new RequestMetrics(metrics);
    expect(() => new RequestMetrics(metrics)).toThrow(/already been registered/);
  });
});

describe('recorded values', () => {
  it('a histogram child keeps cumulative buckets, sum and count per label set', async () => {
    const { metrics, requests } = catalogue();
    const get = requests.method('cassette.v1.FeatureServing', 'GetOnlineFeatures');
    get.observe(0, 0.0004);
    get.observe(0, 0.003);
    get.observe(0, 7);
    get.observe(3, 0.001);
    const values = parseExposition(await metrics.render());
    const ok = 'service="cassette.v1.FeatureServing",method="GetOnlineFeatures",code="OK"';
    expect(values.get(`cassette_request_duration_seconds_bucket{${ok},le="0.0005"}`)).toBe(1);
    expect(values.get(`cassette_request_duration_seconds_bucket{${ok},le="0.005"}`)).toBe(2);
    expect(values.get(`cassette_request_duration_seconds_bucket{${ok},le="5"}`)).toBe(2);
    expect(values.get(`cassette_request_duration_seconds_bucket{${ok},le="+Inf"}`)).toBe(3);
    expect(values.get(`cassette_request_duration_seconds_count{${ok}}`)).toBe(3);
    expect(values.get(`cassette_request_duration_seconds_sum{${ok}}`)).toBeCloseTo(7.0034, 6);
    const invalid = 'service="cassette.v1.FeatureServing",method="GetOnlineFeatures",code="INVALID_ARGUMENT"';
    expect(values.get(`cassette_request_duration_seconds_count{${invalid}}`)).toBe(1);
    // A value exactly on a bound falls in that bucket (le means "less than or equal").
    expect(values.get(`cassette_request_duration_seconds_bucket{${invalid},le="0.001"}`)).toBe(1);
  });

  it('resolves a label set once: the same child each time', () => {
    const { store } = catalogue();
    expect(store.view('users')).toBe(store.view('users'));
    expect(store.view('users').read[0]).not.toBe(store.view('items').read[0]);
  });

  it('reads scraped values at each scrape', async () => {
    const { metrics } = catalogue();
    const values = parseExposition(await metrics.render());
    expect(values.get('cassette_cache_hits_total')).toBe(7);
    expect(values.get('cassette_cache_evictions_total')).toBe(2);
    expect(values.get('cassette_cache_bytes')).toBe(1024);
    expect(values.get('cassette_admission_shed_total{gate="reads",reason="overloaded"}')).toBe(5);
    expect(values.get('cassette_admission_overloaded_total{gate="reads",when="at_once"}')).toBe(1);
    expect(values.get('cassette_admission_overloaded_total{gate="reads",when="before_decoding"}')).toBe(3);
    expect(values.get('cassette_admission_overloaded_total{gate="writes",when="after_waiting"}')).toBe(1);
    expect(values.get('cassette_admission_shed_total{gate="writes",reason="deadline"}')).toBe(1);
    expect(values.get('cassette_registry_version')).toBe(9);
    expect(values.get('cassette_registry_reload_failures_total')).toBe(1);
    expect(values.get('cassette_cassandra_available')).toBe(1);
    expect(values.get(`cassette_build_info{version="1.2.3",node="${process.version}"}`)).toBe(1);
  });
});

describe('aggregation over workers', () => {
  it('sums counters and histograms per label set and keeps the lowest registry version', async () => {
    const a = catalogue();
    const b = catalogue();
    a.requests.method('cassette.v1.FeatureServing', 'GetOnlineFeatures').observe(0, 0.001);
    b.requests.method('cassette.v1.FeatureServing', 'GetOnlineFeatures').observe(0, 0.001);
    b.requests.method('cassette.v1.FeatureIngestion', 'WriteFeatures').observe(0, 0.01);
    a.store.view('users').read[0]!.observe(0.002);
    const [fromA, fromB] = await Promise.all([
      a.metrics.registry.getMetricsAsJSON(),
      b.metrics.registry.getMetricsAsJSON(),
    ]);
    // The second worker still serves an older registry.
    const version = fromB.find((m) => m.name === 'cassette_registry_version')!;
    (version.values[0] as { value: number }).value = 8;
    const values = parseExposition(await AggregatorRegistry.aggregate([fromA, fromB]).metrics());
    expect(
      values.get(
        'cassette_request_duration_seconds_count{service="cassette.v1.FeatureServing",method="GetOnlineFeatures",code="OK"}',
      ),
    ).toBe(2);
    expect(
      values.get(
        'cassette_request_duration_seconds_count{service="cassette.v1.FeatureIngestion",method="WriteFeatures",code="OK"}',
      ),
    ).toBe(1);
    expect(
      values.get(
        'cassette_request_duration_seconds_bucket{service="cassette.v1.FeatureServing",method="GetOnlineFeatures",code="OK",le="0.001"}',
      ),
    ).toBe(2);
    expect(values.get('cassette_cassandra_read_duration_seconds_count{view="users",outcome="ok"}')).toBe(1);
    expect(values.get('cassette_cache_hits_total')).toBe(14);
    expect(values.get('cassette_registry_version')).toBe(8);
  });
});
