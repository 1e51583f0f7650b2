import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  accessRuleFor,
  AuthFailure,
  Authenticator,
  authorize,
  parseTokensFile,
  ScopeSet,
  scopeProblem,
  sha256Hex,
  tokensFileLine,
  type Principal,
} from '../../../src/auth/index.js';
import { assertSafeListen, isLoopbackAddress, loadConfig } from '../../../src/config/index.js';
import { shopRegistry } from '../../helpers/serving-fixtures.js';

const principal = (...scopes: string[]): Principal => ({
  name: 'p',
  kind: 'token',
  scopes: new ScopeSet(scopes),
  expiresAt: Infinity,
});

describe('scopes', () => {
  it('matches views exactly, by glob, and by wildcard', () => {
    const scopes = new ScopeSet(['read:user_*', 'write:item_info']);
    expect(scopes.allows('read', 'user_stats')).toBe(true);
    expect(scopes.allows('read', 'user_item')).toBe(true);
    expect(scopes.allows('read', 'item_info')).toBe(false);
    expect(scopes.allows('write', 'item_info')).toBe(true);
    expect(scopes.allows('write', 'item_info_2')).toBe(false);
    expect(scopes.admin).toBe(false);
    expect(new ScopeSet(['*']).allows('write', 'anything')).toBe(true);
    expect(new ScopeSet(['*']).admin).toBe(true);
    expect(new ScopeSet(['admin']).allows('read', 'x')).toBe(false);
  });

  it('names what is wrong with a scope', () => {
    expect(scopeProblem('read:*')).toBeUndefined();
    expect(scopeProblem('delete:x')).toContain('is not a scope');
    expect(scopeProblem('read:a.b')).toContain('is not a scope');
  });
});

describe('authorize', () => {
  const registry = () => shopRegistry;
  it('needs read on every view a lookup names, by feature list or by service', () => {
    const rule = accessRuleFor('GetOnlineFeaturesRequest');
    const user = principal('read:user_stats');
    expect(authorize(user, rule, { features: { val: ['user_stats:clicks'] } }, registry)).toBeUndefined();
    expect(authorize(user, rule, { features: ['user_stats:clicks', 'item_info:price'] }, registry)?.message).toContain(
      'read:item_info',
    );
    const refusal = authorize(user, rule, { feature_service: 'scores' }, registry);
    expect(refusal?.status).toBe('PERMISSION_DENIED');
    expect(refusal?.metadata.scope).toBe('read:item_info');
    expect(authorize(principal('read:*'), rule, { feature_service: 'scores' }, registry)).toBeUndefined();
  });

  it('checks both members of the lookup oneof when a request carries both', () => {
    // A decoder keeps both fields of such a message and the handler plans by `kind`:
    // an unknown (or readable) service must not stand in for the features read.
    const rule = accessRuleFor('GetOnlineFeaturesRequest');
    const user = principal('read:user_stats');
    const both = { kind: 'features', feature_service: 'nope', features: { val: ['item_info:price'] } };
    expect(authorize(user, rule, both, registry)?.metadata.scope).toBe('read:item_info');
    const readableService = { kind: 'features', feature_service: 'scores', features: { val: ['item_info:price'] } };
    expect(authorize(principal('read:item_info'), rule, readableService, registry)?.metadata.scope).toBe(
      'read:user_stats',
    );
  });

  it('needs write on the view written, admin for unknown request types, a credential for listings', () => {
    const writer = principal('write:user_stats');
    expect(
      authorize(writer, accessRuleFor('WriteFeaturesRequest'), { feature_view: 'user_stats' }, registry),
    ).toBeUndefined();
    expect(
      authorize(writer, accessRuleFor('WriteFeaturesRequest'), { feature_view: 'item_info' }, registry)?.message,
    ).toContain('write:item_info');
    expect(authorize(writer, accessRuleFor('ApplyRegistryRequest'), {}, registry)?.metadata.scope).toBe('admin');
    expect(authorize(writer, accessRuleFor('ListFeatureViewsRequest'), {}, registry)).toBeUndefined();
  });
});

