import type * as fs from 'node:fs';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';

import type { WriteRow } from '../../../src/write/index.js';
import {
  IngestSetupError,
  readCheckpoint,
  runImportJob,
  type ImportJobOptions,
  type ImportSink,
} from '../../../src/import/index.js';
import { ColumnResolver, parseMaps, planColumns } from '../../../src/import/mapping.js';
import { parseMaxRejects, rejectLimitExceeded } from '../../../src/import/max-rejects.js';
import { LineSplitter } from '../../../src/import/sources/jsonl-source.js';
import { openParquetSource } from '../../../src/import/sources/parquet-source.js';
import { ProgressReporter, renderBar } from '../../../src/import/progress.js';
import { Outcome, WatermarkTracker } from '../../../src/import/watermark.js';
import { parseRegistry, type FeatureViewDef } from '../../../src/registry/index.js';
import { generateFile, type SyntheticFormat } from '../../../src/synthetic/index.js';

// These are logic tests with a stand-in writer: nothing they check needs the checkpoint and
// reject files on stable storage. The jobs save a checkpoint every 5 ms, hundreds of saves in
// all, and on a disk busy with other work each fsync or rename can wait tens of milliseconds on
// the file system's journal. So the files go to memory where the system offers it, and the
// flushes are skipped everywhere.
vi.mock('node:fs', async (importOriginal) => ({
  ...(await importOriginal<typeof fs>()),
  fsyncSync: () => undefined,
}));
const scratchRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const scratchDirs: string[] = [];
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(scratchRoot, prefix));
  scratchDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

const logger = pino({ level: 'silent' });

const REGISTRY = parseRegistry(`
project: unit
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: shop, join_key: shop_id, type: string }
feature_views:
  - name: stats
    entities: [user, shop]
    features:
      - { name: clicks, type: int32 }
      - { name: score, type: double }
      - { name: tags, type: string_list }
`);
const VIEW = REGISTRY.featureViews.get('stats')!;

describe('column mapping', () => {
  const resolver = (maps: string[] = [], ignoreUnknown = false) =>
    new ColumnResolver(VIEW, { maps: parseMaps(maps), eventTimeColumn: 'event_timestamp', ignoreUnknown });

  it('maps columns by name to join keys, features and the event time', () => {
    const plan = planColumns(['shop_id', 'user_id', 'score', 'event_timestamp'], resolver());
    expect(plan.targets.map((t) => t && `${t.kind}:${t.name}`)).toEqual([
      'key:shop_id',
      'key:user_id',
      'feature:score',
      'eventTime:event_timestamp',
    ]);
    expect(plan.hasEventTime).toBe(true);
  });

  it('follows --map, and --map col= skips a column', () => {
    const plan = planColumns(
      ['uid', 'shop_id', 'n', 'clicks', 'note'],
      resolver(['uid=user_id', 'n=clicks', 'note=', 'clicks=']),
    );
    expect(plan.targets.map((t) => t && `${t.kind}:${t.name}`)).toEqual([
      'key:user_id',
      'key:shop_id',
      'feature:clicks',
      null,
      null,
    ]);
    expect(plan.hasEventTime).toBe(false);
  });

  it('reports every problem before any row is read', () => {
    expect(() =>
      planColumns(['user_id', 'user_id', 'clicks', 'extra', 'n'], resolver(['n=clicks', 'gone=score'])),
    ).toThrow(
      /^column "user_id" appears twice in the header; --map names column "gone", which the file does not have; columns "clicks" and "n" both map to "clicks" \(skip one with --map column=\); no column for join key "shop_id"; "extra" is neither a join key nor a feature of view "stats" nor the event-time column "event_timestamp"; map with --map column=feature, or pass --ignore-unknown-columns$/,
    );
    expect(() => planColumns(['user_id', 'shop_id'], resolver())).toThrow(/no column for any feature/);
    expect(() => resolver(['a=nope'])).toThrow(/has no join key or feature "nope"/);
    expect(() => parseMaps(['novalue'])).toThrow(/expected column=feature/);
  });

  it('skips unknown columns with --ignore-unknown-columns', () => {
    const plan = planColumns(['user_id', 'shop_id', 'clicks', 'extra'], resolver([], true));
    expect(plan.ignored).toEqual(['extra']);
    expect(plan.targets[3]).toBeNull();
  });
});

