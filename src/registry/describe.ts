import { entitySpec, featureServiceSpec, featureSpec } from './api-mapping.js';
import type { Registry } from './types.js';

/**
 * A canonical, order-preserving plain-object form of a registry. Two registries that
 * serve the same definitions describe to the same JSON, which makes `apply` idempotent.
 * (It is stored, so its shape and key order stay as they are.)
 */
export function describeRegistry(registry: Registry): unknown {
  return {
    project: registry.project,
    entities: [...registry.entities.values()].map(entitySpec),
    feature_views: [...registry.featureViews.values()].map((v) => ({
      name: v.name,
      entities: v.entities.map((e) => e.name),
      ttl_seconds: v.ttlSeconds,
      features: v.features.map(featureSpec),
    })),
    feature_services: [...registry.featureServices.values()].map(featureServiceSpec),
  };
}
