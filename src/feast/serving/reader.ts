import { readFileSync } from 'node:fs';

import type { CallContext } from '../../concurrency/call.js';
import type { GetFeastServingInfoResponse } from '../../generated/feast/serving/GetFeastServingInfoResponse.js';
import type { GetOnlineFeaturesRequest__Output as FeastGrpcRequest } from '../../generated/feast/serving/GetOnlineFeaturesRequest.js';
import type { FeatureReader } from '../../read/feature-reader.js';
import type { LookupPlan, PlanLimits } from '../../read/plan.js';
import { encodeResponse } from '../../read/wire.js';
import type { RegistrySync } from '../../registry/sync.js';
import { encodeFeastJson } from '../http/json-response.js';
import { planFeastGrpcLookup, planFeastJsonLookup, type FeastJsonRequest } from './plan.js';

/** The Feast serving API version Cassette answers as (the Feast release its tests run). */
export const FEAST_API_VERSION = '0.67.0';

const CASSETTE_VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * Feast's GetOnlineFeatures over Cassette's read path: the request is planned with the registry
 * serving now (see plan.ts), its rows are read by the FeatureReader (cache, concurrency bound,
 * deadline, as for Cassette's own API), and the answer is written by the same encoder as
 * Cassette's (protobuf, for gRPC) or as `feast serve` writes JSON (for HTTP).
 */
export class FeastReader {
  constructor(
    private readonly registry: Pick<RegistrySync, 'current'>,
    private readonly reader: Pick<FeatureReader, 'readRows'>,
    private readonly limits: PlanLimits,
  ) {}

  /** feast.serving.ServingService/GetOnlineFeatures: the response as protobuf bytes. */
  async getOnlineFeatures(request: FeastGrpcRequest, call: CallContext): Promise<Buffer> {
    const { version, registry } = this.registry.current;
    const plan = planFeastGrpcLookup(registry, request, this.limits);
    return encodeResponse(plan, await this.reader.readRows(version, plan, call), Date.now() * 1000);
  }

  /** POST /get-online-features: the response as JSON text. */
  async getOnlineFeaturesJson(request: FeastJsonRequest, call: CallContext): Promise<string> {
    const { version, registry } = this.registry.current;
    const plan: LookupPlan = planFeastJsonLookup(registry, request, this.limits);
    return encodeFeastJson(plan, await this.reader.readRows(version, plan, call), Date.now() * 1000);
  }

  /** feast.serving.ServingService/GetFeastServingInfo. */
  servingInfo(): GetFeastServingInfoResponse {
    return { version: `${FEAST_API_VERSION} (cassette ${CASSETTE_VERSION})` };
  }
}
