import cassandra from 'cassandra-driver';

import { invalidArgument, quoteInput } from '../errors/index.js';
import type { FeatureRow, FeatureRow__Output } from '../generated/cassette/v1/FeatureRow.js';
import type { Value, Value__Output } from '../generated/cassette/v1/Value.js';
import type { FeatureViewDef } from '../registry/index.js';
import type { FeatureWrite } from '../store/index.js';
import { microsFromTimestamp, timestampFromMicros } from '../time/index.js';
import { monotonicMicros } from './clock.js';
import {
  codecOf,
  decodeEntityKey,
  decodeValue,
  entityKeyString,
  invalidEntityKey,
  isStorableKeyPart,
  isUnstorableKey,
  keyPartProblem,
  MAX_PARTITION_KEY_BYTES,
  MAX_UNIX_SECONDS,
  partitionKeyBytes,
  scalarCodecOf,
  type StoredScalar,
} from '../values/index.js';

const { Long } = cassandra.types;
type Long = cassandra.types.Long;

/** Cassandra refuses TTLs over 20 years. */
const MAX_CASSANDRA_TTL_SECONDS = 630_720_000;

/** Event times from 1970 up to the last second a Date holds, in µs (exclusive bound). */
const EVENT_MICROS_END = (BigInt(MAX_UNIX_SECONDS) + 1n) * 1_000_000n;

export interface WritePolicy {
  /** Event times further ahead than this are refused: they would shadow every real write. */
  maxFutureSkewMs: number;
  /** How long a value past its view's ttl is kept (and served as OUTSIDE_MAX_AGE). */
  expiryGraceSeconds: number;
  /** Most elements one list value may hold. */
  maxListLength: number;
}

/**
 * A validated row, ready for the store: what both doors (validateRow for a proto FeatureRow,
 * validateRecord for a file's record) produce, and what every sink takes.
 */
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

/**
 * A record as a file gives it, before validation: every value already in its stored form (the
 * codecs' record doors convert them), by position in the view. validateRecord checks the rest.
 */
export interface RecordRow {
  /** One per join key of the view: undefined = not given, null = given as null (refused). */
  readonly key: (StoredScalar | null | undefined)[];
  /** One per feature of the view: undefined = leave as is, null = clear. */
  readonly features: FeatureWrite[];
  /** Exact µs since the epoch. */
  eventTimeMicros: bigint;
}

/** An empty record of `view` at `eventTimeMicros` (the time of rows that give none). */
export function newRecordRow(view: FeatureViewDef, eventTimeMicros: bigint): RecordRow {
  // Filled, so the arrays are not holey.
  return {
    key: new Array<StoredScalar | null | undefined>(view.entities.length).fill(undefined),
    features: new Array<FeatureWrite>(view.features.length).fill(undefined),
    eventTimeMicros,
  };
}

function invalidEventTime(where: string, seconds: string | number, nanos: number) {
  const field = `${where}.event_timestamp`;
  return invalidArgument(
    `${field}: not a valid timestamp between 1970-01-01 and the year 275760 (seconds=${seconds}, nanos=${nanos})`,
    'CST_ERR_INVALID_EVENT_TIME',
    { field },
  );
}

function listTooLong(field: string, length: number, policy: WritePolicy) {
  return invalidArgument(
    `${field}: the list holds ${length} elements; at most ${policy.maxListLength} are allowed (ingest.maxListLength)`,
    'CST_ERR_LIST_TOO_LONG',
    { field, limit: 'ingest.maxListLength', value: String(policy.maxListLength) },
  );
}

type ListCase = Extract<NonNullable<Value__Output['val']>, `${string}_list_val`>;

/** Elements of a list value as it arrived, before they are decoded; -1 for anything but a list. */
function listLength(value: Value__Output): number {
  const kind = value.val;
  if (kind === undefined || !kind.endsWith('_list_val')) return -1;
  return value[kind as ListCase]?.val.length ?? 0;
}

function missingJoinKey(where: string, joinKey: string) {
  const field = `${where}.entity_keys`;
  return invalidArgument(`${field}: missing join key "${joinKey}"`, 'CST_ERR_MISSING_JOIN_KEY', { field });
}

function keyWhere(where: string, joinKey: string): string {
  return `${where}.entity_keys["${joinKey}"]`;
}

function eventTimeFromTimestamp(row: FeatureRow__Output, where: string): number {
  const timestamp = row.event_timestamp;
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
    throw invalidEventTime(where, timestamp.seconds, nanos);
  }
  return microsFromTimestamp(seconds, nanos);
}

/** Whole-key rules: Cassandra's size limit, and no empty single-column key. */
function checkKey(view: FeatureViewDef, key: readonly StoredScalar[], where: string): void {
  const keyBytes = partitionKeyBytes(key);
  if (keyBytes > MAX_PARTITION_KEY_BYTES) {
    throw invalidEntityKey(
      `${where}.entity_keys`,
      `the key is ${keyBytes} bytes; Cassandra allows ${MAX_PARTITION_KEY_BYTES}`,
    );
  }
  if (isUnstorableKey(key)) {
    throw invalidEntityKey(keyWhere(where, view.entities[0]!.joinKey), 'an entity key cannot be empty');
  }
}

