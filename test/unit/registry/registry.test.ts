import { readFileSync } from 'node:fs';

import type { ServiceDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';

import { loadCassetteProtos, type ListFeatureViewsResponse__Output } from '../../../src/api/index.js';
import {
  ENTITY_KEY_TYPES,
  featureViewFromSpec,
  listFeatureServicesResponse,
  listFeatureViewsResponse,
  LIST_TYPES,
  SCALAR_TYPES,
  VALUE_TYPES,
  describeRegistry,
  formatDurationSeconds,
  parseDurationSeconds,
  parseFeatureRef,
  parseRegistry,
  RegistryValidationError,
  type RegistryProblem,
} from '../../../src/registry/index.js';

const EXAMPLE_YAML = readFileSync(new URL('../../../schema/example.yaml', import.meta.url), 'utf8');

/** Parses `text`, expecting it to fail, and returns the one error's problems. */
function problemsOf(text: string, source = 'test.yaml'): readonly RegistryProblem[] {
  let caught: unknown;
  try {
    parseRegistry(text, source);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RegistryValidationError);
  return (caught as RegistryValidationError).problems;
}

function problemAt(problems: readonly RegistryProblem[], path: string): RegistryProblem {
  const found = problems.find((p) => p.path === path);
  if (!found) throw new Error(`no problem at ${path}; got ${JSON.stringify(problems, null, 2)}`);
  return found;
}

/** 1-based line of the only line of `text` that contains `marker`. */
function lineContaining(text: string, marker: string): number {
  const lines = text.split('\n');
  const matches = lines.flatMap((line, i) => (line.includes(marker) ? [i + 1] : []));
  if (matches.length !== 1) throw new Error(`marker ${JSON.stringify(marker)} is on ${matches.length} lines`);
  return matches[0]!;
}

/** A minimal valid registry; `views` and `services` are YAML list bodies (already indented). */
function registryYaml(views: string, services = ''): string {
  return [
    'project: test',
    'entities:',
    '  - { name: user, join_key: user_id, type: int64 }',
    '  - { name: item, join_key: item_id, type: string }',
    'feature_views:',
    views,
    services ? `feature_services:\n${services}` : '',
  ].join('\n');
}

describe('parseRegistry: schema/example.yaml', () => {
  const registry = parseRegistry(EXAMPLE_YAML, 'schema/example.yaml');

  it('reads the project and entities', () => {
    expect(registry.project).toBe('demo');
    expect([...registry.entities.values()]).toEqual([
      { name: 'user', joinKey: 'user_id', type: 'int64' },
      { name: 'item', joinKey: 'item_id', type: 'string' },
    ]);
  });

  it('indexes entities by join key', () => {
    expect([...registry.entitiesByJoinKey.keys()]).toEqual(['user_id', 'item_id']);
    expect(registry.entitiesByJoinKey.get('user_id')).toBe(registry.entities.get('user'));
    expect(registry.entitiesByJoinKey.get('item_id')).toBe(registry.entities.get('item'));
  });

  it('keeps feature views in file order with their entities', () => {
    expect([...registry.featureViews.keys()]).toEqual([
      'user_profile',
      'user_activity',
      'item_features',
      'user_item_affinity',
    ]);
    const affinity = registry.featureViews.get('user_item_affinity')!;
    expect(affinity.entities.map((e) => e.name)).toEqual(['user', 'item']);
    expect(affinity.entities[0]).toBe(registry.entities.get('user'));
  });

  it('converts ttls to seconds, 0 when absent', () => {
    expect(registry.featureViews.get('user_activity')!.ttlSeconds).toBe(172800);
    expect(registry.featureViews.get('user_item_affinity')!.ttlSeconds).toBe(30 * 86400);
    expect(registry.featureViews.get('user_profile')!.ttlSeconds).toBe(0);
    expect(registry.featureViews.get('item_features')!.ttlSeconds).toBe(0);
  });

  it('keeps features with their types and positions', () => {
    const profile = registry.featureViews.get('user_profile')!;
    expect(profile.features).toEqual([
      { name: 'age', type: 'int32' },
      { name: 'country', type: 'string' },
      { name: 'signup_time', type: 'unix_timestamp' },
      { name: 'lifetime_value', type: 'double' },
      { name: 'is_premium', type: 'bool' },
      { name: 'preferred_categories', type: 'string_list' },
    ]);
    expect([...profile.featureIndex.entries()]).toEqual([
      ['age', 0],
      ['country', 1],
      ['signup_time', 2],
      ['lifetime_value', 3],
      ['is_premium', 4],
      ['preferred_categories', 5],
    ]);
    const activity = registry.featureViews.get('user_activity')!;
    expect(activity.features.map((f) => `${f.name}:${f.type}`)).toEqual([
      'clicks_7d:int64',
      'sessions_24h:int32',
      'avg_session_minutes:float',
      'last_seen:unix_timestamp',
      'recent_item_ids:string_list',
    ]);
    expect(registry.featureViews.get('item_features')!.features.find((f) => f.name === 'embedding')!.type).toBe(
      'float_list',
    );
  });

  it('resolves the feature service references in order', () => {
    expect([...registry.featureServices.keys()]).toEqual(['ranking_v1']);
    const refs = registry.featureServices.get('ranking_v1')!.features.map((r) => `${r.view}:${r.feature}`);
    expect(refs).toEqual([
      'user_profile:age',
      'user_profile:country',
      'user_profile:is_premium',
      'user_activity:clicks_7d',
      'user_activity:avg_session_minutes',
      'item_features:price',
      'item_features:embedding',
      'user_item_affinity:affinity',
    ]);
  });
});

describe('parseRegistry: minimal files', () => {
  it('accepts a file with entities only (views and services default to empty)', () => {
    const registry = parseRegistry('project: p\nentities:\n  - { name: user, join_key: user_id, type: string }\n');
    expect(registry.featureViews.size).toBe(0);
    expect(registry.featureServices.size).toBe(0);
  });

  it('accepts JSON, which is YAML', () => {
    const registry = parseRegistry(
      JSON.stringify({
        project: 'p',
        entities: [{ name: 'user', join_key: 'user_id', type: 'int64' }],
        feature_views: [{ name: 'v', entities: ['user'], ttl: '90s', features: [{ name: 'f', type: 'bool' }] }],
      }),
    );
    expect(registry.featureViews.get('v')!.ttlSeconds).toBe(90);
  });

  it('requires at least one entity', () => {
    const problems = problemsOf('project: p\nentities: []\n');
    expect(problemAt(problems, 'entities').message).toMatch(/at least one entity/);
  });
});

describe('parseRegistry: every problem is reported at once, with path and line', () => {
  it('reports all schema problems together (bad type, bad identifiers, bad entity type, unknown key)', () => {
    const yaml = [
      'project: test',
      'entities:',
      '  - name: user',
      '    join_key: user_id',
      '    type: float # entity-type',
      'feature_views:',
      '  - name: Stats # view-name',
      '    entities: [user]',
      '    features:',
      '      - { name: a, type: int32 }',
      '      - { name: b, type: int128 } # bad-type',
      '      - { name: 9lives, type: bool } # bad-name',
      'surprise: true',
    ].join('\n');
    const problems = problemsOf(yaml);
    expect(problems).toHaveLength(5);

    const badType = problemAt(problems, 'feature_views[0].features[1].type');
    expect(badType.line).toBe(lineContaining(yaml, 'bad-type'));
    expect(badType.message).toMatch(/must be one of int32, int64/);

    const badName = problemAt(problems, 'feature_views[0].features[2].name');
    expect(badName.line).toBe(lineContaining(yaml, 'bad-name'));
    expect(badName.message).toMatch(/lower-case identifier/);

    expect(problemAt(problems, 'feature_views[0].name').line).toBe(lineContaining(yaml, 'view-name'));

    const entityType = problemAt(problems, 'entities[0].type');
    expect(entityType.line).toBe(lineContaining(yaml, 'entity-type'));
    expect(entityType.message).toBe('must be one of int32, int64, string, bytes');

    const unknownKey = problemAt(problems, 'surprise');
    expect(unknownKey.message).toBe('unknown field "surprise"');
    expect(unknownKey.line).toBe(lineContaining(yaml, 'surprise'));
  });

  it('reports all reference problems together (unknown entity, bad ttl, duplicate feature, bad service refs)', () => {
    const yaml = registryYaml(
      [
        '  - name: stats',
        '    entities: [user, ghost] # entities',
        '    ttl: 1.5h # ttl',
        '    features:',
        '      - { name: clicks, type: int64 }',
        '      - { name: clicks, type: int32 } # dup',
      ].join('\n'),
      [
        '  - name: svc',
        '    features:',
        '      - stats:clicks',
        '      - stats:missing # missing-feature',
        '      - nowhere:clicks # missing-view',
        '      - stats # not-a-ref',
        '      - stats:clicks # twice',
      ].join('\n'),
    );
    const problems = problemsOf(yaml);
    expect(problems.map((p) => p.path)).toEqual([
      'feature_views[0].entities[1]',
      'feature_views[0].ttl',
      'feature_views[0].features[1].name',
      'feature_services[0].features[1]',
      'feature_services[0].features[2]',
      'feature_services[0].features[3]',
      'feature_services[0].features[4]',
    ]);

    const entity = problemAt(problems, 'feature_views[0].entities[1]');
    expect(entity.message).toBe('unknown entity "ghost"');
    expect(entity.line).toBe(lineContaining(yaml, '# entities'));

    const ttl = problemAt(problems, 'feature_views[0].ttl');
    expect(ttl.message).toMatch(/"1\.5h" is not a duration/);
    expect(ttl.line).toBe(lineContaining(yaml, '# ttl'));

    const dup = problemAt(problems, 'feature_views[0].features[1].name');
    expect(dup.message).toBe('duplicate feature "clicks"');
    expect(dup.line).toBe(lineContaining(yaml, '# dup'));

    const missingFeature = problemAt(problems, 'feature_services[0].features[1]');
    expect(missingFeature.message).toBe('feature view "stats" has no feature "missing"');
    expect(missingFeature.line).toBe(lineContaining(yaml, 'missing-feature'));

    expect(problemAt(problems, 'feature_services[0].features[2]').message).toBe('unknown feature view "nowhere"');
    expect(problemAt(problems, 'feature_services[0].features[2]').line).toBe(lineContaining(yaml, 'missing-view'));
    expect(problemAt(problems, 'feature_services[0].features[3]').message).toMatch(/not a "view:feature" reference/);
    expect(problemAt(problems, 'feature_services[0].features[4]').message).toBe('"stats:clicks" is listed twice');
    expect(problemAt(problems, 'feature_services[0].features[4]').line).toBe(lineContaining(yaml, '# twice'));
  });

  it('formats the error message with the source, line and path of each problem', () => {
    const yaml = registryYaml('  - name: v\n    entities: [ghost]\n    features: [{ name: f, type: bool }]');
    let error: RegistryValidationError | undefined;
    try {
      parseRegistry(yaml, 'my.yaml');
    } catch (e) {
      error = e as RegistryValidationError;
    }
    expect(error?.name).toBe('RegistryValidationError');
    expect(error?.message).toContain('my.yaml: 1 problem(s) in the feature registry');
    expect(error?.message).toContain(
      `my.yaml:${lineContaining(yaml, '[ghost]')} feature_views[0].entities[0]: unknown entity "ghost"`,
    );
  });

  it('reports schema problems and reference problems in the same error', () => {
    const yaml = registryYaml(
      [
        '  - name: stats',
        '    entities: [ghost]',
        '    ttl: 5y',
        '    features:',
        '      - { name: clicks, type: int64 }',
        '      - { name: clicks, type: int64 }',
        '      - { name: score, type: decimal }',
        '      - { name: Bad, type: bool }',
      ].join('\n'),
      '  - { name: svc, features: [stats:nope] }',
    );
    const paths = problemsOf(yaml).map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'feature_views[0].entities[0]',
        'feature_views[0].ttl',
        'feature_views[0].features[1].name',
        'feature_views[0].features[2].type',
        'feature_views[0].features[3].name',
        'feature_services[0].features[0]',
      ]),
    );
  });
});

