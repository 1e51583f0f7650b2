import { describe, expect, it } from 'vitest';

import {
  convertFeastRegistry,
  decodeFeastRegistry,
  encodeFeastRegistry,
  feastViewShapes,
  renderRegistryYaml,
} from '../../../src/feast/registry-import/index.js';
import type { Registry } from '../../../src/generated/feast/core/Registry.js';
import type { FeatureSpecV2 } from '../../../src/generated/feast/core/FeatureSpecV2.js';
import { parseRegistry } from '../../../src/registry/index.js';

/** A registry as `feast apply` stores it (serialized and decoded, as registry.db is read). */
function feastRegistry(registry: Registry) {
  return decodeFeastRegistry(encodeFeastRegistry(registry));
}

const P = 'shop';
const feature = (name: string, value_type: string): FeatureSpecV2 => ({ name, value_type: value_type as never });
const entity = (name: string, join_key: string, value_type: string, project = P) => ({
  spec: { name, join_key, value_type: value_type as never, project },
});

const REGISTRY: Registry = {
  entities: [
    entity('user', 'user_id', 'INT64'),
    // No declared type: Feast infers it from the views' entity columns.
    entity('item', 'item_id', 'INVALID'),
    entity('day', 'day', 'UNIX_TIMESTAMP'),
    entity('__dummy', '__dummy_id', 'INVALID'),
    entity('Store', 'store_id', 'STRING'),
    entity('other_user', 'user_id', 'INT64', 'another_project'),
  ],
  feature_views: [
    {
      spec: {
        name: 'user_stats',
        project: P,
        entities: ['user', 'item'],
        entity_columns: [feature('user_id', 'INT64'), feature('item_id', 'STRING')],
        features: [
          feature('clicks', 'INT64'),
          feature('embedding', 'FLOAT_LIST'),
          feature('prefs', 'JSON'),
          feature('BadName', 'INT32'),
          feature('tags', 'STRING_SET'),
        ],
        ttl: { seconds: 86400, nanos: 0 },
        online: true,
        description: 'per user and item',
      },
    },
    {
      spec: {
        name: 'daily',
        project: P,
        entities: ['day'],
        features: [feature('sales', 'DOUBLE')],
        online: true,
      },
    },
    { spec: { name: 'global', project: P, entities: ['__dummy'], features: [feature('n', 'INT64')], online: true } },
    {
      spec: { name: 'offline_only', project: P, entities: ['user'], features: [feature('x', 'INT64')], online: false },
    },
    {
      spec: {
        name: 'precise',
        project: P,
        entities: ['user'],
        features: [feature('score', 'DOUBLE')],
        ttl: { seconds: 90, nanos: 5 },
        online: true,
      },
    },
    { spec: { name: 'elsewhere', project: 'another_project', entities: ['other_user'], features: [], online: true } },
  ],
  on_demand_feature_views: [{ spec: { name: 'boosted', project: P, features: [feature('b', 'DOUBLE')] } }],
  stream_feature_views: [{ spec: { name: 'clicks_stream', project: P } }],
  feature_services: [
    {
      spec: {
        name: 'ranking',
        project: P,
        description: 'the ranker',
        features: [
          {
            feature_view_name: 'user_stats',
            feature_columns: [feature('embedding', 'FLOAT_LIST'), feature('clicks', 'INT64'), feature('prefs', 'JSON')],
          },
          { feature_view_name: 'boosted', feature_columns: [feature('b', 'DOUBLE')] },
          {
            feature_view_name: 'precise',
            feature_view_name_alias: 'p2',
            feature_columns: [feature('score', 'DOUBLE')],
          },
          {
            feature_view_name: 'precise',
            join_key_map: { user_id: 'buyer_id' },
            feature_columns: [feature('score', 'DOUBLE')],
          },
        ],
      },
    },
    {
      spec: {
        name: 'only_on_demand',
        project: P,
        features: [{ feature_view_name: 'boosted', feature_columns: [feature('b', 'DOUBLE')] }],
      },
    },
  ],
};

