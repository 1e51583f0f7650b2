import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { featureRefs, JOIN_KEY, REGISTRY_YAML, requestedFeatures } from '../../bench/lib/dataset.js';
import { findGhz, ghzRequestData, runGhz, writeGhzProto, type GhzLoad } from '../../bench/lib/ghz.js';
import { decodeHistogram } from '../../bench/lib/histogram.js';
import { loadDataset } from '../../bench/lib/load.js';
import { reportSchema } from '../../bench/lib/report.js';
import { runHarness, tinyHarnessRun } from '../helpers/bench.js';
import { grpcError, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * ghz, the Go load generator the harness can use (`npm run bench -- --generator ghz|both`), run
 * for real: against a real server with the benchmark's dataset, then inside the harness itself.
 * .ci/run installs ghz with `go install`; without it these tests are skipped, saying so.
 */
const GHZ = findGhz();
if (!GHZ) {
  console.warn(
    'test/integration/bench-ghz.test.ts: SKIPPED, ghz not found (go install github.com/bojand/ghz/cmd/ghz@v0.121.0)',
  );
}
/** Every ghz process of these tests is killed past this, whatever its own bounds. */
const GHZ_TIMEOUT_MS = 60_000;
const ENTITIES = 50;

describe.skipIf(!GHZ)('ghz against a real server (bench/lib/ghz.ts)', () => {
  let t: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'cassette-ghz-'));
  const proto = writeGhzProto(dir);
  const dataFile = join(dir, 'requests.json');
  const batches = Array.from({ length: 20 }, (_, i) => [i % ENTITIES, (i + 7) % ENTITIES]);
  const refs = featureRefs(requestedFeatures(10));

  beforeAll(async () => {
    t = await startTestServer('ghz', REGISTRY_YAML);
    await loadDataset([t.server.address], 7, 0, ENTITIES, () => undefined);
    writeFileSync(dataFile, ghzRequestData(batches, refs, JOIN_KEY));
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (rpc: 'GetOnlineFeatures' | 'GetOnlineFeaturesArrow', load: GhzLoad, file = dataFile) =>
    runGhz(
      GHZ!,
      { address: t.server.address, rpc, proto, dataFile: file, connections: 2, deadlineMs: 10_000, load },
      GHZ_TIMEOUT_MS,
    );

  it('sends a bounded number of requests to both serving RPCs and counts every answer', async () => {
    for (const rpc of ['GetOnlineFeatures', 'GetOnlineFeaturesArrow'] as const) {
      const result = await run(rpc, { mode: 'count', count: 300, concurrency: 4 });
      expect(result.count, rpc).toBe(300);
      expect(result.errors, `${rpc}: ${JSON.stringify(result.errorsByCode)}`).toBe(0);
      expect(decodeHistogram(result.histogram).totalCount).toBe(300);
      expect(result.windowEndMs).toBeGreaterThan(result.windowStartMs);
      expect(result.achievedRps).toBeGreaterThan(0);
      expect(result.cpuSeconds).not.toBeNull();
    }
  }, 120_000);

  it('reports errors by the gRPC code the server answered, as a grpc-js client sees it', async () => {
    const request = {
      features: { val: ['wide:no_such_feature'] },
      entities: { [JOIN_KEY]: { val: [{ int64_val: '1' }] } },
    };
    const seen = await grpcError(t.get(request));
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify([request]));
    const result = await run('GetOnlineFeatures', { mode: 'count', count: 20, concurrency: 2 }, badFile);
    expect(result.count).toBe(20);
    expect(result.errors).toBe(20);
    expect(result.errorsByCode).toEqual({ [status[seen.code]]: 20 });
  }, 120_000);

  it('holds a fixed rate for a bounded time', async () => {
    const result = await run('GetOnlineFeatures', { mode: 'rate', rps: 50, concurrency: 8, durationMs: 2_000 });
    expect(result.errors).toBe(0);
    expect(result.count).toBeGreaterThan(0);
    // A rate limit: never above it (a slow machine may fall short of it, which is not asserted).
    expect(result.count).toBeLessThanOrEqual(2 * 50 + 5);
  }, 120_000);
});

describe.skipIf(!GHZ)('the harness with --generator both', () => {
  const { out, args } = tinyHarnessRun('benchghz');

  it('measures the same scenarios with ghz and the grpc-js generator, says which measured what, and compares ghz with the direct driver', async () => {
    const { code, output } = await runHarness(
      [
        ...args,
        '--generator',
        'both',
        '--ghz',
        GHZ!,
        '--scenarios',
        '^(cassette (warm|cold) b1 f10( \\(ghz\\))?|direct-driver b1 f10|cassette warm b100 f50 arrow \\(ghz\\))$',
      ],
      // No Python-caller scenario here: bench-harness.test.ts runs it.
      { CASSETTE_CLIENT_PYTHON: '' },
    );
    expect(code, output).toBe(0);

    const report = reportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
    expect(report.failures).toEqual([]);
    expect(report.generators).toEqual(['loadgen', 'ghz']);
    expect(report.ghz?.binary).toBe(GHZ);
    const byName = new Map(report.scenarios.map((s) => [s.name, s]));
    for (const name of ['cassette warm b1 f10', 'cassette cold b1 f10', 'direct-driver b1 f10']) {
      expect(byName.get(name)?.generator, name).toBe('loadgen');
    }
    for (const name of [
      'cassette warm b1 f10 (ghz)',
      'cassette cold b1 f10 (ghz)',
      'cassette warm b100 f50 arrow (ghz)',
    ]) {
      const s = byName.get(name);
      expect(s, name).toBeDefined();
      expect(s!.generator).toBe('ghz');
      expect(s!.mode).toBe('open');
      expect(s!.requests, name).toBeGreaterThan(0);
      expect(s!.errors, `${name}: ${JSON.stringify(s!.errors_by_code)}`).toBe(0);
      expect(s!.max_rps, name).toBeGreaterThan(0);
      // Server CPU, open loop and at the maximum, for ghz's rows as for the others.
      expect(s!.server_cpu_percent, name).not.toBeNull();
      expect(s!.server_cpu_us_per_request, name).toBeGreaterThan(0);
      expect(s!.max_server_cpu_percent, name).not.toBeNull();
      expect(s!.p50_ms).toBeLessThanOrEqual(s!.p99_ms);
    }
    expect(byName.get('cassette warm b1 f10 (ghz)')!.cache_hit_ratio).toBeGreaterThan(0.9);
    for (const s of report.scenarios.filter((s) => s.system === 'cassette')) {
      expect(s.server_cpu_us_per_request, s.name).not.toBeNull();
    }
    const ratio = (scenario: string, baseline: string) =>
      report.ratios.find((r) => r.scenario === scenario && r.baseline === baseline);
    expect(ratio('cassette cold b1 f10 (ghz)', 'direct-driver b1 f10')?.throughput_ratio).toBeGreaterThan(0);
    expect(ratio('cassette warm b1 f10 (ghz)', 'cassette warm b1 f10')?.throughput_ratio).toBeGreaterThan(0);

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Load generators</h2>');
    expect(html).toContain('cassette cold b1 f10 (ghz)');
  }, 600_000);
});
