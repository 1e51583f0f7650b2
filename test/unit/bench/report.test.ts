import { describe, expect, it } from 'vitest';

import { createHistogram, encodeHistogram, percentileCurve, recordMs } from '../../../bench/lib/histogram.js';
import { renderHtml } from '../../../bench/lib/html.js';
import {
  baselineRatios,
  cpuUsPerRequest,
  feastRatios,
  generatorRatios,
  reportSchema,
  scenarioResultSchema,
  variantRatios,
  type ScenarioResult,
} from '../../../bench/lib/report.js';

function entry(overrides: Partial<ScenarioResult>): ScenarioResult {
  const h = createHistogram();
  for (let i = 1; i <= 100; i++) recordMs(h, i / 10);
  return {
    name: 'cassette cold b1 f10',
    group: 'matrix',
    system: 'cassette',
    generator: 'loadgen',
    mode: 'open',
    batch_size: 1,
    features: 10,
    cache: 'off',
    key_distribution: 'uniform',
    concurrency: null,
    target_rps: 100,
    achieved_rps: 99.5,
    max_rps: 200,
    requests: 100,
    p50_ms: 2,
    p90_ms: 4,
    p99_ms: 8,
    p999_ms: 9,
    max_ms: 10,
    mean_ms: 3,
    errors: 0,
    errors_by_code: {},
    cache_hit_ratio: null,
    server_cpu_percent: 50,
    server_cpu_us_per_request: 5025.1,
    max_server_cpu_percent: null,
    max_server_cpu_us_per_request: null,
    cassandra_cpu_percent: 30,
    generator_cpu_percent: 10,
    generator_gc_max_ms: 3,
    generator_gc_ms_per_s: 5,
    machine_cpu_percent: 95,
    send_lag_p99_ms: 1.2,
    window_s: 1,
    verified: 0,
    verify_failures: 0,
    verify_first_failure: null,
    histogram: encodeHistogram(h),
    percentile_curve: percentileCurve(h),
    series: null,
    ...overrides,
  };
}

