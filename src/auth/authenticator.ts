import { readFile } from 'node:fs/promises';
import type { PeerCertificate } from 'node:tls';

import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';

import type { Config } from '../config/index.js';
import { CassetteError } from '../errors/index.js';
import type { Logger } from '../observability/logger.js';
import { ALL_SCOPES, scopeProblem, ScopeSet } from './scopes.js';
import { readTokensFile, sha256Hex, type TokensFile } from './tokens-file.js';
import { watchFiles } from './watch.js';

/** Who makes a call, and what it may do. */
export interface Principal {
  readonly name: string;
  readonly kind: 'token' | 'jwt' | 'certificate' | 'anonymous';
  readonly scopes: ScopeSet;
  /** When the credential stops being valid (ms since the epoch); Infinity when it does not expire. */
  readonly expiresAt: number;
}

/** The principal of every call when authentication is off. */
export const ANONYMOUS: Principal = { name: 'anonymous', kind: 'anonymous', scopes: ALL_SCOPES, expiresAt: Infinity };

export const AUTH_FAILURE_REASONS = [
  'missing',
  'malformed',
  'unknown_token',
  'invalid_jwt',
  'expired_jwt',
  'unknown_certificate',
  'denied',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** Counters behind the auth metrics (cassette_auth_*, see docs/operations.md). */
export class SecurityCounters {
  readonly failures: Record<AuthFailureReason, number> = Object.fromEntries(
    AUTH_FAILURE_REASONS.map((reason) => [reason, 0]),
  ) as Record<AuthFailureReason, number>;
  /** File reloads by file kind (tokens, jwks, certificate) and outcome (ok, failed). */
  readonly reloads: Record<string, number> = {};
  /** Credentials resolved (verified, scopes compiled) rather than found in the cache. */
  resolved = 0;

  reloaded(kind: 'tokens' | 'jwks' | 'certificate', ok: boolean): void {
    const key = `${kind}:${ok ? 'ok' : 'failed'}`;
    this.reloads[key] = (this.reloads[key] ?? 0) + 1;
  }
}

/** An UNAUTHENTICATED refusal, counted by reason. */
export class AuthFailure extends CassetteError {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
  ) {
    super('CST_ERR_UNAUTHENTICATED', message, { metadata: { reason } });
  }
}

