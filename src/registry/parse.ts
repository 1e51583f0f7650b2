import { LineCounter, isMap, isNode, isScalar, parseDocument } from 'yaml';
import { z } from 'zod';

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

export class RegistryValidationError extends Error {
  readonly problems: readonly RegistryProblem[];

  constructor(source: string, problems: readonly RegistryProblem[]) {
    const lines = problems.map(
      (p) => `  ${source}${p.line === undefined ? '' : `:${p.line}`} ${p.path || '(root)'}: ${p.message}`,
    );
    super(`${source}: ${problems.length} problem(s) in the feature registry:\n${lines.join('\n')}`);
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

const entitySchema = z.strictObject({
  name: identifier,
  join_key: identifier,
  type: z.enum(ENTITY_KEY_TYPES, { message: `must be one of ${ENTITY_KEY_TYPES.join(', ')}` }),
  description: z.string().optional(),
});

const featureSchema = z.strictObject({
  name: identifier,
  type: z.enum(VALUE_TYPES as [ValueType, ...ValueType[]], { message: `must be one of ${VALUE_TYPES.join(', ')}` }),
  description: z.string().optional(),
});

const viewSchema = z.strictObject({
  name: identifier,
  entities: z.array(z.string()).min(1, { message: 'a feature view needs at least one entity' }),
  ttl: z.string().optional(),
  description: z.string().optional(),
  features: z.array(z.unknown()).min(1, { message: 'a feature view needs at least one feature' }),
});

const serviceSchema = z.strictObject({
  name: identifier,
  features: z.array(z.string()).min(1, { message: 'a feature service needs at least one feature' }),
  description: z.string().optional(),
});

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
  const registry = resolve(doc.toJS(), report);
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
  // Names of malformed entries: references to them are not reported a second time.
  const malformed = {
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
    const e = check(entitySchema, raw, ['entities', i], report);
    if (!e) {
      const name = nameOf(raw);
      if (name) malformed.entities.add(name);
      return;
    }
    if (entities.has(e.name)) report(['entities', i, 'name'], `duplicate entity "${e.name}"`);
    const sameKey = entitiesByJoinKey.get(e.join_key);
    if (sameKey) {
      report(['entities', i, 'join_key'], `join key "${e.join_key}" is already used by entity "${sameKey.name}"`);
    }
    const entity: EntityDef = { name: e.name, joinKey: e.join_key, type: e.type as EntityKeyType };
    entities.set(e.name, entity);
    entitiesByJoinKey.set(e.join_key, entity);
  });

  const featureViews = new Map<string, FeatureViewDef>();
  file.feature_views.forEach((raw, i) => {
    const v = check(viewSchema, raw, ['feature_views', i], report);
    if (!v) {
      const name = nameOf(raw);
      if (name) malformed.views.add(name);
      // Still check the features of a malformed view, so their problems are reported too.
      const rawFeatures = (raw as { features?: unknown } | null)?.features;
      if (Array.isArray(rawFeatures)) {
        rawFeatures.forEach((f, j) => check(featureSchema, f, ['feature_views', i, 'features', j], report));
      }
      return;
    }
    if (featureViews.has(v.name)) report(['feature_views', i, 'name'], `duplicate feature view "${v.name}"`);
    if (v.name.startsWith(RESERVED_PREFIX)) {
      report(['feature_views', i, 'name'], `names starting with "${RESERVED_PREFIX}" are reserved`);
    }
    const viewEntities: EntityDef[] = [];
    v.entities.forEach((name, j) => {
      const entity = entities.get(name);
      if (!entity) {
        if (!malformed.entities.has(name)) report(['feature_views', i, 'entities', j], `unknown entity "${name}"`);
      } else if (viewEntities.includes(entity)) {
        report(['feature_views', i, 'entities', j], `entity "${name}" is listed twice`);
      } else viewEntities.push(entity);
    });
    let ttlSeconds = 0;
    if (v.ttl !== undefined) {
      const parsed = parseDurationSeconds(v.ttl);
      if (parsed === undefined) {
        report(
          ['feature_views', i, 'ttl'],
          `"${v.ttl}" is not a duration; use a whole number and a unit, e.g. 90s, 30m, 12h, 7d`,
        );
      } else ttlSeconds = parsed;
    }
    const features: FeatureDef[] = [];
    const featureIndex = new Map<string, number>();
    const malformedFeatures = new Set<string>();
    v.features.forEach((rawFeature, j) => {
      const f = check(featureSchema, rawFeature, ['feature_views', i, 'features', j], report);
      if (!f) {
        const name = nameOf(rawFeature);
        if (name) malformedFeatures.add(name);
        return;
      }
      if (featureIndex.has(f.name)) {
        report(['feature_views', i, 'features', j, 'name'], `duplicate feature "${f.name}"`);
        return;
      }
      if (viewEntities.some((e) => e.joinKey === f.name)) {
        report(['feature_views', i, 'features', j, 'name'], `"${f.name}" is a join key of this view`);
      }
      featureIndex.set(f.name, features.length);
      features.push({ name: f.name, type: f.type });
    });
    if (malformedFeatures.size > 0) malformed.features.set(v.name, malformedFeatures);
    featureViews.set(v.name, { name: v.name, entities: viewEntities, features, ttlSeconds, featureIndex });
  });

  const featureServices = new Map<string, FeatureServiceDef>();
  file.feature_services.forEach((raw, i) => {
    const s = check(serviceSchema, raw, ['feature_services', i], report);
    if (!s) return;
    if (featureServices.has(s.name)) report(['feature_services', i, 'name'], `duplicate feature service "${s.name}"`);
    const refs: FeatureRef[] = [];
    const seen = new Set<string>();
    s.features.forEach((text, j) => {
      const path: Path = ['feature_services', i, 'features', j];
      const ref = parseFeatureRef(text);
      if (!ref) return report(path, `"${text}" is not a "view:feature" reference`);
      if (malformed.views.has(ref.view)) return;
      const view = featureViews.get(ref.view);
      if (!view) return report(path, `unknown feature view "${ref.view}"`);
      if (!view.featureIndex.has(ref.feature)) {
        if (malformed.features.get(ref.view)?.has(ref.feature)) return;
        return report(path, `feature view "${ref.view}" has no feature "${ref.feature}"`);
      }
      if (seen.has(text)) return report(path, `"${text}" is listed twice`);
      seen.add(text);
      refs.push(ref);
    });
    featureServices.set(s.name, { name: s.name, features: refs });
  });

  return { project: file.project, entities, entitiesByJoinKey, featureViews, featureServices };
}
