import { describe, expect, it } from 'vitest';

import { planFeastGrpcLookup, planFeastJsonLookup } from '../../../src/feast/serving/plan.js';
import { isCassetteError } from '../../../src/errors/index.js';
import { shopRegistry } from '../../helpers/serving-fixtures.js';

const LIMITS = { maxBatchSize: 100 };

function thrown(run: () => unknown): { message: string; code: string } {
  try {
    run();
  } catch (error) {
    if (isCassetteError(error)) return { message: error.message, code: error.code };
    throw error;
  }
  throw new Error('expected an error');
}

describe('planFeastJsonLookup: Feast JSON requests on Cassette plans', () => {
  it('answers join keys first, in request order, then each view’s features together, views in order of mention', () => {
    const plan = planFeastJsonLookup(
      shopRegistry,
      {
        entities: { item_id: ['a', 'b'], user_id: [1, '2'] },
        features: ['user_stats:clicks', 'item_info:price', 'user_stats:tags', 'item_info:score'],
      },
      LIMITS,
    );
    expect(plan.keyColumns?.map((k) => [k.name, k.type])).toEqual([
      ['item_id', 'string'],
      ['user_id', 'int64'],
    ]);
    expect(plan.features.map((f) => f.name)).toEqual(['clicks', 'tags', 'price', 'score']);
    const users = plan.keyColumns![1]!;
    expect(plan.views[users.viewSlot]!.view.name).toBe('user_stats');
    expect(plan.views[users.viewSlot]!.keys.map((key) => String(key[users.part]))).toEqual(['1', '2']);
  });

  it('leaves out entity columns no requested view is keyed by, and columns that are not join keys', () => {
    const plan = planFeastJsonLookup(
      shopRegistry,
      { entities: { user_id: [1], item_id: ['a'], val_to_add: [5] }, features: ['user_stats:clicks'] },
      LIMITS,
    );
    expect(plan.keyColumns?.map((k) => k.name)).toEqual(['user_id']);
  });

  it('takes the feature service when both are given, with full feature names', () => {
    const plan = planFeastJsonLookup(
      shopRegistry,
      {
        entities: { user_id: [1], item_id: ['a'] },
        feature_service: 'ranker',
        features: ['user_stats:clicks'],
        full_feature_names: true,
      },
      LIMITS,
    );
    expect(plan.features.map((f) => f.name)).toEqual(['user_item__affinity', 'user_stats__clicks', 'item_info__price']);
    expect(plan.keyColumns?.map((k) => k.name)).toEqual(['user_id', 'item_id']);
  });

  it('names the offending field, in the request’s own order', () => {
    const entities = { user_id: [1, 2] };
    expect(
      thrown(() =>
        planFeastJsonLookup(shopRegistry, { entities: { user_id: [1, 'x'] }, features: ['user_stats:clicks'] }, LIMITS),
      ),
    ).toEqual({
      message: 'entities["user_id"][1]: expected int64 (an integer), got "x"',
      code: 'CST_ERR_INVALID_VALUE',
    });
    expect(
      thrown(() =>
        planFeastJsonLookup(
          shopRegistry,
          { entities, features: ['item_info:price', 'user_stats:clicks', 'user_stats:nope'] },
          LIMITS,
        ),
      ).message,
    ).toBe('features[2]: feature view "user_stats" has no feature "nope"');
    expect(thrown(() => planFeastJsonLookup(shopRegistry, { entities, features: [] }, LIMITS)).message).toBe(
      'features: list at least one "view:feature" reference',
    );
    expect(
      thrown(() =>
        planFeastJsonLookup(shopRegistry, { entities: { user_id: [null] }, features: ['user_stats:clicks'] }, LIMITS),
      ).message,
    ).toBe('entities["user_id"][0]: an entity key cannot be null');
    expect(thrown(() => planFeastJsonLookup(shopRegistry, { entities, feature_service: 'nope' }, LIMITS)).code).toBe(
      'CST_ERR_UNKNOWN_FEATURE_SERVICE',
    );
  });
});

describe('planFeastGrpcLookup: Feast gRPC requests on Cassette plans', () => {
  const base = { full_feature_names: false, request_context: {}, include_feature_view_version_metadata: false };

  it('plans like the JSON request, ignoring request_context', () => {
    const plan = planFeastGrpcLookup(
      shopRegistry,
      {
        ...base,
        kind: 'features',
        features: { val: ['item_info:price', 'user_stats:clicks'] },
        entities: {
          user_id: { val: [{ val: 'int64_val', int64_val: '7' }] },
          item_id: { val: [{ val: 'string_val', string_val: 'a' }] },
        },
        request_context: { amount: { val: [{ val: 'double_val', double_val: 1 }] } },
      },
      LIMITS,
    );
    expect(plan.keyColumns?.map((k) => k.name)).toEqual(['user_id', 'item_id']);
    expect(plan.features.map((f) => f.name)).toEqual(['price', 'clicks']);
  });

  it('refuses Feast value cases Cassette has no type for, naming the value', () => {
    expect(
      thrown(() =>
        planFeastGrpcLookup(
          shopRegistry,
          {
            ...base,
            kind: 'features',
            features: { val: ['user_stats:clicks'] },
            entities: { user_id: { val: [{ val: 'uuid_val', uuid_val: 'x' }] } },
          },
          LIMITS,
        ),
      ).message,
    ).toBe('entities["user_id"][0]: expected int64, got uuid_val');
    expect(
      thrown(() => planFeastGrpcLookup(shopRegistry, { ...base, entities: { user_id: { val: [] } } }, LIMITS)).message,
    ).toBe('set either feature_service or features');
  });
});
