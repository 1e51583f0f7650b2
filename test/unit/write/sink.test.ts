import cassandra from 'cassandra-driver';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { RowSink, type RowSinkOptions, type WriteRow } from '../../../src/write/index.js';
import type { FeatureViewDef } from '../../../src/registry/index.js';
import { isTransientWriteError, type OnlineStore } from '../../../src/store/index.js';

const { errors, types } = cassandra;

const view = { name: 'v' } as FeatureViewDef;
const makeRow = (i: number): WriteRow => ({
  key: [String(i)],
  keyString: String(i),
  features: [i],
  eventTimeMicros: types.Long.fromInt(i),
  ttlSeconds: 0,
});
const rows = (count: number) => Array.from({ length: count }, (_, i) => makeRow(i));

interface Call {
  key: string;
  timeoutMs: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A stand-in for the store's write (unit tests only): every write is recorded and stays pending
 * until the test settles it, or is settled at once by `auto`.
 */
function fakeStore(auto?: (key: string, attempt: number) => Error | undefined) {
  const calls: Call[] = [];
  const attempts = new Map<string, number>();
  let running = 0;
  let peak = 0;
  const batches: string[][] = [];
  const store = {
    write: (_view: FeatureViewDef, key: readonly string[], ...rest: unknown[]) => write(key, rest[3] as number),
    writePartitionBatch: (_view: FeatureViewDef, batch: readonly WriteRow[], timeoutMs: number) => {
      batches.push(batch.map((r) => String(r.features[0])));
      return write(batch[0]!.key as string[], timeoutMs);
    },
  } as unknown as OnlineStore;
  function write(key: readonly string[], timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const name = key[0]!;
      const attempt = (attempts.get(name) ?? 0) + 1;
      attempts.set(name, attempt);
      running++;
      peak = Math.max(peak, running);
      const done = (error?: unknown) => {
        running--;
        if (error === undefined) resolve();
        else reject(error);
      };
      calls.push({ key: name, timeoutMs, resolve: () => done(), reject: done });
      if (auto) {
        const error = auto(name, attempt);
        queueMicrotask(() => done(error));
      }
    });
  }
  return { store, calls, batches, attempts, running: () => running, peak: () => peak };
}

const options = (overrides: Partial<RowSinkOptions> = {}): RowSinkOptions => ({
  concurrency: 4,
  maxRowsPerSecond: 0,
  writeTimeoutMs: 1000,
  maxAttempts: 1,
  backoffBaseMs: 1,
  backoffMaxMs: 1,
  partitionBatchRows: 1,
  ...overrides,
});

/** Lets queued promise callbacks and timers run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Pushes rows the way a producer must: awaiting the sink whenever it says the window is full. */
async function produce(sink: RowSink, input: readonly WriteRow[]): Promise<void> {
  for (let i = 0; i < input.length; i++) {
    const room = sink.push(input[i]!, i);
    if (room !== null) await room;
  }
  await sink.flush();
}

