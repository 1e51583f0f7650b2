import { LineCounter, isMap, isNode, isScalar, parseDocument } from 'yaml';
import { z } from 'zod';

import { CassetteError } from '../errors/index.js';
import { parseDurationSeconds } from './duration.js';
import {
  ENTITY_KEY_TYPES,
  VALUE_TYPES,
  type EntityDef,
  type EntityKeyType,
  type FeatureDef,
  type FeatureRef,
  type FeatureServiceDef,
  type FeatureViewDef,
  type Registry,
  type ValueType,
} from './types.js';

/**
 * Names become quoted CQL identifiers (tables and columns), so they are restricted to what
 * Cassandra accepts unquoted: lower-case letters, digits and underscores, at most 48 characters.
 */
const IDENTIFIER = /^[a-z][a-z0-9_]{0,47}$/;
/** Table names Cassette keeps for itself inside the keyspace. */
const RESERVED_PREFIX = 'cassette_';

export interface RegistryProblem {
  /** Path inside the file, e.g. `feature_views[1].features[0].type`. */
  readonly path: string;
  /** 1-based line in the source, when known. */
  readonly line?: number;
  readonly message: string;
}

export class RegistryValidationError extends CassetteError {
  readonly problems: readonly RegistryProblem[];

  constructor(source: string, problems: readonly RegistryProblem[]) {
    const lines = problems.map(
      (p) => `  ${source}${p.line === undefined ? '' : `:${p.line}`} ${p.path || '(root)'}: ${p.message}`,
    );
    super(
      'CST_ERR_REGISTRY_INVALID',
      `${source}: ${problems.length} problem(s) in the feature registry:\n${lines.join('\n')}`,
    );
    this.name = 'RegistryValidationError';
    this.problems = problems;
  }
}

const identifier = z.string().regex(IDENTIFIER, {
  message: 'must be a lower-case identifier: a letter, then letters, digits or _ (at most 48 characters)',
});

// Each part of the file is checked on its own, so one bad entry never hides the problems of
// the others, and cross-references are checked among the entries that are well formed.

const topLevelSchema = z.strictObject({
  project: identifier,
  entities: z.array(z.unknown()).min(1, { message: 'declare at least one entity' }),
  feature_views: z.array(z.unknown()).default([]),
  feature_services: z.array(z.unknown()).default([]),
});

const entityFields = {
  name: identifier,
  join_key: identifier,
  type: z.enum(ENTITY_KEY_TYPES, { message: `must be one of ${ENTITY_KEY_TYPES.join(', ')}` }),
  description: z.string().optional(),
};

const featureSchema = z.strictObject({
  name: identifier,
  type: z.enum(VALUE_TYPES as [ValueType, ...ValueType[]], { message: `must be one of ${VALUE_TYPES.join(', ')}` }),
  description: z.string().optional(),
});

const viewFields = {
  name: identifier,
  entities: z.array(z.string()).min(1, { message: 'a feature view needs at least one entity' }),
  ttl: z.string().optional(),
  description: z.string().optional(),
  features: z.array(z.unknown()).min(1, { message: 'a feature view needs at least one feature' }),
};

const serviceFields = {
  name: identifier,
  features: z.array(z.string()).min(1, { message: 'a feature service needs at least one feature' }),
  description: z.string().optional(),
};

type Path = (string | number)[];
type Report = (path: Path, message: string) => void;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Validates `value` against `schema`, reporting each issue at its full path. */
function check<T>(schema: z.ZodType<T>, value: unknown, path: Path, report: Report): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const at = [...path, ...(issue.path as Path)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) report([...at, key], `unknown field "${key}"`);
    } else {
      report(at, issue.message);
    }
  }
  return undefined;
}

type Fields = Record<string, z.ZodType>;
type Checked<F extends Fields> = { [K in keyof F]?: z.infer<F[K]> };

/**
 * Checks a mapping field by field, so one bad field does not hide the problems of the others.
 * Returns the fields that are valid, and whether all of them (and no unknown ones) were.
 */