describe('parseRegistry: invalid YAML and unknown keys', () => {
  it('rejects text that is not YAML', () => {
    const problems = problemsOf('project: demo\nentities: [\n  - name: x\n');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]!.path).toBe('');
    expect(problems[0]!.message).toMatch(/^not valid YAML: /);
  });

  it('rejects duplicate mapping keys as invalid YAML', () => {
    const problems = problemsOf('project: a\nproject: b\nentities: []\n');
    expect(problems[0]!.message).toMatch(/not valid YAML: .*unique/);
  });

  it('gives the line of a YAML syntax error', () => {
    const problems = problemsOf('project: demo\nentities:\n  - name: "unterminated\n');
    // The parser notices the missing quote where the input ends.
    expect(problems[0]!.line).toBe(4);
  });

  it('rejects unknown keys at the top level and inside entries', () => {
    const yaml = [
      'project: test',
      'entities:',
      '  - { name: user, join_key: user_id, type: int64, colour: red }',
      'feature_views:',
      '  - name: v',
      '    entities: [user]',
      '    owner: me',
      '    features:',
      '      - { name: f, type: bool, default: true }',
      'extras: {}',
    ].join('\n');
    const problems = problemsOf(yaml);
    expect(problems).toHaveLength(4);
    expect(problemAt(problems, 'extras').message).toBe('unknown field "extras"');
    expect(problemAt(problems, 'entities[0].colour').message).toBe('unknown field "colour"');
    expect(problemAt(problems, 'feature_views[0].owner').line).toBe(lineContaining(yaml, 'owner: me'));
    expect(problemAt(problems, 'feature_views[0].features[0].default').line).toBe(
      lineContaining(yaml, 'default: true'),
    );
  });
});

