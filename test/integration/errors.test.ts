import { readFileSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { errorCodeOf, errorMetadataOf } from '../../src/client/index.js';
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
});
