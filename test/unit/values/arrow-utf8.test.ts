import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { utf8Length, writeUtf8 } from '../../../src/values/arrow.js';

describe('utf8Length and writeUtf8', () => {
  it('measure and write any string as Buffer does, short ASCII or not', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
        const expected = Buffer.from(text, 'utf8');
        expect(utf8Length(text)).toBe(expected.length);
        const out = Buffer.alloc(expected.length + 4, 0xee);
        expect(writeUtf8(out, 2, text)).toBe(expected.length);
        expect(out.subarray(2, 2 + expected.length).equals(expected)).toBe(true);
        expect(out[1]).toBe(0xee);
        expect(out[2 + expected.length]).toBe(0xee);
      }),
      { numRuns: 500 },
    );
  });
});
