import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CassetteError } from '../../src/errors/index.js';
import { loadAppliedRegistry, loadRegistry } from '../../src/registry/storage.js';
import type { CassandraClient } from '../../src/store/index.js';
import { applyYaml, connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const V1 = `
project: reg
entities:
  - { name: user, join_key: user_id, type: int64 }
feature_views:
  - name: profile
    entities: [user]
    features:
      - { name: age, type: int32 }
`;

const V2 = V1 + `      - { name: country, type: string }\n`;

describe('applying the registry', () => {
  const config = testConfig(uniqueKeyspace('apply'));
  let session: CassandraClient;

  beforeAll(async () => {
    session = await connectTestSession(config);
  });
  afterAll(async () => {
    await dropKeyspace(session, config.cassandra.keyspace);
    await dropKeyspace(session, unapplied);
    await session.shutdown();
  });

  /** A keyspace no registry is applied to, for reading the applied registry where there is none. */
  const unapplied = uniqueKeyspace('unapplied');
  /** The error loadAppliedRegistry fails with (fails the test if it succeeded). */
  const readFailure = async (): Promise<CassetteError> => {
    const error = await loadAppliedRegistry(session, unapplied).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CassetteError);
    return error as CassetteError;
  };

  it('says to apply one when the keyspace does not exist (Cassandra refuses the read as invalid)', async () => {
    const error = await readFailure();
    expect(error).toMatchObject({ code: 'CST_ERR_REGISTRY_NOT_APPLIED', status: 'FAILED_PRECONDITION' });
    expect(error.message).toMatch(
      /^cannot read the feature registry from keyspace "t_unapplied_\w+": .*; run `cassette apply/,
    );
  });

  it('says to apply one when the keyspace exists without the registry table', async () => {
    await session.execute(
      `CREATE KEYSPACE "${unapplied}" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    const error = await readFailure();
    expect(error.code).toBe('CST_ERR_REGISTRY_NOT_APPLIED');
    expect(error.message).toMatch(/; run `cassette apply <registry.yaml>` first$/);
  });

  it('creates the keyspace and tables, and a second apply changes nothing', async () => {
    const first = await applyYaml(session, config, V1);
    expect(first).toMatchObject({ changed: true, version: 1, createdTables: ['profile'] });
    const again = await applyYaml(session, config, V1);
    expect(again).toMatchObject({ changed: false, version: 1, createdTables: [], addedColumns: [] });
    const stored = await loadRegistry(session, config.cassandra.keyspace);
    expect([...stored!.registry.featureViews.keys()]).toEqual(['profile']);
  });

  it('adds a feature as a new column without losing data', async () => {
    const ks = config.cassandra.keyspace;
    await session.execute(`INSERT INTO "${ks}".profile (user_id, age) VALUES (?, ?)`, [7, 41], { prepare: true });
    const result = await applyYaml(session, config, V2);
    expect(result).toMatchObject({ changed: true, version: 2, addedColumns: ['profile.country'] });
    const row = (await session.execute(`SELECT age, country FROM "${ks}".profile WHERE user_id = 7`)).first();
    expect(row.get('age')).toBe(41);
    expect(row.get('country')).toBeNull();
  });

  it('refuses a type change, listing the conflict, and keeps the stored registry', async () => {
    const changed = V2.replace('{ name: age, type: int32 }', '{ name: age, type: string }');
    const error = await applyYaml(session, config, changed).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CassetteError);
    expect((error as CassetteError).status).toBe('FAILED_PRECONDITION');
    expect((error as CassetteError).code).toBe('CST_ERR_REGISTRY_CONFLICT');
    expect((error as CassetteError).message).toMatch(
      /"profile:age" is declared string \(text\) but the stored column is int/,
    );
    expect((await loadRegistry(session, config.cassandra.keyspace))!.version).toBe(2);
  });

  it('keeps the column of a removed feature and warns about it', async () => {
    const result = await applyYaml(session, config, V1);
    expect(result.changed).toBe(true);
    expect(result.warnings).toEqual(['column profile.country is no longer declared; its data is kept but not served']);
    // Re-adding it later finds the column (and its data) still there.
    const back = await applyYaml(session, config, V2);
    expect(back.addedColumns).toEqual([]);
  });
});

describe('a running server picks up a newly applied registry', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer('reload', V1, { registry: { refreshIntervalMs: 200 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves a new feature after apply, without a restart, and old values survive', async () => {
    await t.write({
      feature_view: 'profile',
      rows: [{ entity_keys: { user_id: { int64_val: '1' } }, features: { age: { int32_val: 30 } } }],
    });
    const before = await t.get({
      features: { val: ['profile:age'] },
      entities: { user_id: { val: [{ int64_val: '1' }] } },
    });
    expect(before.results[0]!.values[0]!.int32_val).toBe(30);

    await applyYaml(t.session, t.config, V2);
    await expect
      .poll(async () => (await t.server.core.listing.listFeatureViews()).feature_views?.[0]?.features?.length, {
        timeout: 10_000,
      })
      .toBe(2);

    await t.write({
      feature_view: 'profile',
      rows: [{ entity_keys: { user_id: { int64_val: '1' } }, features: { country: { string_val: 'NO' } } }],
    });
    const after = await t.get({
      features: { val: ['profile:age', 'profile:country'] },
      entities: { user_id: { val: [{ int64_val: '1' }] } },
    });
    expect(after.results[0]!.values[0]!.int32_val).toBe(30);
    expect(after.results[1]!.values[0]!.string_val).toBe('NO');
  });
});