function checkFields<F extends Fields>(
  raw: unknown,
  fields: F,
  path: Path,
  report: Report,
): { value: Checked<F>; complete: boolean } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    report(path, 'expected a mapping');
    return { value: {}, complete: false };
  }
  const record = raw as Record<string, unknown>;
  const value: Record<string, unknown> = {};
  let complete = true;
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(fields, key)) {
      report([...path, key], `unknown field "${key}"`);
      complete = false;
    }
  }
  for (const [key, schema] of Object.entries(fields)) {
    const result = schema.safeParse(record[key]);
    if (result.success) {
      if (result.data !== undefined) value[key] = result.data;
      continue;
    }
    complete = false;
    if (record[key] === undefined) {
      report([...path, key], 'is required');
      continue;
    }
    for (const issue of result.error.issues) report([...path, key, ...(issue.path as Path)], issue.message);
  }
  return { value: value as Checked<F>, complete };
}

/** Parses `view:feature`; returns undefined when the text is not of that shape. */
export function parseFeatureRef(text: string): FeatureRef | undefined {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon !== text.lastIndexOf(':') || colon === text.length - 1) return undefined;
  return { view: text.slice(0, colon), feature: text.slice(colon + 1) };
}

/**
 * Parses and validates a registry document (YAML or JSON). Every problem is collected and
 * reported together, each with its path in the file and, where known, its line.
 */
export function parseRegistry(text: string, source = 'registry'): Registry {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RegistryValidationError(
      source,
      doc.errors.map((e) => ({
        path: '',
        line: lineCounter.linePos(e.pos[0]).line,
        message: `not valid YAML: ${e.message.split('\n')[0] ?? e.code}`,
      })),
    );
  }

  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    // Walk up until a node with a source range is found (missing keys have none).
    for (let depth = path.length; depth >= 0; depth--) {
      const node: unknown = doc.getIn(path.slice(0, depth) as Path, true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      // A key that should not be there: point at the key itself.
      if (depth === path.length && depth > 0) {
        const parent: unknown = doc.getIn(path.slice(0, depth - 1) as Path, true);
        if (isMap(parent)) {
          const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === path[depth - 1]);
          if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
        }
      }
    }
    return undefined;
  };

  const problems: RegistryProblem[] = [];
  const report: Report = (path, message) => {
    problems.push({ path: formatPath(path), line: lineOf(path), message });
  };
  let document: unknown;
  try {
    document = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    // e.g. aliases that expand beyond reason.
    throw new RegistryValidationError(source, [{ path: '', message: `cannot be read: ${(error as Error).message}` }]);
  }
  const registry = resolve(document, report);
  if (problems.length > 0 || !registry) throw new RegistryValidationError(source, problems);
  return registry;
}

