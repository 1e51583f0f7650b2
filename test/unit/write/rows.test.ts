import type { MethodDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';

import { loadCassetteProtos } from '../../../src/api/proto.js';
import { CassetteError } from '../../../src/errors/index.js';
import type { FeatureRow__Output } from '../../../src/generated/cassette/v1/FeatureRow.js';
import type { WriteFeaturesRequest } from '../../../src/generated/cassette/v1/WriteFeaturesRequest.js';
import type { WriteFeaturesRequest__Output } from '../../../src/generated/cassette/v1/WriteFeaturesRequest.js';
import { parseRegistry } from '../../../src/registry/index.js';
import { scalarCodecOf, storedFromJson } from '../../../src/values/index.js';
import {
  featureRowOf,
  newRecordRow,
  validateRecord,
  validateRow,
  type RecordRow,
  type ValidatedRow,
} from '../../../src/write/index.js';

const REGISTRY = parseRegistry(`
project: unit
entities:
  - { name: user, join_key: user_id, type: int64 }
  - { name: shop, join_key: shop_id, type: string }
feature_views:
  - name: every_type
    entities: [user, shop]
    ttl: 1d
    features:
      - { name: i32, type: int32 }
      - { name: i64, type: int64 }
      - { name: f32, type: float }
      - { name: f64, type: double }
      - { name: text, type: string }
      - { name: blob, type: bytes }
      - { name: flag, type: bool }
      - { name: time, type: unix_timestamp }
      - { name: i64s, type: int64_list }
      - { name: times, type: unix_timestamp_list }
      - { name: cleared, type: string }
      - { name: untouched, type: double }
  - name: by_shop
    entities: [shop]
    features:
      - { name: n, type: int32 }
`);
const VIEW = REGISTRY.featureViews.get('every_type')!;
const BY_SHOP = REGISTRY.featureViews.get('by_shop')!;

const NOW = Date.UTC(2026, 0, 1, 12);
const POLICY = { maxFutureSkewMs: 60_000, expiryGraceSeconds: 0, maxListLength: 65_536 };
const NOW_MICROS = BigInt(NOW) * 1000n;

/** What a WriteFeatures request becomes on its way to the server: protobufjs bytes, decoded as the server decodes them. */
const writeFeatures = loadCassetteProtos()['cassette.v1.FeatureIngestion'] as unknown as Record<
  string,
  MethodDefinition<WriteFeaturesRequest, unknown, WriteFeaturesRequest__Output>
>;
function overTheWire(request: WriteFeaturesRequest): WriteFeaturesRequest__Output {
  const method = writeFeatures['WriteFeatures']!;
  return method.requestDeserialize(method.requestSerialize(request));
}

/** A record as a JSON Lines file would give it: every value through the codecs' JSON door. */
function record(view = VIEW, json: Record<string, unknown> = {}, micros = NOW_MICROS - 5_000_123n): RecordRow {
  const row = newRecordRow(view, micros);
  view.entities.forEach((entity, i) => {
    const value = json[entity.joinKey];
    if (value !== undefined) row.key[i] = value === null ? null : scalarCodecOf(entity.type).fromJsonValue(value, 'k');
  });
  view.features.forEach((feature, i) => {
    if (feature.name in json) row.features[i] = storedFromJson(feature.type, json[feature.name], feature.name);
  });
  return row;
}

const EVERY_TYPE = {
  user_id: '-9223372036854775808',
  shop_id: 'ü',
  i32: -7,
  i64: '9223372036854775807',
  f32: 1.5,
  f64: 0.1,
  text: 'héllo',
  blob: 'AAH/',
  flag: true,
  time: '1969-12-31T23:59:59Z',
  i64s: ['1', 9007199254740991],
  times: [0, '2026-01-01T00:00:00Z'],
  cleared: null,
};

function written(validated: ValidatedRow) {
  if (validated.kind !== 'write') throw new Error('expected a row to write');
  return validated.row;
}

function failure(validate: () => unknown): { message: string; code: string } {
  try {
    validate();
  } catch (error) {
    expect(error).toBeInstanceOf(CassetteError);
    const { message, code } = error as CassetteError;
    return { message, code };
  }
  throw new Error('expected the row to be refused');
}

describe('validateRecord and validateRow: two doors, one set of rules', () => {
  it('the row a server validates from featureRowOf is the row the job validated, event time included', () => {
    const local = written(validateRecord(VIEW, record(VIEW, EVERY_TYPE), 'row', NOW, POLICY));
    expect(local.features[VIEW.featureIndex.get('cleared')!]).toBeNull();
    expect(local.features[VIEW.featureIndex.get('untouched')!]).toBeUndefined();
    const [sent] = overTheWire({ feature_view: VIEW.name, rows: [featureRowOf(VIEW, local)] }).rows;
    const remote = written(validateRow(VIEW, sent!, 'row', NOW, POLICY));
    expect(remote).toEqual(local);
    expect(remote.eventTimeMicros.toString()).toBe(String(NOW_MICROS - 5_000_123n));
  });

  const row = (entity_keys: FeatureRow__Output['entity_keys'], event?: FeatureRow__Output['event_timestamp']) => ({
    entity_keys,
    features: { i32: { val: 'int32_val' as const, int32_val: 1 } },
    event_timestamp: event ?? { seconds: String(NOW / 1000 - 5), nanos: 0 },
  });
  const keys = {
    user_id: { val: 'int64_val' as const, int64_val: '1' },
    shop_id: { val: 'string_val' as const, string_val: 's' },
  };
  const ok = { user_id: 1, shop_id: 's', i32: 1 };

  it.each([
    ['a missing join key', record(VIEW, { user_id: 1, i32: 1 }), row({ user_id: keys.user_id })],
    [
      'a null join key',
      record(VIEW, { ...ok, user_id: null }),
      row({ ...keys, user_id: { val: 'null_val', null_val: 'NULL' } }),
    ],
    [
      'a join key longer than Cassandra allows',
      record(VIEW, { ...ok, shop_id: 'x'.repeat(65_536) }),
      row({ ...keys, shop_id: { val: 'string_val', string_val: 'x'.repeat(65_536) } }),
    ],
    [
      'an empty single-column key',
      record(BY_SHOP, { shop_id: '', n: 1 }),
      {
        ...row({ shop_id: { val: 'string_val', string_val: '' } }),
        features: { n: { val: 'int32_val', int32_val: 1 } },
      },
    ],
    ['no feature', record(VIEW, { user_id: 1, shop_id: 's' }), { ...row(keys), features: {} }],
    ['an event time before 1970', record(VIEW, ok, -1n), row(keys, { seconds: '-1', nanos: 999_999_000 })],
    [
      'an event time too far ahead',
      record(VIEW, ok, NOW_MICROS + 60_001_000n),
      row(keys, { seconds: String(NOW / 1000 + 60), nanos: 1_000_000 }),
    ],
  ] as [string, RecordRow, FeatureRow__Output][])('refuses %s alike', (_case, fromFile, fromClient) => {
    const view = fromFile.key.length === 1 ? BY_SHOP : VIEW;
    const fileError = failure(() => validateRecord(view, fromFile, 'row', NOW, POLICY));
    expect(fileError).toEqual(failure(() => validateRow(view, fromClient, 'row', NOW, POLICY)));
  });

  it('refuses a list longer than ingest.maxListLength at either door, naming the field and the limit', () => {
    const policy = { ...POLICY, maxListLength: 3 };
    const longList = record(VIEW, { ...ok, i64s: [1, 2, 3, 4] });
    const longFromClient = {
      ...row(keys),
      features: { i64s: { val: 'int64_list_val' as const, int64_list_val: { val: ['1', '2', '3', '4'] } } },
    };
    const fileError = failure(() => validateRecord(VIEW, longList, 'row', NOW, policy));
    expect(fileError).toEqual({
      code: 'CST_ERR_LIST_TOO_LONG',
      message: 'row.features["i64s"]: the list holds 4 elements; at most 3 are allowed (ingest.maxListLength)',
    });
    expect(failure(() => validateRow(VIEW, longFromClient, 'row', NOW, policy))).toEqual(fileError);
    let refused: unknown;
    try {
      validateRow(VIEW, longFromClient, 'row', NOW, policy);
    } catch (error) {
      refused = error;
    }
    expect((refused as CassetteError).metadata).toEqual({
      field: 'row.features["i64s"]',
      limit: 'ingest.maxListLength',
      value: '3',
    });
    // At the limit, both doors take it.
    const atLimit = record(VIEW, { ...ok, i64s: [1, 2, 3] });
    expect(validateRecord(VIEW, atLimit, 'row', NOW, policy).kind).toBe('write');
    const [sent] = overTheWire({
      feature_view: VIEW.name,
      rows: [featureRowOf(VIEW, written(validateRecord(VIEW, atLimit, 'row', NOW, policy)))],
    }).rows;
    expect(validateRow(VIEW, sent!, 'row', NOW, policy).kind).toBe('write');
  });

  it('drops a row already past its ttl at either door', () => {
    const dayAgo = NOW_MICROS - 86_401_000_000n;
    expect(validateRecord(VIEW, record(VIEW, ok, dayAgo), 'row', NOW, POLICY)).toEqual({ kind: 'expired' });
    const old = row(keys, { seconds: String(NOW / 1000 - 86_401), nanos: 0 });
    expect(validateRow(VIEW, old, 'row', NOW, POLICY)).toEqual({ kind: 'expired' });
  });
});
