import { readFileSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { errorCodeOf, errorMetadataOf } from '../../src/client/index.js';
import type { FeatureRow } from '../../src/generated/cassette/v1/FeatureRow.js';
import { grpcError, startTestServer, type TestServer } from '../helpers/server.js';

/** The demo registry. */
const YAML = readFileSync(new URL('../../schema/example.yaml', import.meta.url), 'utf8');

describe('a client reads the reason of a failed call', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer('errors', YAML, { serving: { maxBatchSize: 2 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const users = (...ids: string[]) => ({ user_id: { val: ids.map((id) => ({ int64_val: id })) } });

  it('gets INVALID_ARGUMENT with the code and field of an unknown feature view', async () => {
    const error = await grpcError(t.get({ features: { val: ['user_profile:age', 'nope:age'] }, entities: users('1') }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe('features[1]: unknown feature view "nope"');
    expect(errorCodeOf(error)).toBe('CST_ERR_UNKNOWN_FEATURE_VIEW');
    expect(errorMetadataOf(error)).toEqual({ field: 'features[1]' });
  });

  it('tells a batch that is too large from a bad value', async () => {
    const tooLarge = await grpcError(
      t.get({ features: { val: ['user_profile:age'] }, entities: users('1', '2', '3') }),
    );
    expect(tooLarge.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(errorCodeOf(tooLarge)).toBe('CST_ERR_BATCH_TOO_LARGE');
    const write = await grpcError(t.write({ feature_view: 'nope', rows: [] }));
    expect(write.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(errorCodeOf(write)).toMatch(/^CST_ERR_/);
  });

  it('gets the code and field of a written value that does not fit, a bad entity key and a bad event time', async () => {
    const write = (row: FeatureRow) =>
      grpcError(t.write({ feature_view: 'user_profile', rows: [{ ...GOOD, ...row }] }));
    const value = await write({ features: { age: { string_val: 'old' } } });
    expect(value.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(value.details).toBe('rows[0].features["age"]: expected int32, got string_val');
    expect(errorCodeOf(value)).toBe('CST_ERR_INVALID_VALUE');
    expect(errorMetadataOf(value)).toEqual({ field: 'rows[0].features["age"]' });
    const element = await write({ features: { preferred_categories: { int32_list_val: { val: [1] } } } });
    expect(errorCodeOf(element)).toBe('CST_ERR_INVALID_VALUE');
    const key = await write({ entity_keys: { user_id: { null_val: 'NULL' } } });
    expect(key.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(errorCodeOf(key)).toBe('CST_ERR_INVALID_ENTITY_KEY');
    expect(errorMetadataOf(key)).toEqual({ field: 'rows[0].entity_keys["user_id"]' });
    const time = await write({ event_timestamp: { seconds: Math.floor(Date.now() / 1000) + 365 * 86_400 } });
    expect(errorCodeOf(time)).toBe('CST_ERR_INVALID_EVENT_TIME');
    expect(errorMetadataOf(time)).toEqual({ field: 'rows[0].event_timestamp' });
  });
});

/** A valid row of user_profile, for the cases above to spoil one part of. */
const GOOD: FeatureRow = { entity_keys: { user_id: { int64_val: '1' } }, features: { age: { int32_val: 30 } } };