describe('parseRegistry: names and keys', () => {
  it('reserves the cassette_ prefix for view names', () => {
    const problems = problemsOf(
      registryYaml('  - { name: cassette_meta, entities: [user], features: [{ name: f, type: bool }] }'),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('feature_views[0].name');
    expect(problems[0]!.message).toMatch(/"cassette_" are reserved/);
  });

  it('rejects a feature named like one of its view’s join keys', () => {
    const problems = problemsOf(
      registryYaml(
        '  - { name: v, entities: [user, item], features: [{ name: ok, type: bool }, { name: item_id, type: string }] }',
      ),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('feature_views[0].features[1].name');
    expect(problems[0]!.message).toBe('"item_id" is a join key of this view');
  });

  it('allows a feature named like the join key of an entity the view does not use', () => {
    const registry = parseRegistry(
      registryYaml('  - { name: v, entities: [user], features: [{ name: item_id, type: string }] }'),
    );
    expect(registry.featureViews.get('v')!.features[0]!.name).toBe('item_id');
  });

  it('rejects a join key used by two entities', () => {
    const yaml = [
      'project: test',
      'entities:',
      '  - { name: user, join_key: id, type: int64 }',
      '  - { name: item, join_key: id, type: string } # second',
    ].join('\n');
    const problems = problemsOf(yaml);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('entities[1].join_key');
    expect(problems[0]!.message).toBe('join key "id" is already used by entity "user"');
    expect(problems[0]!.line).toBe(lineContaining(yaml, '# second'));
  });

  it('rejects duplicate entity, view and service names and an entity listed twice in a view', () => {
    const yaml = [
      'project: test',
      'entities:',
      '  - { name: user, join_key: user_id, type: int64 }',
      '  - { name: user, join_key: other_id, type: int64 }',
      'feature_views:',
      '  - { name: v, entities: [user, user], features: [{ name: f, type: bool }] }',
      '  - { name: v, entities: [user], features: [{ name: f, type: bool }] }',
      'feature_services:',
      '  - { name: s, features: [v:f] }',
      '  - { name: s, features: [v:f] }',
    ].join('\n');
    const problems = problemsOf(yaml);
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['entities[1].name', 'duplicate entity "user"'],
      ['feature_views[0].entities[1]', 'entity "user" is listed twice'],
      ['feature_views[1].name', 'duplicate feature view "v"'],
      ['feature_services[1].name', 'duplicate feature service "s"'],
    ]);
  });

  it('requires lower-case identifiers of at most 48 characters', () => {
    const ok = 'a' + 'b'.repeat(47);
    expect(() => parseRegistry(`project: ${ok}\nentities: [{ name: u, join_key: k, type: int64 }]`)).not.toThrow();
    for (const bad of ['a' + 'b'.repeat(48), 'Upper', '_lead', '1abc', 'has-dash', 'has space', '"a.b"']) {
      const problems = problemsOf(`project: ${bad}\nentities: [{ name: u, join_key: k, type: int64 }]`);
      expect(
        problems.map((p) => p.path),
        bad,
      ).toEqual(['project']);
    }
  });

  it('requires at least one entity and one feature per view, and one feature per service', () => {
    const problems = problemsOf(
      registryYaml('  - { name: v, entities: [], features: [] }', '  - { name: s, features: [] }'),
    );
    expect(problems.map((p) => p.path)).toEqual([
      'feature_views[0].entities',
      'feature_views[0].features',
      'feature_services[0].features',
    ]);
  });
});

