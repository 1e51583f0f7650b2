import { invalidArgument, quoteInput } from '../errors/index.js';
import type { GetOnlineFeaturesRequest__Output } from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { RepeatedValue__Output } from '../generated/cassette/v1/RepeatedValue.js';
import {
  parseFeatureRef,
  type EntityKeyType,
  type FeatureRef,
  type FeatureViewDef,
  type Registry,
  type ValueType,
} from '../registry/index.js';
import {
  decodeEntityKey,
  entityKeyString,
  MAX_PARTITION_KEY_BYTES,
  partitionKeyBytes,
  type StoredScalar,
} from '../values/index.js';

/** One requested feature: where its values come from and what it is called in the response. */
export interface PlannedFeature {
  readonly name: string;
  readonly type: ValueType;
  /** Index into LookupPlan.views. */
  readonly viewSlot: number;
  /** Position of the feature in its view's stored row. */
  readonly featureIndex: number;
}

/** The distinct entity rows one view must read for a batch. */
export interface ViewLookup {
  readonly view: FeatureViewDef;
  /** Decoded key parts per distinct entity, in the view's entity order. */
  readonly keys: StoredScalar[][];
  readonly keyStrings: string[];
  /** Batch row -> index into keys: duplicate entities are read once. */
  readonly rowToKey: Int32Array;
  /** View positions of the features requested from this view, ascending. */
  readonly featureIndexes: Int32Array;
}

/**
 * A join key answered back as a column of its own, before the features (Feast's APIs do this):
 * its values are part `part` of the keys of view slot `viewSlot`.
 */
export interface PlannedKeyColumn {
  readonly name: string;
  readonly type: EntityKeyType;
  readonly viewSlot: number;
  readonly part: number;
}

export interface LookupPlan {
  readonly batchSize: number;
  readonly features: readonly PlannedFeature[];
  readonly views: readonly ViewLookup[];
  /** Join keys to answer ahead of the features; Cassette's own API has none. */
  readonly keyColumns?: readonly PlannedKeyColumn[];
}

export interface PlanLimits {
  maxBatchSize: number;
}

function requestedRefs(
  registry: Registry,
  request: GetOnlineFeaturesRequest__Output,
): { refs: FeatureRef[]; field: string } {
  if (request.kind === 'feature_service') {
    const name = request.feature_service ?? '';
    const service = registry.featureServices.get(name);
    if (!service)
      throw invalidArgument(
        `feature_service: unknown feature service ${quoteInput(name)}`,
        'CST_ERR_UNKNOWN_FEATURE_SERVICE',
        {
          field: 'feature_service',
        },
      );
    return { refs: [...service.features], field: 'feature_service' };
  }
  if (request.kind === 'features') {
    const texts = request.features?.val ?? [];
    if (texts.length === 0) {
      throw invalidArgument('features: list at least one "view:feature" reference', 'CST_ERR_INVALID_ARGUMENT', {
        field: 'features',
      });
    }
    const seen = new Set<string>();
    const refs = texts.map((text, i) => {
      const ref = parseFeatureRef(text);
      if (!ref) {
        throw invalidArgument(
          `features[${i}]: ${quoteInput(text)} is not a "view:feature" reference`,
          'CST_ERR_INVALID_ARGUMENT',
          {
            field: `features[${i}]`,
          },
        );
      }
      const view = registry.featureViews.get(ref.view);
      if (!view) {
        throw invalidArgument(
          `features[${i}]: unknown feature view ${quoteInput(ref.view)}`,
          'CST_ERR_UNKNOWN_FEATURE_VIEW',
          {
            field: `features[${i}]`,
          },
        );
      }
      if (!view.featureIndex.has(ref.feature)) {
        throw invalidArgument(
          `features[${i}]: feature view "${ref.view}" has no feature ${quoteInput(ref.feature)}`,
          'CST_ERR_UNKNOWN_FEATURE',
          { field: `features[${i}]` },
        );
      }
      if (seen.has(text)) {
        throw invalidArgument(`features[${i}]: "${text}" is requested twice`, 'CST_ERR_INVALID_ARGUMENT', {
          field: `features[${i}]`,
        });
      }
      seen.add(text);
      return ref;
    });
    return { refs, field: 'features' };
  }
  throw invalidArgument('set either feature_service or features', 'CST_ERR_INVALID_ARGUMENT', { field: 'kind' });
}

/**
 * Validates a GetOnlineFeatures request against the registry and works out the reads it needs.
 * Every problem is an INVALID_ARGUMENT naming the offending field.
 */
