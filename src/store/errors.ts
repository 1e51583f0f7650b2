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
 * True for a client-side timeout: the driver gave up waiting, either directly or (after its
 * retry policy tried every host) as a NoHostAvailableError made only of timeouts.
 */
export function isClientTimeout(error: unknown): boolean {
  if (error instanceof errors.OperationTimedOutError) return true;
  if (error instanceof errors.NoHostAvailableError) {
    const inner = Object.values(error.innerErrors as Record<string, unknown>);
    return inner.length > 0 && inner.every((e) => e instanceof errors.OperationTimedOutError);
  }
  return false;
}

/** Coordinator answers that mean "try again shortly": nothing about the write itself was wrong. */
const TRANSIENT_CODES = new Set<number>([
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.writeTimeout,
]);

/**
 * True for a write failure worth retrying: the driver gave up waiting, the coordinator was
 * unavailable, overloaded or timed out waiting for replicas, the connection was lost, or no host
 * could take the request. Retrying a write is safe here because every write carries a
 * fixed timestamp: applying it twice stores the same cells.
 */
export function isTransientWriteError(error: unknown): boolean {
  if (error instanceof errors.OperationTimedOutError || error instanceof errors.BusyConnectionError) return true;
  if (error instanceof errors.ResponseError) return TRANSIENT_CODES.has(error.code);
  // No host could take the request (all down, refusing connections, or busy): the cluster may be
  // back in a moment, and nothing was wrong with the write.
  if (error instanceof errors.NoHostAvailableError) return true;
  return isSocketError(error);
}

/** A request cut off by a closed socket ("Socket was closed", a connection reset). */
function isSocketError(error: unknown): error is InstanceType<typeof errors.DriverError> {
  return error instanceof errors.DriverError && (error as { isSocketError?: boolean }).isSocketError === true;
}

/**
 * Maps a driver error to a CassetteError with a code from the catalogue.
 * `deadlinePassed` tells a timeout caused by the caller's deadline from a slow cluster.
 */
export function storeError(error: unknown, deadlinePassed: boolean): CassetteError {
  if (isCassetteError(error)) return error;
  if (isClientTimeout(error)) {
    return deadlinePassed
      ? new CassetteError('CST_ERR_DEADLINE', 'the deadline passed while waiting for Cassandra', { cause: error })
      : new CassetteError('CST_ERR_STORE_UNAVAILABLE', 'Cassandra did not answer in time', { cause: error });
  }
  if (deadlinePassed) {
    return new CassetteError('CST_ERR_DEADLINE', 'the deadline passed while waiting for Cassandra', { cause: error });
  }
  if (error instanceof errors.NoHostAvailableError) {
    return new CassetteError('CST_ERR_STORE_UNAVAILABLE', 'Cassandra is unavailable: no host could serve the request', {
      cause: error,
    });
  }
  if (isSocketError(error)) {
    // The connection went away under the request (a node died) and no retry could take it.
    return new CassetteError('CST_ERR_STORE_UNAVAILABLE', `Cassandra connection lost: ${error.message}`, {
      cause: error,
    });
  }
  if (isInvalidRequest(error)) {
    // Input the validation let through but Cassandra refuses (e.g. a value over its size limits).
    return new CassetteError('CST_ERR_STORE_REFUSED', `Cassandra refused the request: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof errors.ResponseError && UNAVAILABLE_CODES.has(error.code)) {
    return new CassetteError('CST_ERR_STORE_UNAVAILABLE', `Cassandra could not serve the request: ${error.message}`, {
      cause: error,
    });
  }
  return new CassetteError('CST_ERR_STORE_FAILED', 'internal error while talking to Cassandra', { cause: error });
}

/**
 * True when Cassandra refused a statement as invalid. For a fixed statement known to be well
 * formed, such as reading Cassette's own tables, that means its keyspace or table does not exist.
 */
export function isInvalidRequest(error: unknown): error is InstanceType<typeof errors.ResponseError> {
  return error instanceof errors.ResponseError && error.code === types.responseErrorCodes.invalid;
}
