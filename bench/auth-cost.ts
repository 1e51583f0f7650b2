/**
 * The CPU cost of the access guard per call, in process (no network, no server): what
 * authentication and authorization add to each RPC once a token is known, and what resolving a
 * new credential costs. `npx tsx bench/auth-cost.ts` (see bench/README.md, "Security").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pino from 'pino';

import { AccessGuard, accessRuleFor, Authenticator, sha256Hex } from '../src/auth/index.js';
import { loadConfig } from '../src/config/index.js';
import { parseRegistry } from '../src/registry/index.js';

const REGISTRY = parseRegistry(
  `project: p
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - { name: user_a, entities: [user], features: [{ name: f1, type: int64 }, { name: f2, type: int64 }] }
  - { name: user_b, entities: [user], features: [{ name: f1, type: int64 }] }
feature_services:
  - { name: svc, features: [user_a:f1, user_a:f2, user_b:f1] }
`,
  'bench.yaml',
);

function perCall(label: string, iterations: number, run: () => void): void {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) run();
  const started = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) run();
  const wallNs = ((performance.now() - t0) * 1e6) / iterations;
  const cpu = process.cpuUsage(started);
  const cpuNs = ((cpu.user + cpu.system) * 1000) / iterations;
  process.stdout.write(
    `${label.padEnd(58)} ${cpuNs.toFixed(0).padStart(8)} ns CPU/call  (${wallNs.toFixed(0)} ns wall)\n`,
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cassette-auth-cost-'));
  try {
    const tokensFile = join(dir, 'tokens.yaml');
    writeFileSync(
      tokensFile,
      `tokens:\n  - { name: all, sha256: ${sha256Hex('cst_all')}, scopes: ["read:*"] }\n` +
        `  - { name: some, sha256: ${sha256Hex('cst_some')}, scopes: ["read:user_*", "write:user_a"] }\n`,
    );
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] }));
    const config = loadConfig({
      env: {},
      overrides: { auth: { tokensFile, jwt: { jwksFile, issuer: 'i', audience: 'a' } } },
    });
    const authenticator = await Authenticator.create(config, pino({ level: 'silent' }));
    const guard = new AccessGuard(authenticator, () => REGISTRY);
    const read = accessRuleFor('GetOnlineFeaturesRequest');
    const byFeatures = { features: { val: ['user_a:f1', 'user_a:f2', 'user_b:f1'] } };
    const byService = { feature_service: 'svc' };
    const noPeer = () => undefined;
    const check = (header: string, request: object): void => {
      const principal = guard.authenticate(header, noPeer);
      if (principal instanceof Promise) throw new Error('expected a cached principal');
      if (guard.authorize(principal, read, request)) throw new Error('refused');
    };
    const N = 1_000_000;
    perCall('cached token, read:*, 3 features', N, () => check('Bearer cst_all', byFeatures));
    perCall('cached token, read:user_* (per-view check), 3 features', N, () => check('Bearer cst_some', byFeatures));
    perCall('cached token, read:user_* , feature service of 2 views', N, () => check('Bearer cst_some', byService));
    // A token that is not in the file: hashed, looked up by its hash, refused (never cached),
    // so each call pays the whole resolution.
    let n = 0;
    perCall('unknown token (SHA-256, lookup by hash, refusal)', 200_000, () => {
      try {
        void authenticator.authenticate(`Bearer cst_unknown_${n++}`, noPeer);
      } catch {
        // Unknown tokens are not cached: each call pays the resolution.
      }
    });
    const jwts = await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        new SignJWT({ sub: `s${i}`, scope: 'read:*' })
          .setProtectedHeader({ alg: 'ES256', kid: 'k' })
          .setIssuer('i')
          .setAudience('a')
          .setExpirationTime('10m')
          .sign(privateKey),
      ),
    );
    const started = process.cpuUsage();
    for (const jwt of jwts) await authenticator.authenticate(`Bearer ${jwt}`, noPeer);
    const cpu = process.cpuUsage(started);
    process.stdout.write(
      `${'JWT verification (ES256, first use of each token)'.padEnd(58)} ${(((cpu.user + cpu.system) * 1000) / jwts.length).toFixed(0).padStart(8)} ns CPU/call\n`,
    );
    perCall('cached JWT, read:*, 3 features', N, () => check(`Bearer ${jwts[0]}`, byFeatures));
    authenticator.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
