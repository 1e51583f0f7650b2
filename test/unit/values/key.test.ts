import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { partitionKeyBytes } from '../../../src/values/index.js';

describe('partitionKeyBytes', () => {
  it('counts a single column as is and adds 3 bytes per composite part', () => {
    expect(partitionKeyBytes(['abc'])).toBe(3);
    expect(partitionKeyBytes([Buffer.alloc(10)])).toBe(10);
    expect(partitionKeyBytes([cassandra.types.Long.fromInt(1), 'ü'])).toBe(8 + 3 + 2 + 3);
    expect(partitionKeyBytes([1, 'x'.repeat(65_535)])).toBeGreaterThan(65_535);
  });
});
