import { Readable } from 'node:stream';

import cassandra from 'cassandra-driver';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { invalidArgument } from '../../../src/errors/index.js';
import {
  newStreamCounts,
  RowSink,
  writeMessageStream,
  type ValidatedMessage,
  type WriteRow,
} from '../../../src/write/index.js';
import type { FeatureViewDef } from '../../../src/registry/index.js';
import { limitReadAhead } from '../../../src/server/grpc-transport.js';
import type { OnlineStore } from '../../../src/store/index.js';

const views = new Map<string, FeatureViewDef>([
  ['a', { name: 'a' } as FeatureViewDef],
  ['b', { name: 'b' } as FeatureViewDef],
]);

interface Message {
  view: string;
  keys: number[];
  bad?: boolean;
}

const row = (key: number): WriteRow => ({
  key: [String(key)],
  keyString: String(key),
  features: [key],
  eventTimeMicros: cassandra.types.Long.fromInt(key),
  ttlSeconds: 0,
});

/** The validation stand-in: a message is valid unless marked bad. */
function validate(message: Message, index: number): ValidatedMessage {
  if (message.bad) throw invalidArgument(`messages[${index}].rows[1].features["x"]: not an int64`);
  return {
    view: views.get(message.view)!,
    version: 1,
    rows: message.keys.map(row),
    received: message.keys.length,
    expired: 0,
  };
}

/** A store whose writes stay pending until released (unit tests only); records what was written. */
function heldStore() {
  const pending: (() => void)[] = [];
  const written: string[] = [];
  let running = 0;
  const store = {
    write: (view: FeatureViewDef, key: readonly string[]) =>
      new Promise<void>((resolve) => {
        running++;
        pending.push(() => {
          running--;
          written.push(`${view.name}:${key[0]}`);
          resolve();
        });
      }),
  } as unknown as OnlineStore;
  const releaseAll = async () => {
    while (pending.length > 0 || running > 0) {
      pending.splice(0).forEach((release) => release());
      await settle();
    }
  };
  return { store, pending, written, running: () => running, releaseAll };
}

