import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ImportSummary } from '../../src/import/index.js';
import type { CassandraClient } from '../../src/store/index.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { applyYaml, connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';

const REGISTRY = `
project: ingest_memory
entities:
  - { name: user, join_key: user_id, type: int64 }
feature_views:
  - name: profile
    entities: [user]
    features:
      - { name: age, type: int32 }
      - { name: score, type: double }
      - { name: country, type: string }
      - { name: tags, type: string_list }
      - { name: embedding, type: float_list }
      - { name: updated, type: unix_timestamp }
`;

/**
 * Peak RSS of a whole `cassette ingest` process (Node, the driver and the job). A process that
 * held the file, or every row, would pass this with the 200k-row file (about 47 MB of CSV, a few
 * hundred MB as JavaScript objects); a streaming one stays near its start-up size.
 */
const PEAK_RSS_BOUND = 320 * 1024 * 1024;
/**
 * How much more the 10x larger file may take at its peak. The 20k-row job ends before V8's heap
 * has settled at its working size, so some growth is expected; keeping every row would cost far
 * more (a few hundred bytes each).
 */
const GROWTH_BOUND = 96 * 1024 * 1024;
/** Over the second half of the long job, RSS may not climb above the first half's peak by more. */
const PLATEAU_SLACK = 32 * 1024 * 1024;
/** The RSS is sampled by rows read rather than by seconds, so the count does not depend on speed. */
const SAMPLE_EVERY_ROWS = 10_000;
/**
 * The job's young generation pinned at 16 MiB semi-spaces, Node 20's default here. From Node 22,
 * V8 sizes them from the heap limit (up to 32 MiB on this 24 GB machine), which adds about 80 MiB to
 * every peak, the 20k-row job's included (184 → 265 MiB measured on Node 24): a property of the
 * runtime, not of the job, whose streaming is what these bounds check. README, Memory, says how
 * to pin it in a memory-limited container.
 */
const JOB_NODE_OPTIONS = '--max-semi-space-size=16';

describe('cassette ingest memory', () => {
  const keyspace = uniqueKeyspace('ingest_mem');
  const dir = mkdtempSync(join(tmpdir(), 'cassette-ingest-memory-'));
  const registryFile = join(dir, 'registry.yaml');
  let session: CassandraClient;

  beforeAll(async () => {
    writeFileSync(registryFile, REGISTRY);
    const config = testConfig(keyspace);
    session = await connectTestSession(config);
    await applyYaml(session, config, REGISTRY);
  });

  afterAll(async () => {
    await dropKeyspace(session, keyspace);
    await session.shutdown();
  });

  it('stays flat: 200k rows peak within the bound and close to 20k rows', async () => {
    const peak: Record<string, number> = {};
    for (const rows of [20_000, 200_000]) {
      const file = join(dir, `rows-${rows}.csv`);
      const generated = await runCli(
        [
          'generate',
          '--schema',
          registryFile,
          '--view',
          'profile',
          '--rows',
          String(rows),
          '--seed',
          '1',
          '--out',
          file,
        ],
        cliEnv(keyspace),
      );
      expect(generated.status).toBe(0);
      const result = await runCli(
        ['ingest', '--view', 'profile', file, '--json', '--progress-every-rows', String(SAMPLE_EVERY_ROWS)],
        cliEnv(keyspace, { CASSETTE_LOG_LEVEL: 'info', NODE_OPTIONS: JOB_NODE_OPTIONS }),
        200_000,
      );
      expect(result.status, result.stderr).toBe(0);
      // Progress log lines (stderr is not a terminal here) carry the RSS as the job goes: one
      // every SAMPLE_EVERY_ROWS rows read, so the 200k-row job logs about 20 however fast it runs.
      const samples = result.stderr
        .split('\n')
        .filter((line) => line.includes('"ingest progress"'))
        .map((line) => (JSON.parse(line) as { rssBytes: number }).rssBytes);
      if (rows === 200_000) {
        expect(samples.length).toBeGreaterThanOrEqual(6);
        const half = Math.floor(samples.length / 2);
        const firstHalf = Math.max(...samples.slice(0, half));
        const secondHalf = Math.max(...samples.slice(half));
        expect(secondHalf - firstHalf).toBeLessThan(PLATEAU_SLACK);
      }
      const summary = JSON.parse(result.stdout) as ImportSummary;
      expect(summary).toMatchObject({ status: 'finished', rowsRead: rows, rowsWritten: rows });
      peak[rows] = summary.peakRssBytes;
      console.error(
        `[ingest memory] ${rows} rows (${(statSync(file).size / 1e6).toFixed(1)} MB CSV): peak RSS ` +
          `${(summary.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${summary.rowsPerSecond} rows/s, ${samples.length} RSS samples`,
      );
    }
    expect(peak[200_000]).toBeLessThan(PEAK_RSS_BOUND);
    expect(peak[200_000]! - peak[20_000]!).toBeLessThan(GROWTH_BOUND);
  }, 300_000); // about 20 s on a quiet 2-core machine; more when it is shared with benchmarks
});
