import cassandra from 'cassandra-driver';

import { CassetteError, isCassetteError } from '../errors/index.js';

const { errors, types } = cassandra;

/** Coordinator-side error codes that mean "the cluster cannot serve this right now". */
const UNAVAILABLE_CODES = new Set<number>([
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.readTimeout,
  types.responseErrorCodes.writeTimeout,
  types.responseErrorCodes.readFailure,
  types.responseErrorCodes.writeFailure,
]);

/**
 * Maps a driver error to a CassetteError with a status the transport understands.
 * `deadlinePassed` tells a timeout caused by the caller's deadline from a slow cluster.
 */
export function storeError(error: unknown, deadlinePassed: boolean): CassetteError {
  if (isCassetteError(error)) return error;
  if (error instanceof errors.OperationTimedOutError) {
    return deadlinePassed
      ? new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed while reading from Cassandra', { cause: error })
      : new CassetteError('UNAVAILABLE', `Cassandra did not answer in time: ${error.message}`, { cause: error });
  }
  if (error instanceof errors.NoHostAvailableError) {
    return new CassetteError('UNAVAILABLE', 'Cassandra is unavailable: no host could serve the request', {
      cause: error,
    });
  }
  if (error instanceof errors.ResponseError && UNAVAILABLE_CODES.has(error.code)) {
    return new CassetteError('UNAVAILABLE', `Cassandra could not serve the request: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof Error && /shut ?down/i.test(error.message)) {
    return new CassetteError('UNAVAILABLE', 'the Cassandra session is shutting down', { cause: error });
  }
  return new CassetteError('INTERNAL', 'internal error while talking to Cassandra', { cause: error });
}
