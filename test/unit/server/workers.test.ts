import { describe, expect, it } from 'vitest';

import { restartDelayMs } from '../../../src/server/workers.js';

describe('worker restarts', () => {
  it('wait longer after each death within the window, up to a cap', () => {
    expect([1, 2, 3, 4].map(restartDelayMs)).toEqual([500, 1000, 2000, 4000]);
    expect(restartDelayMs(20)).toBe(30_000);
  });
});
