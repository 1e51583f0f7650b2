import { readFileSync } from 'node:fs';

import { CassetteError } from '../errors/index.js';
import { parseRegistry, type FeatureViewDef, type Registry } from '../registry/index.js';
import { loadRegistry, type CassandraClient } from '../store/index.js';

/** The registry applied to `keyspace` (what servers serve), or a message saying how to apply one. */
export async function appliedRegistry(client: CassandraClient, keyspace: string): Promise<Registry> {
  const stored = await loadRegistry(client, keyspace).catch((error: unknown) => {
    const missing = error instanceof Error && /unconfigured table|keyspace .* does not exist/i.test(error.message);
    throw new CassetteError(
      missing ? 'FAILED_PRECONDITION' : 'UNAVAILABLE',
      `cannot read the feature registry from keyspace "${keyspace}": ${(error as Error).message}` +
        (missing ? '; run `cassette apply <registry.yaml>` first' : ''),
      { cause: error },
    );
  });
  if (!stored) {
    throw new CassetteError(
      'FAILED_PRECONDITION',
      `no feature registry has been applied to keyspace "${keyspace}"; run \`cassette apply <registry.yaml>\` first`,
    );
  }
  return stored.registry;
}

/** A registry YAML file, validated. */
export function registryFromFile(path: string): Registry {
  return parseRegistry(readFileSync(path, 'utf8'), path);
}

export function viewNamed(registry: Registry, name: string): FeatureViewDef {
  const view = registry.featureViews.get(name);
  if (!view) {
    throw new Error(`--view: unknown feature view "${name}" (known: ${[...registry.featureViews.keys()].join(', ')})`);
  }
  return view;
}