describe('parseRegistry: types', () => {
  it('accepts all 16 value types for features', () => {
    expect(VALUE_TYPES).toHaveLength(16);
    expect(LIST_TYPES).toEqual(SCALAR_TYPES.map((t) => `${t}_list`));
    const features = VALUE_TYPES.map((type, i) => `      - { name: f${i}, type: ${type} }`).join('\n');
    const registry = parseRegistry(registryYaml(`  - name: all\n    entities: [user]\n    features:\n${features}`));
    expect(registry.featureViews.get('all')!.features.map((f) => f.type)).toEqual([...VALUE_TYPES]);
  });

  it.each(['int32', 'int64', 'string', 'bytes'])('accepts %s as an entity key type', (type) => {
    const registry = parseRegistry(`project: p\nentities: [{ name: e, join_key: k, type: ${type} }]`);
    expect(registry.entities.get('e')!.type).toBe(type);
    expect(ENTITY_KEY_TYPES).toContain(type);
  });

  it.each(['float', 'double', 'bool', 'unix_timestamp', 'string_list', 'int64_list', 'uuid'])(
    'rejects %s as an entity key type',
    (type) => {
      const problems = problemsOf(`project: p\nentities: [{ name: e, join_key: k, type: ${type} }]`);
      expect(problems.map((p) => p.path)).toEqual(['entities[0].type']);
    },
  );

  it.each(['INT32', 'int', 'list<int32>', 'string_list_list', 'timestamp'])('rejects feature type %s', (type) => {
    const problems = problemsOf(
      registryYaml(`  - { name: v, entities: [user], features: [{ name: f, type: "${type}" }] }`),
    );
    expect(problems.map((p) => p.path)).toEqual(['feature_views[0].features[0].type']);
  });
});