/** Messages from an array, counting how many the consumer has pulled. */
function counted(messages: Message[]) {
  const state = { pulled: 0 };
  async function* iterate(): AsyncGenerator<Message> {
    for (const message of messages) {
      state.pulled++;
      yield message;
    }
  }
  return { state, iterable: iterate() };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const sinkOptions = {
  concurrency: 4,
  maxRowsPerSecond: 0,
  writeTimeoutMs: 1000,
  maxAttempts: 1,
  partitionBatchRows: 1,
};

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

describe('writeMessageStream', () => {
  it('reads the next message only when the window has room, so a stream holds one message and one window', async () => {
    const fake = heldStore();
    const messages = Array.from({ length: 10 }, (_, m) => ({ view: 'a', keys: [3 * m, 3 * m + 1, 3 * m + 2] }));
    const { state, iterable } = counted(messages);
    const done = writeMessageStream(iterable, validate, (view) => new RowSink(fake.store, view, sinkOptions));
    for (let round = 0; round < 5; round++) await settle();
    // Message 0 filled 3 of the 4 slots; message 1's first row filled the window, and the stream
    // waits there: message 2 is not read however long the writes take.
    expect(state.pulled).toBe(2);
    expect(fake.running()).toBe(4);
    // Each freed slot lets exactly one more row in; the stream advances only as rows drain.
    let peakAhead = 0;
    while (fake.pending.length > 0) {
      fake.pending.shift()!();
      await settle();
      expect(fake.running()).toBeLessThanOrEqual(4);
      // Rows read from the stream but not yet written: at most one message plus one window.
      peakAhead = Math.max(peakAhead, state.pulled * 3 - fake.written.length);
    }
    await fake.releaseAll();
    const counts = await done;
    expect(peakAhead).toBeLessThanOrEqual(3 + 4);
    expect(counts).toEqual({ messages: 10, rowsReceived: 30, rowsWritten: 30, rowsExpired: 0 });
    expect(new Set(fake.written).size).toBe(30);
  });

  it('writes the rows of the messages before an invalid one, then names the message and the count', async () => {
    const fake = heldStore();
    const { state, iterable } = counted([
      { view: 'a', keys: [1, 2] },
      { view: 'a', keys: [3, 4, 5] },
      { view: 'a', keys: [6], bad: true },
      { view: 'a', keys: [7] },
    ]);
    const counts = newStreamCounts();
    const outcome = writeMessageStream(
      iterable,
      validate,
      // A window large enough for the first two messages, so the bad one is read while they are in flight.
      (view) => new RowSink(fake.store, view, { ...sinkOptions, concurrency: 8 }),
      counts,
    ).catch((error: unknown) => error);
    await settle();
    // The bad message has been read, but the error waits for the earlier rows to be written.
    expect(state.pulled).toBe(3);
    expect(await Promise.race([outcome, settle().then(() => 'pending')])).toBe('pending');
    await fake.releaseAll();
    const error = (await outcome) as Error & { status: string };
    expect(error.status).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^messages\[2\]\.rows\[1\]\.features\["x"\]: not an int64 /);
    expect(error.message).toContain('the 5 rows of the 2 messages before it were written');
    expect(fake.written.sort()).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5']);
    expect(state.pulled).toBe(3);
    expect(counts).toMatchObject({ messages: 2, rowsWritten: 5 });
  });

  it('drains the sink of one view before writing rows of another', async () => {
    const fake = heldStore();
    const opened: string[] = [];
    const { iterable } = counted([
      { view: 'a', keys: [1, 2] },
      { view: 'a', keys: [3] },
      { view: 'b', keys: [1] },
      { view: 'a', keys: [4] },
    ]);
    const done = writeMessageStream(iterable, validate, (view) => {
      // A new sink opens only once the previous one has nothing in flight.
      expect(fake.running()).toBe(0);
      opened.push(view.name);
      return new RowSink(fake.store, view, sinkOptions);
    });
    await fake.releaseAll();
    while (fake.written.length < 5) await fake.releaseAll();
    expect(await done).toMatchObject({ messages: 4, rowsWritten: 5 });
    expect(opened).toEqual(['a', 'b', 'a']);
    expect(fake.written).toEqual(['a:1', 'a:2', 'a:3', 'b:1', 'a:4']);
  });

  it('rethrows a failing stream once its running writes have settled', async () => {
    const fake = heldStore();
    const broken = new Error('stream reset');
    async function* failing(): AsyncGenerator<Message> {
      yield { view: 'a', keys: [1, 2] };
      throw broken;
    }
    const outcome = writeMessageStream(failing(), validate, (view) => new RowSink(fake.store, view, sinkOptions)).catch(
      (error: unknown) => error,
    );
    await settle();
    expect(await Promise.race([outcome, settle().then(() => 'pending')])).toBe('pending');
    await fake.releaseAll();
    expect(await outcome).toBe(broken);
    expect(fake.written.sort()).toEqual(['a:1', 'a:2']);
  });
});

describe('limitReadAhead', () => {
  /** A message source like grpc-js's: it produces a message (asynchronously) each time the stream asks. */
  function source() {
    const state = { produced: 0 };
    const stream = new Readable({
      objectMode: true,
      read() {
        setImmediate(() => this.push({ n: ++state.produced }));
      },
    });
    return { state, stream };
  }

  it('keeps at most one message buffered beyond what the consumer has taken', async () => {
    const limited = source();
    limitReadAhead(limited.stream);
    const unlimited = source();
    const take = async (stream: Readable) => {
      const iterator = stream[Symbol.asyncIterator]();
      await iterator.next();
      for (let i = 0; i < 40; i++) await settle();
      return iterator;
    };
    const a = await take(limited.stream);
    const b = await take(unlimited.stream);
    expect(limited.state.produced).toBeLessThanOrEqual(2);
    // Node's default for object streams buffers 16 messages ahead.
    expect(unlimited.state.produced).toBeGreaterThanOrEqual(16);
    await a.return?.();
    await b.return?.();
  });
});
