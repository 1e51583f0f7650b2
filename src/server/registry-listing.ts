import type { ListFeatureServicesResponse } from '../generated/cassette/v1/ListFeatureServicesResponse.js';
import type { ListFeatureViewsResponse } from '../generated/cassette/v1/ListFeatureViewsResponse.js';
import { listFeatureServicesResponse, listFeatureViewsResponse } from '../registry/index.js';
import type { RegistrySync } from '../registry/sync.js';

/** The Registry service's answers: the registry serving now, as the API describes it. */
export class RegistryListing {
  constructor(private readonly registry: Pick<RegistrySync, 'current'>) {}

  listFeatureViews(): ListFeatureViewsResponse {
    const { version, registry } = this.registry.current;
    return listFeatureViewsResponse(registry, version);
  }

  listFeatureServices(): ListFeatureServicesResponse {
    return listFeatureServicesResponse(this.registry.current.registry);
  }
}