describe('--max-rejects', () => {
  it('parses a count or a percentage', () => {
    expect(parseMaxRejects('10')).toEqual({ kind: 'count', max: 10 });
    expect(parseMaxRejects('0.5%')).toEqual({ kind: 'percent', max: 0.5 });
    expect(() => parseMaxRejects('-1')).toThrow(/expected a number/);
    expect(() => parseMaxRejects('150%')).toThrow(/between 0% and 100%/);
    expect(() => parseMaxRejects('ten')).toThrow(/expected a number/);
  });

  it('fails a count as soon as it is passed', () => {
    const limit = parseMaxRejects('2');
    expect(rejectLimitExceeded(limit, 2, 3, false)).toBeNull();
    expect(rejectLimitExceeded(limit, 3, 3, false)).toMatch(/3 records were rejected, more than --max-rejects 2/);
  });

  it('checks a percentage from 1000 records on, and on the totals at the end', () => {
    const limit = parseMaxRejects('1%');
    expect(rejectLimitExceeded(limit, 5, 10, false)).toBeNull();
    expect(rejectLimitExceeded(limit, 5, 10, true)).toMatch(/5 of 10 records \(50.00%\)/);
    expect(rejectLimitExceeded(limit, 10, 1000, false)).toBeNull();
    expect(rejectLimitExceeded(limit, 11, 1000, false)).toMatch(/1.10%/);
  });
});

describe('WatermarkTracker', () => {
  const start = {
    file: 0,
    offset: 0,
    line: 0,
    rejectBytes: 0,
    counts: { read: 0, written: 0, rejected: 0, expired: 0 },
  };

  it('moves only past records that are all done, whatever order writes finish in', () => {
    const tracker = new WatermarkTracker(start);
    const a = tracker.add(0, 10, 1, 0, Outcome.Pending);
    const b = tracker.add(0, 20, 2, 0, Outcome.Pending);
    tracker.add(0, 30, 3, 50, Outcome.Rejected);
    const d = tracker.add(0, 40, 4, 50, Outcome.Pending);
    tracker.add(0, 50, 5, 50, Outcome.Expired);
    tracker.complete(b);
    tracker.complete(d);
    expect(tracker.watermark.offset).toBe(0);
    expect(tracker.outstanding).toBe(5);
    tracker.complete(a);
    expect(tracker.watermark).toEqual({
      file: 0,
      offset: 50,
      line: 5,
      rejectBytes: 50,
      counts: { read: 5, written: 3, rejected: 1, expired: 1 },
    });
    tracker.add(1, 0, 0, 50, Outcome.FileEnd);
    expect(tracker.watermark.file).toBe(1);
    expect(tracker.watermark.counts.read).toBe(5);
    expect(() => tracker.complete(a)).toThrow(/unknown or already completed/);
  });

  it('grows past its initial capacity and keeps order, and lets a producer wait for room', async () => {
    const tracker = new WatermarkTracker(start);
    const tags: number[] = [];
    for (let i = 0; i < 5000; i++) tags.push(tracker.add(0, i + 1, i + 1, 0, Outcome.Pending));
    let resumed = false;
    const waiting = tracker.outstandingAtMost(100).then(() => (resumed = true));
    for (const tag of tags.slice(1).reverse()) tracker.complete(tag);
    await Promise.resolve();
    expect(resumed).toBe(false);
    expect(tracker.watermark.offset).toBe(0);
    tracker.complete(tags[0]!);
    await waiting;
    expect(tracker.watermark).toMatchObject({ offset: 5000, counts: { written: 5000 } });
  });
});