const overloaded = () => new errors.ResponseError(types.responseErrorCodes.overloaded, 'overloaded');
const invalid = () => new errors.ResponseError(types.responseErrorCodes.invalid, 'bad value');

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await settle();
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('RowSink: window and backpressure', () => {
  it('accepts rows while the window has room, then makes the producer wait for a write to settle', async () => {
    const { store, calls } = fakeStore();
    const sink = new RowSink(store, view, options({ concurrency: 3 }));
    expect(sink.push(makeRow(0), 0)).toBeNull();
    expect(sink.push(makeRow(1), 1)).toBeNull();
    const room = sink.push(makeRow(2), 2);
    expect(room).toBeInstanceOf(Promise);
    expect(sink.stats.inFlight).toBe(3);
    let resumed = false;
    void room!.then(() => (resumed = true));
    await settle();
    expect(resumed).toBe(false);
    calls[1]!.resolve();
    await settle();
    expect(resumed).toBe(true);
    expect(sink.stats).toEqual({ written: 1, retried: 0, inFlight: 2, batches: 0 });
    for (const call of calls) call.resolve();
    await sink.flush();
    expect(sink.stats).toEqual({ written: 3, retried: 0, inFlight: 0, batches: 0 });
  });

  it('never has more writes in flight than its concurrency, and writes every row once', async () => {
    const fake = fakeStore(() => undefined);
    const sink = new RowSink(fake.store, view, options({ concurrency: 5 }));
    const written: number[] = [];
    const withTags = new RowSink(fake.store, view, {
      ...options({ concurrency: 5 }),
      onWritten: (_, tag) => written.push(tag),
    });
    await produce(sink, rows(200));
    await produce(withTags, rows(50));
    expect(fake.peak()).toBe(5);
    expect(sink.stats.written).toBe(200);
    expect(written.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('holds at most `concurrency` rows even when the producer ignores the backpressure', async () => {
    const fake = fakeStore();
    const sink = new RowSink(fake.store, view, options({ concurrency: 2 }));
    const waits = rows(6).map((row, i) => sink.push(row, i));
    expect(fake.calls.length).toBe(2);
    // The rows over the window wait in the sink's queue, started one by one as slots free up.
    for (let i = 0; i < 6; i++) {
      expect(fake.running()).toBeLessThanOrEqual(2);
      fake.calls[i]!.resolve();
      await settle();
    }
    await Promise.all(waits);
    await sink.flush();
    expect(sink.stats.written).toBe(6);
    expect(fake.peak()).toBe(2);
  });

  it('flush resolves at once when nothing was pushed', async () => {
    const sink = new RowSink(fakeStore().store, view, options());
    await expect(sink.flush()).resolves.toBeUndefined();
  });
});

describe('RowSink: batches of one partition', () => {
  /** Row `i` of entity `key`. */
  const entityRow = (key: string, i: number): WriteRow => ({ ...makeRow(i), key: [key], keyString: key });

  it('batches consecutive rows of one partition while they wait for a slot, never holding a row back', async () => {
    const fake = fakeStore();
    const written: number[] = [];
    const sink = new RowSink(
      fake.store,
      view,
      options({ concurrency: 1, partitionBatchRows: 3, onWritten: (_row, tag) => written.push(tag) }),
    );
    // A0 starts at once; A1–A3 queue behind it as one batch (A1 starts a write, A2 and A3 join it).
    expect(sink.push(entityRow('a', 0), 0)).toBeNull();
    expect(fake.calls.length).toBe(1);
    expect(sink.push(entityRow('a', 1), 1)).toBeNull();
    expect(sink.push(entityRow('a', 2), 2)).toBeNull();
    expect(sink.push(entityRow('a', 3), 3)).toBeNull();
    // The batch is full: A4 queues a write of its own, and now the producer must wait.
    const room = sink.push(entityRow('a', 4), 4);
    expect(room).toBeInstanceOf(Promise);
    fake.calls[0]!.resolve();
    await room;
    expect(fake.batches).toEqual([['1', '2', '3']]);
    // B0 is another partition: A4 goes alone.
    const next = sink.push(entityRow('b', 5), 5);
    expect(next).toBeInstanceOf(Promise);
    fake.calls[1]!.resolve();
    await next;
    fake.calls[2]!.resolve();
    await settle();
    fake.calls[3]!.resolve();
    await sink.flush();
    expect(fake.calls.map((c) => c.key)).toEqual(['a', 'a', 'a', 'b']);
    expect(fake.batches).toEqual([['1', '2', '3']]);
    expect(written).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sink.stats).toEqual({ written: 6, retried: 0, inFlight: 0, batches: 1 });
  });

  it('holds a row only until the next row (of another partition) arrives, or flush', async () => {
    const fake = fakeStore();
    const sink = new RowSink(fake.store, view, options({ concurrency: 4, partitionBatchRows: 32 }));
    expect(sink.push(makeRow(0), 0)).toBeNull();
    expect(sink.push(makeRow(1), 1)).toBeNull();
    // Row 1 could still be joined by more rows of its partition while row 0 is in flight.
    expect(fake.calls.map((c) => c.key)).toEqual(['0']);
    expect(sink.push(makeRow(2), 2)).toBeNull();
    expect(fake.calls.map((c) => c.key)).toEqual(['0', '1']);
    const flushed = sink.flush();
    expect(fake.calls.map((c) => c.key)).toEqual(['0', '1', '2']);
    for (const call of fake.calls) call.resolve();
    await flushed;
    expect(fake.batches).toEqual([]);
  });

  it('starts a held row once the writes in flight are done', async () => {
    const fake = fakeStore();
    const sink = new RowSink(fake.store, view, options({ concurrency: 4, partitionBatchRows: 32 }));
    expect(sink.push(makeRow(0), 0)).toBeNull();
    expect(sink.push(makeRow(1), 1)).toBeNull();
    fake.calls[0]!.resolve();
    await settle();
    expect(fake.calls.map((c) => c.key)).toEqual(['0', '1']);
    fake.calls[1]!.resolve();
    await sink.flush();
  });

  it('retries a batch whole and reports each of its rows', async () => {
    const fake = fakeStore();
    const settled: string[] = [];
    const sink = new RowSink(
      fake.store,
      view,
      options({
        concurrency: 1,
        partitionBatchRows: 8,
        maxAttempts: 2,
        onSettled: (row) => settled.push(`${row.keyString}${String(row.features[0])}`),
      }),
    );
    // The first write (a0) is held, so a1 and a2 batch behind it; the batch then fails once, transiently.
    for (let i = 0; i < 3; i++) expect(sink.push(entityRow('a', i), i)).toBeNull();
    fake.calls[0]!.resolve();
    await settle();
    expect(fake.batches).toEqual([['1', '2']]);
    fake.calls[1]!.reject(overloaded());
    while (fake.calls.length < 3) await settle();
    fake.calls[2]!.resolve();
    await sink.flush();
    expect(fake.batches).toEqual([
      ['1', '2'],
      ['1', '2'],
    ]);
    expect(sink.stats).toEqual({ written: 3, retried: 1, inFlight: 0, batches: 1 });
    expect(settled).toEqual(['a0', 'a1', 'a2']);
  });
});

describe('RowSink: rate limit', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts a burst of 50 ms worth of writes, then one write per 1/rate seconds', async () => {
    const fake = fakeStore(() => undefined);
    // 200 rows/s: a bucket of 10 tokens, one more every 5 ms.
    const sink = new RowSink(fake.store, view, options({ concurrency: 1000, maxRowsPerSecond: 200 }));
    for (let i = 0; i < 100; i++) expect(sink.push(makeRow(i), i)).toBeNull();
    expect(fake.calls.length).toBe(10);
    await vi.advanceTimersByTimeAsync(100);
    expect(fake.calls.length).toBe(30);
    await vi.advanceTimersByTimeAsync(400);
    expect(fake.calls.length).toBe(100);
    await sink.flush();
    expect(sink.stats.written).toBe(100);
  });

  it('counts rows waiting for a token in the window', async () => {
    const fake = fakeStore(() => undefined);
    // 20 rows/s: one token, refilled every 50 ms.
    const sink = new RowSink(fake.store, view, options({ concurrency: 3, maxRowsPerSecond: 20 }));
    expect(sink.push(makeRow(0), 0)).toBeNull();
    expect(sink.push(makeRow(1), 1)).toBeNull();
    const room = sink.push(makeRow(2), 2);
    expect(room).toBeInstanceOf(Promise);
    expect(fake.calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(fake.calls.length).toBe(2);
    await room;
    await vi.advanceTimersByTimeAsync(50);
    await sink.flush();
    expect(fake.calls.map((c) => c.key)).toEqual(['0', '1', '2']);
  });
});

