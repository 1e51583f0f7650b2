import { ARROW_BOOL, arrowInt, arrowTimestamp, BatchBody, LITTLE_ENDIAN, type ArrowType } from '../values/arrow.js';
import { fbTable, finishFlatBuffer, type FbObject, type FbTable } from '../values/flatbuffer.js';
import { codecOf, scalarCodecOf, type StoredScalar, type StoredValue } from '../values/index.js';
import { LEN, tag, varintSize, WireWriter } from '../values/protobuf.js';
import type { LookupPlan, PlannedKeyColumn } from './plan.js';
import { presentStatus, STATUS } from './status.js';
import type { RowFreshness, ServedRow } from './wire.js';

/**
 * The GetOnlineFeaturesArrow response (cassette.v1.ArrowFeatures) written straight from stored
 * rows: an Arrow IPC stream of a Schema message, one RecordBatch and the end-of-stream marker,
 * inside the message's one bytes field. Columns are laid out as serving.proto documents them.
 *
 * Like wire.ts, nothing is built per cell: each column is measured, then written into one
 * zero-filled buffer of the exact size, by its type's codec (the `arrow` door in
 * src/values/codecs.ts); a column's values are handed over in one reused array.
 */

/** Options of the response beyond the plan. */
export interface ArrowResponseOptions {
  /** Join keys answered as columns ahead of the features. */
  readonly keyColumns: readonly PlannedKeyColumn[];
  /** One event-time column per entity row instead of one per feature. */
  readonly rowEventTimes: boolean;
  readonly freshness?: RowFreshness;
}

const STATUS_TYPE = arrowInt(8, false);
const EVENT_TIME_TYPE = arrowTimestamp(2);
const AGE_TYPE = arrowInt(64, true);

// Arrow's Message table (Message.fbs): MetadataVersion V5; MessageHeader members.
const METADATA_V5 = 4;
const HEADER_SCHEMA = 1;
const HEADER_RECORD_BATCH = 3;
const CONTINUATION = 0xffffffff;

/** Readers require a field's children vector even when it is empty; one serves every field. */
const NO_CHILDREN: FbObject = { t: 'tables', items: [] };

function field(name: string, nullable: boolean, type: ArrowType): FbTable {
  const element = type.element;
  return fbTable(
    { slot: 0, kind: 'offset', child: { t: 'string', value: name } },
    { slot: 1, kind: 'u8', value: nullable ? 1 : 0 },
    { slot: 2, kind: 'u8', value: type.typeId },
    // Type tables are the codecs' own objects, each written once per schema.
    { slot: 3, kind: 'offset', child: type.table, shared: true },
    element
      ? { slot: 5, kind: 'offset', child: { t: 'tables', items: [field('item', true, element)] } }
      : { slot: 5, kind: 'offset', child: NO_CHILDREN, shared: true },
  );
}

function message(headerType: number, header: FbTable, bodyLength: number): Buffer {
  return finishFlatBuffer(
    fbTable(
      { slot: 0, kind: 'i16', value: METADATA_V5 },
      { slot: 1, kind: 'u8', value: headerType },
      { slot: 2, kind: 'offset', child: header },
      { slot: 3, kind: 'i64', value: bodyLength },
    ),
  );
}

/**
 * Schema messages by the columns they describe: a service's requests share a few layouts, and
 * the schema is the one part of the response that builds objects. Bounded; cleared when full.
 */
const schemaCache = new Map<string, Buffer>();
const SCHEMA_CACHE_LIMIT = 512;

function schemaMessage(plan: LookupPlan, options: ArrowResponseOptions): Buffer {
  let key = options.rowEventTimes ? 'r' : 'c';
  if (options.freshness) key += 'f';
  for (const column of options.keyColumns) key += `\u0000k${column.type}\u0000${column.name}`;
  for (const feature of plan.features) key += `\u0000${feature.type}\u0000${feature.name}`;
  const cached = schemaCache.get(key);
  if (cached) return cached;
  const fields: FbTable[] = [];
  for (const column of options.keyColumns)
    fields.push(field(column.name, false, scalarCodecOf(column.type).arrow.type));
  for (const feature of plan.features) {
    fields.push(field(feature.name, true, codecOf(feature.type).arrow.type));
    fields.push(field(`${feature.name}__status`, false, STATUS_TYPE));
    if (!options.rowEventTimes) fields.push(field(`${feature.name}__event_time`, true, EVENT_TIME_TYPE));
  }
  if (options.rowEventTimes) fields.push(field('event_time', true, EVENT_TIME_TYPE));
  if (options.freshness) {
    fields.push(field('from_cache', false, ARROW_BOOL));
    fields.push(field('age_ms', false, AGE_TYPE));
  }
  const schema = fbTable(
    { slot: 0, kind: 'i16', value: 0 },
    { slot: 1, kind: 'offset', child: { t: 'tables', items: fields } },
  );
  const bytes = message(HEADER_SCHEMA, schema, 0);
  if (schemaCache.size >= SCHEMA_CACHE_LIMIT) schemaCache.clear();
  schemaCache.set(key, bytes);
  return bytes;
}

