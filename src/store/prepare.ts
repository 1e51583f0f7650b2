import { createRequire } from 'node:module';

import type cassandra from 'cassandra-driver';

import type { CassandraClient } from './session.js';

interface PrepareHandlerModule {
  getPrepared(
    client: CassandraClient,
    loadBalancing: unknown,
    query: string,
    keyspace: string | null,
  ): Promise<{ queryId: Buffer }>;
}

const require = createRequire(import.meta.url);
// cassandra-driver 4.x prepares lazily on first execute and has no public prepare call (the
// version is pinned in package.json, and a test checks the statement really is prepared).
// Its own prepare handler (the one execute uses) fills the same per-client cache, so
// preparing here means the first request after SERVING pays no round trip.
const PrepareHandler = require('cassandra-driver/lib/prepare-handler.js') as PrepareHandlerModule;

/** Prepares `query` on the cluster (on every host, per the driver's prepareOnAllHosts default). */
export async function prepareStatement(client: CassandraClient, query: string): Promise<void> {
  // `options` exists at run time but is missing from the driver's type declarations.
  const loadBalancing = (client as unknown as { options: cassandra.ClientOptions }).options.policies?.loadBalancing;
  await PrepareHandler.getPrepared(client, loadBalancing, query, null);
}
