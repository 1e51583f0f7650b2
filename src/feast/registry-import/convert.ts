import type { FeatureSpecV2__Output } from '../../generated/feast/core/FeatureSpecV2.js';
import type { FeatureViewSpec__Output } from '../../generated/feast/core/FeatureViewSpec.js';
import type { Registry__Output } from '../../generated/feast/core/Registry.js';
import { ENTITY_KEY_TYPES, formatDurationSeconds, type EntityKeyType, type ValueType } from '../../registry/index.js';

/**
 * Feast's registry as a Cassette registry: what maps is converted, and everything that does not
 * (on-demand and stream views, value types Cassette has no column for, names Cassandra cannot
 * take, aliases...) is listed with the reason, never left out without a word.
 */

/** Feast's ValueType names that Cassette stores, and as what. Everything else has no Cassette type. */
const CASSETTE_TYPE_OF: Readonly<Record<string, ValueType>> = {
  BYTES: 'bytes',
  STRING: 'string',
  INT32: 'int32',
  INT64: 'int64',
  DOUBLE: 'double',
  FLOAT: 'float',
  BOOL: 'bool',
  UNIX_TIMESTAMP: 'unix_timestamp',
  BYTES_LIST: 'bytes_list',
  STRING_LIST: 'string_list',
  INT32_LIST: 'int32_list',
  INT64_LIST: 'int64_list',
  DOUBLE_LIST: 'double_list',
  FLOAT_LIST: 'float_list',
  BOOL_LIST: 'bool_list',
  UNIX_TIMESTAMP_LIST: 'unix_timestamp_list',
};

/** The Cassette type of a Feast ValueType name, if there is one. */
export function cassetteTypeOf(feastType: string): ValueType | undefined {
  return Object.hasOwn(CASSETTE_TYPE_OF, feastType) ? CASSETTE_TYPE_OF[feastType] : undefined;
}

/** As src/registry/parse.ts requires of every name (they become CQL identifiers). */
const IDENTIFIER = /^[a-z][a-z0-9_]{0,47}$/;
const IDENTIFIER_RULE = 'Cassette names are lower-case letters, digits and _, starting with a letter, at most 48 long';

/** Feast's placeholder entity of views without entities. */
const DUMMY_ENTITY = '__dummy';

export interface EntityDocument {
  name: string;
  join_key: string;
  type: EntityKeyType;
  description?: string;
}

export interface FeatureDocument {
  name: string;
  type: ValueType;
  description?: string;
}

export interface FeatureViewDocument {
  name: string;
  entities: string[];
  ttl?: string;
  description?: string;
  features: FeatureDocument[];
}

export interface FeatureServiceDocument {
  name: string;
  features: string[];
  description?: string;
}

/** A Cassette registry document, in the shape of the YAML `cassette apply` reads. */
export interface RegistryDocument {
  project: string;
  entities: EntityDocument[];
  feature_views: FeatureViewDocument[];
  feature_services: FeatureServiceDocument[];
}

export interface ConvertedRegistry {
  readonly document: RegistryDocument;
  /** What was left out, and why; one line each. */
  readonly notImported: readonly string[];
  /** What was imported differently from Feast's definition. */
  readonly changed: readonly string[];
}

/** A Feast batch feature view as the migration reads its online table. */
export interface FeastViewShape {
  readonly name: string;
  /** The view's join keys (Feast serializes them sorted by name). */
  readonly joinKeys: readonly string[];
  /** Feature name -> Feast ValueType name. */
  readonly features: ReadonlyMap<string, string>;
}

function inProject<T extends { spec: { project: string } | null }>(items: readonly T[], project: string): T[] {
  // Registries of old Feast versions leave `project` empty: those objects are the repository's.
  return items.filter((item) => item.spec && (item.spec.project === '' || item.spec.project === project));
}

function describe(text: string): { description?: string } {
  return text ? { description: text } : {};
}

/** The join key each of the view's entities has, by entity name. */
function viewJoinKeys(spec: FeatureViewSpec__Output, joinKeyOf: ReadonlyMap<string, string>): string[] {
  return spec.entities.filter((e) => e !== DUMMY_ENTITY).map((e) => joinKeyOf.get(e) ?? e);
}

