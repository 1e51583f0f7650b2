import type { ListFeatureServicesResponse } from '../generated/cassette/v1/ListFeatureServicesResponse.js';
import type { ListFeatureViewsResponse } from '../generated/cassette/v1/ListFeatureViewsResponse.js';
import type { RegistrySync } from '../registry/sync.js';

/** The Registry service's answers: the registry serving now, as the API describes it. */
export class RegistryListing {
  constructor(private readonly registry: Pick<RegistrySync, 'current'>) {}

  listFeatureViews(): ListFeatureViewsResponse {
    const { version, registry } = this.registry.current;
    return {
      project: registry.project,
      registry_version: version,
      feature_views: [...registry.featureViews.values()].map((view) => ({
        name: view.name,
        entities: view.entities.map((e) => ({ name: e.name, join_key: e.joinKey, type: e.type })),
        features: view.features.map((f) => ({ name: f.name, type: f.type })),
        ttl_seconds: view.ttlSeconds,
      })),
    };
  }

  listFeatureServices(): ListFeatureServicesResponse {
    return {
      feature_services: [...this.registry.current.registry.featureServices.values()].map((s) => ({
        name: s.name,
        features: s.features.map((r) => `${r.view}:${r.feature}`),
      })),
    };
  }
}
