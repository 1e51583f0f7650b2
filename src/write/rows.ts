import cassandra from 'cassandra-driver';

import { invalidArgument, quoteInput } from '../errors/index.js';
import type { FeatureRow__Output } from '../generated/cassette/v1/FeatureRow.js';
import type { Timestamp__Output } from '../generated/google/protobuf/Timestamp.js';
import type { FeatureViewDef } from '../registry/index.js';
import type { FeatureWrite } from '../store/index.js';
import { microsFromTimestamp } from '../time/index.js';
import { monotonicMicros } from './clock.js';
import {
  decodeEntityKey,
  decodeValue,
  entityKeyString,
  isUnstorableKey,
  MAX_PARTITION_KEY_BYTES,
  MAX_UNIX_SECONDS,
  partitionKeyBytes,
  type StoredScalar,
} from '../values/index.js';

const { Long } = cassandra.types;
type Long = cassandra.types.Long;

/** Cassandra refuses TTLs over 20 years. */
const MAX_CASSANDRA_TTL_SECONDS = 630_720_000;

export interface WritePolicy {
  /** Event times further ahead than this are refused: they would shadow every real write. */
  maxFutureSkewMs: number;
  /** How long a value past its view's ttl is kept (and served as OUTSIDE_MAX_AGE). */
  expiryGraceSeconds: number;
}

/** A validated row, ready for the store. */
export interface WriteRow {
  readonly key: StoredScalar[];
  readonly keyString: string;
  /** One entry per view feature: undefined = leave as is, null = clear. */
  readonly features: FeatureWrite[];
  readonly eventTimeMicros: Long;
  /** Seconds until Cassandra expires the written cells; 0 = never. */
  readonly ttlSeconds: number;
}

export type ValidatedRow = { kind: 'write'; row: WriteRow } | { kind: 'expired' };

function eventTimeMicros(timestamp: Timestamp__Output | null, where: string): number {
  if (!timestamp) return monotonicMicros();
  const seconds = Number(timestamp.seconds);
  const nanos = timestamp.nanos;
  if (
    !Number.isSafeInteger(seconds) ||
    seconds < 0 ||
    seconds > MAX_UNIX_SECONDS ||
    !Number.isInteger(nanos) ||
    nanos < 0 ||
    nanos > 999_999_999
  ) {
    throw invalidArgument(
      `${where}: not a valid timestamp between 1970-01-01 and the year 275760 (seconds=${timestamp.seconds}, nanos=${nanos})`,
    );
  }
  return microsFromTimestamp(seconds, nanos);
}

/**
 * Validates one incoming row against its view and converts every value to its stored form.
 * Throws INVALID_ARGUMENT naming `where` and the offending field.
 */
export function validateRow(
  view: FeatureViewDef,
  row: FeatureRow__Output,
  where: string,
  nowMillis: number,
  policy: WritePolicy,
): ValidatedRow {
  const entityKeys = row.entity_keys ?? {};
  const key = new Array<StoredScalar>(view.entities.length);
  for (let i = 0; i < view.entities.length; i++) {
    const entity = view.entities[i]!;
    const value = Object.hasOwn(entityKeys, entity.joinKey) ? entityKeys[entity.joinKey] : undefined;
    if (value === undefined) throw invalidArgument(`${where}.entity_keys: missing join key "${entity.joinKey}"`);
    key[i] = decodeEntityKey(entity.type, value, `${where}.entity_keys["${entity.joinKey}"]`);
  }
  const keyBytes = partitionKeyBytes(key);
  if (keyBytes > MAX_PARTITION_KEY_BYTES) {
    throw invalidArgument(
      `${where}.entity_keys: the key is ${keyBytes} bytes; Cassandra allows ${MAX_PARTITION_KEY_BYTES}`,
    );
  }
  if (isUnstorableKey(key)) {
    throw invalidArgument(`${where}.entity_keys["${view.entities[0]!.joinKey}"]: an entity key cannot be empty`);
  }
  for (const name of Object.keys(entityKeys)) {
    if (!view.entities.some((e) => e.joinKey === name)) {
      throw invalidArgument(
        `${where}.entity_keys: ${quoteInput(name)} is not a join key of feature view "${view.name}"`,
      );
    }
  }

  const features = new Array<FeatureWrite>(view.features.length).fill(undefined);
  let given = 0;
  for (const [name, value] of Object.entries(row.features ?? {})) {
    const index = view.featureIndex.get(name);
    if (index === undefined)
      throw invalidArgument(`${where}.features: feature view "${view.name}" has no feature ${quoteInput(name)}`);
    features[index] = decodeValue(view.features[index]!.type, value, `${where}.features["${name}"]`);
    given++;
  }
  if (given === 0) throw invalidArgument(`${where}.features: give at least one feature`);

  const eventMicros = eventTimeMicros(row.event_timestamp, `${where}.event_timestamp`);
  const eventMillis = eventMicros / 1000;
  if (eventMillis - nowMillis > policy.maxFutureSkewMs) {
    throw invalidArgument(
      `${where}.event_timestamp: ${new Date(eventMillis).toISOString()} is more than ${policy.maxFutureSkewMs} ms in the future`,
    );
  }

  let ttlSeconds = 0;
  if (view.ttlSeconds > 0) {
    const ageSeconds = Math.max(0, (nowMillis - eventMillis) / 1000);
    const remaining = view.ttlSeconds + policy.expiryGraceSeconds - ageSeconds;
    // Already past ttl and grace: it could never be served, and storing it would only add tombstones.
    if (remaining <= 0) return { kind: 'expired' };
    ttlSeconds = Math.min(MAX_CASSANDRA_TTL_SECONDS, Math.ceil(remaining));
  }

  return {
    kind: 'write',
    row: {
      key,
      keyString: entityKeyString(key),
      features,
      eventTimeMicros: Long.fromNumber(eventMicros),
      ttlSeconds,
    },
  };
}