/** The batch feature views of the repository's project, as their online tables hold them. */
export function feastViewShapes(registry: Registry__Output, project: string): FeastViewShape[] {
  const joinKeyOf = new Map(
    inProject(registry.entities, project).map((e) => [e.spec!.name, e.spec!.join_key || e.spec!.name]),
  );
  return inProject(registry.feature_views, project).map(({ spec }) => ({
    name: spec!.name,
    joinKeys: viewJoinKeys(spec!, joinKeyOf).sort(),
    features: new Map(spec!.features.map((f) => [f.name, f.value_type])),
  }));
}

/** Whole seconds of a Feast ttl; 0 = none. */
function ttlSeconds(ttl: FeatureViewSpec__Output['ttl']): { seconds: number; roundedUp: boolean } {
  if (!ttl) return { seconds: 0, roundedUp: false };
  const seconds = Number(ttl.seconds);
  return ttl.nanos > 0 ? { seconds: seconds + 1, roundedUp: true } : { seconds, roundedUp: false };
}

/** Converts the registry objects of `project`. Pure: the caller prints or writes the result. */
export function convertFeastRegistry(registry: Registry__Output, project: string): ConvertedRegistry {
  const notImported: string[] = [];
  const changed: string[] = [];
  const skip = (what: string, why: string) => notImported.push(`${what}: ${why}`);

  let cassetteProject = project;
  if (!IDENTIFIER.test(project)) {
    cassetteProject =
      project
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, '_')
        .replace(/^[^a-z]+/, '')
        .slice(0, 48) || 'feast';
    changed.push(`project "${project}" is named "${cassetteProject}" (${IDENTIFIER_RULE})`);
  }

  const views = inProject(registry.feature_views, project).map((v) => v.spec!);
  // An entity without a declared type takes the type its views' join key columns have.
  const columnType = new Map<string, string>();
  for (const view of views) {
    for (const column of view.entity_columns) {
      if (column.value_type !== 'INVALID') columnType.set(column.name, column.value_type);
    }
  }

  const entities: EntityDocument[] = [];
  const entityByName = new Map<string, EntityDocument>();
  const joinKeyOf = new Map<string, string>();
  const joinKeysTaken = new Map<string, string>();
  const usedEntities = new Set(views.flatMap((v) => v.entities));
  for (const { spec } of inProject(registry.entities, project)) {
    const entity = spec!;
    const joinKey = entity.join_key || entity.name;
    joinKeyOf.set(entity.name, joinKey);
    const what = `entity "${entity.name}"`;
    if (entity.name === DUMMY_ENTITY) {
      // Feast's own placeholder; only worth a word when a view relies on it (reported there).
      continue;
    }
    if (!IDENTIFIER.test(entity.name)) {
      skip(what, `the name is not a Cassette name (${IDENTIFIER_RULE})`);
      continue;
    }
    if (!IDENTIFIER.test(joinKey)) {
      skip(what, `join key "${joinKey}" is not a Cassette name (${IDENTIFIER_RULE})`);
      continue;
    }
    const feastType = entity.value_type !== 'INVALID' ? entity.value_type : columnType.get(joinKey);
    if (feastType === undefined) {
      skip(what, usedEntities.has(entity.name) ? 'its join key has no type' : 'no type declared and no view uses it');
      continue;
    }
    const type = cassetteTypeOf(feastType);
    if (!type || !(ENTITY_KEY_TYPES as readonly string[]).includes(type)) {
      skip(what, `join key type ${feastType} cannot key a Cassette entity (${ENTITY_KEY_TYPES.join(', ')})`);
      continue;
    }
    const other = joinKeysTaken.get(joinKey);
    if (other !== undefined) {
      skip(
        what,
        `join key "${joinKey}" is already the join key of entity "${other}" (Cassette needs one entity per join key)`,
      );
      continue;
    }
    joinKeysTaken.set(joinKey, entity.name);
    const imported: EntityDocument = {
      name: entity.name,
      join_key: joinKey,
      type: type as EntityKeyType,
      ...describe(entity.description),
    };
    entities.push(imported);
    entityByName.set(entity.name, imported);
  }

  const featureViews: FeatureViewDocument[] = [];
  /** Imported view -> its imported features. */
  const importedFeatures = new Map<string, Set<string>>();
  for (const view of views) {
    const what = `feature view "${view.name}"`;
    if (!IDENTIFIER.test(view.name) || view.name.startsWith('cassette_')) {
      skip(what, `the name is not a Cassette view name (${IDENTIFIER_RULE}; cassette_ is reserved)`);
      continue;
    }
    if (!view.online) {
      skip(what, 'online: false (Feast does not serve it online)');
      continue;
    }
    if (view.entities.length === 0 || view.entities.includes(DUMMY_ENTITY)) {
      skip(what, 'a view without entities has no key to store its row under in Cassette');
      continue;
    }
    const missing = view.entities.filter((e) => !entityByName.has(e));
    if (missing.length > 0) {
      skip(what, `its entities ${missing.map((e) => `"${e}"`).join(', ')} are not imported`);
      continue;
    }
    const joinKeys = new Set(view.entities.map((e) => entityByName.get(e)!.join_key));
    const features: FeatureDocument[] = [];
    for (const feature of view.features) {
      const featureWhat = `feature "${view.name}:${feature.name}"`;
      const type = cassetteTypeOf(feature.value_type);
      if (!IDENTIFIER.test(feature.name)) skip(featureWhat, `the name is not a Cassette name (${IDENTIFIER_RULE})`);
      else if (!type)
        skip(featureWhat, `value type ${feature.value_type} has no Cassette type; its values are not migrated`);
      else if (joinKeys.has(feature.name)) skip(featureWhat, 'it has the name of a join key of its view');
      else features.push({ name: feature.name, type, ...describe(feature.description) });
    }
    if (features.length === 0) {
      skip(what, 'none of its features can be imported');
      continue;
    }
    const ttl = ttlSeconds(view.ttl);
    if (ttl.roundedUp) changed.push(`${what}: ttl rounded up to whole seconds (${ttl.seconds}s)`);
    featureViews.push({
      name: view.name,
      entities: [...view.entities],
      ...(ttl.seconds > 0 ? { ttl: formatDurationSeconds(ttl.seconds) } : {}),
      ...describe(view.description),
      features,
    });
    importedFeatures.set(view.name, new Set(features.map((f) => f.name)));
  }

  const onDemand = new Set<string>();
  for (const { spec } of inProject(registry.on_demand_feature_views, project)) {
    onDemand.add(spec!.name);
    skip(
      `on-demand feature view "${spec!.name}"`,
      'computed by Python code at request time, which Cassette does not run',
    );
  }
  for (const { spec } of inProject(registry.stream_feature_views, project)) {
    skip(
      `stream feature view "${spec!.name}"`,
      'stream views (with their aggregations) are not imported; define a batch view and write to it',
    );
  }
  for (const { spec } of inProject(registry.feature_tables, project)) {
    skip(`feature table "${spec!.name}"`, "Feast's legacy feature tables are not imported");
  }
  for (const { spec } of inProject(registry.label_views, project)) {
    skip(`label view "${spec!.name}"`, 'label views are not imported');
  }

  const featureServices: FeatureServiceDocument[] = [];
  for (const { spec } of inProject(registry.feature_services, project)) {
    const service = spec!;
    const what = `feature service "${service.name}"`;
    if (!IDENTIFIER.test(service.name)) {
      skip(what, `the name is not a Cassette name (${IDENTIFIER_RULE})`);
      continue;
    }
    const refs: string[] = [];
    for (const projection of service.features) {
      const viewName = projection.feature_view_name;
      const part = `${what}, view "${viewName}"`;
      if (projection.feature_view_name_alias && projection.feature_view_name_alias !== viewName) {
        skip(part, `served as "${projection.feature_view_name_alias}": Cassette has no view aliases`);
        continue;
      }
      if (Object.keys(projection.join_key_map).length > 0) {
        skip(part, 'its join keys are mapped to other request columns (join_key_map): Cassette has no key mapping');
        continue;
      }
      const features = importedFeatures.get(viewName);
      if (!features) {
        skip(part, onDemand.has(viewName) ? 'an on-demand view' : 'the view is not imported');
        continue;
      }
      const columns: readonly FeatureSpecV2__Output[] = projection.feature_columns;
      for (const column of columns) {
        if (features.has(column.name)) refs.push(`${viewName}:${column.name}`);
        else skip(`${what}, feature "${viewName}:${column.name}"`, 'the feature is not imported');
      }
    }
    if (refs.length === 0) {
      skip(what, 'none of its features can be imported');
      continue;
    }
    featureServices.push({ name: service.name, features: refs, ...describe(service.description) });
  }

  return {
    document: { project: cassetteProject, entities, feature_views: featureViews, feature_services: featureServices },
    notImported,
    changed,
  };
}