describe('tokens file', () => {
  it('parses tokens and certificates and refuses a bad scope, naming the entry', () => {
    const parsed = parseTokensFile(
      `tokens:\n  - { name: a, sha256: ${sha256Hex('t')}, scopes: ["read:*"] }\ncertificates:\n  - { name: b, san: "DNS:b.internal", scopes: ["write:*"] }\n`,
      'tokens.yaml',
    );
    expect(parsed.tokens.get(sha256Hex('t'))?.name).toBe('a');
    expect(parsed.certificates[0]?.san).toBe('DNS:b.internal');
    expect(() =>
      parseTokensFile(`tokens:\n  - { name: a, sha256: ${sha256Hex('t')}, scopes: ["drop:*"] }\n`, 'f'),
    ).toThrow(/tokens\.0\.scopes\.0/);
    expect(() => parseTokensFile('tokens:\n  - { name: a, sha256: abc, scopes: [] }\n', 'f')).toThrow(/64 hex digits/);
  });

  it('prints the line for a token with its hash, never the token', () => {
    const line = tokensFileLine('ranker', 'cst_secret', ['read:*']);
    expect(line).toContain(sha256Hex('cst_secret'));
    expect(line).not.toContain('cst_secret');
  });
});

describe('Authenticator', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cassette-auth-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves a token once and answers later calls from its cache', async () => {
    const tokensFile = join(dir, 'tokens.yaml');
    await writeFile(tokensFile, `tokens:\n  - { name: ranker, sha256: ${sha256Hex('cst_abc')}, scopes: ["read:*"] }\n`);
    const config = loadConfig({ env: {}, overrides: { auth: { tokensFile } } });
    const authenticator = await Authenticator.create(config, pino({ level: 'silent' }));
    try {
      const first = authenticator.authenticate('Bearer cst_abc', () => undefined);
      expect((first as Principal).name).toBe('ranker');
      for (let i = 0; i < 100; i++) expect(authenticator.authenticate('bearer cst_abc', () => undefined)).toBe(first);
      expect(authenticator.counters.resolved).toBe(1);
      expect(() => authenticator.authenticate(undefined, () => undefined)).toThrow(AuthFailure);
      expect(() => authenticator.authenticate('Basic abc', () => undefined)).toThrow(/Bearer/);
      expect(() => authenticator.authenticate('Bearer cst_nope', () => undefined)).toThrow(/not valid/);
      expect(authenticator.counters.failures).toMatchObject({ missing: 1, malformed: 1, unknown_token: 1 });
    } finally {
      authenticator.close();
    }
  });
});

describe('safe defaults', () => {
  it('knows loopback addresses', () => {
    expect(isLoopbackAddress('127.0.0.1:6566')).toBe(true);
    expect(isLoopbackAddress('127.3.2.1:1')).toBe(true);
    expect(isLoopbackAddress('localhost:1')).toBe(true);
    expect(isLoopbackAddress('[::1]:1')).toBe(true);
    expect(isLoopbackAddress('0.0.0.0:6566')).toBe(false);
    expect(isLoopbackAddress('10.0.0.5:6566')).toBe(false);
  });

  it('refuses a non-loopback listen address without TLS unless insecure', () => {
    const exposed = loadConfig({ env: {}, overrides: { listen: '0.0.0.0:6566' } });
    expect(() => assertSafeListen(exposed)).toThrow(/without TLS/);
    const httpExposed = loadConfig({ env: {}, overrides: { http: { listen: '0.0.0.0:6567' } } });
    expect(() => assertSafeListen(httpExposed)).toThrow(/0\.0\.0\.0:6567/);
    expect(() =>
      assertSafeListen(loadConfig({ env: {}, overrides: { listen: '0.0.0.0:6566', insecure: true } })),
    ).not.toThrow();
    expect(() =>
      assertSafeListen(
        loadConfig({ env: {}, overrides: { listen: '0.0.0.0:6566', tls: { certFile: 'c', keyFile: 'k' } } }),
      ),
    ).not.toThrow();
    expect(() => assertSafeListen(loadConfig({ env: {} }))).not.toThrow();
  });

  it('accepts cassandra.username, passwordFile and tls, and no password key', () => {
    const config = loadConfig({
      env: { CASSANDRA_USERNAME: 'cassette' },
      overrides: { cassandra: { passwordFile: '/run/secrets/pw', tls: { caFile: '/ca.pem' } } },
    });
    expect(config.cassandra.username).toBe('cassette');
    expect(config.cassandra.tls).toEqual({ caFile: '/ca.pem', verifyHostname: true });
    expect(() => loadConfig({ env: {}, overrides: { cassandra: { password: 'x' } as never } })).toThrow(/password/);
  });
});
