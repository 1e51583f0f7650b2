import { describe, expect, it } from 'vitest';

import {
  GHZ_START_ALLOWANCE_MS,
  ghzArgs,
  ghzWindowMs,
  ghzRequestData,
  grpcCodeName,
  parseGhzReport,
  rfc3339Ms,
  undecodedServingProto,
  type GhzRunSpec,
} from '../../../bench/lib/ghz.js';
import { decodeHistogram, summarize } from '../../../bench/lib/histogram.js';
import { parseHarnessArgs } from '../../../bench/lib/options.js';
import { buildPlan, parseGhzScenarioName } from '../../../bench/lib/plan.js';

/** A ghz `--format json` report in the shape ghz v0.121 prints (durations in ns, times RFC 3339). */
function ghzReport(details: Array<{ timestamp: string; latency: number; status: string; error?: string }>): string {
  return JSON.stringify({
    date: '2026-12-01T08:00:05Z',
    endReason: 'timeout',
    options: { call: 'cassette.v1.FeatureServing/GetOnlineFeatures', concurrency: 2, connections: 1 },
    count: details.length,
    total: 2_000_000_000,
    average: 1_500_000,
    fastest: 1_000_000,
    slowest: 2_000_000,
    rps: details.length / 2,
    errorDistribution: {},
    statusCodeDistribution: {},
    latencyDistribution: [{ percentage: 50, latency: 1_000_000 }],
    histogram: [{ mark: 0.001, count: 1, frequency: 0.25 }],
    details: details.map((d) => ({ error: '', ...d })),
  });
}

