import { describe, expect, it } from 'vitest';

import { isCassetteError } from '../../../src/errors/index.js';
import { FeastWriter, rowsFromFrame } from '../../../src/feast/http/writes.js';
import { callWithin, getFeatures, memoryServing } from '../../helpers/memory-store.js';
import { featuresRequest, shopRegistry, users } from '../../helpers/serving-fixtures.js';

const userStats = shopRegistry.featureViews.get('user_stats')!;

async function rejection(promise: Promise<unknown>): Promise<{ message: string; code: string; field?: string }> {
  try {
    await promise;
  } catch (error) {
    if (isCassetteError(error)) return { message: error.message, code: error.code, field: error.metadata.field };
    throw error;
  }
  throw new Error('expected a rejection');
}

function thrown(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isCassetteError(error)) return error.message;
    throw error;
  }
  throw new Error('expected an error');
}

describe('rowsFromFrame: a Feast data frame as write rows', () => {
  it('converts each column by its type; event times are ISO-8601 (UTC unless offset); created is not used', () => {
    const rows = rowsFromFrame(userStats, {
      user_id: [1, '9007199254740993'],
      clicks: [5, null],
      tags: [['a'], []],
      event_timestamp: ['2026-01-02T03:04:05.123456', null],
      created: ['2026-01-02T03:04:05', null],
    });
    expect(rows).toEqual([
      {
        entity_keys: { user_id: { val: 'int64_val', int64_val: '1' } },
        features: {
          clicks: { val: 'int64_val', int64_val: '5' },
          tags: { val: 'string_list_val', string_list_val: { val: ['a'] } },
        },
        event_timestamp: { seconds: String(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000), nanos: 123_456_000 },
      },
      {
        entity_keys: { user_id: { val: 'int64_val', int64_val: '9007199254740993' } },
        features: {
          clicks: { val: 'null_val', null_val: 'NULL' },
          tags: { val: 'string_list_val', string_list_val: { val: [] } },
        },
        event_timestamp: null,
      },
    ]);
  });

  it('names the column and row of what does not fit', () => {
    expect(thrown(() => rowsFromFrame(userStats, { user_id: [1], clicks: ['x'] }))).toBe(
      'df["clicks"][0]: expected int64 (an integer), got "x"',
    );
    expect(thrown(() => rowsFromFrame(userStats, { user_id: [1, 2], clicks: [1] }))).toBe(
      'df: column "clicks" has 1 values but column "user_id" has 2; every column needs the frame\'s length',
    );
    expect(thrown(() => rowsFromFrame(userStats, { clicks: [1] }))).toBe('df: missing join key column "user_id"');
    expect(thrown(() => rowsFromFrame(userStats, { user_id: [1] }))).toBe(
      'df: give at least one feature of feature view "user_stats"',
    );
    expect(thrown(() => rowsFromFrame(userStats, { user_id: [1], clicks: [1], ts: ['x'] }))).toBe(
      'df["ts"]: feature view "user_stats" has no join key or feature of that name (event times go in "event_timestamp")',
    );
    expect(thrown(() => rowsFromFrame(userStats, { user_id: [1], clicks: [1], event_timestamp: [1700000000] }))).toBe(
      'df["event_timestamp"][0]: expected an ISO-8601 time (UTC unless it names an offset), got 1700000000',
    );
  });
});

describe('FeastWriter: Feast writes on the FeatureWriter', () => {
  it('writes a frame larger than one request in parts, all of it readable', async () => {
    const core = memoryServing(shopRegistry, { ingest: { maxRowsPerRequest: 2 } });
    const writer = new FeastWriter(core.registry, core.writer, 2);
    const ids = [1, 2, 3, 4, 5];
    const written = await writer.writeToOnlineStore(
      { feature_view_name: 'user_stats', df: { user_id: ids, clicks: ids.map((id) => id * 10) } },
      callWithin(5_000),
    );
    expect(written).toBe(5);
    const response = await getFeatures(core, featuresRequest(['user_stats:clicks'], { user_id: users(...ids) }));
    expect(response.results[0]!.values.map((v) => v.int64_val)).toEqual(['10', '20', '30', '40', '50']);
  });

  it('pushes to the feature view of that name, online only, and names what is wrong', async () => {
    const core = memoryServing(shopRegistry);
    const writer = new FeastWriter(core.registry, core.writer, 100);
    expect(
      await writer.push({ push_source_name: 'user_stats', df: { user_id: [1], clicks: [1] } }, callWithin(5_000)),
    ).toBe(1);
    expect(
      await rejection(
        writer.push({ push_source_name: 'stats_push', df: { user_id: [1], clicks: [1] } }, callWithin(5_000)),
      ),
    ).toMatchObject({ code: 'CST_ERR_UNKNOWN_PUSH_SOURCE', field: 'push_source_name' });
    expect(
      await rejection(
        writer.push(
          { push_source_name: 'user_stats', df: { user_id: [1], clicks: [1] }, to: 'online_and_offline' },
          callWithin(5_000),
        ),
      ),
    ).toMatchObject({ field: 'to' });
    expect(
      await rejection(writer.writeToOnlineStore({ feature_view_name: 'nope', df: {} }, callWithin(5_000))),
    ).toMatchObject({ code: 'CST_ERR_UNKNOWN_FEATURE_VIEW', field: 'feature_view_name' });
  });

  it('says where a later part failed and how many rows were written before it', async () => {
    const core = memoryServing(shopRegistry);
    const writer = new FeastWriter(core.registry, core.writer, 2);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const failure = await rejection(
      writer.writeToOnlineStore(
        {
          feature_view_name: 'user_stats',
          df: { user_id: [1, 2, 3], clicks: [1, 2, 3], event_timestamp: [null, null, future] },
        },
        callWithin(5_000),
      ),
    );
    expect(failure.message).toMatch(
      /^rows\[0\]\.event_timestamp: .* is more than 300000 ms in the future \(in the part of the frame from row 2; 2 rows before it were written\)$/,
    );
  });
});