/** The rules after the values: some feature given, the event time not too far ahead, expiry and ttl. */
function completeRow(
  view: FeatureViewDef,
  key: StoredScalar[],
  features: FeatureWrite[],
  given: number,
  eventMicros: number,
  where: string,
  nowMillis: number,
  policy: WritePolicy,
): ValidatedRow {
  if (given === 0) {
    throw invalidArgument(`${where}.features: give at least one feature`, 'CST_ERR_INVALID_ARGUMENT', {
      field: `${where}.features`,
    });
  }
  const eventMillis = eventMicros / 1000;
  if (eventMillis - nowMillis > policy.maxFutureSkewMs) {
    const field = `${where}.event_timestamp`;
    throw invalidArgument(
      `${field}: ${new Date(eventMillis).toISOString()} is more than ${policy.maxFutureSkewMs} ms in the future`,
      'CST_ERR_INVALID_EVENT_TIME',
      { field },
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

/**
 * The gRPC door: validates one incoming row against its view and converts every value to its
 * stored form. A row without an event time takes the server's clock. Throws INVALID_ARGUMENT
 * (with a specific code) naming `where` and the offending field.
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
    if (value === undefined) throw missingJoinKey(where, entity.joinKey);
    key[i] = decodeEntityKey(entity.type, value, keyWhere(where, entity.joinKey));
  }
  checkKey(view, key, where);
  for (const name of Object.keys(entityKeys)) {
    if (!view.entities.some((e) => e.joinKey === name)) {
      throw invalidArgument(
        `${where}.entity_keys: ${quoteInput(name)} is not a join key of feature view "${view.name}"`,
        'CST_ERR_UNKNOWN_JOIN_KEY',
        { field: `${where}.entity_keys` },
      );
    }
  }

  const features = new Array<FeatureWrite>(view.features.length).fill(undefined);
  let given = 0;
  for (const [name, value] of Object.entries(row.features ?? {})) {
    const index = view.featureIndex.get(name);
    if (index === undefined) {
      throw invalidArgument(
        `${where}.features: feature view "${view.name}" has no feature ${quoteInput(name)}`,
        'CST_ERR_UNKNOWN_FEATURE',
        { field: `${where}.features` },
      );
    }
    const field = `${where}.features["${name}"]`;
    // Before the elements are decoded: a long list costs its decoding too.
    const length = listLength(value);
    if (length > policy.maxListLength) throw listTooLong(field, length, policy);
    features[index] = decodeValue(view.features[index]!.type, value, field);
    given++;
  }

  return completeRow(view, key, features, given, eventTimeFromTimestamp(row, where), where, nowMillis, policy);
}

/**
 * The file door: validates a record whose values the codecs already converted (so nothing here
 * converts a value), by the same rules as validateRow: every join key given and storable, some
 * feature given, the event time in range and not too far ahead, expiry and ttl.
 */
export function validateRecord(
  view: FeatureViewDef,
  record: RecordRow,
  where: string,
  nowMillis: number,
  policy: WritePolicy,
): ValidatedRow {
  const { entities } = view;
  const key = new Array<StoredScalar>(entities.length);
  for (let i = 0; i < entities.length; i++) {
    const part = record.key[i];
    if (part === undefined) throw missingJoinKey(where, entities[i]!.joinKey);
    if (!isStorableKeyPart(part)) throw invalidEntityKey(keyWhere(where, entities[i]!.joinKey), keyPartProblem(part));
    key[i] = part;
  }
  checkKey(view, key, where);

  const { features } = record;
  let given = 0;
  for (let i = 0; i < features.length; i++) {
    const value = features[i];
    if (value === undefined) continue;
    given++;
    if (Array.isArray(value) && value.length > policy.maxListLength) {
      throw listTooLong(`${where}.features["${view.features[i]!.name}"]`, value.length, policy);
    }
  }

  const micros = record.eventTimeMicros;
  if (micros < 0n || micros >= EVENT_MICROS_END) {
    const { seconds, nanos } = timestampFromMicros(micros);
    throw invalidEventTime(where, seconds, nanos);
  }
  return completeRow(view, key, features, given, Number(micros), where, nowMillis, policy);
}

/**
 * A validated row as a request row, for a sink that sends rows on to a server: the stored values
 * encoded by their codecs, and the event time it was validated with, explicitly.
 */
export function featureRowOf(view: FeatureViewDef, row: WriteRow): FeatureRow {
  const entityKeys: Record<string, Value> = {};
  for (let i = 0; i < view.entities.length; i++) {
    const entity = view.entities[i]!;
    entityKeys[entity.joinKey] = scalarCodecOf(entity.type).encode(row.key[i]!);
  }
  const features: Record<string, Value> = {};
  for (let i = 0; i < view.features.length; i++) {
    const value = row.features[i];
    if (value === undefined) continue;
    const feature = view.features[i]!;
    features[feature.name] = value === null ? NULL_VALUE : codecOf(feature.type).encode(value);
  }
  return {
    entity_keys: entityKeys,
    features,
    event_timestamp: timestampFromMicros(row.eventTimeMicros.toNumber()),
  };
}

const NULL_VALUE: Value = { null_val: 'NULL' };
