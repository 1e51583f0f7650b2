import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pino from 'pino';
import { describe, expect, it } from 'vitest';

import type { WriteRow } from '../../../src/write/index.js';
import { runImportJob, type ImportSink } from '../../../src/import/index.js';
import { parseRegistry, VALUE_TYPES } from '../../../src/registry/index.js';
import { generateFile, Random, type SyntheticFormat } from '../../../src/synthetic/index.js';

const REGISTRY = parseRegistry(`
project: synthetic
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: device, join_key: device, type: bytes }
feature_views:
  - name: everything
    entities: [user, device]
    ttl: 3d
    features:
${VALUE_TYPES.map((t) => `      - { name: f_${t}, type: ${t} }`).join('\n')}
`);
const VIEW = REGISTRY.featureViews.get('everything')!;
const ANCHOR = Date.parse('2026-06-01T00:00:00Z');

async function generate(dir: string, format: SyntheticFormat, seed: number, rows = 500) {
  const out = join(dir, `rows-${seed}.${format}`);
  const result = await generateFile({
    view: VIEW,
    rows,
    format,
    out,
    seed,
    badFraction: 0,
    sparseFraction: 0.1,
    anchorMillis: ANCHOR,
    entities: 0,
    rowGroupSize: 128,
    eventTimeColumn: 'event_timestamp',
  });
  return { out, ...result };
}

/** Collects what a job would write, in a comparable form (floats as the float32 Cassandra keeps). */
async function ingested(file: string): Promise<Map<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'cassette-synthetic-job-'));
  const rows: WriteRow[] = [];
  const writer = (onWritten: (tag: number) => void): ImportSink => ({
    push: (row, tag) => {
      rows.push(row);
      onWritten(tag);
      return null;
    },
    flush: async () => undefined,
  });
  const summary = await runImportJob(
    {
      files: [file],
      view: VIEW,
      target: { kind: 'cassandra', keyspace: 'k' },
      mapping: { maps: new Map(), eventTimeColumn: 'event_timestamp', ignoreUnknown: false },
      eventTimeUnit: 's',
      delimiter: ',',
      checkpointPath: join(dir, 'c.json'),
      rejectsPath: join(dir, 'r.jsonl'),
      resume: false,
      restart: false,
      dryRun: false,
      // The anchor is in the past; keep every row.
      policy: { maxFutureSkewMs: 300_000, expiryGraceSeconds: 10 * 365 * 86_400, maxListLength: 65_536 },
      maxRecordBytes: 1 << 20,
      checkpointIntervalMs: 1000,
      maxOutstanding: 10_000,
    },
    { logger: pino({ level: 'silent' }), openSink: writer },
  );
  expect(summary.rowsRejected).toBe(0);
  const plain = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(plain)
      : Buffer.isBuffer(v)
        ? `0x${v.toString('hex')}`
        : v instanceof Date
          ? v.getTime()
          : v !== null && typeof v === 'object'
            ? String(v)
            : v;
  return new Map(
    rows.map((row) => [
      `${row.keyString}@${row.eventTimeMicros.toString()}`,
      row.features.map((value, i) => {
        const type = VIEW.features[i]!.type;
        if (type === 'float' && typeof value === 'number') return Math.fround(value);
        if (type === 'float_list' && Array.isArray(value)) return value.map((x) => Math.fround(x as number));
        return plain(value);
      }),
    ]),
  );
}

describe('synthetic rows', () => {
  it('Random is reproducible from its seed', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const draws = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(draws);
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(draws);
    for (let i = 0; i < 1000; i++) {
      const x = a.next();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });

  it.each(['csv', 'jsonl', 'parquet'] as const)('%s: the same seed and anchor give the same bytes', async (format) => {
    const dir = mkdtempSync(join(tmpdir(), 'cassette-synthetic-'));
    const one = await generate(dir, format, 7);
    const again = await generate(mkdtempSync(join(tmpdir(), 'cassette-synthetic-')), format, 7);
    const other = await generate(dir, format, 8);
    expect(readFileSync(again.out).equals(readFileSync(one.out))).toBe(true);
    expect(readFileSync(other.out).equals(readFileSync(one.out))).toBe(false);
  });

  it('CSV, JSON Lines and Parquet of one seed load as exactly the same rows, every value type included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cassette-synthetic-'));
    const csv = await ingested((await generate(dir, 'csv', 3)).out);
    const jsonl = await ingested((await generate(dir, 'jsonl', 3)).out);
    const parquet = await ingested((await generate(dir, 'parquet', 3)).out);
    expect(csv.size).toBe(500);
    expect(jsonl).toEqual(csv);
    expect(parquet).toEqual(csv);
    // Every type is really there: some row has a non-empty value for each feature.
    VIEW.features.forEach((feature, i) => {
      const present = [...csv.values()].some((features) => {
        const value = (features as unknown[])[i];
        return value !== undefined && value !== null && (!Array.isArray(value) || value.length > 0);
      });
      expect(present, feature.name).toBe(true);
    });
  });
});
