export { accessRuleFor, authorize, checkView, type AccessRule, type LookupTarget, type WriteTarget } from './access.js';
export {
  ANONYMOUS,
  AUTH_FAILURE_REASONS,
  AuthFailure,
  Authenticator,
  SecurityCounters,
  type AuthFailureReason,
  type Principal,
} from './authenticator.js';
export { AccessGuard, AuditLog, WriteStreamTally, type AuditEntry } from './guard.js';
export { ALL_SCOPES, ScopeSet, scopeProblem, type Action } from './scopes.js';
export {
  newToken,
  parseTokensFile,
  PRINCIPAL_NAME,
  readTokensFile,
  sha256Hex,
  tokensFileLine,
  type TokensFile,
} from './tokens-file.js';
export { watchFiles } from './watch.js';
