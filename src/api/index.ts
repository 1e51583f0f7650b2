/** The Cassette API shared by server, client and command line: protos, types, statuses and error codes. */
export * from './types.js';
export {
  LOADER_OPTIONS,
  PROTO_DIR,
  PROTO_FILES,
  loadCassetteGrpcObject,
  loadCassetteProtos,
  type CassetteGrpcObject,
} from './proto.js';
export { ERROR_DOMAIN, STATUS_DETAILS_KEY, errorInfoOf, grpcStatusOf, toServiceStatus } from './status.js';
export {
  ERROR_INFO_TYPE_URL,
  decodeErrorInfo,
  decodeRpcStatus,
  encodeErrorInfo,
  encodeRpcStatus,
  type AnyMessage,
  type ErrorInfo,
  type RpcStatus,
} from './status-details.js';
export {
  ERROR_CATALOGUE,
  isErrorCode,
  type ErrorCode,
  type ErrorCodeWithStatus,
  type ErrorStatus,
} from '../errors/index.js';
