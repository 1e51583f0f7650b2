import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { encodeFeastRegistry, readFeastRepo } from '../../../src/feast/registry-import/index.js';

describe('readFeastRepo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cassette-feast-repo-'));
  mkdirSync(join(dir, 'data'));
  const registryBytes = encodeFeastRegistry({
    entities: [{ spec: { name: 'user', join_key: 'user_id', value_type: 'INT64', project: 'shop' } }],
  });
  writeFileSync(join(dir, 'data', 'registry.db'), registryBytes);
  const config = (text: string) => writeFileSync(join(dir, 'feature_store.yaml'), text);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the project, the registry it names (relative to the repository) and the online store', () => {
    config('project: shop\nregistry: data/registry.db\nonline_store:\n  type: cassandra\n  keyspace: feast_ks\n');
    const repo = readFeastRepo(dir);
    expect(repo).toMatchObject({
      path: dir,
      project: 'shop',
      registryPath: join(dir, 'data', 'registry.db'),
      entityKeySerializationVersion: 3,
      onlineStoreType: 'cassandra',
      onlineStoreKeyspace: 'feast_ks',
    });
    expect(repo.registry.entities[0]!.spec!.join_key).toBe('user_id');
  });

  it('takes the registry as {path}, as a file:// URI, with $VARIABLES, or Feast default', () => {
    process.env.CASSETTE_TEST_FEAST_DATA = 'data';
    config('project: shop\nregistry:\n  registry_type: file\n  path: ${CASSETTE_TEST_FEAST_DATA}/registry.db\n');
    expect(readFeastRepo(dir).registryPath).toBe(join(dir, 'data', 'registry.db'));
    config(`project: shop\nregistry: ${pathToFileURL(join(dir, 'data', 'registry.db')).href}\n`);
    expect(readFeastRepo(dir).registryPath).toBe(join(dir, 'data', 'registry.db'));
    config('project: shop\nentity_key_serialization_version: 2\n');
    expect(readFeastRepo(dir)).toMatchObject({
      registryPath: join(dir, 'data', 'registry.db'),
      entityKeySerializationVersion: 2,
    });
  });

  it('says what is wrong with a repository it cannot read', () => {
    config('project: shop\nregistry: s3://bucket/registry.db\n');
    expect(() => readFeastRepo(dir)).toThrow(/is not a local file; copy it here and pass --registry FILE/);
    expect(readFeastRepo(dir, join(dir, 'data', 'registry.db')).project).toBe('shop');
    config('project: shop\nregistry:\n  registry_type: sql\n  path: postgresql://x\n');
    expect(() => readFeastRepo(dir)).toThrow(/registry is of type "sql"; only a file registry can be read/);
    config('project: shop\nregistry: data/missing.db\n');
    expect(() => readFeastRepo(dir)).toThrow(/cannot read the Feast registry .*missing.db \(has `feast apply` run\?\)/);
    config('project: shop\nentity_key_serialization_version: 4\n');
    expect(() => readFeastRepo(dir)).toThrow(/entity_key_serialization_version 4 is not 1, 2 or 3/);
    config('registry: data/registry.db\n');
    expect(() => readFeastRepo(dir)).toThrow(/project is missing/);
    writeFileSync(join(dir, 'data', 'garbage.db'), Buffer.from([0x0a, 0xff]));
    config('project: shop\nregistry: data/garbage.db\n');
    expect(() => readFeastRepo(dir)).toThrow(/garbage.db is not a Feast registry/);
    expect(() => readFeastRepo(join(dir, 'nowhere'))).toThrow(/cannot read .*feature_store.yaml/);
  });
});