export function planLookup(
  registry: Registry,
  request: GetOnlineFeaturesRequest__Output,
  limits: PlanLimits,
): LookupPlan {
  // Feature references are checked first, then the entities (so a request wrong in both is told
  // about its features, as before the feature plans were cached).
  const features = plannedFeatures(registry, request);

  const columns = Object.entries(request.entities ?? {}) as [string, RepeatedValue__Output][];
  if (columns.length === 0) {
    throw invalidArgument('entities: give at least one join key column', 'CST_ERR_INVALID_ARGUMENT', {
      field: 'entities',
    });
  }
  let batchSize = -1;
  let firstKey = '';
  for (const [joinKey, column] of columns) {
    if (!registry.entitiesByJoinKey.has(joinKey)) {
      throw invalidArgument(`entities: unknown join key ${quoteInput(joinKey)}`, 'CST_ERR_UNKNOWN_JOIN_KEY', {
        field: 'entities',
      });
    }
    const length = column.val?.length ?? 0;
    if (batchSize === -1) {
      batchSize = length;
      firstKey = joinKey;
    } else if (length !== batchSize) {
      throw invalidArgument(
        `entities: column "${joinKey}" has ${length} values but column "${firstKey}" has ${batchSize}; every column needs the batch's length`,
        'CST_ERR_RAGGED_ENTITIES',
        { field: 'entities' },
      );
    }
  }
  if (batchSize > limits.maxBatchSize) {
    throw invalidArgument(
      `entities: a batch of ${batchSize} rows exceeds the limit of ${limits.maxBatchSize}`,
      'CST_ERR_BATCH_TOO_LARGE',
      { field: 'entities' },
    );
  }

  const columnByKey = new Map(columns);
  const decodedColumns = new Map<string, StoredScalar[]>();
  const decodeColumn = (joinKey: string, viewName: string): StoredScalar[] => {
    let decoded = decodedColumns.get(joinKey);
    if (decoded) return decoded;
    const column = columnByKey.get(joinKey);
    if (!column) {
      throw invalidArgument(
        `entities: feature view "${viewName}" needs join key "${joinKey}"`,
        'CST_ERR_MISSING_JOIN_KEY',
        { field: 'entities' },
      );
    }
    const entity = registry.entitiesByJoinKey.get(joinKey);
    if (!entity) {
      throw invalidArgument(`entities: unknown join key "${joinKey}"`, 'CST_ERR_UNKNOWN_JOIN_KEY', {
        field: 'entities',
      });
    }
    const values = column.val ?? [];
    decoded = new Array<StoredScalar>(values.length);
    for (let i = 0; i < values.length; i++) {
      decoded[i] = decodeEntityKey(entity.type, values[i]!, `entities["${joinKey}"][${i}]`);
    }
    decodedColumns.set(joinKey, decoded);
    return decoded;
  };

  const clash = features.clash;
  const viewCount = clash ? clash.viewsBefore : features.views.length;
  const views = new Array<ViewLookup>(viewCount);
  for (let slot = 0; slot < viewCount; slot++) {
    views[slot] = planView(features.views[slot]!, batchSize, decodeColumn, features.featureIndexes[slot]!);
  }
  if (clash) throw clash.error;
  return { batchSize, features: features.features, views };
}

/** What a request's feature list plans to, whatever its entities: the same for every request asking the same. */
interface FeaturePlan {
  /** The request's feature texts (or service name) it was planned from, to check a cache hit against. */
  readonly texts: readonly string[];
  readonly features: readonly PlannedFeature[];
  /** Per view slot: the view and the (ascending) view positions requested from it. */
  readonly views: readonly FeatureViewDef[];
  readonly featureIndexes: readonly Int32Array[];
  /**
   * Two features answered under one name: refused once the views planned before the clash have
   * checked their entities (the order the checks always ran in). Such a plan is not cached.
   */
  readonly clash?: { readonly error: Error; readonly viewsBefore: number };
}

/** Distinct feature lists kept per registry; past this the cache starts over (a client sending ever new lists). */
const MAX_FEATURE_PLANS = 256;

/**
 * Feature plans per registry (a new registry version is a new object, so its plans start empty).
 * Validating and resolving the feature references (parsing, lookups, duplicate and name-clash
 * checks, output names) was a large part of planning a small request, and a client asks for the
 * same list again and again. Only lists that planned without error are kept: a bad one is
 * refused each time with its own message.
 */
const featurePlans = new WeakMap<Registry, Map<string, FeaturePlan>>();

