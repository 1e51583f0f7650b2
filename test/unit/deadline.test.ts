import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { withDeadline } from '../../src/concurrency/index.js';
import { loadConfig } from '../../src/config/index.js';
import { CassetteError } from '../../src/errors/index.js';
import { monotonicMicros } from '../../src/write/clock.js';
import { isClientTimeout, storeError } from '../../src/store/index.js';
import { partitionKeyBytes } from '../../src/values/index.js';

const { errors } = cassandra;
const late = () => new CassetteError('DEADLINE_EXCEEDED', 'late');

describe('withDeadline', () => {
  it('settles like the work when it finishes in time', async () => {
    await expect(withDeadline(Promise.resolve(7), Date.now() + 1000, late)).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('boom')), Date.now() + 1000, late)).rejects.toThrow('boom');
  });

  it('rejects at the deadline, and observes a later failure of the work', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // Told apart from `work` itself: a handler on `work` here would hide what is checked.
      let workFailed!: () => void;
      const failed = new Promise<void>((resolve) => (workFailed = resolve));
      const work = new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error('too late'));
          workFailed();
        }, 30),
      );
      await expect(withDeadline(work, Date.now() + 5, late)).rejects.toMatchObject({ status: 'DEADLINE_EXCEEDED' });
      await expect(withDeadline(new Promise(() => undefined), Date.now() - 1, late)).rejects.toMatchObject({
        status: 'DEADLINE_EXCEEDED',
      });
      // Once the work has failed, a turn of the event loop lets an unhandled rejection surface.
      await failed;
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('treats a deadline beyond what a timer can hold as far away, not as now', async () => {
    await expect(withDeadline(Promise.resolve('ok'), Date.now() + 40 * 86_400_000, late)).resolves.toBe('ok');
  });
});

describe('monotonicMicros', () => {
  it('follows the wall clock and strictly increases', () => {
    const before = Date.now() * 1000;
    const stamps = Array.from({ length: 1000 }, () => monotonicMicros());
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    expect(stamps[0]!).toBeGreaterThanOrEqual(before);
    // A thousand calls within a millisecond step at most a thousand microseconds past the clock.
    expect(stamps[999]! - Date.now() * 1000).toBeLessThanOrEqual(1000);
  });
});

describe('storeError', () => {
  const timeout = new errors.OperationTimedOutError('timed out', '127.0.0.1:9042');
  const noHostOfTimeouts = new errors.NoHostAvailableError({ '127.0.0.1:9042': timeout });
  const noHost = new errors.NoHostAvailableError({ '127.0.0.1:9042': new Error('ECONNREFUSED') });

  it('tells client timeouts, also wrapped by the retry policy, from other failures', () => {
    expect(isClientTimeout(timeout)).toBe(true);
    expect(isClientTimeout(noHostOfTimeouts)).toBe(true);
    expect(isClientTimeout(noHost)).toBe(false);
  });

  it('maps timeouts to DEADLINE_EXCEEDED when the deadline passed, else UNAVAILABLE', () => {
    expect(storeError(timeout, true).status).toBe('DEADLINE_EXCEEDED');
    expect(storeError(noHostOfTimeouts, true).status).toBe('DEADLINE_EXCEEDED');
    expect(storeError(timeout, false).status).toBe('UNAVAILABLE');
    expect(storeError(noHost, false).status).toBe('UNAVAILABLE');
  });

  it('maps refused input to INVALID_ARGUMENT and anything unknown to INTERNAL', () => {
    const invalid = new errors.ResponseError(cassandra.types.responseErrorCodes.invalid, 'Key length too long');
    expect(storeError(invalid, false)).toMatchObject({ status: 'INVALID_ARGUMENT' });
    expect(storeError(new TypeError('bug'), false).status).toBe('INTERNAL');
    const own = new CassetteError('CANCELLED', 'gone');
    expect(storeError(own, true)).toBe(own);
  });
});

describe('driver timeout bounds in the config', () => {
  it('refuses a floor above the ceiling, and EACH_QUORUM for reads', () => {
    expect(() =>
      loadConfig({ env: {}, overrides: { cassandra: { requestTimeoutMs: 100, minDriverTimeoutMs: 250 } } }),
    ).toThrow(/cassandra.minDriverTimeoutMs: minDriverTimeoutMs must not exceed requestTimeoutMs/);
    expect(() => loadConfig({ env: {}, overrides: { cassandra: { readConsistency: 'eachQuorum' as never } } })).toThrow(
      /cassandra.readConsistency/,
    );
    expect(
      loadConfig({ env: {}, overrides: { cassandra: { writeConsistency: 'eachQuorum' } } }).cassandra.writeConsistency,
    ).toBe('eachQuorum');
  });
});

describe('partitionKeyBytes', () => {
  it('counts a single column as is and adds 3 bytes per composite part', () => {
    expect(partitionKeyBytes(['abc'])).toBe(3);
    expect(partitionKeyBytes([Buffer.alloc(10)])).toBe(10);
    expect(partitionKeyBytes([cassandra.types.Long.fromInt(1), 'ü'])).toBe(8 + 3 + 2 + 3);
    expect(partitionKeyBytes([1, 'x'.repeat(65_535)])).toBeGreaterThan(65_535);
  });
});
