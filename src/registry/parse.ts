import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';

import { parseDurationSeconds } from './duration.js';
import {
  ENTITY_KEY_TYPES,
  VALUE_TYPES,
  type EntityDef,
  type EntityKeyType,
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

const fileSchema = z
  .object({
    project: identifier,
    entities: z
      .array(
        z.strictObject({
          name: identifier,
          join_key: identifier,
          type: z.enum(ENTITY_KEY_TYPES, {
            message: `must be one of ${ENTITY_KEY_TYPES.join(', ')}`,
          }),
          description: z.string().optional(),
        }),
      )
      .min(1, { message: 'declare at least one entity' }),
    feature_views: z
      .array(
        z.strictObject({
          name: identifier,
          entities: z.array(z.string()).min(1, { message: 'a feature view needs at least one entity' }),
          ttl: z.string().optional(),
          description: z.string().optional(),
          features: z
            .array(
              z.strictObject({
                name: identifier,
                type: z.enum(VALUE_TYPES as [ValueType, ...ValueType[]], {
                  message: `must be one of ${VALUE_TYPES.join(', ')}`,
                }),
                description: z.string().optional(),
              }),
            )
            .min(1, { message: 'a feature view needs at least one feature' }),
        }),
      )
      .default([]),
    feature_services: z
      .array(
        z.strictObject({
          name: identifier,
          features: z.array(z.string()).min(1, { message: 'a feature service needs at least one feature' }),
          description: z.string().optional(),
        }),
      )
      .default([]),
  })
  .strict();

type RegistryFile = z.infer<typeof fileSchema>;
type Path = (string | number)[];

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
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
        line: e.linePos?.[0]?.line,
        message: `not valid YAML: ${e.message.split('\n')[0] ?? e.code}`,
      })),
    );
  }

  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    // Walk up until a node with a source range is found (missing keys have none).
    for (let depth = path.length; depth >= 0; depth--) {
      const node: unknown = doc.getIn(path.slice(0, depth) as Path, true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };

  const parsed = fileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new RegistryValidationError(
      source,
      parsed.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        line: lineOf(issue.path),
        message: issue.message,
      })),
    );
  }

  const problems: RegistryProblem[] = [];
  const report = (path: Path, message: string): void => {
    problems.push({ path: formatPath(path), line: lineOf(path), message });
  };
  const registry = resolve(parsed.data, report);
  if (problems.length > 0) throw new RegistryValidationError(source, problems);
  return registry;
}

/** Resolves cross-references between the parts of a schema-valid file. */
function resolve(file: RegistryFile, report: (path: Path, message: string) => void): Registry {
  const entities = new Map<string, EntityDef>();
  const entitiesByJoinKey = new Map<string, EntityDef>();
  file.entities.forEach((e, i) => {
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
  file.feature_views.forEach((v, i) => {
    if (featureViews.has(v.name)) report(['feature_views', i, 'name'], `duplicate feature view "${v.name}"`);
    if (v.name.startsWith(RESERVED_PREFIX)) {
      report(['feature_views', i, 'name'], `names starting with "${RESERVED_PREFIX}" are reserved`);
    }
    const viewEntities: EntityDef[] = [];
    v.entities.forEach((name, j) => {
      const entity = entities.get(name);
      if (!entity) report(['feature_views', i, 'entities', j], `unknown entity "${name}"`);
      else if (viewEntities.includes(entity))
        report(['feature_views', i, 'entities', j], `entity "${name}" is listed twice`);
      else viewEntities.push(entity);
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
    const featureIndex = new Map<string, number>();
    v.features.forEach((f, j) => {
      if (featureIndex.has(f.name))
        report(['feature_views', i, 'features', j, 'name'], `duplicate feature "${f.name}"`);
      if (viewEntities.some((e) => e.joinKey === f.name)) {
        report(['feature_views', i, 'features', j, 'name'], `"${f.name}" is a join key of this view`);
      }
      featureIndex.set(f.name, j);
    });
    featureViews.set(v.name, {
      name: v.name,
      entities: viewEntities,
      features: v.features.map((f) => ({ name: f.name, type: f.type })),
      ttlSeconds,
      featureIndex,
    });
  });

  const featureServices = new Map<string, FeatureServiceDef>();
  file.feature_services.forEach((s, i) => {
    if (featureServices.has(s.name)) report(['feature_services', i, 'name'], `duplicate feature service "${s.name}"`);
    const refs: FeatureRef[] = [];
    const seen = new Set<string>();
    s.features.forEach((text, j) => {
      const path: Path = ['feature_services', i, 'features', j];
      const ref = parseFeatureRef(text);
      if (!ref) return report(path, `"${text}" is not a "view:feature" reference`);
      const view = featureViews.get(ref.view);
      if (!view) return report(path, `unknown feature view "${ref.view}"`);
      if (!view.featureIndex.has(ref.feature)) {
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
