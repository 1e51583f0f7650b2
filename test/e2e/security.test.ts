import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sha256Hex } from '../../src/auth/index.js';
import {
  call,
  connectClients,
  deadlineIn,
  errorCodeOf,
  errorMetadataOf,
  streamWriteFeatures,
  type CassetteClients,
  type ClientSecurity,
} from '../../src/client/index.js';
import type { Config, ConfigInput } from '../../src/config/index.js';
import { loadFeastGrpcObject } from '../../src/feast/serving/grpc.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { CassandraClient } from '../../src/store/index.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { applyYaml, connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';
import { int64, SHOP_YAML, str, users } from '../helpers/serving-fixtures.js';
import { capturingLogger } from '../helpers/logs.js';
import { makeCa, makeCert, replaceCert, type CertFiles } from '../helpers/tls.js';

/**
 * TLS, mTLS, bearer tokens and JWTs end to end: real certificates made with openssl, real tokens
 * in a tokens file, JWTs signed with a key made here, a real server and real gRPC/HTTPS clients.
 * Every log line of the run is kept and scanned for the secrets at the end.
 */

const TOKENS = {
  reader: 'cst_reader-token-0123456789abcdef',
  writer: 'cst_writer-token-0123456789abcdef',
  itemsOnly: 'cst_items-token-0123456789abcdef',
  admin: 'cst_admin-token-0123456789abcdef',
  later: 'cst_later-token-0123456789abcdef',
};

function tokensYaml(entries: Record<string, readonly string[]>, certificates = ''): string {
  const names: Record<string, string> = {
    reader: 'ranker',
    writer: 'loader',
    itemsOnly: 'items',
    admin: 'ops',
    later: 'newcomer',
  };
  const lines = Object.entries(entries).map(
    ([key, scopes]) =>
      `  - { name: ${names[key]}, sha256: ${sha256Hex(TOKENS[key as keyof typeof TOKENS])}, scopes: ${JSON.stringify(scopes)} }`,
  );
  return `tokens:\n${lines.join('\n')}\n${certificates}`;
}

const INITIAL_TOKENS = {
  reader: ['read:*'],
  writer: ['write:user_stats', 'read:user_stats'],
  itemsOnly: ['read:item_info'],
  admin: ['admin'],
};

const CERTIFICATES = 'certificates:\n  - { name: batch-loader, subject: batch-loader, scopes: ["write:*"] }\n';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'cassette';

/** Every log line of this file's runs, scanned for secrets at the end. */
const { logger, lines: logLines } = capturingLogger();

const userRequest = {
  features: { val: ['user_stats:clicks'] },
  entities: { user_id: users(1) },
};
const itemRequest = { features: { val: ['item_info:price'] }, entities: { item_id: { val: [str('a')] } } };
const userRow = (clicks: number) => ({
  feature_view: 'user_stats',
  rows: [{ entity_keys: { user_id: int64(1) }, features: { clicks: int64(clicks) } }],
});

async function failure(promise: Promise<unknown>): Promise<{ code: number; reason?: string; details: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    return { code: e.code, reason: errorCodeOf(e) ?? errorMetadataOf(e).reason, details: e.details };
  }
  throw new Error('expected the call to fail');
}

