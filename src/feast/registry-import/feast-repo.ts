import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse as parseYaml } from 'yaml';

import { CassetteError } from '../../errors/index.js';
import type { Registry__Output } from '../../generated/feast/core/Registry.js';
import { decodeFeastRegistry } from './feast-protos.js';

/** What Cassette needs of a Feast feature repository: its feature_store.yaml and registry. */
export interface FeastRepo {
  /** The repository directory. */
  readonly path: string;
  readonly project: string;
  /** The registry file read (absolute). */
  readonly registryPath: string;
  readonly registry: Registry__Output;
  /** How the repository serializes entity keys in its online store (feature_store.yaml; Feast's default 3). */
  readonly entityKeySerializationVersion: number;
  /** online_store.type, and its keyspace when it is Cassandra. */
  readonly onlineStoreType: string | undefined;
  readonly onlineStoreKeyspace: string | undefined;
}

/** Feast's default when feature_store.yaml names no registry. */
const DEFAULT_REGISTRY = 'data/registry.db';

function repoError(message: string, cause?: unknown): CassetteError {
  return new CassetteError('CST_ERR_FEAST_REPO', message, cause === undefined ? undefined : { cause });
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** `$NAME` and `${NAME}` replaced by the environment's value, as Feast reads the file (os.path.expandvars). */
function expandVariables(text: string): string {
  return text.replace(/\$(?:\{(\w+)\}|(\w+))/g, (whole, braced?: string, bare?: string) => {
    const value = process.env[(braced ?? bare)!];
    return value ?? whole;
  });
}

/**
 * The local file the `registry` setting names: a path (relative to the repository, as Feast
 * resolves it) or a file:// URI, given as a string or as `{path: ...}`. Remote registries
 * (s3://, gs://, a SQL registry) cannot be read here: copy registry.db and pass it explicitly.
 */
function registryFile(repoPath: string, setting: unknown): string {
  const config = asRecord(setting);
  if (config && config.registry_type !== undefined && config.registry_type !== 'file') {
    throw repoError(
      `${repoPath}: the registry is of type "${String(config.registry_type)}"; only a file registry can be read (export registry.db and pass --registry FILE)`,
    );
  }
  const path = config ? config.path : (setting ?? DEFAULT_REGISTRY);
  if (typeof path !== 'string' || path === '')
    throw repoError(`${repoPath}/feature_store.yaml: registry.path is missing`);
  if (path.startsWith('file://')) return fileURLToPath(path);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw repoError(`${repoPath}: the registry ${path} is not a local file; copy it here and pass --registry FILE`);
  }
  return isAbsolute(path) ? path : join(repoPath, path);
}

/**
 * Reads a Feast repository: feature_store.yaml (project, registry, entity-key serialization,
 * online store) and the registry it names, or `registryOverride` instead.
 */
export function readFeastRepo(path: string, registryOverride?: string): FeastRepo {
  const repoPath = resolve(path);
  const configPath = join(repoPath, 'feature_store.yaml');
  let config: Record<string, unknown> | undefined;
  try {
    config = asRecord(parseYaml(expandVariables(readFileSync(configPath, 'utf8'))));
  } catch (error) {
    throw repoError(`cannot read ${configPath}: ${(error as Error).message}`, error);
  }
  if (!config) throw repoError(`${configPath}: expected a mapping`);
  const project = config.project;
  if (typeof project !== 'string' || project === '') throw repoError(`${configPath}: project is missing`);
  const version = config.entity_key_serialization_version ?? 3;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > 3) {
    throw repoError(`${configPath}: entity_key_serialization_version ${String(version)} is not 1, 2 or 3`);
  }
  const registryPath = registryOverride ? resolve(registryOverride) : registryFile(repoPath, config.registry);
  let bytes: Buffer;
  try {
    if (!statSync(registryPath).isFile()) throw new Error('not a file');
    bytes = readFileSync(registryPath);
  } catch (error) {
    throw repoError(
      `cannot read the Feast registry ${registryPath} (has \`feast apply\` run?): ${(error as Error).message}`,
      error,
    );
  }
  let registry: Registry__Output;
  try {
    registry = decodeFeastRegistry(bytes);
  } catch (error) {
    throw repoError(`${registryPath} is not a Feast registry: ${(error as Error).message}`, error);
  }
  const online = asRecord(config.online_store);
  const onlineType = typeof config.online_store === 'string' ? config.online_store : online?.type;
  return {
    path: repoPath,
    project,
    registryPath,
    registry,
    entityKeySerializationVersion: version,
    onlineStoreType: typeof onlineType === 'string' ? onlineType : undefined,
    onlineStoreKeyspace: typeof online?.keyspace === 'string' ? online.keyspace : undefined,
  };
}
