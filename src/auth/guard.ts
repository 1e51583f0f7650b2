import type { PeerCertificate } from 'node:tls';

import type { CassetteError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import type { Registry } from '../registry/types.js';
import { authorize, checkView, type AccessRule, type WriteTarget } from './access.js';
import { type Authenticator, type Principal, type SecurityCounters } from './authenticator.js';

/**
 * Authentication and authorization as every transport applies them (gRPC in
 * src/server/grpc-transport.ts, Feast's HTTP API in src/feast/http/server.ts): the one place that
 * decides whether a call goes ahead. Without an authenticator every call is ANONYMOUS with every
 * scope, and the transports skip the guard altogether.
 */
export class AccessGuard {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly registry: () => Registry,
  ) {}

  get counters(): SecurityCounters {
    return this.authenticator.counters;
  }

  /** The caller's principal; throws or rejects with an UNAUTHENTICATED CassetteError. */
  authenticate(
    authorization: string | undefined,
    peerCertificate: () => PeerCertificate | undefined,
  ): Principal | Promise<Principal> {
    return this.authenticator.authenticate(authorization, peerCertificate);
  }

  /** Whether `principal` may make this call; the refusal is PERMISSION_DENIED naming the scope. */
  authorize(principal: Principal, rule: AccessRule, request: unknown): CassetteError | undefined {
    const refusal = authorize(principal, rule, request, this.registry);
    if (refusal) this.authenticator.counters.failures.denied++;
    return refusal;
  }

  close(): void {
    this.authenticator.close();
  }
}

/**
 * Follows a write stream's messages: checks `write:<view>` on each message's view (a stream may
 * write several views) and tallies views and rows for the audit line.
 */
export class WriteStreamTally {
  readonly views = new Set<string>();
  rows = 0;
  private lastAllowed: string | undefined;

  constructor(
    private readonly principal: Principal,
    private readonly guard: AccessGuard | undefined,
  ) {}

  /** The refusal for this message, if any. */
  check(message: WriteTarget & { readonly rows?: { readonly length: number } }): CassetteError | undefined {
    const view = message.feature_view ?? '';
    this.rows += message.rows?.length ?? 0;
    if (view === this.lastAllowed) return undefined;
    this.views.add(view);
    if (this.guard && !this.principal.scopes.writesAll) {
      const refusal = checkView(this.principal, 'write', view);
      if (refusal) {
        this.guard.counters.failures.denied++;
        return refusal;
      }
    }
    this.lastAllowed = view;
    return undefined;
  }
}

export interface AuditEntry {
  readonly principal: Principal;
  /** e.g. cassette.v1.FeatureIngestion/WriteFeatures, feast.http/push */
  readonly method: string;
  readonly views: readonly string[];
  readonly rows: number;
  /** OK, or the status name of the failure (PERMISSION_DENIED, INVALID_ARGUMENT, ...). */
  readonly outcome: string;
}

/** One `audit` line per write call, write stream and registry change (log.audit). */
export class AuditLog {
  private readonly logger: Logger | undefined;

  constructor(logger: Logger, enabled: boolean) {
    this.logger = enabled ? logger.child({ component: 'audit' }) : undefined;
  }

  record(entry: AuditEntry): void {
    this.logger?.info(
      {
        principal: entry.principal.name,
        credential: entry.principal.kind,
        method: entry.method,
        views: entry.views,
        rows: entry.rows,
        outcome: entry.outcome,
      },
      'audit',
    );
  }
}