const BEARER = /^bearer\s+(\S+)\s*$/i;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** Scopes of a JWT claim: a space-separated string (OAuth's `scope`) or an array of strings. */
function scopesOfClaim(claim: unknown): string[] {
  const listed = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
  return listed.filter((s): s is string => typeof s === 'string' && scopeProblem(s) === undefined);
}

/** The names a client certificate goes by: its subject CN and each subjectAltName entry. */
function certificateNames(certificate: PeerCertificate): { subject: string | undefined; sans: string[] } {
  const cn = certificate.subject?.CN;
  const subject = Array.isArray(cn) ? cn[0] : cn;
  const sans = (certificate.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return { subject, sans };
}

/**
 * Turns a call's credentials into a principal: a bearer token from the tokens file, a JWT
 * verified against the JWKS, or (under mTLS) the client certificate. Resolved credentials are
 * cached by the token's SHA-256, so its scopes are compiled (and a JWT verified) once, not per
 * call; the cache is emptied whenever the tokens file or the JWKS is reloaded. A token is only
 * ever looked up by its hash: how long a lookup takes can tell a caller about hashes, which does
 * not help it guess a token, and no comparison ever runs over the token's own bytes.
 */
export class Authenticator {
  private tokens: TokensFile = { tokens: new Map(), certificates: [] };
  private jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  private readonly cache = new Map<string, Principal>();
  private readonly stops: (() => void)[] = [];

  private constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    readonly counters: SecurityCounters,
  ) {}

  /** Whether calls need a credential: a tokens file, a JWKS, or client certificates (mTLS). */
  static required(config: Config): boolean {
    return Boolean(config.auth.tokensFile || config.auth.jwt || config.tls?.clientCaFile);
  }

  /** Reads the files (failing if one is invalid: a server must not start open by mistake) and watches them. */
  static async create(config: Config, logger: Logger, counters = new SecurityCounters()): Promise<Authenticator> {
    const authenticator = new Authenticator(config, logger.child({ component: 'auth' }), counters);
    const { tokensFile, jwt } = config.auth;
    const checkMs = config.tls?.reloadCheckMs ?? 10_000;
    if (tokensFile) {
      authenticator.tokens = await readTokensFile(tokensFile);
      authenticator.stops.push(watchFiles([tokensFile], checkMs, () => void authenticator.reloadTokens(tokensFile)));
    }
    if (jwt) {
      authenticator.jwks = await readJwks(jwt.jwksFile);
      authenticator.stops.push(watchFiles([jwt.jwksFile], checkMs, () => void authenticator.reloadJwks(jwt.jwksFile)));
    }
    authenticator.logger.info(
      {
        tokens: authenticator.tokens.tokens.size,
        certificates: authenticator.tokens.certificates.length,
        jwt: Boolean(jwt),
        mtls: Boolean(config.tls?.clientCaFile),
      },
      'authentication on',
    );
    return authenticator;
  }

  private async reloadTokens(path: string): Promise<void> {
    try {
      this.tokens = await readTokensFile(path);
      this.cache.clear();
      this.counters.reloaded('tokens', true);
      this.logger.info({ file: path, tokens: this.tokens.tokens.size }, 'tokens file reloaded');
    } catch (error) {
      // Keep serving with the previous tokens: a bad edit must not lock everyone out (or in).
      this.counters.reloaded('tokens', false);
      this.logger.error(
        { file: path, message: (error as Error).message },
        'tokens file not reloaded; keeping the previous one',
      );
    }
  }

  private async reloadJwks(path: string): Promise<void> {
    try {
      this.jwks = await readJwks(path);
      this.cache.clear();
      this.counters.reloaded('jwks', true);
      this.logger.info({ file: path }, 'JWKS reloaded');
    } catch (error) {
      this.counters.reloaded('jwks', false);
      this.logger.error(
        { file: path, message: (error as Error).message },
        'JWKS not reloaded; keeping the previous one',
      );
    }
  }

  /**
   * The principal of a call: from `authorization` (`Bearer <token>`) when given, else from the
   * client certificate. Synchronous when the credential is cached; throws (or rejects with) an
   * AuthFailure otherwise.
   */
  authenticate(
    authorization: string | undefined,
    peerCertificate: () => PeerCertificate | undefined,
  ): Principal | Promise<Principal> {
    if (authorization !== undefined) {
      const match = BEARER.exec(authorization);
      if (!match) throw this.fail('malformed', 'the authorization metadata must be "Bearer <token>"');
      const token = match[1]!;
      const key = sha256Hex(token);
      const cached = this.cache.get(key);
      if (cached !== undefined && cached.expiresAt > Date.now()) return cached;
      return this.jwks && JWT_SHAPE.test(token) ? this.verifyJwt(token, key) : this.lookUpToken(key);
    }
    if (this.config.tls?.clientCaFile) {
      const certificate = peerCertificate();
      if (certificate && Object.keys(certificate).length > 0) return this.certificatePrincipal(certificate);
    }
    throw this.fail('missing', 'no credential: send the metadata "authorization: Bearer <token>"');
  }

  private fail(reason: AuthFailureReason, message: string): AuthFailure {
    this.counters.failures[reason]++;
    return new AuthFailure(reason, message);
  }

  private remember(key: string, principal: Principal): Principal {
    this.counters.resolved++;
    if (this.cache.size >= this.config.auth.cacheEntries) {
      // Oldest first (a Map iterates in insertion order).
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, principal);
    return principal;
  }

  /** A token from the tokens file, by its hex SHA-256 (the file holds nothing else). */
  private lookUpToken(hex: string): Principal {
    const grant = this.tokens.tokens.get(hex);
    if (!grant) {
      throw this.fail('unknown_token', 'the bearer token is not valid');
    }
    return this.remember(hex, { name: grant.name, kind: 'token', scopes: grant.scopes, expiresAt: Infinity });
  }

  private async verifyJwt(token: string, key: string): Promise<Principal> {
    const jwt = this.config.auth.jwt!;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks!, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        clockTolerance: jwt.clockToleranceSeconds,
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw this.fail('expired_jwt', 'the JWT has expired');
      // jose's messages name the check that failed (claim, signature), never the token.
      throw this.fail('invalid_jwt', `the JWT is not valid: ${(error as Error).message}`);
    }
    const principalClaim = payload[jwt.principalClaim];
    return this.remember(key, {
      name: typeof principalClaim === 'string' ? `jwt:${principalClaim}` : 'jwt',
      kind: 'jwt',
      scopes: new ScopeSet(scopesOfClaim(payload[jwt.scopesClaim])),
      expiresAt: typeof payload.exp === 'number' ? (payload.exp + jwt.clockToleranceSeconds) * 1000 : Infinity,
    });
  }

  private certificatePrincipal(certificate: PeerCertificate): Principal {
    const { subject, sans } = certificateNames(certificate);
    const grants = this.tokens.certificates;
    const grant = grants.find((g) => (g.subject !== undefined ? g.subject === subject : sans.includes(g.san!)));
    if (grant) return { name: grant.name, kind: 'certificate', scopes: grant.scopes, expiresAt: Infinity };
    // mTLS alone (no tokens file, no JWT): a certificate signed by the client CA is all it takes.
    if (!this.config.auth.tokensFile && !this.config.auth.jwt) {
      return {
        name: `cert:${subject ?? sans[0] ?? 'unnamed'}`,
        kind: 'certificate',
        scopes: ALL_SCOPES,
        expiresAt: Infinity,
      };
    }
    throw this.fail(
      'unknown_certificate',
      'the client certificate is not in the tokens file and no bearer token was sent',
    );
  }

  close(): void {
    for (const stop of this.stops) stop();
  }
}

async function readJwks(path: string): Promise<ReturnType<typeof createLocalJWKSet>> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown;
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`${path} is not a JWKS (a JSON object with "keys")`);
  return createLocalJWKSet(parsed as JSONWebKeySet);
}
