import { invalidArgument } from '../errors/index.js';
import type { EntityKeyType, FeatureViewDef, ScalarType, ValueType } from '../registry/index.js';
import { codecOf, scalarCodecOf, type ScalarCodec, type StoredValue, type ValueCodec } from '../values/index.js';

/** A column that feeds join key `index` of the view, through its type's codec. */
export interface KeyTarget {
  readonly kind: 'key';
  readonly name: string;
  readonly type: EntityKeyType;
  readonly index: number;
  readonly codec: ScalarCodec<ScalarType>;
}

/** A column that feeds feature `index` of the view, through its type's codec. */
export interface FeatureTarget {
  readonly kind: 'feature';
  readonly name: string;
  readonly type: ValueType;
  readonly index: number;
  readonly codec: ValueCodec<StoredValue>;
}

/** Where one column of a file goes. */
export type ColumnTarget = KeyTarget | FeatureTarget | { readonly kind: 'eventTime'; readonly name: string };

export interface MappingOptions {
  /** `--map column=target`: the column feeds that join key or feature; an empty target ignores the column. */
  readonly maps: ReadonlyMap<string, string>;
  /** The column holding event times. */
  readonly eventTimeColumn: string;
  /** Columns that match nothing are skipped (with a warning) instead of failing the job. */
  readonly ignoreUnknown: boolean;
}

export const DEFAULT_EVENT_TIME_COLUMN = 'event_timestamp';

/** Parses repeated `--map column=target` flags. */
export function parseMaps(flags: readonly string[]): Map<string, string> {
  const maps = new Map<string, string>();
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new Error(`--map ${flag}: expected column=feature (or column= to ignore the column)`);
    const column = flag.slice(0, eq);
    if (maps.has(column)) throw new Error(`--map: column "${column}" is mapped twice`);
    maps.set(column, flag.slice(eq + 1));
  }
  return maps;
}

/**
 * Resolves the target a column name maps to: `--map` first, then the event-time column, then a
 * join key or feature of the same name. `null`: explicitly ignored; `undefined`: unknown.
 */
export class ColumnResolver {
  private readonly byName = new Map<string, ColumnTarget>();

  constructor(
    readonly view: FeatureViewDef,
    readonly options: MappingOptions,
  ) {
    view.entities.forEach((entity, index) => {
      const { joinKey: name, type } = entity;
      this.byName.set(name, { kind: 'key', name, type, index, codec: scalarCodecOf(type) });
    });
    view.features.forEach((feature, index) => {
      const { name, type } = feature;
      this.byName.set(name, { kind: 'feature', name, type, index, codec: codecOf(type) });
    });
    for (const [column, target] of options.maps) {
      if (target !== '' && !this.byName.has(target)) {
        throw invalidArgument(
          `--map ${column}=${target}: feature view "${view.name}" has no join key or feature "${target}" ` +
            `(join keys: ${view.entities.map((e) => e.joinKey).join(', ')}; features: ${view.features.map((f) => f.name).join(', ')})`,
        );
      }
      if (column === options.eventTimeColumn) {
        throw invalidArgument(`--map ${column}=${target}: "${column}" is the event-time column`);
      }
    }
  }

  resolve(column: string): ColumnTarget | null | undefined {
    const mapped = this.options.maps.get(column);
    if (mapped !== undefined) return mapped === '' ? null : this.byName.get(mapped);
    if (column === this.options.eventTimeColumn) return { kind: 'eventTime', name: column };
    return this.byName.get(column);
  }
}

export interface ColumnPlan {
  /** One entry per column of the file: where it goes, or null to skip it. */
  readonly targets: readonly (ColumnTarget | null)[];
  /** Columns that matched nothing and are skipped (only with ignoreUnknown). */
  readonly ignored: readonly string[];
  /** False when no column holds event times: every row takes the job's start time. */
  readonly hasEventTime: boolean;
}

/**
 * Plans the columns of a file with a header (CSV, Parquet), checking everything that can be
 * checked before a row is read: every join key has a column, some feature does, no target is
 * fed twice, every --map names a column, and (unless ignored) no column is unknown.
 */
export function planColumns(columns: readonly string[], resolver: ColumnResolver): ColumnPlan {
  const { view, options } = resolver;
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column)) problems.push(`column "${column}" appears twice in the header`);
    seen.add(column);
  }
  for (const column of options.maps.keys()) {
    if (!seen.has(column)) problems.push(`--map names column "${column}", which the file does not have`);
  }
  const fedBy = new Map<string, string>();
  const unknown: string[] = [];
  const targets = columns.map((column) => {
    const target = resolver.resolve(column);
    if (target === undefined) {
      unknown.push(column);
      return null;
    }
    if (target === null) return null;
    const previous = fedBy.get(target.name);
    if (previous !== undefined && previous !== column) {
      problems.push(`columns "${previous}" and "${column}" both map to "${target.name}" (skip one with --map column=)`);
    }
    fedBy.set(target.name, column);
    return target;
  });
  for (const entity of view.entities) {
    if (!fedBy.has(entity.joinKey)) problems.push(`no column for join key "${entity.joinKey}"`);
  }
  if (!view.features.some((f) => fedBy.has(f.name))) {
    problems.push(`no column for any feature of view "${view.name}" (${view.features.map((f) => f.name).join(', ')})`);
  }
  if (unknown.length > 0 && !options.ignoreUnknown) {
    problems.push(
      `${unknown.map((c) => `"${c}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} neither a join key nor a ` +
        `feature of view "${view.name}" nor the event-time column "${options.eventTimeColumn}"; ` +
        'map with --map column=feature, or pass --ignore-unknown-columns',
    );
  }
  if (problems.length > 0) throw invalidArgument(problems.join('; '));
  return { targets, ignored: unknown, hasEventTime: fedBy.has(options.eventTimeColumn) };
}
