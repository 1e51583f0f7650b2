/** Shared fixtures for the request-planning and response-encoding unit tests. */
import type { GetOnlineFeaturesRequest__Output } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { RepeatedValue__Output } from '../../src/generated/cassette/v1/RepeatedValue.js';
import type { Value__Output } from '../../src/generated/cassette/v1/Value.js';
import { parseRegistry } from '../../src/registry/index.js';

/**
 * Two entities, single-key views with a ttl and without, a composite-key view, and services
 * (one of which has two features both called `score`).
 */
export const SHOP_YAML = `
project: shop
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: item, join_key: item_id, type: string }
feature_views:
  - name: user_stats
    entities: [user]
    ttl: 1d
    features:
      - { name: clicks, type: int64 }
      - { name: score, type: double }
      - { name: tags, type: string_list }
  - name: item_info
    entities: [item]
    features:
      - { name: price, type: double }
      - { name: score, type: float }
  - name: user_item
    entities: [user, item]
    ttl: 1h
    features:
      - { name: affinity, type: float }
feature_services:
  - name: ranker
    features: [user_item:affinity, user_stats:clicks, item_info:price]
  - name: scores
    features: [user_stats:score, item_info:score]
`;

export const shopRegistry = parseRegistry(SHOP_YAML, 'shop.yaml');

export const int64 = (text: string | number): Value__Output => ({ val: 'int64_val', int64_val: String(text) });
export const int32 = (n: number): Value__Output => ({ val: 'int32_val', int32_val: n });
export const str = (s: string): Value__Output => ({ val: 'string_val', string_val: s });

export const users = (...ids: (string | number)[]): RepeatedValue__Output => ({ val: ids.map(int64) });
export const items = (...ids: string[]): RepeatedValue__Output => ({ val: ids.map(str) });

type Entities = GetOnlineFeaturesRequest__Output['entities'];

export function featuresRequest(
  refs: string[],
  entities: Entities,
  fullFeatureNames = false,
): GetOnlineFeaturesRequest__Output {
  return { kind: 'features', features: { val: refs }, entities, full_feature_names: fullFeatureNames };
}

export function serviceRequest(
  name: string,
  entities: Entities,
  fullFeatureNames = false,
): GetOnlineFeaturesRequest__Output {
  return { kind: 'feature_service', feature_service: name, entities, full_feature_names: fullFeatureNames };
}