/** Checks every part of the document and resolves the cross-references between them. */
function resolve(document: unknown, report: Report): Registry | undefined {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    report([], 'the registry must be a mapping with project, entities, feature_views and feature_services');
    return undefined;
  }
  // Problems at the top level are reported, and the well-formed sections are still checked.
  check(topLevelSchema, document, [], report);
  const top = document as Record<string, unknown>;
  const section = (key: string): unknown[] => (Array.isArray(top[key]) ? (top[key] as unknown[]) : []);
  const file = {
    project: typeof top.project === 'string' ? top.project : '',
    entities: section('entities'),
    feature_views: section('feature_views'),
    feature_services: section('feature_services'),
  };

  const entities = new Map<string, EntityDef>();
  const entitiesByJoinKey = new Map<string, EntityDef>();
  // What is known to be broken already, so references to it are not reported a second time.
  const malformed = {
    /** A whole section that is not a list. */
    entitiesSection: top.entities !== undefined && !Array.isArray(top.entities),
    viewsSection: top.feature_views !== undefined && !Array.isArray(top.feature_views),
    entities: new Set<string>(),
    views: new Set<string>(),
    /** View name -> names of its malformed features. */
    features: new Map<string, Set<string>>(),
  };
  const nameOf = (value: unknown): string | undefined =>
    typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string'
      ? (value as { name: string }).name
      : undefined;

  file.entities.forEach((raw, i) => {
    const path: Path = ['entities', i];
    const { value: e, complete } = checkFields(raw, entityFields, path, report);
    if (!complete || !e.name || !e.join_key || !e.type) {
      const name = e.name ?? nameOf(raw);
      if (name) malformed.entities.add(name);
      return;
    }
    // A duplicate is reported, and the first definition kept.
    if (entities.has(e.name)) return report([...path, 'name'], `duplicate entity "${e.name}"`);
    const sameKey = entitiesByJoinKey.get(e.join_key);
    if (sameKey) {
      return report([...path, 'join_key'], `join key "${e.join_key}" is already used by entity "${sameKey.name}"`);
    }
    const entity: EntityDef = { name: e.name, joinKey: e.join_key, type: e.type as EntityKeyType };
    entities.set(e.name, entity);
    entitiesByJoinKey.set(e.join_key, entity);
  });

  const featureViews = new Map<string, FeatureViewDef>();
  file.feature_views.forEach((raw, i) => {
    const path: Path = ['feature_views', i];
    const { value: v } = checkFields(raw, viewFields, path, report);
    // Every field is checked even when others are broken; the view is registered (for the
    // feature services' references) as long as its name is usable.
    let name = v.name;
    if (name !== undefined && featureViews.has(name)) {
      report([...path, 'name'], `duplicate feature view "${name}"`);
      name = undefined;
    } else if (name?.startsWith(RESERVED_PREFIX)) {
      report([...path, 'name'], `names starting with "${RESERVED_PREFIX}" are reserved`);
    }
    if (name === undefined) {
      const rawName = nameOf(raw);
      if (rawName && !featureViews.has(rawName)) malformed.views.add(rawName);
    }

    const viewEntities: EntityDef[] = [];
    (v.entities ?? []).forEach((entityName, j) => {
      const entity = entities.get(entityName);
      if (!entity) {
        if (!malformed.entitiesSection && !malformed.entities.has(entityName)) {
          report([...path, 'entities', j], `unknown entity "${entityName}"`);
        }
      } else if (viewEntities.includes(entity)) {
        report([...path, 'entities', j], `entity "${entityName}" is listed twice`);
      } else viewEntities.push(entity);
    });

    let ttlSeconds = 0;
    if (v.ttl !== undefined) {
      const parsed = parseDurationSeconds(v.ttl);
      if (parsed === undefined) {
        report([...path, 'ttl'], `"${v.ttl}" is not a duration; use a whole number and a unit, e.g. 90s, 30m, 12h, 7d`);
      } else ttlSeconds = parsed;
    }

    const features: FeatureDef[] = [];
    const featureIndex = new Map<string, number>();
    const malformedFeatures = new Set<string>();
    (v.features ?? []).forEach((rawFeature, j) => {
      const f = check(featureSchema, rawFeature, [...path, 'features', j], report);
      if (!f) {
        const featureName = nameOf(rawFeature);
        if (featureName) malformedFeatures.add(featureName);
        return;
      }
      if (featureIndex.has(f.name)) {
        return report([...path, 'features', j, 'name'], `duplicate feature "${f.name}"`);
      }
      if (viewEntities.some((e) => e.joinKey === f.name)) {
        report([...path, 'features', j, 'name'], `"${f.name}" is a join key of this view`);
      }
      featureIndex.set(f.name, features.length);
      features.push({ name: f.name, type: f.type });
    });
    if (name === undefined) return;
    if (malformedFeatures.size > 0) malformed.features.set(name, malformedFeatures);
    featureViews.set(name, { name, entities: viewEntities, features, ttlSeconds, featureIndex });
  });

  const featureServices = new Map<string, FeatureServiceDef>();
  file.feature_services.forEach((raw, i) => {
    const path: Path = ['feature_services', i];
    const { value: s } = checkFields(raw, serviceFields, path, report);
    if (s.name !== undefined && featureServices.has(s.name)) {
      report([...path, 'name'], `duplicate feature service "${s.name}"`);
    }
    const refs: FeatureRef[] = [];
    const seen = new Set<string>();
    (s.features ?? []).forEach((text, j) => {
      const refPath: Path = [...path, 'features', j];
      const ref = parseFeatureRef(text);
      if (!ref) return report(refPath, `"${text}" is not a "view:feature" reference`);
      if (malformed.viewsSection || malformed.views.has(ref.view)) return;
      const view = featureViews.get(ref.view);
      if (!view) return report(refPath, `unknown feature view "${ref.view}"`);
      if (!view.featureIndex.has(ref.feature)) {
        if (malformed.features.get(ref.view)?.has(ref.feature)) return;
        return report(refPath, `feature view "${ref.view}" has no feature "${ref.feature}"`);
      }
      if (seen.has(text)) return report(refPath, `"${text}" is listed twice`);
      seen.add(text);
      refs.push(ref);
    });
    if (s.name !== undefined && !featureServices.has(s.name)) {
      featureServices.set(s.name, { name: s.name, features: refs });
    }
  });

  return { project: file.project, entities, entitiesByJoinKey, featureViews, featureServices };
}
