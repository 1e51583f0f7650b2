import { describe, expect, it } from 'vitest';

import { CassetteError } from '../../../src/errors/index.js';
import type { GetOnlineFeaturesRequest__Output } from '../../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import { planLookup, type LookupPlan } from '../../../src/read/plan.js';
import {
  featuresRequest,
  int32,
  int64,
  items,
  serviceRequest,
  shopRegistry,
  str,
  users,
} from '../../helpers/serving-fixtures.js';

const LIMITS = { maxBatchSize: 100 };

function plan(request: GetOnlineFeaturesRequest__Output, limits = LIMITS): LookupPlan {
  return planLookup(shopRegistry, request, limits);
}

/** Asserts planning fails with INVALID_ARGUMENT and returns the message. */
function planError(request: GetOnlineFeaturesRequest__Output, limits = LIMITS): string {
  let caught: unknown;
  try {
    plan(request, limits);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CassetteError);
  expect((caught as CassetteError).status).toBe('INVALID_ARGUMENT');
  return (caught as CassetteError).message;
}

/** Key parts as plain strings, for readable comparisons (Longs print as decimals). */
const keyTexts = (p: LookupPlan, slot: number) => p.views[slot]!.keys.map((parts) => parts.map(String));

describe('planLookup: features and views', () => {
  it('plans one view for a single-key request', () => {
    const p = plan(featuresRequest(['user_stats:clicks'], { user_id: users(1, 2, 3) }));
    expect(p.batchSize).toBe(3);
    expect(p.features).toEqual([{ name: 'clicks', type: 'int64', viewSlot: 0, featureIndex: 0 }]);
    expect(p.views).toHaveLength(1);
    expect(p.views[0]!.view).toBe(shopRegistry.featureViews.get('user_stats'));
    expect(keyTexts(p, 0)).toEqual([['1'], ['2'], ['3']]);
    expect([...p.views[0]!.rowToKey]).toEqual([0, 1, 2]);
  });

  it('keeps features in request order and gives each view one slot', () => {
    const p = plan(
      featuresRequest(['item_info:price', 'user_stats:tags', 'item_info:score', 'user_stats:clicks'], {
        user_id: users(1),
        item_id: items('a'),
      }),
    );
    expect(p.features.map((f) => [f.name, f.type, f.viewSlot, f.featureIndex])).toEqual([
      ['price', 'double', 0, 0],
      ['tags', 'string_list', 1, 2],
      ['score', 'float', 0, 1],
      ['clicks', 'int64', 1, 0],
    ]);
    expect(p.views.map((v) => v.view.name)).toEqual(['item_info', 'user_stats']);
  });

  it('expands a feature service in its declared order', () => {
    const p = plan(serviceRequest('ranker', { user_id: users(1), item_id: items('a') }));
    expect(p.features.map((f) => f.name)).toEqual(['affinity', 'clicks', 'price']);
    expect(p.views.map((v) => v.view.name)).toEqual(['user_item', 'user_stats', 'item_info']);
    expect(p.features.map((f) => f.viewSlot)).toEqual([0, 1, 2]);
  });

  it('names features view__feature with full_feature_names', () => {
    const p = plan(
      featuresRequest(['user_stats:score', 'item_info:score'], { user_id: users(1), item_id: items('a') }, true),
    );
    expect(p.features.map((f) => f.name)).toEqual(['user_stats__score', 'item_info__score']);
    const viaService = plan(serviceRequest('scores', { user_id: users(1), item_id: items('a') }, true));
    expect(viaService.features.map((f) => f.name)).toEqual(['user_stats__score', 'item_info__score']);
  });

  it('rejects two features with the same response name without full_feature_names', () => {
    const message = planError(
      featuresRequest(['user_stats:score', 'item_info:score'], { user_id: users(1), item_id: items('a') }),
    );
    expect(message).toBe(
      'features: "user_stats:score" and "item_info:score" are both named "score" in the response; set full_feature_names',
    );
    const viaService = planError(serviceRequest('scores', { user_id: users(1), item_id: items('a') }));
    expect(viaService).toMatch(/^feature_service: "user_stats:score" and "item_info:score" are both named "score"/);
  });
});

