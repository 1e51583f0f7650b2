/**
 * The response in object form, for protobufjs to encode: the reference the wire encoder
 * (src/read/wire.ts) is checked against in test/unit/wire.test.ts. Built the obvious way, one
 * object per cell, which is what the server's encoder avoids.
 */
import type { GetOnlineFeaturesResponse } from '../../src/generated/cassette/v1/GetOnlineFeaturesResponse.js';
import type { Timestamp } from '../../src/generated/google/protobuf/Timestamp.js';
import type { Value } from '../../src/generated/cassette/v1/Value.js';
import type { LookupPlan } from '../../src/read/plan.js';
import { presentStatus, STATUS } from '../../src/read/status.js';
import type { StoredRow } from '../../src/store/index.js';
import { encodeValue } from '../../src/values/index.js';
import { timestampFromMicros } from '../../src/time/index.js';

// Shared, never mutated: the encoder only reads them.
const EMPTY_VALUE: Value = {};
const NULL_VALUE: Value = { null_val: 'NULL' };
const NO_TIMESTAMP: Timestamp = { seconds: 0, nanos: 0 };

/**
 * Lays the rows out column-major: one vector per requested feature, one entry per batch row,
 * in request order. A value older than its view's ttl is returned with OUTSIDE_MAX_AGE.
 */
export function objectResponse(
  plan: LookupPlan,
  rowsByView: readonly (readonly (StoredRow | null)[])[],
  nowMicros: number,
): GetOnlineFeaturesResponse {
  const { batchSize } = plan;
  const results: NonNullable<GetOnlineFeaturesResponse['results']> = new Array(plan.features.length);
  for (let f = 0; f < plan.features.length; f++) {
    const feature = plan.features[f]!;
    const lookup = plan.views[feature.viewSlot]!;
    const rows = rowsByView[feature.viewSlot]!;
    const ttlMicros = lookup.view.ttlSeconds * 1e6;
    const values = new Array<Value>(batchSize);
    const statuses = new Array<number>(batchSize);
    const timestamps = new Array<Timestamp>(batchSize);
    for (let r = 0; r < batchSize; r++) {
      const row = rows[lookup.rowToKey[r]!];
      if (!row) {
        values[r] = EMPTY_VALUE;
        statuses[r] = STATUS.NOT_FOUND;
        timestamps[r] = NO_TIMESTAMP;
        continue;
      }
      const value = row.values[feature.featureIndex];
      if (value === null || value === undefined) {
        values[r] = NULL_VALUE;
        statuses[r] = STATUS.NULL_VALUE;
        timestamps[r] = NO_TIMESTAMP;
        continue;
      }
      const writtenAt = row.writeTimesMicros[feature.featureIndex]!;
      values[r] = encodeValue(feature.type, value);
      statuses[r] = presentStatus(writtenAt, ttlMicros, nowMicros);
      timestamps[r] = timestampFromMicros(writtenAt);
    }
    results[f] = { values, statuses: statuses as (1 | 2 | 3 | 4)[], event_timestamps: timestamps };
  }
  return {
    metadata: { feature_names: { val: plan.features.map((f) => f.name) } },
    results,
  };
}
