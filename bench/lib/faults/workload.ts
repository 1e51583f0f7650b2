import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { Logger } from 'pino';

import type {
  GetOnlineFeaturesRequest,
  GetOnlineFeaturesResponse__Output,
  WriteFeaturesRequest,
} from '../../../src/api/index.js';
import { serverBackend } from '../../../src/cli/backend.js';
import { DEMO_ITEMS, DEMO_USERS, loadDemoRows } from '../../../src/cli/demo-data.js';
import { parseRegistry } from '../../../src/registry/index.js';
import { applyRegistry } from '../../../src/registry/storage.js';
import type { CassandraClient } from '../../../src/store/index.js';
import { loadCassetteProtos } from '../../../src/server/index.js';
import { Rng } from '../random.js';
import type { Caller } from './traffic.js';

/**
 * What the fault benchmark sends: the demo registry (schema/example.yaml), lookups of the
 * `ranking_v1` feature service for 10 users × 10 items (a batch of 100 rows, 130 partition reads
 * over four views), and single-row writes of `user_activity` to entities no lookup reads, each
 * with its own value, so that every acknowledged write can be read back and checked at the end.
 */

export const REGISTRY_PATH = fileURLToPath(new URL('../../../schema/example.yaml', import.meta.url));
export const FEATURE_SERVICE = 'ranking_v1';
const USERS_PER_LOOKUP = 10;
const ITEMS_PER_LOOKUP = 10;
/** user_item_affinity holds the first 20 demo users × the first 10 items: every lookup row is there. */
const LOOKUP_USERS = DEMO_USERS.slice(0, 20);
const LOOKUP_ITEMS = DEMO_ITEMS.slice(0, ITEMS_PER_LOOKUP);
/**
 * Partition reads of one lookup: 10 user_profile, 10 user_activity and 10 item_features rows, and
 * the 100 user_item_affinity pairs.
 */
export const READS_PER_LOOKUP = 3 * USERS_PER_LOOKUP + USERS_PER_LOOKUP * ITEMS_PER_LOOKUP;
const WRITE_VIEW = 'user_activity';
const WRITE_FEATURE = 'clicks_7d';
const READ_BACK_BATCH = 100;
const READ_BACK_ATTEMPTS = 5;

export const LOOKUP_METHOD = '/cassette.v1.FeatureServing/GetOnlineFeatures';
export const WRITE_METHOD = '/cassette.v1.FeatureIngestion/WriteFeatures';

interface Codec<Req, Res> {
  requestSerialize(value: Req): Buffer;
  responseDeserialize(buffer: Buffer): Res;
}

let codecs:
  | {
      lookup: Codec<GetOnlineFeaturesRequest, GetOnlineFeaturesResponse__Output>;
      write: Codec<WriteFeaturesRequest, unknown>;
    }
  | undefined;

/** The serializers grpc-js uses for the two methods, from the server's own .proto files. */
function methodCodecs(): NonNullable<typeof codecs> {
  if (!codecs) {
    const protos = loadCassetteProtos();
    const service = (name: string) => protos[name] as unknown as Record<string, Codec<never, never>>;
    codecs = {
      lookup: service('cassette.v1.FeatureServing').GetOnlineFeatures! as NonNullable<typeof codecs>['lookup'],
      write: service('cassette.v1.FeatureIngestion').WriteFeatures! as NonNullable<typeof codecs>['write'],
    };
  }
  return codecs;
}

/** Applies the demo registry with replication factor `replicationFactor` (idempotent). */
export async function applyDemoRegistry(
  session: CassandraClient,
  keyspace: string,
  localDataCenter: string,
  replicationFactor: number,
  logger: Logger,
): Promise<void> {
  const yaml = readFileSync(REGISTRY_PATH, 'utf8');
  await applyRegistry(
    session,
    { keyspace, localDataCenter, replicationFactor },
    parseRegistry(yaml, REGISTRY_PATH),
    yaml,
    logger,
  );
}

/** Writes the demo rows through a server's WriteFeatures; returns the rows written. */
export async function loadDemoData(address: string): Promise<number> {
  const backend = serverBackend(address, 60_000);
  try {
    return await loadDemoRows(backend);
  } finally {
    await backend.close();
  }
}

/**
 * `count` encoded ranking_v1 requests, each for 10 users (drawn with `seed`) × the 10 items: the
 * rows are every (user, item) pair, column-wise.
 */
export function lookupRequests(count: number, seed: number): Buffer[] {
  const rng = new Rng(seed);
  const { lookup } = methodCodecs();
  return Array.from({ length: count }, () => {
    const users = [...LOOKUP_USERS];
    // A partial Fisher–Yates shuffle: the first USERS_PER_LOOKUP are a random sample.
    for (let i = 0; i < USERS_PER_LOOKUP; i++) {
      const j = i + Math.floor(rng.next() * (users.length - i));
      [users[i], users[j]] = [users[j]!, users[i]!];
    }
    const userIds: { int64_val: string }[] = [];
    const itemIds: { string_val: string }[] = [];
    for (const user of users.slice(0, USERS_PER_LOOKUP)) {
      for (const item of LOOKUP_ITEMS) {
        userIds.push({ int64_val: String(user) });
        itemIds.push({ string_val: item });
      }
    }
    return lookup.requestSerialize({
      feature_service: FEATURE_SERVICE,
      entities: { user_id: { val: userIds }, item_id: { val: itemIds } },
    });
  });
}

/** A WriteFeatures request of one user_activity row: `user` gets clicks_7d = `value`. */
export function writeRequest(user: number, value: number): Buffer {
  return methodCodecs().write.requestSerialize({
    feature_view: WRITE_VIEW,
    rows: [
      {
        entity_keys: { user_id: { int64_val: String(user) } },
        features: { [WRITE_FEATURE]: { int64_val: String(value) } },
      },
    ],
  });
}

export interface ReadBack {
  acknowledged: number;
  /** Acknowledged writes whose value was read back. */
  read_back: number;
  /** A few users whose acknowledged value was not read back (or whose read failed). */
  missing: number[];
}

/**
 * Reads back every acknowledged write (user -> value) through GetOnlineFeatures, 100 users a call,
 * each call retried a few times (the cluster may still be settling after a fault): counts the
 * users whose clicks_7d is the acknowledged value.
 */
export async function readBack(caller: Caller, acknowledged: ReadonlyMap<number, number>): Promise<ReadBack> {
  const { lookup } = methodCodecs();
  const users = [...acknowledged.keys()];
  let matched = 0;
  const missing: number[] = [];
  for (let start = 0; start < users.length; start += READ_BACK_BATCH) {
    const batch = users.slice(start, start + READ_BACK_BATCH);
    const request = lookup.requestSerialize({
      features: { val: [`${WRITE_VIEW}:${WRITE_FEATURE}`] },
      entities: { user_id: { val: batch.map((user) => ({ int64_val: String(user) })) } },
    });
    let response: GetOnlineFeaturesResponse__Output | undefined;
    for (let attempt = 1; attempt <= READ_BACK_ATTEMPTS && !response; attempt++) {
      try {
        response = lookup.responseDeserialize(await caller.call(LOOKUP_METHOD, request, 10_000));
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
      }
    }
    const vector = response?.results[0];
    batch.forEach((user, i) => {
      const value = vector?.values[i]?.int64_val;
      if (vector?.statuses[i] === 'PRESENT' && value !== undefined && Number(value) === acknowledged.get(user)) {
        matched++;
      } else if (missing.length < 10) {
        missing.push(user);
      }
    });
  }
  return { acknowledged: acknowledged.size, read_back: matched, missing };
}