describe('ghz as a load generator (bench/lib/ghz.ts)', () => {
  it('turns ghz JSON into a latency histogram, errors by gRPC code and the window of the load', () => {
    const parsed = parseGhzReport(
      ghzReport([
        // The first call started at 08:00:00.000 (ended 1 ms later); the last ended at 08:00:02.000.
        { timestamp: '2026-12-01T08:00:00.001000000Z', latency: 1_000_000, status: 'OK' },
        { timestamp: '2026-12-01T08:00:01.000000000Z', latency: 2_000_000, status: 'OK' },
        { timestamp: '2026-12-01T08:00:01.500000000Z', latency: 5_000_000, status: 'DeadlineExceeded', error: 'x' },
        { timestamp: '2026-12-01T08:00:02.000000000Z', latency: 3_000_000, status: 'Unavailable', error: 'y' },
      ]),
    );
    expect(parsed.count).toBe(4);
    expect(parsed.errors).toBe(2);
    expect(parsed.errorsByCode).toEqual({ DEADLINE_EXCEEDED: 1, UNAVAILABLE: 1 });
    expect(parsed.windowStartMs).toBe(Date.parse('2026-12-01T08:00:00.000Z'));
    expect(parsed.windowEndMs).toBe(Date.parse('2026-12-01T08:00:02.000Z'));
    expect(parsed.achievedRps).toBeCloseTo(2, 6);
    const summary = summarize(decodeHistogram(parsed.histogram));
    expect(summary.count).toBe(4);
    expect(summary.p50_ms).toBeCloseTo(2, 2);
    expect(summary.max_ms).toBeCloseTo(5, 2);
  });

  it('cuts the report to the window asked for, counted from the first call sent', () => {
    const parsed = parseGhzReport(
      ghzReport([
        { timestamp: '2026-12-01T08:00:00.010Z', latency: 10_000_000, status: 'OK' },
        { timestamp: '2026-12-01T08:00:00.900Z', latency: 1_000_000, status: 'OK' },
        { timestamp: '2026-12-01T08:00:01.000Z', latency: 1_000_000, status: 'Unavailable' },
        // Ended after the first second: left out, error and all.
        { timestamp: '2026-12-01T08:00:01.001Z', latency: 1_000_000, status: 'Unavailable' },
        { timestamp: '2026-12-01T08:00:02.500Z', latency: 1_000_000, status: 'OK' },
      ]),
      1000,
    );
    expect(parsed.count).toBe(3);
    expect(parsed.errorsByCode).toEqual({ UNAVAILABLE: 1 });
    expect(parsed.windowEndMs - parsed.windowStartMs).toBe(1000);
    expect(parsed.achievedRps).toBeCloseTo(3, 6);
    expect(summarize(decodeHistogram(parsed.histogram)).count).toBe(3);
  });

  it('refuses a report that is not JSON, and one whose call details are incomplete', () => {
    expect(() => parseGhzReport('Error: no such method')).toThrow(/no JSON report/);
    const report = JSON.parse(ghzReport([{ timestamp: '2026-12-01T08:00:00Z', latency: 1, status: 'OK' }])) as {
      count: number;
    };
    report.count = 2;
    expect(() => parseGhzReport(JSON.stringify(report))).toThrow(/1 call details for 2 calls/);
  });

  it('reads an empty run as no calls', () => {
    const parsed = parseGhzReport(JSON.stringify({ count: 0, total: 1, details: null }));
    expect(parsed).toMatchObject({ count: 0, errors: 0, achievedRps: 0 });
  });

  it("names gRPC codes as grpc-js does, from Go's names", () => {
    expect(grpcCodeName('OK')).toBe('OK');
    expect(grpcCodeName('Unavailable')).toBe('UNAVAILABLE');
    expect(grpcCodeName('DeadlineExceeded')).toBe('DEADLINE_EXCEEDED');
    expect(grpcCodeName('ResourceExhausted')).toBe('RESOURCE_EXHAUSTED');
    expect(grpcCodeName('Canceled')).toBe('CANCELLED');
  });

  it('reads RFC 3339 times with nanoseconds and offsets', () => {
    expect(rfc3339Ms('2026-12-01T08:00:00.123456789Z')).toBeCloseTo(
      Date.parse('2026-12-01T08:00:00.123Z') + 0.456789,
      6,
    );
    expect(rfc3339Ms('2026-12-01T09:00:00.5+01:00')).toBe(Date.parse('2026-12-01T08:00:00.500Z'));
    expect(() => rfc3339Ms('yesterday')).toThrow(/RFC 3339/);
  });

  it('rewrites serving.proto so that ghz leaves responses undecoded, keeping the request types', () => {
    const proto = [
      'service FeatureServing {',
      '  rpc GetOnlineFeatures(GetOnlineFeaturesRequest) returns (GetOnlineFeaturesResponse);',
      '  rpc GetOnlineFeaturesArrow(GetOnlineFeaturesRequest) returns (ArrowFeatures);',
      '}',
      'message GetOnlineFeaturesRequest { bool full_feature_names = 4; }',
    ].join('\n');
    const rewritten = undecodedServingProto(proto);
    expect(rewritten).toContain('rpc GetOnlineFeatures(GetOnlineFeaturesRequest) returns (BenchUndecodedResponse);');
    expect(rewritten).toContain(
      'rpc GetOnlineFeaturesArrow(GetOnlineFeaturesRequest) returns (BenchUndecodedResponse);',
    );
    expect(rewritten).toContain('message GetOnlineFeaturesRequest { bool full_feature_names = 4; }');
    expect(rewritten).toMatch(/message BenchUndecodedResponse \{\}\n$/);
    expect(() => undecodedServingProto('service FeatureServing {}')).toThrow(/nothing|no "returns/);
  });

  it('writes the request pool as protobuf JSON, int64 keys as strings', () => {
    const data = JSON.parse(ghzRequestData([[1, 2], [3]], ['wide:f0', 'wide:f1'], 'user_id')) as unknown;
    expect(data).toEqual([
      {
        features: { val: ['wide:f0', 'wide:f1'] },
        entities: { user_id: { val: [{ int64_val: '1' }, { int64_val: '2' }] } },
      },
      { features: { val: ['wide:f0', 'wide:f1'] }, entities: { user_id: { val: [{ int64_val: '3' }] } } },
    ]);
  });

  const spec: Omit<GhzRunSpec, 'load'> = {
    address: '127.0.0.1:6566',
    rpc: 'GetOnlineFeatures',
    proto: { protoFile: '/o/ghz/proto/cassette/v1/serving.proto', importPaths: ['/o/ghz/proto', '/repo/proto'] },
    dataFile: '/o/ghz/requests.json',
    connections: 2,
    deadlineMs: 5000,
  };
  const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

  it('builds ghz command lines for a closed loop, a fixed rate and a bounded count', () => {
    const closed = ghzArgs({ ...spec, load: { mode: 'closed', concurrency: 16, durationMs: 8000 } });
    expect(flag(closed, '--call')).toBe('cassette.v1.FeatureServing/GetOnlineFeatures');
    expect(flag(closed, '--import-paths')).toBe('/o/ghz/proto,/repo/proto');
    expect(flag(closed, '--concurrency')).toBe('16');
    expect(flag(closed, '--connections')).toBe('2');
    // The duration asked for, plus the allowance for ghz's start-up (the report is cut back to it).
    expect(flag(closed, '--duration')).toBe(`${8000 + GHZ_START_ALLOWANCE_MS}ms`);
    expect(ghzWindowMs({ mode: 'closed', concurrency: 16, durationMs: 8000 })).toBe(8000);
    expect(flag(closed, '--duration-stop')).toBe('ignore');
    expect(flag(closed, '--format')).toBe('json');
    expect(flag(closed, '--timeout')).toBe('5000ms');
    expect(closed).not.toContain('--rps');
    expect(closed.at(-1)).toBe('127.0.0.1:6566');

    const rate = ghzArgs({
      ...spec,
      rpc: 'GetOnlineFeaturesArrow',
      load: { mode: 'rate', rps: 1234.6, concurrency: 64, durationMs: 2000 },
    });
    expect(flag(rate, '--call')).toBe('cassette.v1.FeatureServing/GetOnlineFeaturesArrow');
    expect(flag(rate, '--rps')).toBe('1235');

    // Never more connections than callers; a count bound instead of a duration.
    const count = ghzArgs({ ...spec, load: { mode: 'count', count: 200, concurrency: 1 } });
    expect(flag(count, '--connections')).toBe('1');
    expect(flag(count, '--total')).toBe('200');
    expect(count).not.toContain('--duration');
    expect(ghzWindowMs({ mode: 'count', count: 200, concurrency: 1 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('--generator (bench/lib/options.ts, plan.ts)', () => {
  const plan = (generators: Array<'loadgen' | 'ghz'>) =>
    buildPlan({ quick: true, rateFraction: 0.5, hotSet: 1000, zipfExponent: 1, generators });

  it('keeps the grpc-js generator alone by default', () => {
    const options = parseHarnessArgs([], {});
    expect(options !== 'help' && options.generators).toEqual(['loadgen']);
    expect(plan(['loadgen']).some((s) => s.generator === 'ghz')).toBe(false);
  });

  it('with both, repeats each warm and cold scenario with ghz, adds the Arrow RPC at 100 × 50, and keeps the baselines on loadgen', () => {
    const options = parseHarnessArgs(['--generator', 'both', '--ghz', '/bin/ghz', '--ghz-concurrency', '32'], {});
    expect(options).toMatchObject({ generators: ['loadgen', 'ghz'], ghz: '/bin/ghz', ghzConcurrency: 32 });
    const specs = plan(['loadgen', 'ghz']);
    const ghz = specs.filter((s) => s.generator === 'ghz');
    expect(ghz.map((s) => s.name)).toContain('cassette warm b1 f10 (ghz)');
    expect(ghz.map((s) => s.name)).toContain('cassette cold b100 f50 (ghz)');
    expect(ghz.filter((s) => s.rpc === 'GetOnlineFeaturesArrow').map((s) => s.name)).toEqual([
      'cassette warm b100 f50 arrow (ghz)',
      'cassette cold b100 f50 arrow (ghz)',
    ]);
    // Every ghz scenario is a Cassette one; each plain one has its ghz twin.
    expect(ghz.every((s) => s.system === 'cassette' && s.group === 'matrix')).toBe(true);
    const names = new Set(specs.map((s) => s.name));
    for (const s of ghz.filter((s) => s.rpc === undefined)) expect(names.has(parseGhzScenarioName(s.name)!)).toBe(true);
    const driver = specs.find((s) => s.name === 'direct-driver b1 f10')!;
    expect(driver.generator).toBeUndefined();
    expect(driver.flow).toMatchObject({ kind: 'probe-then-match', match: 'cassette cold b1 f10' });
  });

  it('with ghz alone, the direct driver matches the ghz cold scenario', () => {
    const driver = plan(['ghz']).find((s) => s.name === 'direct-driver b100 f50')!;
    expect(driver.flow).toMatchObject({ match: 'cassette cold b100 f50 (ghz)' });
    expect(plan(['ghz']).some((s) => s.name === 'cassette cold b100 f50')).toBe(false);
  });

  it('refuses an unknown generator', () => {
    expect(() => parseHarnessArgs(['--generator', 'wrk'], {})).toThrow(/loadgen, ghz or both/);
  });
});