describe('planLookup: invalid feature selection', () => {
  const entities = { user_id: users(1) };

  it.each([
    [['user_stats:clicks', 'nope:clicks'], 'features[1]: unknown feature view "nope"'],
    [['user_stats:missing'], 'features[0]: feature view "user_stats" has no feature "missing"'],
    [['user_stats:clicks', 'user_stats'], 'features[1]: "user_stats" is not a "view:feature" reference'],
    [['a:b:c'], 'features[0]: "a:b:c" is not a "view:feature" reference'],
    [[':clicks'], 'features[0]: ":clicks" is not a "view:feature" reference'],
    [
      ['user_stats:clicks', 'user_stats:score', 'user_stats:clicks'],
      'features[2]: "user_stats:clicks" is requested twice',
    ],
    [[], 'features: list at least one "view:feature" reference'],
  ])('rejects %j', (refs, message) => {
    expect(planError(featuresRequest(refs, entities))).toBe(message);
  });

  it('rejects an unknown feature service', () => {
    expect(planError(serviceRequest('nope', entities))).toBe('feature_service: unknown feature service "nope"');
    expect(planError({ kind: 'feature_service', entities, full_feature_names: false })).toBe(
      'feature_service: unknown feature service ""',
    );
  });

  it('rejects a request with neither feature_service nor features', () => {
    expect(planError({ entities, full_feature_names: false })).toBe('set either feature_service or features');
  });

  it('rejects a features request without a feature list', () => {
    expect(planError({ kind: 'features', features: null, entities, full_feature_names: false })).toMatch(/^features: /);
  });
});

describe('planLookup: entity columns', () => {
  it('requires at least one column', () => {
    expect(planError(featuresRequest(['user_stats:clicks'], {}))).toBe('entities: give at least one join key column');
  });

  it('rejects a missing join key, naming the view that needs it', () => {
    expect(planError(featuresRequest(['user_item:affinity'], { user_id: users(1) }))).toBe(
      'entities: feature view "user_item" needs join key "item_id"',
    );
  });

  it('rejects an unknown join key, even next to the right ones', () => {
    expect(planError(featuresRequest(['user_stats:clicks'], { user_id: users(1), shop_id: users(1) }))).toBe(
      'entities: unknown join key "shop_id"',
    );
  });

  it('rejects columns of different lengths', () => {
    const message = planError(featuresRequest(['user_item:affinity'], { user_id: users(1, 2), item_id: items('a') }));
    expect(message).toBe(
      'entities: column "item_id" has 1 values but column "user_id" has 2; every column needs the batch\'s length',
    );
  });

  it('checks lengths of columns the requested views do not use', () => {
    expect(planError(featuresRequest(['user_stats:clicks'], { user_id: users(1), item_id: items('a', 'b') }))).toMatch(
      /column "item_id" has 2 values/,
    );
  });

  it('accepts a batch at the limit and rejects one over it', () => {
    const request = featuresRequest(['user_stats:clicks'], { user_id: users(1, 2, 3) });
    expect(plan(request, { maxBatchSize: 3 }).batchSize).toBe(3);
    expect(planError(request, { maxBatchSize: 2 })).toBe('entities: a batch of 3 rows exceeds the limit of 2');
  });

  it('names the entity that has the wrong key type', () => {
    const request = featuresRequest(['user_stats:clicks'], { user_id: { val: [int64(1), int64(2), str('3')] } });
    expect(planError(request)).toBe('entities["user_id"][2]: expected int64, got string_val');
  });

  it('rejects a null entity key', () => {
    const request = featuresRequest(['item_info:price'], {
      item_id: { val: [str('a'), { val: 'null_val', null_val: 'NULL' }] },
    });
    expect(planError(request)).toBe('entities["item_id"][1]: an entity key cannot be null');
  });

  it('rejects an int64 key that overflows', () => {
    const request = featuresRequest(['user_stats:clicks'], { user_id: { val: [int64('9223372036854775808')] } });
    expect(planError(request)).toMatch(/^entities\["user_id"\]\[0\]: .*outside int64/);
  });

  it('accepts int32 values for an int64 join key', () => {
    const p = plan(featuresRequest(['user_stats:clicks'], { user_id: { val: [int32(5)] } }));
    expect(keyTexts(p, 0)).toEqual([['5']]);
  });

  it('plans an empty batch as zero keys', () => {
    const p = plan(serviceRequest('ranker', { user_id: users(), item_id: items() }));
    expect(p.batchSize).toBe(0);
    expect(p.features).toHaveLength(3);
    for (const view of p.views) {
      expect(view.keys).toEqual([]);
      expect(view.keyStrings).toEqual([]);
      expect(view.rowToKey).toHaveLength(0);
    }
  });
});

