import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { CassetteError } from '../../../src/errors/index.js';
import { isClientTimeout, storeError } from '../../../src/store/index.js';

const { errors } = cassandra;

describe('storeError', () => {
  const timeout = new errors.OperationTimedOutError('timed out', '127.0.0.1:9042');
  const noHostOfTimeouts = new errors.NoHostAvailableError({ '127.0.0.1:9042': timeout });
  const noHost = new errors.NoHostAvailableError({ '127.0.0.1:9042': new Error('ECONNREFUSED') });

  it('tells client timeouts, also wrapped by the retry policy, from other failures', () => {
    expect(isClientTimeout(timeout)).toBe(true);
    expect(isClientTimeout(noHostOfTimeouts)).toBe(true);
    expect(isClientTimeout(noHost)).toBe(false);
  });

  it('maps timeouts to DEADLINE_EXCEEDED when the deadline passed, else UNAVAILABLE', () => {
    expect(storeError(timeout, true).status).toBe('DEADLINE_EXCEEDED');
    expect(storeError(noHostOfTimeouts, true).status).toBe('DEADLINE_EXCEEDED');
    expect(storeError(timeout, false).status).toBe('UNAVAILABLE');
    expect(storeError(noHost, false).status).toBe('UNAVAILABLE');
  });

  it('maps refused input to INVALID_ARGUMENT and anything unknown to INTERNAL', () => {
    const invalid = new errors.ResponseError(cassandra.types.responseErrorCodes.invalid, 'Key length too long');
    expect(storeError(invalid, false)).toMatchObject({ status: 'INVALID_ARGUMENT' });
    expect(storeError(new TypeError('bug'), false).status).toBe('INTERNAL');
    const own = new CassetteError('CANCELLED', 'gone');
    expect(storeError(own, true)).toBe(own);
  });
});