function plannedFeatures(registry: Registry, request: GetOnlineFeaturesRequest__Output): FeaturePlan {
  let texts: readonly string[] | undefined;
  let cacheKey: string | undefined;
  if (request.kind === 'features') {
    texts = request.features?.val ?? [];
    cacheKey = `${request.full_feature_names ? 'F' : 'f'}${texts.join('\n')}`;
  } else if (request.kind === 'feature_service') {
    texts = [request.feature_service ?? ''];
    cacheKey = `${request.full_feature_names ? 'S' : 's'}${texts[0]!}`;
  }
  let plans = featurePlans.get(registry);
  if (cacheKey !== undefined && plans !== undefined) {
    const known = plans.get(cacheKey);
    // The key joins the texts with a separator a text could contain: compare them to be sure.
    if (known !== undefined && sameTexts(known.texts, texts!)) return known;
  }
  const plan = planFeatures(registry, request, texts ?? []);
  if (cacheKey !== undefined && plan.clash === undefined) {
    if (plans === undefined) {
      plans = new Map();
      featurePlans.set(registry, plans);
    } else if (plans.size >= MAX_FEATURE_PLANS) {
      plans.clear();
    }
    plans.set(cacheKey, plan);
  }
  return plan;
}

function sameTexts(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function planFeatures(
  registry: Registry,
  request: GetOnlineFeaturesRequest__Output,
  texts: readonly string[],
): FeaturePlan {
  const { refs, field } = requestedRefs(registry, request);
  const views: FeatureViewDef[] = [];
  const viewFeatures: number[][] = [];
  const viewSlots = new Map<string, number>();
  const features: PlannedFeature[] = [];
  const outputNames = new Map<string, string>();
  for (const ref of refs) {
    const view = registry.featureViews.get(ref.view)!;
    let slot = viewSlots.get(view.name);
    if (slot === undefined) {
      slot = views.length;
      viewSlots.set(view.name, slot);
      views.push(view);
      viewFeatures.push([]);
    }
    const name = request.full_feature_names ? `${ref.view}__${ref.feature}` : ref.feature;
    const clash = outputNames.get(name);
    if (clash !== undefined) {
      const error = invalidArgument(
        `${field}: "${clash}" and "${ref.view}:${ref.feature}" are both named "${name}" in the response; set full_feature_names`,
        'CST_ERR_INVALID_ARGUMENT',
        { field },
      );
      return {
        texts,
        features,
        views,
        featureIndexes: sortedIndexes(viewFeatures),
        clash: { error, viewsBefore: views.length },
      };
    }
    outputNames.set(name, `${ref.view}:${ref.feature}`);
    const featureIndex = view.featureIndex.get(ref.feature)!;
    features.push({ name, type: view.features[featureIndex]!.type, viewSlot: slot, featureIndex });
    viewFeatures[slot]!.push(featureIndex);
  }
  return {
    texts: [...texts],
    features,
    views,
    featureIndexes: sortedIndexes(viewFeatures),
  };
}

function sortedIndexes(viewFeatures: readonly number[][]): Int32Array[] {
  return viewFeatures.map((indexes) => Int32Array.from(indexes).sort());
}

/**
 * The join keys named in `entityOrder` that some view of `plan` is keyed by, as columns to answer
 * back (each from the first view that has it); a join key no requested view uses is left out.
 */
export function plannedKeyColumns(plan: LookupPlan, entityOrder: readonly string[]): PlannedKeyColumn[] {
  const keyColumns: PlannedKeyColumn[] = [];
  for (const name of entityOrder) {
    for (let slot = 0; slot < plan.views.length; slot++) {
      const entities = plan.views[slot]!.view.entities;
      const part = entities.findIndex((e) => e.joinKey === name);
      if (part >= 0) {
        keyColumns.push({ name, type: entities[part]!.type, viewSlot: slot, part });
        break;
      }
    }
  }
  return keyColumns;
}

function planView(
  view: FeatureViewDef,
  batchSize: number,
  decodeColumn: (joinKey: string, viewName: string) => StoredScalar[],
  featureIndexes: Int32Array,
): ViewLookup {
  const entityColumns = view.entities.map((e) => decodeColumn(e.joinKey, view.name));
  const keys: StoredScalar[][] = [];
  const keyStrings: string[] = [];
  const rowToKey = new Int32Array(batchSize);
  const seen = new Map<string, number>();
  for (let row = 0; row < batchSize; row++) {
    const parts = entityColumns.map((column) => column[row]!);
    const bytes = partitionKeyBytes(parts);
    if (bytes > MAX_PARTITION_KEY_BYTES) {
      throw invalidArgument(
        `entities: the key of row ${row} for feature view "${view.name}" is ${bytes} bytes; Cassandra allows ${MAX_PARTITION_KEY_BYTES}`,
        'CST_ERR_INVALID_VALUE',
        { field: 'entities' },
      );
    }
    const text = entityKeyString(parts);
    let index = seen.get(text);
    if (index === undefined) {
      index = keys.length;
      seen.set(text, index);
      keys.push(parts);
      keyStrings.push(text);
    }
    rowToKey[row] = index;
  }
  return { view, keys, keyStrings, rowToKey, featureIndexes };
}
