import { describe, expect, it } from 'vitest';

import { withDeadline } from '../../../src/concurrency/index.js';
import { CassetteError } from '../../../src/errors/index.js';

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
