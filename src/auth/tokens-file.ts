import * as crypto from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { scopeProblem, ScopeSet } from './scopes.js';

/**
 * The tokens file (auth.tokensFile): bearer tokens by the SHA-256 of the token (the token itself
 * is never stored) and, under mTLS, client certificates by subject common name or SAN entry.
 *
 *   tokens:
 *     - { name: ranker, sha256: 9f86d0…, scopes: ["read:*"] }
 *   certificates:
 *     - { name: loader, subject: loader.internal, scopes: ["write:user_profile"] }
 *     - { name: batch, san: "URI:spiffe://prod/batch", scopes: ["write:*"] }
 */

const scope = z.string().superRefine((text, ctx) => {
  const problem = scopeProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
/** What a principal may be called: it appears in logs and the audit line as is. */
export const PRINCIPAL_NAME = /^[A-Za-z0-9_.@:\-/]{1,128}$/;
const name = z.string().regex(PRINCIPAL_NAME, { message: 'must be 1-128 of A-Z a-z 0-9 _ . @ : - /' });

const fileSchema = z.strictObject({
  tokens: z
    .array(
      z.strictObject({
        name,
        sha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, { message: 'must be the 64 hex digits of the SHA-256 of the token' })
          .transform((hex) => hex.toLowerCase()),
        scopes: z.array(scope),
      }),
    )
    .default([]),
  certificates: z
    .array(
      z
        .strictObject({
          name,
          /** The certificate's subject common name (CN). */
          subject: z.string().min(1).optional(),
          /** One subjectAltName entry as Node writes it: `DNS:host`, `URI:spiffe://…`, `IP Address:10.0.0.1`. */
          san: z.string().min(1).optional(),
          scopes: z.array(scope),
        })
        .refine((c) => (c.subject === undefined) !== (c.san === undefined), {
          message: 'give exactly one of subject and san',
        }),
    )
    .default([]),
});

export interface Grant {
  readonly name: string;
  readonly scopes: ScopeSet;
}

export interface CertificateGrant extends Grant {
  readonly subject?: string;
  readonly san?: string;
}

export interface TokensFile {
  /** Hex SHA-256 of a token -> its grant. */
  readonly tokens: ReadonlyMap<string, Grant>;
  readonly certificates: readonly CertificateGrant[];
}

/** Parses a tokens file's text; errors name the entry and field (never a token: only hashes are in it). */
export function parseTokensFile(text: string, path: string): TokensFile {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new Error(`${path} is not valid YAML: ${(error as Error).message}`);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${path} is not a valid tokens file: ${lines.join('; ')}`);
  }
  const tokens = new Map<string, Grant>();
  const names = new Set<string>();
  for (const entry of [...result.data.tokens, ...result.data.certificates]) {
    if (names.has(entry.name)) throw new Error(`${path}: the name "${entry.name}" is given twice`);
    names.add(entry.name);
  }
  for (const entry of result.data.tokens) {
    if (tokens.has(entry.sha256)) throw new Error(`${path}: token "${entry.name}" has the hash of another token`);
    tokens.set(entry.sha256, {
      name: entry.name,
      scopes: new ScopeSet(entry.scopes),
    });
  }
  const certificates = result.data.certificates.map((entry) => ({
    name: entry.name,
    scopes: new ScopeSet(entry.scopes),
    ...(entry.subject !== undefined && { subject: entry.subject }),
    ...(entry.san !== undefined && { san: entry.san }),
  }));
  return { tokens, certificates };
}

export async function readTokensFile(path: string): Promise<TokensFile> {
  return parseTokensFile(await readFile(path, 'utf8'), path);
}

/** crypto.hash (Node 20.12+, 21.7+): a one-shot digest, about twice as fast as a Hash object. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** Hex SHA-256 of a token: what the tokens file holds, and how every lookup finds a credential. */
export function sha256Hex(token: string): string {
  return oneShotHash ? oneShotHash('sha256', token, 'hex') : crypto.createHash('sha256').update(token).digest('hex');
}

/** A new random bearer token: 32 bytes, base64url, prefixed so secret scanners recognise it. */
export function newToken(): string {
  return `cst_${crypto.randomBytes(32).toString('base64url')}`;
}

/** The tokens-file line for a token (its hash, never the token). */
export function tokensFileLine(tokenName: string, token: string, scopes: readonly string[]): string {
  return `  - { name: ${tokenName}, sha256: ${sha256Hex(token)}, scopes: [${scopes.map((s) => JSON.stringify(s)).join(', ')}] }`;
}
