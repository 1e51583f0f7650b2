import type {
  EntitySpec,
  FeatureServiceSpec,
  FeatureSpec,
  FeatureViewSpec,
  FeatureViewSpec__Output,
  ListFeatureServicesResponse,
  ListFeatureViewsResponse,
} from '../api/index.js';
import type {
  EntityDef,
  EntityKeyType,
  FeatureDef,
  FeatureRef,
  FeatureServiceDef,
  FeatureViewDef,
  Registry,
  ValueType,
} from './types.js';

// The registry as the API shows it (cassette.v1.Registry), and back. Names follow the proto:
// snake_case fields, `view:feature` references, ttl in seconds.

export function formatFeatureRef(ref: FeatureRef): string {
  return `${ref.view}:${ref.feature}`;
}

export function entitySpec(entity: EntityDef): EntitySpec {
  return { name: entity.name, join_key: entity.joinKey, type: entity.type };
}

export function featureSpec(feature: FeatureDef): FeatureSpec {
  return { name: feature.name, type: feature.type };
}

export function featureViewSpec(view: FeatureViewDef): FeatureViewSpec {
  return {
    name: view.name,
    entities: view.entities.map(entitySpec),
    features: view.features.map(featureSpec),
    ttl_seconds: view.ttlSeconds,
  };
}

export function featureServiceSpec(service: FeatureServiceDef): FeatureServiceSpec {
  return { name: service.name, features: service.features.map(formatFeatureRef) };
}

export function listFeatureViewsResponse(registry: Registry, version: number): ListFeatureViewsResponse {
  return {
    project: registry.project,
    registry_version: version,
    feature_views: [...registry.featureViews.values()].map(featureViewSpec),
  };
}

export function listFeatureServicesResponse(registry: Registry): ListFeatureServicesResponse {
  return { feature_services: [...registry.featureServices.values()].map(featureServiceSpec) };
}

/**
 * A view as a server lists it, in the registry's own shape. The types are taken as the server
 * sent them: it validated them when the registry was applied.
 */
export function featureViewFromSpec(spec: FeatureViewSpec__Output): FeatureViewDef {
  const features = spec.features.map((f) => ({ name: f.name, type: f.type as ValueType }));
  return {
    name: spec.name,
    entities: spec.entities.map((e) => ({ name: e.name, joinKey: e.join_key, type: e.type as EntityKeyType })),
    features,
    ttlSeconds: Number(spec.ttl_seconds),
    featureIndex: new Map(features.map((f, i) => [f.name, i])),
  };
}