describe('security: TLS, tokens, JWT, mTLS', () => {
  let dir: string;
  let session: CassandraClient;
  let config: Config;
  let server: RunningServer;
  let ca: CertFiles;
  let serverCert: CertFiles;
  let tokensFile: string;
  let sign: (
    claims: Record<string, unknown>,
    expiresIn: string | number,
    claimed?: { issuer?: string; audience?: string },
  ) => Promise<string>;
  const jwts: string[] = [];
  const opened: CassetteClients[] = [];

  const connect = (security: ClientSecurity, address = server.address): CassetteClients => {
    const clients = connectClients(address, {}, security);
    opened.push(clients);
    return clients;
  };
  const tlsWith = async (token?: string): Promise<ClientSecurity> => ({
    tls: { ca: await readFile(ca.cert) },
    ...(token && { token }),
  });
  const get = (clients: CassetteClients, request: object = userRequest) =>
    call<{ results: unknown[] }>((cb) => clients.serving.GetOnlineFeatures(request, deadlineIn(10_000), cb));
  const write = (clients: CassetteClients, clicks = 1) =>
    call<{ rows_written: string }>((cb) => clients.ingestion.WriteFeatures(userRow(clicks), deadlineIn(10_000), cb));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cassette-security-'));
    ca = await makeCa(dir, 'ca');
    serverCert = await makeCert(dir, 'server', ca, 'localhost', ['DNS:localhost', 'IP:127.0.0.1']);
    tokensFile = join(dir, 'tokens.yaml');
    await writeFile(tokensFile, tokensYaml(INITIAL_TOKENS));
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256' };
    const jwksFile = join(dir, 'jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [jwk] }));
    sign = async (claims, expiresIn, claimed = {}) => {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'test-key' })
        .setIssuer(claimed.issuer ?? ISSUER)
        .setAudience(claimed.audience ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(privateKey);
      jwts.push(token);
      return token;
    };
    config = testConfig(uniqueKeyspace('security'), {
      tls: { certFile: serverCert.cert, keyFile: serverCert.key, reloadCheckMs: 500 },
      auth: { tokensFile, jwt: { jwksFile, issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 0 } },
    });
    session = await connectTestSession(config);
    await applyYaml(session, config, SHOP_YAML);
    server = await startServer(config, logger, { client: session });
  });

  afterAll(async () => {
    for (const clients of opened) clients.close();
    await server?.close();
    if (session) {
      await dropKeyspace(session, config.cassandra.keyspace);
      await session.shutdown();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('answers UNAUTHENTICATED without a token and with a bad one, over TLS', async () => {
    const none = await failure(get(connect(await tlsWith())));
    expect(none.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(none.reason).toBe('CST_ERR_UNAUTHENTICATED');
    const bad = await failure(get(connect(await tlsWith('cst_not-a-real-token'))));
    expect(bad.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(bad.details).toContain('not valid');
  });

  it('refuses a plain-text client: the port speaks TLS only', async () => {
    const plain = await failure(get(connect({ token: TOKENS.reader })));
    expect(plain.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('keeps health open without a credential', async () => {
    const loaded = grpc.loadPackageDefinition(
      (await import('@grpc/proto-loader')).loadSync((await import('grpc-health-check')).protoPath, { enums: String }),
    ) as unknown as {
      grpc: {
        health: {
          v1: {
            Health: new (
              address: string,
              credentials: grpc.ChannelCredentials,
            ) => grpc.Client & {
              check(r: { service: string }, cb: (e: Error | null, res: { status: string }) => void): void;
            };
          };
        };
      };
    };
    const client = new loaded.grpc.health.v1.Health(
      server.address,
      grpc.credentials.createSsl(await readFile(ca.cert)),
    );
    try {
      const status = await new Promise<string>((resolve, reject) =>
        client.check({ service: '' }, (error, response) => (error ? reject(error) : resolve(response.status))),
      );
      expect(status).toBe('SERVING');
    } finally {
      client.close();
    }
  });

  it('lets a writer write its view, refuses it another view and refuses a reader writing, naming the scope', async () => {
    const writer = connect(await tlsWith(TOKENS.writer));
    expect(Number((await write(writer, 7)).rows_written)).toBe(1);
    const readBack = await get(writer);
    expect(readBack.results.length).toBe(1);

    const otherView = await failure(get(writer, itemRequest));
    expect(otherView.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(otherView.details).toContain('read:item_info');

    const reader = connect(await tlsWith(TOKENS.reader));
    await get(reader);
    const readerWrites = await failure(write(reader));
    expect(readerWrites.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(readerWrites.details).toContain('write:user_stats');

    // A stream is checked message by message.
    const streamed = await failure(streamWriteFeatures(reader.ingestion, [userRow(2)], deadlineIn(10_000)));
    expect(streamed.code).toBe(grpc.status.PERMISSION_DENIED);

    // A feature service is readable when every view it draws on is: `items` reads item_info only.
    const items = connect(await tlsWith(TOKENS.itemsOnly));
    await get(items, itemRequest);
    const service = await failure(
      get(items, { feature_service: 'scores', entities: { user_id: users(1), item_id: { val: [str('a')] } } }),
    );
    expect(service.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(service.details).toContain('read:user_stats');

    // A request carrying both members of the lookup oneof is planned by the features it
    // names; a service beside them (unknown here) must not stand in for their check.
    const both = { feature_service: 'nope', features: { val: ['user_stats:clicks'] }, entities: { user_id: users(1) } };
    const sneaked = await failure(get(items, both));
    expect(sneaked.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(sneaked.details).toContain('read:user_stats');
    const sneakedArrow = await failure(
      call((cb) => items.serving.GetOnlineFeaturesArrow(both, deadlineIn(10_000), cb)),
    );
    expect(sneakedArrow.code).toBe(grpc.status.PERMISSION_DENIED);

    // The registry listing needs a credential, not a view scope.
    const views = await call<{ feature_views: unknown[] }>((cb) =>
      items.registry.ListFeatureViews({}, deadlineIn(10_000), cb),
    );
    expect(views.feature_views.length).toBe(3);
  });

  it("applies the same rules to Feast's gRPC ServingService", async () => {
    const loaded = loadFeastGrpcObject();
    const credentials = grpc.credentials.createSsl(await readFile(ca.cert));
    const feastWith = (token: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      return metadata;
    };
    const feast = new loaded.feast.serving.ServingService(server.address, credentials);
    try {
      const request = {
        features: { val: ['user_stats:clicks'] },
        entities: { user_id: { val: [{ int64_val: '1' }] } },
      };
      const lookup = (metadata: grpc.Metadata) =>
        new Promise<void>((resolve, reject) =>
          feast.GetOnlineFeatures(request, metadata, deadlineIn(10_000), (error) =>
            error ? reject(error) : resolve(),
          ),
        );
      await lookup(feastWith(TOKENS.reader));
      expect((await failure(lookup(feastWith(TOKENS.itemsOnly)))).code).toBe(grpc.status.PERMISSION_DENIED);
      expect((await failure(lookup(new grpc.Metadata()))).code).toBe(grpc.status.UNAUTHENTICATED);
      // Both oneof members set: the features are checked, whatever the service names.
      const both = { ...request, feature_service: 'nope' };
      const sneaked = await failure(
        new Promise<void>((resolve, reject) =>
          feast.GetOnlineFeatures(both, feastWith(TOKENS.itemsOnly), deadlineIn(10_000), (error) =>
            error ? reject(error) : resolve(),
          ),
        ),
      );
      expect(sneaked.code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      feast.close();
    }
  });

  it('takes a JWT signed by a key of the JWKS, and refuses an expired, foreign, misaddressed or forged one', async () => {
    const valid = await sign({ sub: 'svc-ranker', scope: 'read:user_stats' }, '10m');
    const client = connect(await tlsWith(valid));
    await get(client);
    expect((await failure(get(client, itemRequest))).code).toBe(grpc.status.PERMISSION_DENIED);

    const expired = await sign({ sub: 'svc-old', scope: 'read:*' }, Math.floor(Date.now() / 1000) - 60);
    const old = await failure(get(connect(await tlsWith(expired))));
    expect(old.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(old.details).toContain('expired');

    // Signed by the right key, but for another audience or by another issuer.
    const elsewhere = await sign({ sub: 'svc-other', scope: 'read:*' }, '10m', { audience: 'another-service' });
    expect((await failure(get(connect(await tlsWith(elsewhere))))).code).toBe(grpc.status.UNAUTHENTICATED);
    const foreign = await sign({ sub: 'svc-other', scope: 'read:*' }, '10m', { issuer: 'https://other.test' });
    expect((await failure(get(connect(await tlsWith(foreign))))).code).toBe(grpc.status.UNAUTHENTICATED);

    const { privateKey: strangerKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'mallory', scope: '*' })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-key' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(strangerKey);
    jwts.push(forged);
    expect((await failure(get(connect(await tlsWith(forged))))).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('the CLI connects with --ca and the token from $CASSETTE_TOKEN, and is refused without one', async () => {
    const cli = (args: readonly string[], token?: string) =>
      runCli(
        [...args, '--server', server.address, '--ca', ca.cert],
        cliEnv(config.cassandra.keyspace, token ? { CASSETTE_TOKEN: token } : {}),
      );
    const wrote = await cli(['write', '--view', 'user_stats', '{"user_id": 31337, "clicks": 5}'], TOKENS.writer);
    expect(wrote.status, wrote.stderr).toBe(0);
    const lookup = ['get', '--features', 'user_stats:clicks', '-e', 'user_id=31337', '--json'];
    const got = await cli(lookup, TOKENS.writer);
    expect(got.status, got.stderr).toBe(0);
    const [row] = JSON.parse(got.stdout) as { clicks: { value: unknown; status: string } }[];
    expect(row!.clicks.status).toBe('PRESENT');
    expect(String(row!.clicks.value)).toBe('5');
    const refused = await cli(lookup);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('UNAUTHENTICATED');
  });

  /** POSTs `body` to Feast's HTTP API over HTTPS, trusting `caPem`; resolves with the status. */
  const httpsPost = (caPem: Buffer, path: string, body: object, token?: string): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const [host, port] = server.httpAddress!.split(':');
      const req = httpsRequest(
        {
          host,
          port: Number(port),
          path,
          method: 'POST',
          ca: caPem,
          // A new connection each time: a kept-alive one would keep the certificate of its handshake.
          agent: false,
          headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });

  it("guards Feast's HTTP API the same way, over HTTPS", async () => {
    const post = async (path: string, body: object, token?: string) =>
      httpsPost(await readFile(ca.cert), path, body, token);
    const lookup = { features: ['user_stats:clicks'], entities: { user_id: [1] } };
    expect(await post('/get-online-features', lookup)).toBe(401);
    expect(await post('/get-online-features', lookup, TOKENS.itemsOnly)).toBe(403);
    expect(await post('/get-online-features', lookup, TOKENS.reader)).toBe(200);
    const frame = { feature_view_name: 'user_stats', df: { user_id: [1], clicks: [3] } };
    expect(await post('/write-to-online-store', frame, TOKENS.reader)).toBe(403);
    expect(await post('/write-to-online-store', frame, TOKENS.writer)).toBe(200);
  });

  it('reloads the tokens file without a restart', async () => {
    const later = connect(await tlsWith(TOKENS.later));
    expect((await failure(get(later))).code).toBe(grpc.status.UNAUTHENTICATED);
    // The reader is taken out and a newcomer put in.
    const { reader: _removed, ...rest } = INITIAL_TOKENS;
    await writeFile(tokensFile, tokensYaml({ ...rest, later: ['read:user_stats'] }));
    await pollUntil(async () => {
      try {
        await get(later);
        return true;
      } catch {
        return false;
      }
    });
    expect((await failure(get(connect(await tlsWith(TOKENS.reader))))).code).toBe(grpc.status.UNAUTHENTICATED);
    await writeFile(tokensFile, tokensYaml(INITIAL_TOKENS));
    await pollUntil(async () =>
      get(connect(await tlsWith(TOKENS.reader))).then(
        () => true,
        () => false,
      ),
    );
  });

  it('reloads the server certificate without a restart: new handshakes use the new one', async () => {
    const ca2 = await makeCa(dir, 'ca2');
    const next = await makeCert(dir, 'server2', ca2, 'localhost', ['DNS:localhost', 'IP:127.0.0.1']);
    const trustsNew: ClientSecurity = { tls: { ca: await readFile(ca2.cert) }, token: TOKENS.reader };
    expect((await failure(get(connect(trustsNew)))).code).toBe(grpc.status.UNAVAILABLE);
    await replaceCert(next, serverCert);
    // Each attempt on a fresh channel: a fresh handshake.
    await pollUntil(async () =>
      get(connect(trustsNew)).then(
        () => true,
        () => false,
      ),
    );
    expect((await failure(get(connect(await tlsWith(TOKENS.reader))))).code).toBe(grpc.status.UNAVAILABLE);
    // Feast's HTTPS listener reloads the same files.
    const lookup = { features: ['user_stats:clicks'], entities: { user_id: [1] } };
    expect(await httpsPost(await readFile(ca2.cert), '/get-online-features', lookup, TOKENS.reader)).toBe(200);
    await expect(httpsPost(await readFile(ca.cert), '/get-online-features', lookup, TOKENS.reader)).rejects.toThrow();
    // The new CA from here on.
    ca = ca2;
  });

  it('writes an audit line per write: principal, method, view, rows, outcome', () => {
    const audits = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.msg === 'audit');
    expect(audits).toContainEqual(
      expect.objectContaining({
        principal: 'loader',
        method: 'cassette.v1.FeatureIngestion/WriteFeatures',
        views: ['user_stats'],
        rows: 1,
        outcome: 'OK',
      }),
    );
    expect(audits).toContainEqual(
      expect.objectContaining({ principal: 'ranker', views: ['user_stats'], outcome: 'PERMISSION_DENIED' }),
    );
    expect(audits).toContainEqual(
      expect.objectContaining({ principal: 'ranker', method: 'cassette.v1.FeatureIngestion/StreamWriteFeatures' }),
    );
    expect(audits).toContainEqual(
      expect.objectContaining({
        principal: 'loader',
        method: 'feast.http/write-to-online-store',
        rows: 1,
        outcome: 'OK',
      }),
    );
  });

  it('counts refusals by reason in cassette_auth_failures_total', async () => {
    const text = await server.metrics!.render();
    expect(text).toMatch(/cassette_auth_failures_total\{reason="missing"\} [1-9]/);
    expect(text).toMatch(/cassette_auth_failures_total\{reason="denied"\} [1-9]/);
    expect(text).toMatch(/cassette_auth_failures_total\{reason="expired_jwt"\} [1-9]/);
    expect(text).toMatch(/cassette_security_reloads_total\{file="certificate",outcome="ok"\} [1-9]/);
  });

  it('never logs a token or a JWT', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const secrets = [...Object.values(TOKENS), ...jwts];
    for (const line of logLines) {
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
  });
});

describe('security: mTLS', () => {
  let dir: string;
  let session: CassandraClient;
  let server: RunningServer;
  let ca: CertFiles;
  let keyspace = '';
  const opened: CassetteClients[] = [];

  async function start(overrides: ConfigInput): Promise<RunningServer> {
    const config = testConfig(keyspace, overrides);
    return startServer(config, logger, { client: session });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cassette-mtls-'));
    ca = await makeCa(dir, 'ca');
    const serverCert = await makeCert(dir, 'server', ca, 'localhost', ['IP:127.0.0.1']);
    await makeCert(dir, 'batch', ca, 'batch-loader');
    await makeCert(dir, 'stranger', ca, 'stranger');
    const tokensFile = join(dir, 'tokens.yaml');
    await writeFile(tokensFile, tokensYaml({ reader: ['read:*'] }, CERTIFICATES));
    keyspace = uniqueKeyspace('mtls');
    const config = testConfig(keyspace);
    session = await connectTestSession(config);
    await applyYaml(session, config, SHOP_YAML);
    server = await start({
      tls: { certFile: serverCert.cert, keyFile: serverCert.key, clientCaFile: ca.cert },
      auth: { tokensFile },
      http: { enabled: false },
    });
  });

  afterAll(async () => {
    for (const clients of opened) clients.close();
    await server?.close();
    if (session) {
      await dropKeyspace(session, keyspace);
      await session.shutdown();
    }
    await rm(dir, { recursive: true, force: true });
  });

  const client = async (cert?: string, token?: string): Promise<CassetteClients> => {
    const clients = connectClients(
      server.address,
      {},
      {
        tls: {
          ca: await readFile(ca.cert),
          ...(cert && {
            cert: await readFile(join(dir, `${cert}.crt`)),
            key: await readFile(join(dir, `${cert}.key`)),
          }),
        },
        ...(token && { token }),
      },
    );
    opened.push(clients);
    return clients;
  };

  it('refuses a client without a certificate at the handshake, even with a valid token', async () => {
    const noCert = await client(undefined, TOKENS.reader);
    const refused = await failure(call((cb) => noCert.serving.GetOnlineFeatures(userRequest, deadlineIn(10_000), cb)));
    expect(refused.code).toBe(grpc.status.UNAVAILABLE);
  });

  it("takes a listed certificate's subject as the principal, with its scopes", async () => {
    const batch = await client('batch');
    const written = await call<{ rows_written: string }>((cb) =>
      batch.ingestion.WriteFeatures(userRow(5), deadlineIn(10_000), cb),
    );
    expect(Number(written.rows_written)).toBe(1);
    const read = await failure(call((cb) => batch.serving.GetOnlineFeatures(userRequest, deadlineIn(10_000), cb)));
    expect(read.code).toBe(grpc.status.PERMISSION_DENIED);
    // An unlisted certificate is authenticated by TLS but has no scopes: a token is still needed.
    const stranger = await client('stranger');
    const unlisted = await failure(
      call((cb) => stranger.serving.GetOnlineFeatures(userRequest, deadlineIn(10_000), cb)),
    );
    expect(unlisted.code).toBe(grpc.status.UNAUTHENTICATED);
    const withToken = await client('stranger', TOKENS.reader);
    await call((cb) => withToken.serving.GetOnlineFeatures(userRequest, deadlineIn(10_000), cb));
  });
});

describe('security: safe defaults', () => {
  it('refuses to serve a non-loopback address without TLS, and says why', async () => {
    const result = await runCli(['serve', '--listen', '0.0.0.0:0', '--no-http'], cliEnv('t_security_unused'), 60_000);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('without TLS');
    expect(result.stderr).toContain('--insecure');
  });

  it('`cassette token create` prints a token once and its hash line', async () => {
    const result = await runCli(['token', 'create', '--name', 'ranker', '--scope', 'read:*'], cliEnv('t_unused'));
    expect(result.status).toBe(0);
    const token = /\n {2}(cst_\S+)\n/.exec(result.stdout)?.[1];
    expect(token).toBeDefined();
    expect(result.stdout).toContain(`sha256: ${sha256Hex(token!)}`);
    expect(result.stdout).toContain('scopes: ["read:*"]');
  });
});

async function pollUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