describe('LineSplitter', () => {
  it('splits LF and CRLF lines at exact offsets, skips blank ones and drops overlong lines', () => {
    const text = '{"a":1}\r\n\n  \n{"b":2}\n' + 'x'.repeat(50) + '\n{"c":3}';
    const splitter = new LineSplitter({ offset: 0, line: 0 }, 20);
    const bytes = Buffer.from(text);
    const lines = [];
    for (let i = 0; i < bytes.length; i += 7) lines.push(...splitter.push(bytes.subarray(i, i + 7)));
    lines.push(...splitter.end());
    expect(lines.map((l) => [l.line, l.error ? 'too long' : l.text.toString(), l.end])).toEqual([
      [1, '{"a":1}', 9],
      [4, '{"b":2}', 21],
      [5, 'too long', 72],
      [6, '{"c":3}', 79],
    ]);
  });
});

describe('progress bar', () => {
  it('shows rows, bytes, rate, rejects and ETA within the width', () => {
    const line = renderBar(
      { rowsRead: 12345, rowsWritten: 12000, rejected: 3, expired: 0, bytesDone: 5e8, bytesTotal: 1e9 },
      4321,
      75,
      200,
    );
    expect(line).toMatch(/50%.*500\.0 MB \/ 1\.0 GB.*12,345 rows.*4,321 rows\/s.*3 rejected.*ETA 1:15/);
    expect(
      renderBar({ rowsRead: 1, rowsWritten: 1, rejected: 0, expired: 0, bytesDone: 1, bytesTotal: 2 }, 1, 1, 30),
    ).toHaveLength(29);
  });

  it('logs by rows read with --progress-every-rows, once per mark passed, whatever the clock says', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      const lines: { rowsRead: number }[] = [];
      const sink = { write: (line: string) => lines.push(JSON.parse(line) as { rowsRead: number }) };
      const reporter = new ProgressReporter({
        stream: { isTTY: false } as NodeJS.WriteStream,
        logger: pino({ level: 'info' }, sink),
        logEveryRows: 1000,
      });
      let rowsRead = 0;
      reporter.start(() => ({ rowsRead, rowsWritten: 0, rejected: 0, expired: 0, bytesDone: 0, bytesTotal: 1 }));
      vi.advanceTimersByTime(60_000);
      expect(lines).toEqual([]);
      for (const rows of [999, 1000, 1500, 1999, 4321, 4321]) {
        rowsRead = rows;
        vi.advanceTimersByTime(1_000);
      }
      reporter.stop();
      expect(lines.map((line) => line.rowsRead)).toEqual([1000, 4321]);
    } finally {
      vi.useRealTimers();
    }
  });
});

/**
 * A stand-in for the RowSink in these logic tests: rows finish out of order after random
 * delays, at most `window` at a time, and it can fail for good after `failAfter` rows.
 */
class ShuffledWriter implements ImportSink {
  readonly written: WriteRow[] = [];
  private pending: { row: WriteRow; tag: number }[] = [];
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;
  private pushed = 0;
  private scheduled = false;

  constructor(
    private readonly onWritten: (tag: number) => void,
    private readonly failAfter = Number.POSITIVE_INFINITY,
    private readonly window = 8,
  ) {}

