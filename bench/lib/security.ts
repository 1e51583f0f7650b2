import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';

import { newToken, tokensFileLine } from '../../src/auth/index.js';
import type { ClientSecurity } from '../../src/client/index.js';
import type { ConfigInput } from '../../src/config/index.js';

/**
 * BENCH_SECURITY=tls, =auth or =tls,auth: the harness's servers serve TLS (a certificate made with
 * openssl for the run) and/or check bearer tokens (a tokens file with one token allowed
 * `read:*`, `write:*`, as a ranker's and a loader's would be), and every client of the run uses
 * them. The files and the token reach the load-generator processes through the environment.
 */
const MODES = new Set(['tls', 'auth']);

function modes(env: NodeJS.ProcessEnv): Set<string> {
  const listed = (env.BENCH_SECURITY ?? '')
    .split(',')
    .map((mode) => mode.trim())
    .filter(Boolean);
  for (const mode of listed) {
    if (!MODES.has(mode)) throw new Error(`BENCH_SECURITY: "${mode}" is not tls or auth`);
  }
  return new Set(listed);
}

/**
 * Makes the run's certificate and tokens file under `outDir` and puts their paths (and the token)
 * in process.env: for every server when BENCH_SECURITY is set, else only for the `tls-auth`
 * variant's server when `forVariant` (see variants.ts).
 */
export function prepareBenchSecurity(outDir: string, forVariant = false): string {
  const asked = modes(process.env);
  const wanted = asked.size === 0 && forVariant ? new Set(['tls', 'auth']) : asked;
  if (wanted.size === 0) return 'off';
  const dir = join(outDir, 'security');
  mkdirSync(dir, { recursive: true });
  if (wanted.has('tls')) {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    process.env.BENCH_TLS_CERT = cert;
    process.env.BENCH_TLS_KEY = key;
  }
  if (wanted.has('auth')) {
    const token = newToken();
    const tokensFile = join(dir, 'tokens.yaml');
    writeFileSync(tokensFile, `tokens:\n${tokensFileLine('bench', token, ['read:*', 'write:*'])}\n`);
    process.env.BENCH_TOKENS_FILE = tokensFile;
    process.env.BENCH_TOKEN = token;
  }
  return asked.size === 0 ? 'files for the security variants only' : [...wanted].join('+');
}

/** Every server's tls and auth settings for this run: none unless BENCH_SECURITY is set. */
export function benchServerSecurity(env: NodeJS.ProcessEnv = process.env): Pick<ConfigInput, 'tls' | 'auth'> {
  return modes(env).size > 0 ? securitySettings(env) : {};
}

/** The tls and auth settings of the files prepareBenchSecurity made (the tls-auth variant's). */
export function securitySettings(env: NodeJS.ProcessEnv = process.env): Pick<ConfigInput, 'tls' | 'auth'> {
  return {
    ...(env.BENCH_TLS_CERT &&
      env.BENCH_TLS_KEY && { tls: { certFile: env.BENCH_TLS_CERT, keyFile: env.BENCH_TLS_KEY } }),
    ...(env.BENCH_TOKENS_FILE && { auth: { tokensFile: env.BENCH_TOKENS_FILE } }),
  };
}

/** The security variants (variants.ts): which of TLS and token checks each one's server has. */
export const SECURITY_VARIANTS: Readonly<Record<string, readonly ('tls' | 'auth')[]>> = {
  'tls-auth': ['tls', 'auth'],
  tls: ['tls'],
  auth: ['auth'],
};

/**
 * Where the clients learn which servers want TLS and a token although BENCH_SECURITY is not set
 * (the security variants'): `address=tls+auth,address=tls,…`, set by the harness once they listen.
 */
export const SECURE_ADDRESSES_ENV = 'BENCH_SECURE_ADDRESSES';

/** The settings of variant `name` (one of SECURITY_VARIANTS), from the files prepareBenchSecurity made. */
export function variantSecurity(name: string, env: NodeJS.ProcessEnv = process.env): Pick<ConfigInput, 'tls' | 'auth'> {
  const wanted = SECURITY_VARIANTS[name] ?? [];
  const all = securitySettings(env);
  return { ...(wanted.includes('tls') && { tls: all.tls }), ...(wanted.includes('auth') && { auth: all.auth }) };
}

/** How this run's clients reach the server at `address` (src/client). */
export function benchClientSecurity(address: string, env: NodeJS.ProcessEnv = process.env): ClientSecurity {
  const listed = (env[SECURE_ADDRESSES_ENV] ?? '')
    .split(',')
    .find((entry) => entry.startsWith(`${address}=`))
    ?.slice(address.length + 1)
    .split('+');
  const wanted = modes(env).size > 0 ? ['tls', 'auth'] : (listed ?? []);
  return {
    ...(wanted.includes('tls') && env.BENCH_TLS_CERT && { tls: { ca: readFileSync(env.BENCH_TLS_CERT) } }),
    ...(wanted.includes('auth') && env.BENCH_TOKEN && { token: env.BENCH_TOKEN }),
  };
}

/** The same for a raw grpc.Client (the load generator): channel credentials and client options. */
export function benchChannelSecurity(
  address: string,
  env: NodeJS.ProcessEnv = process.env,
): {
  credentials: grpc.ChannelCredentials;
  options: grpc.ClientOptions;
} {
  const security = benchClientSecurity(address, env);
  const credentials = security.tls
    ? grpc.credentials.createSsl(security.tls.ca ?? null)
    : grpc.credentials.createInsecure();
  const header = security.token && `Bearer ${security.token}`;
  const interceptor: grpc.Interceptor | undefined = header
    ? (options, nextCall) =>
        new grpc.InterceptingCall(nextCall(options), {
          start: (metadata, listener, next) => {
            metadata.set('authorization', header);
            next(metadata, listener);
          },
        })
    : undefined;
  return { credentials, options: interceptor ? { interceptors: [interceptor] } : {} };
}