// Module scratch, reused across responses (encoding is synchronous).
const body = new BatchBody();
/** One column's values, gathered from the rows (null = no value). */
const column: (StoredValue | null)[] = [];
/** The same array while it holds a join key's parts. */
const keyColumn = column as (StoredScalar | null)[];
/** Per cell (feature * batch + row): status, and event time in µs (NaN = none). */
let cellStatus = new Uint8Array(1024);
let cellTime = new Float64Array(1024);
let rowTime = new Float64Array(128);

function ensureScratch(cells: number, rows: number): void {
  if (cellStatus.length < cells) {
    const size = Math.max(cells, 2 * cellStatus.length);
    cellStatus = new Uint8Array(size);
    cellTime = new Float64Array(size);
  }
  if (rowTime.length < rows) rowTime = new Float64Array(Math.max(rows, 2 * rowTime.length));
}

function gatherKeys(plan: LookupPlan, key: PlannedKeyColumn): void {
  const lookup = plan.views[key.viewSlot]!;
  for (let r = 0; r < plan.batchSize; r++) column[r] = lookup.keys[lookup.rowToKey[r]!]![key.part]!;
}

/** Gathers feature `f`'s values into `column`; with `classify`, also its statuses and event times. */
function gatherFeature(
  plan: LookupPlan,
  rowsByView: readonly (readonly (ServedRow | null)[])[],
  f: number,
  nowMicros: number,
  classify: boolean,
): void {
  const { batchSize } = plan;
  const feature = plan.features[f]!;
  const lookup = plan.views[feature.viewSlot]!;
  const rows = rowsByView[feature.viewSlot]!;
  const index = feature.featureIndex;
  const ttlMicros = lookup.view.ttlSeconds * 1e6;
  const base = f * batchSize;
  for (let r = 0; r < batchSize; r++) {
    const row = rows[lookup.rowToKey[r]!];
    const value = row ? row.values[index] : null;
    if (value === null || value === undefined) {
      column[r] = null;
      if (classify) {
        cellStatus[base + r] = row ? STATUS.NULL_VALUE : STATUS.NOT_FOUND;
        cellTime[base + r] = Number.NaN;
      }
    } else {
      column[r] = value;
      if (classify) {
        const writtenAt = row!.writeTimesMicros[index]!;
        cellStatus[base + r] = presentStatus(writtenAt, ttlMicros, nowMicros);
        cellTime[base + r] = writtenAt;
      }
    }
  }
}

/** A timestamp[us] column of `times[start, start + length)`, NaN = null: measure. */
function measureTimes(times: Float64Array, start: number, length: number): void {
  let nulls = 0;
  for (let r = 0; r < length; r++) if (Number.isNaN(times[start + r]!)) nulls++;
  body.node(length, nulls);
  body.validity(length, nulls);
  body.buffer(8 * length);
}

function writeTimes(times: Float64Array, start: number, length: number): void {
  let nulls = 0;
  for (let r = 0; r < length; r++) if (Number.isNaN(times[start + r]!)) nulls++;
  const validityAt = body.nextBuffer();
  const dataAt = body.nextAligned();
  const out = body.out;
  for (let r = 0; r < length; r++) {
    const micros = times[start + r]!;
    if (Number.isNaN(micros)) continue;
    if (nulls > 0) out[validityAt + (r >> 3)]! |= 1 << (r & 7);
    body.int64(dataAt + 8 * r, micros);
  }
}

/** A non-null column of one byte per row (uint8 statuses): measure and write. */
function measureBytes(length: number): void {
  body.node(length, 0);
  body.validity(length, 0);
  body.buffer(length);
}

function writeBytes(bytes: Uint8Array, start: number, length: number): void {
  body.nextBuffer();
  const at = body.nextBuffer();
  body.out.set(bytes.subarray(start, start + length), at);
}

/** Per entity row, the newest event time of its features (NaN when none has one). */
function rowEventTimes(plan: LookupPlan): void {
  const { batchSize } = plan;
  rowTime.fill(Number.NaN, 0, batchSize);
  for (let f = 0; f < plan.features.length; f++) {
    const base = f * batchSize;
    for (let r = 0; r < batchSize; r++) {
      const micros = cellTime[base + r]!;
      // A row without a time yet (NaN) takes any; NaN compares false, so the times win.
      if (!Number.isNaN(micros) && !(micros <= rowTime[r]!)) rowTime[r] = micros;
    }
  }
}

function measureFreshness(batchSize: number): void {
  body.node(batchSize, 0);
  body.validity(batchSize, 0);
  body.buffer((batchSize + 7) >> 3);
  body.node(batchSize, 0);
  body.validity(batchSize, 0);
  body.buffer(8 * batchSize);
}