describe('bench report', () => {
  it('compares each ghz scenario with the same scenario from the grpc-js generator, and against the direct driver', () => {
    const scenarios = [
      entry({ name: 'cassette cold b1 f10', max_rps: 1000, server_cpu_percent: 50, achieved_rps: 500 }),
      entry({
        name: 'cassette cold b1 f10 (ghz)',
        generator: 'ghz',
        max_rps: 3000,
        server_cpu_percent: 60,
        achieved_rps: 1500,
      }),
      entry({ name: 'direct-driver b1 f10', group: 'baseline', system: 'direct-driver', max_rps: 5000 }),
    ];
    expect(generatorRatios(scenarios)).toEqual([
      expect.objectContaining({
        scenario: 'cassette cold b1 f10 (ghz)',
        baseline: 'cassette cold b1 f10',
        throughput_ratio: 3,
        server_cpu_per_request_ratio: 0.4,
      }),
    ]);
    expect(baselineRatios(scenarios).map((r) => [r.scenario, r.throughput_ratio])).toEqual([
      ['cassette cold b1 f10', 0.2],
      ['cassette cold b1 f10 (ghz)', 0.6],
    ]);
  });

  it('gives server CPU per request in µs', () => {
    // 50 % of a core at 500 req/s: 1 ms per request.
    expect(cpuUsPerRequest(50, 500)).toBe(1000);
    expect(cpuUsPerRequest(12.3, 4567)).toBe(26.9);
    expect(cpuUsPerRequest(null, 500)).toBeNull();
    expect(cpuUsPerRequest(50, 0)).toBeNull();
  });

  it("compares Feast's APIs with Cassette's own gRPC API on the same server and keys", () => {
    const scenarios = [
      entry({ name: 'cassette warm b1 f10', cache: 'on', p50_ms: 1, p99_ms: 4, max_rps: 800 }),
      entry({
        name: 'feast-grpc warm b1 f10',
        group: 'feast',
        system: 'feast-grpc',
        cache: 'on',
        p50_ms: 1,
        max_rps: 800,
      }),
      entry({
        name: 'feast-http warm b1 f10',
        group: 'feast',
        system: 'feast-http',
        cache: 'on',
        p50_ms: 2,
        max_rps: 400,
      }),
      // No Cassette scenario to compare with: no ratio.
      entry({ name: 'feast-http cold b100 f50', group: 'feast', system: 'feast-http', batch_size: 100, features: 50 }),
    ];
    expect(feastRatios(scenarios)).toEqual([
      {
        scenario: 'feast-grpc warm b1 f10',
        baseline: 'cassette warm b1 f10',
        p50_ratio: 1,
        p99_ratio: 2,
        throughput_ratio: 1,
        server_cpu_per_request_ratio: 1,
      },
      {
        scenario: 'feast-http warm b1 f10',
        baseline: 'cassette warm b1 f10',
        p50_ratio: 2,
        p99_ratio: 2,
        throughput_ratio: 0.5,
        server_cpu_per_request_ratio: 1,
      },
    ]);
    expect(scenarios.every((s) => scenarioResultSchema.safeParse(s).success)).toBe(true);
  });

  it('computes Cassette ÷ baseline ratios per cell (latency from the open loop, throughput from the maxima)', () => {
    const scenarios = [
      entry({ name: 'cassette warm b1 f10', cache: 'on', p50_ms: 1, p99_ms: 4, max_rps: 800 }),
      entry({}),
      entry({
        name: 'direct-driver b1 f10',
        group: 'baseline',
        system: 'direct-driver',
        server_cpu_percent: null,
        p50_ms: 0.5,
        p99_ms: 2,
        max_rps: 400,
      }),
      entry({
        name: 'connect-per-request b1 f10',
        group: 'baseline',
        system: 'connect-per-request',
        server_cpu_percent: null,
        mode: 'closed',
        concurrency: 1,
        target_rps: null,
        max_rps: null,
        achieved_rps: 10,
        p50_ms: 100,
        p99_ms: 160,
      }),
      entry({ name: 'cassette cold b10 f10', batch_size: 10 }),
    ];
    const ratios = baselineRatios(scenarios);
    expect(ratios).toEqual([
      {
        scenario: 'cassette warm b1 f10',
        baseline: 'direct-driver b1 f10',
        p50_ratio: 2,
        p99_ratio: 2,
        throughput_ratio: 2,
        server_cpu_per_request_ratio: null,
      },
      {
        scenario: 'cassette cold b1 f10',
        baseline: 'direct-driver b1 f10',
        p50_ratio: 4,
        p99_ratio: 4,
        throughput_ratio: 0.5,
        server_cpu_per_request_ratio: null,
      },
      {
        scenario: 'cassette warm b1 f10',
        baseline: 'connect-per-request b1 f10',
        p50_ratio: 0.01,
        p99_ratio: 0.03,
        throughput_ratio: 80,
        server_cpu_per_request_ratio: null,
      },
      {
        scenario: 'cassette cold b1 f10',
        baseline: 'connect-per-request b1 f10',
        p50_ratio: 0.02,
        p99_ratio: 0.05,
        throughput_ratio: 20,
        server_cpu_per_request_ratio: null,
      },
    ]);
  });

  it('compares each cache-server variant with the same scenario on the cache server, CPU per request included', () => {
    const scenarios = [
      entry({ name: 'cassette warm b1 f10', cache: 'on', p50_ms: 1, p99_ms: 4, max_rps: 1000, server_cpu_percent: 50 }),
      entry({
        name: 'cassette warm b1 f10 [metrics-off]',
        group: 'variant',
        cache: 'on',
        p50_ms: 1,
        p99_ms: 2,
        max_rps: 1100,
        server_cpu_percent: 45,
      }),
      // Its base did not run: no ratio.
      entry({ name: 'cassette warm b100 f50 [metrics-off]', group: 'variant', batch_size: 100, features: 50 }),
    ];
    expect(variantRatios(scenarios)).toEqual([
      {
        scenario: 'cassette warm b1 f10 [metrics-off]',
        baseline: 'cassette warm b1 f10',
        p50_ratio: 1,
        p99_ratio: 0.5,
        throughput_ratio: 1.1,
        server_cpu_per_request_ratio: 0.9,
      },
    ]);
  });

  it('schema refuses non-finite figures and unknown fields', () => {
    expect(scenarioResultSchema.safeParse(entry({})).success).toBe(true);
    expect(scenarioResultSchema.safeParse(entry({ p99_ms: Number.NaN })).success).toBe(false);
    expect(scenarioResultSchema.safeParse(entry({ achieved_rps: Infinity })).success).toBe(false);
    expect(scenarioResultSchema.safeParse({ ...entry({}), extra: 1 }).success).toBe(false);
    const { p99_ms: _dropped, ...missing } = entry({});
    expect(scenarioResultSchema.safeParse(missing).success).toBe(false);
  });

  it('renders a self-contained page: inline SVG charts, no scripts, nothing fetched', () => {
    const scenarios = [
      entry({ name: 'cassette warm b1 f10', cache: 'on', cache_hit_ratio: 0.99 }),
      entry({ name: 'cassette warm b1 f10 (ghz)', generator: 'ghz', cache: 'on', cache_hit_ratio: 0.99 }),
      entry({}),
    ];
    const report = reportSchema.parse({
      schema_version: 1,
      date: '2026-01-01T00:00:00.000Z',
      git_commit: 'abc',
      git_dirty: false,
      command: 'npm run bench',
      machine: { cores: 2, cpu_model: 'cpu', memory_gb: 8, node: 'v20', platform: 'linux x64' },
      seed: 1,
      entities: 100,
      quick: true,
      durations: { probe_s: 1, warmup_s: 1, measure_s: 1, sweep_s: 1 },
      arrival: 'constant',
      rate_fraction: 0.5,
      channels: 2,
      generators: ['loadgen', 'ghz'],
      ghz: { binary: '/root/go/bin/ghz', version: 'v0.121.0', concurrency: 16 },
      target: null,
      cassandra: null,
      servers: [],
      load: { skipped: true, rows: 0, seconds: 0, rows_per_s: null, cpu_seconds: null },
      wall_seconds: 1,
      load_average: { at_start: [1, 1, 1], at_end: [1, 1, 1] },
      scenarios,
      ratios: generatorRatios(scenarios),
      failures: [],
    });
    const html = renderHtml(report);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain('cassette warm b1 f10');
    // Each row says which generator measured it; the generators' section compares them.
    expect(html).toContain('<h2>Load generators</h2>');
    expect(html).toContain('ghz v0.121.0');
    expect(html).toMatch(/cassette warm b1 f10 \(ghz\)<\/td><td>ghz<\/td>/);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
  });
});
