/**
 * The error catalogue: every error Cassette raises on purpose is a CassetteError with one of
 * these codes. A code is stable (clients branch on it: the server sends it as the reason of a
 * google.rpc.ErrorInfo), names one cause, and carries a transport-neutral status that src/api
 * maps to a gRPC status. Anything that is not a CassetteError is treated as INTERNAL.
 */
export type ErrorStatus =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'INTERNAL';

interface CatalogueEntry {
  readonly status: ErrorStatus;
  readonly description: string;
}

export const ERROR_CATALOGUE = {
  // Requests
  CST_ERR_INVALID_ARGUMENT: { status: 'INVALID_ARGUMENT', description: 'the request is malformed' },
  CST_ERR_INVALID_VALUE: {
    status: 'INVALID_ARGUMENT',
    description: "a value does not fit its type or Cassandra's limits",
  },
  CST_ERR_INVALID_ENTITY_KEY: {
    status: 'INVALID_ARGUMENT',
    description: 'an entity key is null, empty or longer than Cassandra allows',
  },
  CST_ERR_INVALID_EVENT_TIME: {
    status: 'INVALID_ARGUMENT',
    description: 'an event time is not a valid time, or is too far in the future',
  },
  CST_ERR_UNKNOWN_FEATURE_VIEW: { status: 'INVALID_ARGUMENT', description: 'no feature view has the given name' },
  CST_ERR_UNKNOWN_FEATURE: { status: 'INVALID_ARGUMENT', description: 'the feature view has no feature of that name' },
  CST_ERR_UNKNOWN_FEATURE_SERVICE: {
    status: 'INVALID_ARGUMENT',
    description: 'no feature service has the given name',
  },
  CST_ERR_UNKNOWN_JOIN_KEY: { status: 'INVALID_ARGUMENT', description: 'no entity has the given join key' },
  CST_ERR_UNKNOWN_PUSH_SOURCE: { status: 'INVALID_ARGUMENT', description: 'no feature view has the pushed-to name' },
  CST_ERR_MISSING_JOIN_KEY: {
    status: 'INVALID_ARGUMENT',
    description: 'a requested feature view needs a join key the request does not give',
  },
  CST_ERR_RAGGED_ENTITIES: {
    status: 'INVALID_ARGUMENT',
    description: 'the entity columns of a request have different lengths',
  },
  CST_ERR_BATCH_TOO_LARGE: { status: 'INVALID_ARGUMENT', description: 'the request holds more rows than allowed' },
  CST_ERR_UNDECODABLE: { status: 'INVALID_ARGUMENT', description: 'a request message is not valid for its method' },
  CST_ERR_LIST_TOO_LONG: { status: 'INVALID_ARGUMENT', description: 'a list value holds more elements than allowed' },
  // Time and the caller
  CST_ERR_DEADLINE: { status: 'DEADLINE_EXCEEDED', description: "the caller's deadline passed" },
  CST_ERR_CANCELLED: { status: 'CANCELLED', description: 'the caller cancelled the request' },
  // Security
  CST_ERR_UNAUTHENTICATED: { status: 'UNAUTHENTICATED', description: 'the call has no valid credential' },
  CST_ERR_PERMISSION_DENIED: { status: 'PERMISSION_DENIED', description: "the caller's scopes do not allow the call" },
  // Load
  CST_ERR_OVERLOADED: { status: 'RESOURCE_EXHAUSTED', description: 'the server has no room for more work now' },
  // Cassandra
  CST_ERR_STORE_UNAVAILABLE: { status: 'UNAVAILABLE', description: 'Cassandra could not serve the request now' },
  CST_ERR_STORE_REFUSED: { status: 'INVALID_ARGUMENT', description: 'Cassandra refused the request as invalid' },
  CST_ERR_STORE_FAILED: { status: 'INTERNAL', description: 'Cassandra failed in an unexpected way' },
  CST_ERR_COHERENCE_LOG: { status: 'UNAVAILABLE', description: "written, but not logged for other servers' caches" },
  // The registry
  CST_ERR_REGISTRY_INVALID: { status: 'INVALID_ARGUMENT', description: 'a feature registry document is not valid' },
  CST_ERR_REGISTRY_NOT_APPLIED: {
    status: 'FAILED_PRECONDITION',
    description: 'no feature registry has been applied to the keyspace',
  },
  CST_ERR_REGISTRY_UNAVAILABLE: { status: 'UNAVAILABLE', description: 'the applied registry could not be read' },
  CST_ERR_REGISTRY_CONFLICT: {
    status: 'FAILED_PRECONDITION',
    description: 'the registry cannot be applied over what is stored',
  },
  // The command line and the file import
  CST_ERR_CONFIG: { status: 'INVALID_ARGUMENT', description: 'the configuration is not valid' },
  CST_ERR_USAGE: { status: 'INVALID_ARGUMENT', description: 'a command-line option is not valid' },
  CST_ERR_FILE_UNREADABLE: { status: 'INVALID_ARGUMENT', description: 'an input file cannot be read' },
  CST_ERR_INGEST_SETUP: { status: 'INVALID_ARGUMENT', description: 'an import job cannot start as set up' },
  CST_ERR_CHECKPOINT: { status: 'FAILED_PRECONDITION', description: 'an import checkpoint cannot be used' },
  CST_ERR_REJECTED_RECORD: { status: 'INVALID_ARGUMENT', description: 'one input record cannot be imported' },
  CST_ERR_REJECT_LIMIT: { status: 'FAILED_PRECONDITION', description: 'an import rejected more records than allowed' },
  CST_ERR_FEAST_REPO: { status: 'INVALID_ARGUMENT', description: 'a Feast repository or its registry cannot be read' },
  // Statuses without a more specific cause
  CST_ERR_NOT_FOUND: { status: 'NOT_FOUND', description: 'the named thing does not exist' },
  CST_ERR_FAILED_PRECONDITION: { status: 'FAILED_PRECONDITION', description: 'the system is not in a state to do it' },
  CST_ERR_UNAVAILABLE: { status: 'UNAVAILABLE', description: 'the service cannot serve the request now' },
  CST_ERR_INTERNAL: { status: 'INTERNAL', description: 'an unexpected internal failure' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The codes whose status is `S`, e.g. those `invalidArgument` accepts. */
export type ErrorCodeWithStatus<S extends ErrorStatus> = {
  [C in ErrorCode]: (typeof ERROR_CATALOGUE)[C]['status'] extends S ? C : never;
}[ErrorCode];

/** The code an error given only a status gets. */
const CODE_OF_STATUS: Record<ErrorStatus, ErrorCode> = {
  INVALID_ARGUMENT: 'CST_ERR_INVALID_ARGUMENT',
  NOT_FOUND: 'CST_ERR_NOT_FOUND',
  FAILED_PRECONDITION: 'CST_ERR_FAILED_PRECONDITION',
  UNAVAILABLE: 'CST_ERR_UNAVAILABLE',
  DEADLINE_EXCEEDED: 'CST_ERR_DEADLINE',
  CANCELLED: 'CST_ERR_CANCELLED',
  RESOURCE_EXHAUSTED: 'CST_ERR_OVERLOADED',
  UNAUTHENTICATED: 'CST_ERR_UNAUTHENTICATED',
  PERMISSION_DENIED: 'CST_ERR_PERMISSION_DENIED',
  INTERNAL: 'CST_ERR_INTERNAL',
};

export function isErrorCode(text: string): text is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, text);
}

export interface CassetteErrorOptions {
  readonly cause?: unknown;
  /** Facts a client may act on, e.g. `{ field: 'features[2]' }`; sent as ErrorInfo metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** The one base of every deliberate error. */
export class CassetteError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;
  readonly metadata: Readonly<Record<string, string>>;

  /**
   * `code` names the cause; a bare status stands for that status's generic code, for errors
   * with no more specific cause.
   */
  constructor(code: ErrorCode | ErrorStatus, message: string, options?: CassetteErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CassetteError';
    this.code = isErrorCode(code) ? code : CODE_OF_STATUS[code];
    this.status = ERROR_CATALOGUE[this.code].status;
    this.metadata = options?.metadata ?? NO_METADATA;
  }
}

export function invalidArgument(
  message: string,
  code: ErrorCodeWithStatus<'INVALID_ARGUMENT'> = 'CST_ERR_INVALID_ARGUMENT',
  metadata?: Readonly<Record<string, string>>,
): CassetteError {
  return new CassetteError(code, message, metadata === undefined ? undefined : { metadata });
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