describe('planLookup: de-duplication and composite keys', () => {
  it('reads duplicate entities once and maps every row back to its key', () => {
    const p = plan(featuresRequest(['user_stats:clicks'], { user_id: users(7, 8, 7, 7, 8) }));
    const lookup = p.views[0]!;
    expect(p.batchSize).toBe(5);
    expect(keyTexts(p, 0)).toEqual([['7'], ['8']]);
    expect(lookup.rowToKey).toBeInstanceOf(Int32Array);
    expect([...lookup.rowToKey]).toEqual([0, 1, 0, 0, 1]);
    expect(new Set(lookup.keyStrings).size).toBe(2);
  });

  it('treats the same id sent as int32 and int64 as one entity', () => {
    const p = plan(featuresRequest(['user_stats:clicks'], { user_id: { val: [int64('9'), int32(9)] } }));
    expect(p.views[0]!.keys).toHaveLength(1);
    expect([...p.views[0]!.rowToKey]).toEqual([0, 0]);
  });

  it('keys a composite view by all of its entities, in the view’s order', () => {
    // Columns are given item first; keys follow the view's declared order (user, item).
    const p = plan(
      featuresRequest(['user_item:affinity'], {
        item_id: items('a', 'b', 'a', 'a', 'b'),
        user_id: users(1, 1, 2, 1, 1),
      }),
    );
    expect(keyTexts(p, 0)).toEqual([
      ['1', 'a'],
      ['1', 'b'],
      ['2', 'a'],
    ]);
    expect([...p.views[0]!.rowToKey]).toEqual([0, 1, 2, 0, 1]);
  });

  it('de-duplicates each view on its own key columns', () => {
    const p = plan(serviceRequest('ranker', { user_id: users(1, 1, 2), item_id: items('a', 'b', 'a') }));
    const [userItem, userStats, itemInfo] = p.views;
    expect(userItem!.keys).toHaveLength(3);
    expect([...userStats!.rowToKey]).toEqual([0, 0, 1]);
    expect([...itemInfo!.rowToKey]).toEqual([0, 1, 0]);
    expect(keyTexts(p, 2)).toEqual([['a'], ['b']]);
  });

  it('gives equal entities equal key strings across requests (cache keys)', () => {
    const first = plan(featuresRequest(['user_item:affinity'], { user_id: users(3), item_id: items('x') }));
    const second = plan(featuresRequest(['user_item:affinity'], { user_id: { val: [int32(3)] }, item_id: items('x') }));
    expect(first.views[0]!.keyStrings).toEqual(second.views[0]!.keyStrings);
  });
});

describe('planLookup: features per view', () => {
  it('lists the view positions each view must read, ascending, whatever the request order', () => {
    const p = plan(
      featuresRequest(['user_stats:tags', 'item_info:price', 'user_stats:clicks'], {
        user_id: users(1),
        item_id: items('a'),
      }),
    );
    const [userStats, itemInfo] = p.views;
    // user_stats is (clicks, score, tags); item_info is (price, score).
    expect(userStats!.featureIndexes).toEqual(Int32Array.from([0, 2]));
    expect(itemInfo!.featureIndexes).toEqual(Int32Array.from([0]));
  });
});

describe('planLookup: feature plans are reused per registry', () => {
  it('plans the same feature list the same for other entities, and a list planned again is checked again', () => {
    const refs = ['user_stats:tags', 'user_stats:clicks'];
    const first = plan(featuresRequest(refs, { user_id: users(1) }));
    const second = plan(featuresRequest(refs, { user_id: users(7, 8) }));
    expect(second.features).toEqual(first.features);
    expect(second.views[0]!.featureIndexes).toEqual(first.views[0]!.featureIndexes);
    expect(keyTexts(second, 0)).toEqual([['7'], ['8']]);
    // Entities are checked on every request, whatever was reused.
    expect(planError(featuresRequest(refs, { user_id: users(1), shop_id: users(1) }))).toMatch(/unknown join key/);
    // full_feature_names plans apart.
    const full = plan({ ...featuresRequest(refs, { user_id: users(1) }), full_feature_names: true });
    expect(full.features.map((f) => f.name)).toEqual(['user_stats__tags', 'user_stats__clicks']);
  });

  it('does not mistake a list whose texts join to the same key for a planned one', () => {
    plan(featuresRequest(['user_stats:tags', 'user_stats:clicks'], { user_id: users(1) }));
    expect(planError(featuresRequest(['user_stats:tags\nuser_stats:clicks'], { user_id: users(1) }))).toMatch(
      /^features\[0\]: /,
    );
  });

  it('keeps a registry’s plans to that registry', () => {
    const refs = ['user_stats:clicks'];
    plan(featuresRequest(refs, { user_id: users(1) }));
    const other = { ...shopRegistry, featureViews: new Map() };
    expect(() => planLookup(other, featuresRequest(refs, { user_id: users(1) }), LIMITS)).toThrow(
      /unknown feature view "user_stats"/,
    );
  });

  it('reports a name clash after the entity errors of the views before it, as planned from scratch', () => {
    // The clash is on item_info, whose entities are planned first: its missing join key is told.
    const request = featuresRequest(['user_stats:score', 'item_info:score'], { user_id: users(1) });
    expect(planError(request)).toBe('entities: feature view "item_info" needs join key "item_id"');
    expect(planError(request)).toBe('entities: feature view "item_info" needs join key "item_id"');
  });
});
