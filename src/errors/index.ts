/**
 * Errors that cross module boundaries carry a transport-neutral status, which the
 * gRPC layer maps to a status code. Everything else is treated as INTERNAL.
 */
export type ErrorStatus =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'INTERNAL';

export class CassetteError extends Error {
  readonly status: ErrorStatus;

  constructor(status: ErrorStatus, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CassetteError';
    this.status = status;
  }
}

export function invalidArgument(message: string): CassetteError {
  return new CassetteError('INVALID_ARGUMENT', message);
}

export function isCassetteError(error: unknown): error is CassetteError {
  return error instanceof CassetteError;
}

/**
 * Quotes a caller-supplied string for an error message, cut short: error details travel in a
 * gRPC trailer, and an unbounded echo of hostile input could make the status undeliverable.
 */
export function quoteInput(text: string, max = 64): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