function writeFreshness(freshness: RowFreshness, batchSize: number): void {
  const out = body.out;
  body.nextBuffer();
  const bitsAt = body.nextBuffer();
  for (let r = 0; r < batchSize; r++) if (freshness.fromCache[r]) out[bitsAt + (r >> 3)]! |= 1 << (r & 7);
  body.nextBuffer();
  const agesAt = body.nextAligned();
  for (let r = 0; r < batchSize; r++) {
    const age = freshness.ageMs[r]!;
    body.int64(agesAt + 8 * r, age > 0 ? Math.round(age) : 0);
  }
}

/**
 * Encodes the ArrowFeatures message for `plan` from the rows read for it. Statuses are those of
 * GetOnlineFeatures (see presentStatus): a missing row NOT_FOUND, a null value NULL_VALUE, a value
 * older than its view's ttl OUTSIDE_MAX_AGE.
 */
export function encodeArrowResponse(
  plan: LookupPlan,
  rowsByView: readonly (readonly (ServedRow | null)[])[],
  nowMicros: number,
  options: ArrowResponseOptions,
): Buffer {
  const { batchSize, features } = plan;
  const { keyColumns, freshness } = options;
  if (!LITTLE_ENDIAN) throw new Error('the Arrow response is written little-endian, and this platform is not');
  ensureScratch(features.length * batchSize, batchSize);
  body.reset();

  // Pass 1: measure every column, in schema order.
  for (const key of keyColumns) {
    gatherKeys(plan, key);
    scalarCodecOf(key.type).arrow.measure(body, keyColumn, batchSize);
  }
  for (let f = 0; f < features.length; f++) {
    gatherFeature(plan, rowsByView, f, nowMicros, true);
    codecOf(features[f]!.type).arrow.measure(body, column, batchSize);
    measureBytes(batchSize);
    if (!options.rowEventTimes) measureTimes(cellTime, f * batchSize, batchSize);
  }
  if (options.rowEventTimes) {
    rowEventTimes(plan);
    measureTimes(rowTime, 0, batchSize);
  }
  if (freshness) measureFreshness(batchSize);

  const schema = schemaMessage(plan, options);
  const nodeCount = body.nodes.length / 2;
  const batch = message(
    HEADER_RECORD_BATCH,
    fbTable(
      { slot: 0, kind: 'i64', value: batchSize },
      { slot: 1, kind: 'offset', child: { t: 'pairs', values: body.nodes, count: nodeCount } },
      { slot: 2, kind: 'offset', child: { t: 'pairs', values: body.buffers, count: body.buffers.length / 2 } },
    ),
    body.size,
  );
  // The stream: each message is a continuation marker, its metadata length, metadata, body.
  const streamSize = 8 + schema.length + 8 + batch.length + body.size + 8;
  const prefix = 1 + varintSize(streamSize);
  // Zero-filled memory in which the stream (and so the body) starts 8-aligned: see BatchBody.
  const shift = (8 - (prefix % 8)) % 8;
  const out = Buffer.from(new ArrayBuffer(shift + prefix + streamSize), shift, prefix + streamSize);
  const prefixWriter = new WireWriter(out);
  prefixWriter.varint(tag(1, LEN));
  prefixWriter.varint(streamSize);
  let pos = writeMessage(out, prefixWriter.pos, schema);
  pos = writeMessage(out, pos, batch);

  // Pass 2: write the body.
  body.startWriting(out, pos);
  for (const key of keyColumns) {
    gatherKeys(plan, key);
    scalarCodecOf(key.type).arrow.write(body, keyColumn, batchSize);
  }
  for (let f = 0; f < features.length; f++) {
    gatherFeature(plan, rowsByView, f, nowMicros, false);
    codecOf(features[f]!.type).arrow.write(body, column, batchSize);
    writeBytes(cellStatus, f * batchSize, batchSize);
    if (!options.rowEventTimes) writeTimes(cellTime, f * batchSize, batchSize);
  }
  if (options.rowEventTimes) writeTimes(rowTime, 0, batchSize);
  if (freshness) writeFreshness(freshness, batchSize);
  pos += body.size;
  body.finishWriting();
  // End of stream: a continuation marker and a zero length.
  out.writeUInt32LE(CONTINUATION, pos);
  pos += 8;
  column.length = 0;
  if (pos !== out.length) throw new Error(`arrow encoder wrote ${pos} bytes of ${out.length} measured`);
  return out;
}

function writeMessage(out: Buffer, pos: number, metadata: Buffer): number {
  out.writeUInt32LE(CONTINUATION, pos);
  out.writeInt32LE(metadata.length, pos + 4);
  metadata.copy(out, pos + 8);
  return pos + 8 + metadata.length;
}
