import { describe, expect, it } from 'vitest';

import type { FeatureViewSpec__Output } from '../../../src/api/index.js';
import { rowsFromJson } from '../../../src/cli/write.js';
import { featureViewSpec } from '../../../src/registry/api-mapping.js';
import { shopRegistry } from '../../helpers/serving-fixtures.js';

const spec = featureViewSpec(shopRegistry.featureViews.get('user_stats')!) as unknown as FeatureViewSpec__Output;

function eventTimeOf(value: unknown): unknown {
  return rowsFromJson(spec, [{ user_id: 1, event_timestamp: value }])[0]!.event_timestamp;
}

describe('cassette write rows', () => {
  it('takes an event time as ISO-8601 to the microsecond, or as unix seconds, before 1970 too', () => {
    expect(eventTimeOf('2026-01-31T12:00:00.123456Z')).toEqual({ seconds: '1769860800', nanos: 123_456_000 });
    expect(eventTimeOf(1769860800.5)).toEqual({ seconds: 1769860800, nanos: 500_000_000 });
    expect(eventTimeOf('1969-12-31T23:59:59.999999Z')).toEqual({ seconds: '-1', nanos: 999_999_000 });
    expect(eventTimeOf(-0.25)).toEqual({ seconds: -1, nanos: 750_000_000 });
  });

  it('refuses anything else, naming the row and field', () => {
    expect(() => eventTimeOf('yesterday')).toThrow('row 0.event_timestamp: "yesterday" is not an ISO-8601 time');
    expect(() => eventTimeOf('2026-02-30')).toThrow('is not an ISO-8601 time or unix seconds');
    expect(() => eventTimeOf(true)).toThrow('is not an ISO-8601 time or unix seconds');
  });
});