describe('RowSink: retries', () => {
  it.each([
    ['a client timeout', () => new errors.OperationTimedOutError('slow', 'host')],
    ['Overloaded', overloaded],
    ['Unavailable', () => new errors.ResponseError(types.responseErrorCodes.unavailableException, 'down')],
    ['WriteTimeout', () => new errors.ResponseError(types.responseErrorCodes.writeTimeout, 'replicas slow')],
    [
      'a lost connection',
      () => {
        // What the driver fails pending requests with when a connection closes (the class is abstract in its types).
        const DriverError = errors.DriverError as unknown as new (
          message: string,
        ) => Error & { isSocketError?: boolean };
        const closed = new DriverError('Socket was closed');
        closed.isSocketError = true;
        return new errors.NoHostAvailableError({ '127.0.0.1:9042': closed });
      },
    ],
  ])('retries a write that failed with %s, up to maxAttempts', async (_, transient) => {
    const fake = fakeStore((key, attempt) => (key === '1' && attempt < 3 ? transient() : undefined));
    const sink = new RowSink(fake.store, view, options({ maxAttempts: 3 }));
    await produce(sink, rows(3));
    expect(fake.attempts.get('1')).toBe(3);
    expect(sink.stats).toEqual({ written: 3, retried: 2, inFlight: 0, batches: 0 });
  });

  it('does not retry a write Cassandra refused, or an unexpected error', async () => {
    for (const error of [invalid(), new Error('bug')]) {
      const fake = fakeStore((key) => (key === '0' ? error : undefined));
      const sink = new RowSink(fake.store, view, options({ maxAttempts: 5, concurrency: 1 }));
      await expect(produce(sink, rows(3))).rejects.toBe(error);
      expect(fake.attempts.get('0')).toBe(1);
      expect(sink.stats.retried).toBe(0);
    }
  });

  it('gives up after maxAttempts with the last error, and reports a timed-out row as such', async () => {
    const settled: [string, boolean][] = [];
    const fake = fakeStore((key) => (key === '2' ? new errors.OperationTimedOutError('slow', 'host') : undefined));
    const sink = new RowSink(
      fake.store,
      view,
      options({ maxAttempts: 2, onSettled: (row, timedOut) => settled.push([row.keyString, timedOut]) }),
    );
    await expect(produce(sink, rows(3))).rejects.toBeInstanceOf(errors.OperationTimedOutError);
    expect(fake.attempts.get('2')).toBe(2);
    expect(settled).toContainEqual(['2', true]);
    expect(settled).toContainEqual(['0', false]);
  });

  it('waits an exponential, jittered backoff between attempts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    try {
      const fake = fakeStore(() => overloaded());
      const sink = new RowSink(
        fake.store,
        view,
        options({ maxAttempts: 4, backoffBaseMs: 100, backoffMaxMs: 250, random: () => 0.5 }),
      );
      expect(sink.push(makeRow(0), 0)).toBeNull();
      const flushed = sink.flush();
      const outcome = flushed.catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(0);
      expect(fake.calls.length).toBe(1);
      // Backoffs: 100, 200, then min(250, 400) = 250 ms, each scaled by 0.5 + 0.5 * 0.5 = 0.75.
      await vi.advanceTimersByTimeAsync(74);
      expect(fake.calls.length).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(fake.calls.length).toBe(2);
      await vi.advanceTimersByTimeAsync(150);
      expect(fake.calls.length).toBe(3);
      await vi.advanceTimersByTimeAsync(187.5);
      expect(fake.calls.length).toBe(4);
      expect(await outcome).toMatchObject({ code: types.responseErrorCodes.overloaded });
      expect(sink.stats.retried).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('starts no retry that would begin past the deadline', async () => {
    const fake = fakeStore(() => overloaded());
    const sink = new RowSink(
      fake.store,
      view,
      options({ maxAttempts: 5, backoffBaseMs: 60_000, backoffMaxMs: 60_000, deadline: Date.now() + 10_000 }),
    );
    await expect(produce(sink, rows(1))).rejects.toMatchObject({ code: types.responseErrorCodes.overloaded });
    expect(sink.stats.retried).toBe(0);
  });
});

describe('RowSink: failure', () => {
  it('stops starting rows after a write failed for good, and rejects only once running writes settled', async () => {
    const fake = fakeStore();
    const settled: string[] = [];
    const sink = new RowSink(
      fake.store,
      view,
      options({ concurrency: 3, onSettled: (row) => settled.push(row.keyString) }),
    );
    expect(sink.push(makeRow(0), 0)).toBeNull();
    expect(sink.push(makeRow(1), 1)).toBeNull();
    const room = sink.push(makeRow(2), 2)!;
    const outcome = room.then(
      () => 'room',
      (error: unknown) => error,
    );
    const refused = invalid();
    fake.calls[0]!.reject(refused);
    await settle();
    // Row 0 failed for good, rows 1 and 2 still run: no rejection yet, nothing new starts.
    expect(await Promise.race([outcome, settle().then(() => 'pending')])).toBe('pending');
    const late = sink.push(makeRow(3), 3)!;
    const lateOutcome = late.catch((error: unknown) => error);
    expect(fake.calls.length).toBe(3);
    fake.calls[1]!.resolve();
    fake.calls[2]!.reject(new Error('second failure'));
    expect(await outcome).toBe(refused);
    expect(await lateOutcome).toBe(refused);
    await expect(sink.flush()).rejects.toBe(refused);
    expect(settled.sort()).toEqual(['0', '1', '2']);
    expect(sink.stats).toEqual({ written: 1, retried: 0, inFlight: 0, batches: 0 });
  });

  it('gives up rows waiting for a retry when another row fails for good', async () => {
    const fake = fakeStore((key) => (key === '0' ? overloaded() : key === '1' ? invalid() : undefined));
    const settled: string[] = [];
    const sink = new RowSink(
      fake.store,
      view,
      options({
        concurrency: 2,
        maxAttempts: 10,
        backoffBaseMs: 60_000,
        backoffMaxMs: 60_000,
        onSettled: (row) => settled.push(row.keyString),
      }),
    );
    await expect(produce(sink, rows(2))).rejects.toMatchObject({ code: types.responseErrorCodes.invalid });
    expect(settled.sort()).toEqual(['0', '1']);
    expect(sink.stats.inFlight).toBe(0);
  });

  it('makes a throwing callback the fatal error', async () => {
    const fake = fakeStore(() => undefined);
    const boom = new Error('checkpoint failed');
    const sink = new RowSink(
      fake.store,
      view,
      options({
        onWritten: (_row, tag) => {
          if (tag === 2) throw boom;
        },
      }),
    );
    await expect(produce(sink, rows(10))).rejects.toBe(boom);
  });

  it('starts no row past the deadline or after the caller cancelled', async () => {
    const fake = fakeStore(() => undefined);
    const late = new RowSink(fake.store, view, options({ deadline: Date.now() - 1 }));
    await expect(produce(late, rows(3))).rejects.toMatchObject({ status: 'DEADLINE_EXCEEDED' });
    expect(fake.calls).toEqual([]);
    let cancelled = false;
    const cancelling = fakeStore(() => {
      cancelled = true;
      return undefined;
    });
    const sink = new RowSink(cancelling.store, view, options({ concurrency: 1, isCancelled: () => cancelled }));
    await expect(produce(sink, rows(3))).rejects.toMatchObject({ status: 'CANCELLED' });
    expect(cancelling.calls.map((c) => c.key)).toEqual(['0']);
  });

  it('passes the time left before the deadline to a timeout function', async () => {
    const fake = fakeStore(() => undefined);
    const sink = new RowSink(
      fake.store,
      view,
      options({ deadline: Date.now() + 60_000, writeTimeoutMs: (remaining) => (remaining > 50_000 ? 123 : 0) }),
    );
    await produce(sink, rows(1));
    const fixed = new RowSink(fake.store, view, options({ writeTimeoutMs: 456 }));
    await produce(fixed, rows(1));
    expect(fake.calls.map((c) => c.timeoutMs)).toEqual([123, 456]);
  });
});

describe('isTransientWriteError', () => {
  const codes = types.responseErrorCodes;
  it.each([
    ['a client timeout', new errors.OperationTimedOutError('slow', 'host')],
    ['Unavailable', new errors.ResponseError(codes.unavailableException, 'x')],
    ['Overloaded', new errors.ResponseError(codes.overloaded, 'x')],
    ['WriteTimeout', new errors.ResponseError(codes.writeTimeout, 'x')],
    ['a bootstrapping node', new errors.ResponseError(codes.isBootstrapping, 'x')],
    ['no host available, connections refused', new errors.NoHostAvailableError({ a: new Error('ECONNREFUSED') })],
    ['no host available at all', new errors.NoHostAvailableError({})],
  ])('retries %s', (_, error) => {
    expect(isTransientWriteError(error)).toBe(true);
  });

  it.each([
    ['an invalid request', new errors.ResponseError(codes.invalid, 'x')],
    ['a server error', new errors.ResponseError(codes.serverError, 'x')],
    ['a write failure on replicas', new errors.ResponseError(codes.writeFailure, 'x')],
    ['a driver argument error', new errors.ArgumentError('x')],
    ['an unexpected error', new Error('bug')],
  ])('does not retry %s', (_, error) => {
    expect(isTransientWriteError(error)).toBe(false);
  });
});