  push(row: WriteRow, tag: number): Promise<void> | null {
    if (this.failure) throw this.failure;
    if (++this.pushed > this.failAfter) {
      this.failure = new Error('Cassandra is gone');
      throw this.failure;
    }
    this.pending.push({ row, tag });
    this.schedule();
    if (this.pending.length < this.window) return null;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** On a later turn, finishes a random half of the writes in flight, in random order. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const keep: { row: WriteRow; tag: number }[] = [];
      for (const write of this.pending.sort(() => Math.random() - 0.5)) {
        if (Math.random() < 0.5 && keep.length < this.pending.length - 1) {
          keep.push(write);
          continue;
        }
        this.written.push(write.row);
        this.onWritten(write.tag);
      }
      this.pending = keep;
      if (keep.length > 0) this.schedule();
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  async flush(): Promise<void> {
    while (this.pending.length > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

function jobOptions(
  dir: string,
  files: string[],
  view: FeatureViewDef,
  more: Partial<ImportJobOptions> = {},
): ImportJobOptions {
  return {
    files,
    view,
    target: { kind: 'cassandra', keyspace: 'unit' },
    mapping: { maps: new Map(), eventTimeColumn: 'event_timestamp', ignoreUnknown: false },
    eventTimeUnit: 's',
    delimiter: ',',
    rejectsPath: join(dir, 'rejects.jsonl'),
    checkpointPath: join(dir, 'checkpoint.json'),
    resume: false,
    restart: false,
    dryRun: false,
    policy: { maxFutureSkewMs: 300_000, expiryGraceSeconds: 3600, maxListLength: 65_536 },
    maxRecordBytes: 1 << 20,
    checkpointIntervalMs: 5,
    maxOutstanding: 1000,
    ...more,
  };
}

const rowKey = (row: WriteRow) => `${row.keyString}@${row.eventTimeMicros.toString()}`;

describe('runImportJob (with a stand-in writer)', () => {
  const formats: [SyntheticFormat, string][] = [
    ['csv', 'csv'],
    ['jsonl', 'jsonl'],
    ['parquet', 'parquet'],
    ['csv', 'csv.gz'],
    ['jsonl', 'jsonl.gz'],
  ];

  it.each(formats)(
    '%s (.%s): a job that fails midway and is resumed writes every row and rejects each bad record once',
    async (format, extension) => {
      const dir = scratchDir('cassette-job-');
      const file = join(dir, `rows.${extension}`);
      const { badRows } = await generateFile({
        view: VIEW,
        rows: 3000,
        format,
        out: file,
        seed: 11,
        badFraction: 0.02,
        sparseFraction: 0.1,
        anchorMillis: Date.now(),
        entities: 0,
        rowGroupSize: 1000,
        eventTimeColumn: 'event_timestamp',
      });
      // An uninterrupted run, for reference.
      const refDir = scratchDir('cassette-job-ref-');
      let reference: ShuffledWriter | undefined;
      const whole = await runImportJob(jobOptions(refDir, [file], VIEW), {
        logger,
        openSink: (onWritten) => (reference = new ShuffledWriter(onWritten)),
      });
      expect(whole).toMatchObject({
        status: 'finished',
        rowsRead: 3000,
        rowsRejected: badRows,
        rowsWritten: 3000 - badRows,
      });
      expect(new Set(reference!.written.map(rowKey)).size).toBe(3000 - badRows);

      // The same job failing for good after 1200 rows, then resumed.
      let first: ShuffledWriter | undefined;
      const failed = await runImportJob(jobOptions(dir, [file], VIEW), {
        logger,
        openSink: (onWritten) => (first = new ShuffledWriter(onWritten, 1200)),
      });
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/Cassandra is gone/);
      const checkpoint = readCheckpoint(join(dir, 'checkpoint.json'))!;
      expect(checkpoint.finished).toBe(false);
      expect(checkpoint.counts.written).toBe(first!.written.length);
      expect(readFileSync(join(dir, 'rejects.jsonl')).length).toBeGreaterThanOrEqual(checkpoint.rejectsBytes);

      await expect(
        runImportJob(jobOptions(dir, [file], VIEW), { logger, openSink: (w) => new ShuffledWriter(w) }),
      ).rejects.toThrow(IngestSetupError);
      let second: ShuffledWriter | undefined;
      const resumed = await runImportJob(jobOptions(dir, [file], VIEW, { resume: true }), {
        logger,
        openSink: (onWritten) => (second = new ShuffledWriter(onWritten)),
      });
      expect(resumed).toMatchObject({ status: 'finished', resumed: true, rowsRead: 3000, rowsRejected: badRows });
      expect(resumed.rowsWritten).toBe(3000 - badRows);
      const union = new Set([...first!.written, ...second!.written].map(rowKey));
      expect(union).toEqual(new Set(reference!.written.map(rowKey)));
      // The resumed run rewrote only what came after the watermark.
      expect(second!.written.length).toBe(3000 - badRows - checkpoint.counts.written);
      expect(readFileSync(join(dir, 'rejects.jsonl'), 'utf8')).toBe(
        readFileSync(join(refDir, 'rejects.jsonl'), 'utf8'),
      );

      const again = await runImportJob(jobOptions(dir, [file], VIEW, { resume: true }), {
        logger,
        openSink: () => {
          throw new Error('a finished job must not write');
        },
      });
      expect(again.status).toBe('already finished');
    },
  );

  it('stops on request, and resumes to the same rows', async () => {
    const dir = scratchDir('cassette-job-');
    const file = join(dir, 'rows.csv');
    await generateFile({
      view: VIEW,
      rows: 2000,
      format: 'csv',
      out: file,
      seed: 5,
      badFraction: 0,
      sparseFraction: 0,
      anchorMillis: Date.now(),
      entities: 0,
      rowGroupSize: 100,
      eventTimeColumn: 'event_timestamp',
    });
    let pushed = 0;
    let first: ShuffledWriter | undefined;
    const stopped = await runImportJob(jobOptions(dir, [file], VIEW), {
      logger,
      stopRequested: () => pushed > 500,
      openSink: (onWritten) =>
        (first = new ShuffledWriter((tag) => {
          pushed++;
          onWritten(tag);
        })),
    });
    expect(stopped.status).toBe('interrupted');
    expect(stopped.rowsRead).toBeLessThan(2000);
    let second: ShuffledWriter | undefined;
    const resumed = await runImportJob(jobOptions(dir, [file], VIEW, { resume: true }), {
      logger,
      openSink: (onWritten) => (second = new ShuffledWriter(onWritten)),
    });
    expect(resumed).toMatchObject({ status: 'finished', rowsRead: 2000, rowsWritten: 2000 });
    expect(new Set([...first!.written, ...second!.written].map(rowKey)).size).toBe(2000);
  });

  it('refuses to resume when an input changed or a setting differs', async () => {
    const dir = scratchDir('cassette-job-');
    const file = join(dir, 'rows.jsonl');
    writeFileSync(file, '{"user_id": 1, "shop_id": "a", "clicks": 1}\n');
    const done = await runImportJob(jobOptions(dir, [file], VIEW), {
      logger,
      openSink: (w) => new ShuffledWriter(w),
    });
    expect(done.status).toBe('finished');
    // Finished jobs start over without --resume; make an unfinished checkpoint by hand.
    const path = join(dir, 'checkpoint.json');
    writeFileSync(path, JSON.stringify({ ...readCheckpoint(path)!, finished: false }));
    await expect(
      runImportJob(jobOptions(dir, [file], VIEW, { resume: true, eventTimeUnit: 'ms' }), {
        logger,
        openSink: (w) => new ShuffledWriter(w),
      }),
    ).rejects.toThrow(/eventTimeUnit was "s", now "ms"/);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await expect(
      runImportJob(jobOptions(dir, [file], VIEW, { resume: true }), {
        logger,
        openSink: (w) => new ShuffledWriter(w),
      }),
    ).rejects.toThrow(/rows.jsonl was modified/);
    writeFileSync(file, '{"user_id": 1, "shop_id": "a", "clicks": 2}\n{}\n');
    await expect(
      runImportJob(jobOptions(dir, [file], VIEW, { resume: true }), {
        logger,
        openSink: (w) => new ShuffledWriter(w),
      }),
    ).rejects.toThrow(/changed size/);
    const restarted = await runImportJob(jobOptions(dir, [file], VIEW, { restart: true }), {
      logger,
      openSink: (w) => new ShuffledWriter(w),
    });
    expect(restarted).toMatchObject({ status: 'finished', rowsRead: 2, rowsWritten: 1, rowsRejected: 1 });
  });

  it('fails the job once rejects pass --max-rejects, by count while reading and by share at the end', async () => {
    const dir = scratchDir('cassette-job-');
    const file = join(dir, 'rows.jsonl');
    const good = (i: number) => JSON.stringify({ user_id: i, shop_id: 's', clicks: i });
    writeFileSync(file, [good(1), 'not json', good(2), '{"user_id": 3}', good(4), '[]', good(5)].join('\n') + '\n');
    const byCount = await runImportJob(jobOptions(dir, [file], VIEW, { maxRejects: parseMaxRejects('1') }), {
      logger,
      openSink: (w) => new ShuffledWriter(w),
    });
    expect(byCount).toMatchObject({ status: 'failed', rowsRejected: 2 });
    expect(byCount.error).toMatch(/2 records were rejected, more than --max-rejects 1/);
    const byShare = await runImportJob(
      jobOptions(dir, [file], VIEW, { maxRejects: parseMaxRejects('40%'), restart: true }),
      {
        logger,
        openSink: (w) => new ShuffledWriter(w),
      },
    );
    expect(byShare).toMatchObject({ status: 'failed', rowsRead: 7, rowsWritten: 4, rowsRejected: 3 });
    expect(byShare.error).toMatch(/3 of 7 records \(42.86%\) were rejected, more than --max-rejects 40%/);
    const rejects = readFileSync(join(dir, 'rejects.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [2, expect.stringMatching(/^not valid JSON/)],
      [4, 'row.entity_keys: missing join key "shop_id"'],
      [6, 'expected a JSON object, got an array'],
    ]);
    expect(rejects[0]).toMatchObject({ file, record: 'not json' });
  });
});

describe('Parquet source', () => {
  it('reads a large row group in slices and resumes at any row', async () => {
    const dir = scratchDir('cassette-parquet-');
    const file = join(dir, 'big.parquet');
    await generateFile({
      view: VIEW,
      rows: 20_000,
      format: 'parquet',
      out: file,
      seed: 2,
      badFraction: 0,
      sparseFraction: 0,
      anchorMillis: Date.now(),
      entities: 0,
      rowGroupSize: 20_000,
      eventTimeColumn: 'event_timestamp',
    });
    const ctx = {
      resolver: new ColumnResolver(VIEW, { maps: new Map(), eventTimeColumn: 'event_timestamp', ignoreUnknown: false }),
      eventTimeUnit: 's' as const,
      defaultEventMicros: 0n,
      maxRecordBytes: 1 << 20,
      delimiter: ',',
      onIgnoredColumn: () => undefined,
    };
    const read = async (from: number) => {
      const source = await openParquetSource(file, { offset: from, line: from }, ctx);
      const keys: string[] = [];
      const sizes: number[] = [];
      const locations: unknown[] = [];
      for await (const batch of source.batches()) {
        sizes.push(batch.size);
        for (let i = 0; i < batch.size; i++) {
          locations.push(batch.locate(i));
          keys.push(JSON.stringify(batch.toRow(i).key));
        }
      }
      await source.close();
      // One comparison for all rows: an expect per row costs more than reading the file.
      expect(locations).toEqual(keys.map((_, i) => ({ row: from + i })));
      return { keys, sizes };
    };
    const all = await read(0);
    expect(all.keys).toHaveLength(20_000);
    expect(all.sizes.length).toBeGreaterThan(1);
    expect(Math.max(...all.sizes)).toBeLessThanOrEqual(8192);
    const rest = await read(12_345);
    expect(rest.keys).toEqual(all.keys.slice(12_345));
  });
});

describe('checkpoint files', () => {
  it('are written atomically and read back; anything else is refused with the reason', () => {
    const dir = scratchDir('cassette-checkpoint-');
    const path = join(dir, 'c.json');
    expect(readCheckpoint(path)).toBeUndefined();
    writeFileSync(path, '{ not json');
    expect(() => readCheckpoint(path)).toThrow(/not valid JSON/);
    writeFileSync(path, JSON.stringify({ version: 99 }));
    expect(() => readCheckpoint(path)).toThrow(/is not a cassette ingest checkpoint/);
  });
});