describe('convertFeastRegistry', () => {
  const converted = convertFeastRegistry(feastRegistry(REGISTRY), P);

  it('converts what maps: entities (types inferred where Feast infers them), views with ttl, services in order', () => {
    expect(converted.document).toEqual({
      project: 'shop',
      entities: [
        { name: 'user', join_key: 'user_id', type: 'int64' },
        { name: 'item', join_key: 'item_id', type: 'string' },
      ],
      feature_views: [
        {
          name: 'user_stats',
          entities: ['user', 'item'],
          ttl: '1d',
          description: 'per user and item',
          features: [
            { name: 'clicks', type: 'int64' },
            { name: 'embedding', type: 'float_list' },
          ],
        },
        { name: 'precise', entities: ['user'], ttl: '91s', features: [{ name: 'score', type: 'double' }] },
      ],
      feature_services: [
        { name: 'ranking', features: ['user_stats:embedding', 'user_stats:clicks'], description: 'the ranker' },
      ],
    });
  });

  it('lists everything it leaves out, with the reason, and what it changed', () => {
    expect(converted.notImported).toEqual([
      'entity "day": join key type UNIX_TIMESTAMP cannot key a Cassette entity (int32, int64, string, bytes)',
      'entity "Store": the name is not a Cassette name (Cassette names are lower-case letters, digits and _, starting with a letter, at most 48 long)',
      'feature "user_stats:prefs": value type JSON has no Cassette type; its values are not migrated',
      'feature "user_stats:BadName": the name is not a Cassette name (Cassette names are lower-case letters, digits and _, starting with a letter, at most 48 long)',
      'feature "user_stats:tags": value type STRING_SET has no Cassette type; its values are not migrated',
      'feature view "daily": its entities "day" are not imported',
      'feature view "global": a view without entities has no key to store its row under in Cassette',
      'feature view "offline_only": online: false (Feast does not serve it online)',
      'on-demand feature view "boosted": computed by Python code at request time, which Cassette does not run',
      'stream feature view "clicks_stream": stream views (with their aggregations) are not imported; define a batch view and write to it',
      'feature service "ranking", feature "user_stats:prefs": the feature is not imported',
      'feature service "ranking", view "boosted": an on-demand view',
      'feature service "ranking", view "precise": served as "p2": Cassette has no view aliases',
      'feature service "ranking", view "precise": its join keys are mapped to other request columns (join_key_map): Cassette has no key mapping',
      'feature service "only_on_demand", view "boosted": an on-demand view',
      'feature service "only_on_demand": none of its features can be imported',
    ]);
    expect(converted.changed).toEqual(['feature view "precise": ttl rounded up to whole seconds (91s)']);
  });

  it('renders YAML that `cassette apply` accepts, headed by the list of what is left out', () => {
    const yaml = renderRegistryYaml(converted, {
      repoPath: '/repo',
      project: P,
      registryPath: '/repo/data/registry.db',
    });
    const registry = parseRegistry(yaml, 'imported');
    expect([...registry.featureViews.keys()]).toEqual(['user_stats', 'precise']);
    expect(registry.featureViews.get('user_stats')!.ttlSeconds).toBe(86400);
    expect(yaml).toMatch(/^# Imported from the Feast repository \/repo\n/);
    for (const line of converted.notImported) expect(yaml).toContain(`#   - ${line}\n`);
    expect(yaml.endsWith('\n')).toBe(true);
  });

  it('renames a project that is not a Cassette name, and says so', () => {
    const renamed = convertFeastRegistry(
      feastRegistry({ entities: [entity('user', 'user_id', 'INT64', 'My-Shop')] }),
      'My-Shop',
    );
    expect(renamed.document.project).toBe('my_shop');
    expect(renamed.changed).toEqual([
      'project "My-Shop" is named "my_shop" (Cassette names are lower-case letters, digits and _, starting with a letter, at most 48 long)',
    ]);
  });

  it("gives the migration each view's sorted join keys and Feast feature types", () => {
    const shapes = feastViewShapes(feastRegistry(REGISTRY), P);
    expect(shapes.find((s) => s.name === 'user_stats')).toEqual({
      name: 'user_stats',
      joinKeys: ['item_id', 'user_id'],
      features: new Map([
        ['clicks', 'INT64'],
        ['embedding', 'FLOAT_LIST'],
        ['prefs', 'JSON'],
        ['BadName', 'INT32'],
        ['tags', 'STRING_SET'],
      ]),
    });
    expect(shapes.map((s) => s.name)).not.toContain('elsewhere');
  });
});
