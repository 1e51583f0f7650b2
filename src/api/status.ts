import * as grpc from '@grpc/grpc-js';

import { isCassetteError, type ErrorStatus } from '../errors/index.js';
import {
  decodeErrorInfo,
  decodeRpcStatus,
  encodeErrorInfo,
  encodeRpcStatus,
  ERROR_INFO_TYPE_URL,
  type ErrorInfo,
} from './status-details.js';

/** The one place a catalogue status becomes a gRPC status. */
const GRPC_STATUS: Record<ErrorStatus, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  CANCELLED: grpc.status.CANCELLED,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  INTERNAL: grpc.status.INTERNAL,
};

/** ErrorInfo.domain of every error a Cassette server sends. */
export const ERROR_DOMAIN = 'cassette';

/** The trailer that carries a google.rpc.Status (binary, as the `-bin` suffix says). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

export function grpcStatusOf(status: ErrorStatus): grpc.status {
  return GRPC_STATUS[status];
}

/**
 * What a call that failed with `error` answers: the gRPC status of its code, its message, and a
 * google.rpc.Status trailer whose ErrorInfo names the code (the reason) and its metadata.
 * Anything but a CassetteError is INTERNAL with a fixed message: internal details stay in the log.
 */
export function toServiceStatus(error: unknown): grpc.StatusObject {
  const known = isCassetteError(error);
  const code = known ? GRPC_STATUS[error.status] : grpc.status.INTERNAL;
  const details = known ? error.message : 'internal error';
  const info: ErrorInfo = {
    reason: known ? error.code : 'CST_ERR_INTERNAL',
    domain: ERROR_DOMAIN,
    metadata: known ? error.metadata : {},
  };
  const metadata = new grpc.Metadata();
  metadata.set(
    STATUS_DETAILS_KEY,
    encodeRpcStatus({
      code,
      message: details,
      details: [{ typeUrl: ERROR_INFO_TYPE_URL, value: encodeErrorInfo(info) }],
    }),
  );
  return { code, details, metadata };
}

/**
 * The ErrorInfo in a failed call's status trailer, or undefined when the server sent none (or
 * sent one that does not decode).
 */
export function errorInfoOf(error: unknown): ErrorInfo | undefined {
  const metadata = (error as { metadata?: unknown } | null)?.metadata;
  if (!(metadata instanceof grpc.Metadata)) return undefined;
  for (const value of metadata.get(STATUS_DETAILS_KEY)) {
    if (!Buffer.isBuffer(value)) continue;
    try {
      const detail = decodeRpcStatus(value).details.find((d) => d.typeUrl === ERROR_INFO_TYPE_URL);
      if (detail) return decodeErrorInfo(detail.value);
    } catch {
      // A malformed trailer carries no usable reason.
    }
  }
  return undefined;
}
