import type { GetOnlineFeaturesRequest__Output, RepeatedValue__Output, Value__Output } from '../../api/types.js';
import type { GetOnlineFeaturesRequest__Output as FeastGrpcRequest } from '../../generated/feast/serving/GetOnlineFeaturesRequest.js';
import type { Value__Output as FeastValue__Output } from '../../generated/feast/types/Value.js';
import { planLookup, plannedKeyColumns, type LookupPlan, type PlanLimits } from '../../read/plan.js';
import type { Registry } from '../../registry/index.js';
import { feastJsonValue } from '../values.js';

/**
 * Feast's GetOnlineFeatures, planned on Cassette's read path. A Feast request is Cassette's own
 * request (same fields, same meaning), so it becomes one and goes through planLookup, which
 * validates it and names the offending field. What differs is the answer's layout, which Feast
 * clients rely on:
 *
 * - the request's join keys come back first, each as a column of its own (values as sent,
 *   converted to the entity's type, status PRESENT, event time the epoch);
 * - the features of one feature view come back together, views in the order the request first
 *   names them (Feast reads view by view); within a view, in request order.
 *
 * Entity columns that are not join keys are left out, as Feast leaves out request data that no
 * on-demand view needs (Cassette has no on-demand views).
 */

/** Feast's JSON request to POST /get-online-features, as `feast serve` takes it. */
export interface FeastJsonRequest {
  readonly entities: Readonly<Record<string, readonly unknown[]>>;
  readonly feature_service?: string | null;
  readonly features?: readonly string[];
  readonly full_feature_names?: boolean;
}

/** The Feast gRPC request as Cassette's; the Value cases Cassette has no type for are refused when decoded. */
export function planFeastGrpcLookup(registry: Registry, request: FeastGrpcRequest, limits: PlanLimits): LookupPlan {
  const entities: Record<string, RepeatedValue__Output> = {};
  const order: string[] = [];
  for (const [name, column] of Object.entries(request.entities ?? {})) {
    order.push(name);
    if (registry.entitiesByJoinKey.has(name)) entities[name] = { val: asCassetteValues(column.val ?? []) };
  }
  const cassette: GetOnlineFeaturesRequest__Output = {
    kind: request.kind,
    feature_service: request.feature_service,
    features: request.features,
    entities,
    full_feature_names: request.full_feature_names,
  };
  return feastLayout(planLookup(registry, cassette, limits), order);
}

/** Feast's JSON request: entity values are converted by their join key's type, naming `entities["k"][i]`. */
export function planFeastJsonLookup(registry: Registry, request: FeastJsonRequest, limits: PlanLimits): LookupPlan {
  const entities: Record<string, RepeatedValue__Output> = {};
  const order: string[] = [];
  for (const [name, column] of Object.entries(request.entities)) {
    order.push(name);
    const entity = registry.entitiesByJoinKey.get(name);
    if (!entity) continue;
    const values = new Array<Value__Output>(column.length);
    for (let i = 0; i < column.length; i++) {
      values[i] = feastJsonValue(entity.type, column[i], `entities["${name}"][${i}]`);
    }
    entities[name] = { val: values };
  }
  // Feast takes the feature service when both are given.
  const cassette: GetOnlineFeaturesRequest__Output = request.feature_service
    ? {
        kind: 'feature_service',
        feature_service: request.feature_service,
        entities,
        full_feature_names: request.full_feature_names === true,
      }
    : {
        kind: 'features',
        features: { val: [...(request.features ?? [])] },
        entities,
        full_feature_names: request.full_feature_names === true,
      };
  return feastLayout(planLookup(registry, cassette, limits), order);
}

/** Reorders a plan's features the way Feast answers and puts the requested join keys first. */
export function feastLayout(plan: LookupPlan, entityOrder: readonly string[]): LookupPlan {
  // View slots are numbered in order of first mention, and the sort is stable.
  const features = [...plan.features].sort((a, b) => a.viewSlot - b.viewSlot);
  return { ...plan, features, keyColumns: plannedKeyColumns(plan, entityOrder) };
}

/**
 * Feast's Value has every case of Cassette's, with the same field numbers, and more (maps, sets,
 * JSON, ...). The codecs check the case they are given and refuse any they do not take
 * ("expected int64, got map_val"), so the wider type can be handed over as it is.
 */
function asCassetteValues(values: FeastValue__Output[]): Value__Output[] {
  return values as unknown as Value__Output[];
}