describe('parseRegistry: ttl', () => {
  const withTtl = (ttl: string) =>
    registryYaml(`  - { name: v, entities: [user], ttl: ${ttl}, features: [{ name: f, type: bool }] }`);

  it.each([
    ['90s', 90],
    ['30m', 1800],
    ['12h', 43200],
    ['7d', 604800],
    ['2w', 1209600],
  ])('accepts ttl %s as %i seconds', (ttl, seconds) => {
    expect(parseRegistry(withTtl(ttl)).featureViews.get('v')!.ttlSeconds).toBe(seconds);
  });

  it.each(['0s', '1.5h', '"10"', '-5m', '5y', '"7 d"', '7D'])('rejects ttl %s at feature_views[0].ttl', (ttl) => {
    const problems = problemsOf(withTtl(ttl));
    expect(problems.map((p) => p.path)).toEqual(['feature_views[0].ttl']);
  });

  it('rejects a ttl given as a bare number (YAML integer) as a schema problem', () => {
    const problems = problemsOf(withTtl('10'));
    expect(problems.map((p) => p.path)).toEqual(['feature_views[0].ttl']);
  });
});

describe('parseDurationSeconds / formatDurationSeconds', () => {
  it.each([
    ['90s', 90],
    ['30m', 1800],
    ['12h', 43200],
    ['7d', 604800],
    ['2w', 1209600],
    ['1s', 1],
    [' 3h ', 10800],
  ])('parses %j as %i seconds', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each(['0s', '0w', '1.5h', '10', '-5m', '5y', '', 'h', '7D', '1h30m', '99999999999999999w'])(
    'rejects %j',
    (text) => {
      expect(parseDurationSeconds(text)).toBeUndefined();
    },
  );

  it.each([
    [90, '90s'],
    [120, '2m'],
    [3600, '1h'],
    [172800, '2d'],
    [1209600, '2w'],
    [86401, '86401s'],
  ])('formats %i seconds as %s', (seconds, text) => {
    expect(formatDurationSeconds(seconds)).toBe(text);
    expect(parseDurationSeconds(text)).toBe(seconds);
  });
});

describe('parseFeatureRef', () => {
  it('splits view:feature', () => {
    expect(parseFeatureRef('user_profile:age')).toEqual({ view: 'user_profile', feature: 'age' });
  });

  it.each(['age', ':age', 'view:', 'a:b:c', ''])('rejects %j', (text) => {
    expect(parseFeatureRef(text)).toBeUndefined();
  });
});

describe('describeRegistry', () => {
  const describeText = (text: string) => JSON.stringify(describeRegistry(parseRegistry(text)));

  it('is the same for the same input', () => {
    expect(describeText(EXAMPLE_YAML)).toBe(describeText(EXAMPLE_YAML));
    expect(describeRegistry(parseRegistry(EXAMPLE_YAML))).toEqual(describeRegistry(parseRegistry(EXAMPLE_YAML)));
  });

  it('holds the definitions that matter for serving', () => {
    const described = describeRegistry(parseRegistry(EXAMPLE_YAML)) as {
      project: string;
      entities: unknown[];
      feature_views: { name: string; entities: string[]; ttl_seconds: number; features: unknown[] }[];
      feature_services: { name: string; features: string[] }[];
    };
    expect(described.project).toBe('demo');
    expect(described.entities).toEqual([
      { name: 'user', join_key: 'user_id', type: 'int64' },
      { name: 'item', join_key: 'item_id', type: 'string' },
    ]);
    expect(described.feature_views[1]).toMatchObject({
      name: 'user_activity',
      entities: ['user'],
      ttl_seconds: 172800,
    });
    expect(described.feature_views[1]!.features[0]).toEqual({ name: 'clicks_7d', type: 'int64' });
    expect(described.feature_services[0]!.features[0]).toBe('user_profile:age');
  });

  it('ignores comments, descriptions and YAML style', () => {
    const restyled = EXAMPLE_YAML.replace(/^\s*description:.*$/gm, '')
      .replace(/^#.*$/gm, '')
      .replace('{ name: age, type: int32 }', '{ type: int32, name: age }')
      .replace('entities: [user, item]', 'entities:\n      - user\n      - item');
    expect(restyled).not.toBe(EXAMPLE_YAML);
    expect(describeText(restyled)).toBe(describeText(EXAMPLE_YAML));
  });

  it('differs when a feature is added', () => {
    const added = EXAMPLE_YAML.replace(
      '      - { name: views_30d, type: int32 }',
      '      - { name: views_30d, type: int32 }\n      - { name: clicks_30d, type: int32 }',
    );
    expect(added).not.toBe(EXAMPLE_YAML);
    expect(describeText(added)).not.toBe(describeText(EXAMPLE_YAML));
  });

  it('differs when a ttl, a type or the feature order changes', () => {
    const base = describeText(EXAMPLE_YAML);
    expect(describeText(EXAMPLE_YAML.replace('ttl: 2d', 'ttl: 3d'))).not.toBe(base);
    expect(describeText(EXAMPLE_YAML.replace('{ name: age, type: int32 }', '{ name: age, type: int64 }'))).not.toBe(
      base,
    );
    const reordered = EXAMPLE_YAML.replace(
      '      - { name: affinity, type: float }\n      - { name: views_30d, type: int32 }',
      '      - { name: views_30d, type: int32 }\n      - { name: affinity, type: float }',
    );
    expect(reordered).not.toBe(EXAMPLE_YAML);
    expect(describeText(reordered)).not.toBe(base);
  });

  it('treats an equivalent ttl spelling as the same definition', () => {
    expect(describeText(EXAMPLE_YAML.replace('ttl: 2d', 'ttl: 48h'))).toBe(describeText(EXAMPLE_YAML));
  });
});

describe('parseRegistry: odd files are reported, never crash, and never cascade', () => {
  it('checks every field of a view even when one field is unknown', () => {
    const yaml = registryYaml(
      [
        '  - name: stats',
        '    owner: me',
        '    entities: [ghost]',
        '    ttl: 5y',
        '    features:',
        '      - { name: clicks, type: int64 }',
        '      - { name: clicks, type: int64 }',
      ].join('\n'),
      '  - { name: svc, features: [stats:nope] }',
    );
    expect(problemsOf(yaml).map((p) => p.path)).toEqual([
      'feature_views[0].owner',
      'feature_views[0].entities[0]',
      'feature_views[0].ttl',
      'feature_views[0].features[1].name',
      'feature_services[0].features[0]',
    ]);
  });

  it('reports a section that is not a list once, not at every reference to it', () => {
    const yaml = [
      'project: test',
      'entities: { name: user }',
      'feature_views:',
      '  - { name: a, entities: [user], features: [{ name: f, type: bool }] }',
      '  - { name: b, entities: [user], features: [{ name: f, type: bool }] }',
    ].join('\n');
    expect(problemsOf(yaml).map((p) => p.path)).toEqual(['entities']);
  });

  it('keeps the first of two views with the same name', () => {
    const yaml = registryYaml(
      [
        '  - { name: v, entities: [user], features: [{ name: first, type: bool }] }',
        '  - { name: v, entities: [user], features: [{ name: second, type: bool }] }',
      ].join('\n'),
      '  - { name: svc, features: [v:first] }',
    );
    const problems = problemsOf(yaml);
    expect(problems.map((p) => [p.path, p.message])).toEqual([['feature_views[1].name', 'duplicate feature view "v"']]);
  });

  it.each([
    ['a scalar document', '42'],
    ['a list document', '- a\n- b'],
    ['null entries', 'project: p\nentities:\n  -\nfeature_views:\n  - ~'],
    ['numbers as names', 'project: 7\nentities: [{ name: 1, join_key: 2, type: int64 }]'],
  ])('reports %s as problems', (_name, yaml) => {
    expect(problemsOf(yaml).length).toBeGreaterThan(0);
  });

  it('refuses aliases that expand beyond reason with a registry error', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      bomb.push(
        `${'b'.repeat(i)}: &${'b'.repeat(i)} [${Array(10)
          .fill(i === 1 ? '*a' : `*${'b'.repeat(i - 1)}`)
          .join(', ')}]`,
      );
    const problems = problemsOf(bomb.join('\n'));
    expect(problems[0]!.message).toMatch(/cannot be read|not valid YAML/);
  });
});

describe('the registry as the API lists it', () => {
  const registry = parseRegistry(EXAMPLE_YAML);
  const registryService = loadCassetteProtos()['cassette.v1.Registry'] as ServiceDefinition;
  /** A response as a client receives it: serialized and decoded by the generated codec. */
  const received = (method: string, response: object): unknown => {
    const definition = registryService[method]!;
    return definition.responseDeserialize(definition.responseSerialize(response));
  };

  it('lists every feature view, and a client maps each back to the same definition', () => {
    const listed = received(
      'ListFeatureViews',
      listFeatureViewsResponse(registry, 7),
    ) as ListFeatureViewsResponse__Output;
    expect(listed.project).toBe('demo');
    expect(listed.registry_version).toBe('7');
    expect(listed.feature_views.map(featureViewFromSpec)).toEqual([...registry.featureViews.values()]);
    expect(listed.feature_views[0]!.entities[0]).toEqual({ name: 'user', join_key: 'user_id', type: 'int64' });
  });

  it('lists every feature service with view:feature references', () => {
    expect(received('ListFeatureServices', listFeatureServicesResponse(registry))).toEqual({
      feature_services: [...registry.featureServices.values()].map((service) => ({
        name: service.name,
        features: service.features.map((ref) => `${ref.view}:${ref.feature}`),
      })),
    });
  });
});
