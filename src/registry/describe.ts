import type { Registry } from './types.js';

/**
 * A canonical, order-preserving plain-object form of a registry. Two registries that
 * serve the same definitions describe to the same JSON, which makes `apply` idempotent.
 */
export function describeRegistry(registry: Registry): unknown {
  return {
    project: registry.project,
    entities: [...registry.entities.values()].map((e) => ({ name: e.name, join_key: e.joinKey, type: e.type })),
    feature_views: [...registry.featureViews.values()].map((v) => ({
      name: v.name,
      entities: v.entities.map((e) => e.name),
      ttl_seconds: v.ttlSeconds,
      features: v.features.map((f) => ({ name: f.name, type: f.type })),
    })),
    feature_services: [...registry.featureServices.values()].map((s) => ({
      name: s.name,
      features: s.features.map((r) => `${r.view}:${r.feature}`),
    })),
  };
}
