'use strict';
// Issue 16, item 5 (bench/README.md, "Decoding result frames without driver rows"): decoding one
// Cassette read result (RESULT/ROWS, protocol v4, one row of 100 cells: 50 feature values and 50
// WRITETIME bigints) with cassandra-driver 4.10.0's own Parser path, against a hand decoder that
// never builds Row objects or Buffer slices.
// Usage: node bench/driver-decoding.cjs [--rounds 7] [--iters 40000] [--alloc] [--check-shape]
const path = require('node:path');
const assert = require('node:assert');
// The driver's internals, as its own Parser uses them (pinned: cassandra-driver 4.10.0).
const DRIVER = path.join(path.dirname(require.resolve('cassandra-driver')), 'lib');
const types = require(path.join(DRIVER, 'types'));
const Encoder = require(path.join(DRIVER, 'encoder.js'));
const { Parser } = require(path.join(DRIVER, 'streams.js'));
const { FrameReader } = require(path.join(DRIVER, 'readers.js'));
const { Long, dataTypes } = types;

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const ROUNDS = arg('--rounds', 7);
const ITERS = arg('--iters', 40000);

// ---- The synthetic result: bench/lib/dataset.ts's `wide` view, the b100 f50 projection -------
// Features f00..f48 (int64, double, string, bool in turn) and the 32-float embedding (index 50).
const SCALARS = ['int64', 'double', 'string', 'bool'];
const VIEW_FEATURES = [...Array.from({ length: 50 }, (_, i) => SCALARS[i % 4]), 'float_list'];
const featureIndexes = Int32Array.from([...Array.from({ length: 49 }, (_, i) => i), 50]);
const valueColumns = Array.from(featureIndexes, (i) => `v${i}`);
const writeTimeColumns = Array.from(featureIndexes, (i) => `w${i}`);
const CODE = { int64: dataTypes.bigint, double: dataTypes.double, string: dataTypes.varchar, bool: dataTypes.boolean };

class W {
  constructor() {
    this.b = Buffer.alloc(1 << 16);
    this.o = 0;
  }
  int(v) {
    this.o = this.b.writeInt32BE(v, this.o);
  }
  short(v) {
    this.o = this.b.writeUInt16BE(v, this.o);
  }
  str(s) {
    const n = Buffer.byteLength(s);
    this.short(n);
    this.o += this.b.write(s, this.o);
  }
  bytes(buf) {
    if (buf === null) return this.int(-1);
    this.int(buf.length);
    this.o += buf.copy(this.b, this.o);
  }
  done() {
    return Buffer.from(this.b.subarray(0, this.o));
  }
}
function cell(type, f) {
  const b = Buffer.alloc(8);
  switch (type) {
    case 'int64':
      b.writeInt32BE(0x7abc0000 ^ (f * 7919), 0);
      b.writeInt32BE(-123456789 + f, 4);
      return b;
    case 'double':
      b.writeDoubleBE(f * 12.345 - 400.5);
      return b;
    case 'string':
      return Buffer.from(`s-${(1e9 + f * 98765).toString(36)}-${(f % 97).toString(36)}`);
    case 'bool':
      return Buffer.from([f & 1]);
    case 'float_list': {
      const w = new W();
      w.int(32);
      for (let i = 0; i < 32; i++) {
        const e = Buffer.alloc(4);
        e.writeFloatBE(i / 64 - 0.25);
        w.bytes(e);
      }
      return w.done();
    }
  }
}
function writeTime(f) {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(1718000000000000n + BigInt(f));
  return b;
}

function buildBody() {
  const w = new W();
  w.int(types.resultKind.rows);
  w.int(0x0001); // flags: global_tables_spec (what Cassandra sends for a single-table SELECT)
  w.int(featureIndexes.length * 2);
  w.str('bench');
  w.str('wide');
  for (let i = 0; i < featureIndexes.length; i++) {
    const type = VIEW_FEATURES[featureIndexes[i]];
    w.str(valueColumns[i]);
    if (type === 'float_list') {
      w.short(dataTypes.list);
      w.short(dataTypes.float);
    } else w.short(CODE[type]);
    w.str(writeTimeColumns[i]);
    w.short(dataTypes.bigint);
  }
  w.int(1); // rows_count
  for (let i = 0; i < featureIndexes.length; i++) {
    const f = featureIndexes[i];
    w.bytes(cell(VIEW_FEATURES[f], f));
    w.bytes(writeTime(f));
  }
  return w.done();
}
const body = buildBody();
const header = new types.FrameHeader(4, 0, 1, types.opcodes.result, body.length);

// ---- (a) The driver: Parser.frameState + parseBody as Parser._transform does, rows array as
// ResultEmitter.bufferAndEmit does; encoder with the driver's default encoding options. ------
const encoder = new Encoder(4, { encoding: { copyBuffer: true, useUndefinedAsUnset: true } });
const parser = new Parser({ objectMode: true }, encoder);
let pushed;
parser.push = (item) => {
  pushed = item;
  return true;
};
function driverDecode() {
  const item = { header, chunk: body, offset: 0, frameEnded: true };
  const frameInfo = parser.frameState(item);
  parser.parseBody(frameInfo, item);
  if (pushed.error) throw pushed.error;
  return { rows: [pushed.row], meta: pushed.meta, flags: pushed.flags };
}
// (a2) ...then CassandraStore.read()'s loop (src/store/cassandra-store.ts:184-197).
function driverPlusCassette() {
  const row = driverDecode().rows[0];
  const values = new Array(VIEW_FEATURES.length);
  const writeTimesMicros = new Float64Array(VIEW_FEATURES.length);
  for (let i = 0; i < featureIndexes.length; i++) {
    const index = featureIndexes[i];
    const value = row[valueColumns[i]];
    const wt = row[writeTimeColumns[i]];
    values[index] = value ?? null;
    writeTimesMicros[index] = wt == null ? Number.NaN : wt.toNumber();
  }
  return { values, writeTimesMicros };
}
// (a0) Only the driver's per-response metadata parse (readers.js readMetadata).
function driverMetaOnly() {
  const r = new FrameReader(header, body, 0);
  r.readInt();
  return r.readMetadata(types.resultKind.rows);
}

// ---- (b) Hand decoder: body bytes -> Cassette's StoredRow, no Row, no slices, no writetime Long.
// The plan is what Cassette knows from its ReadStatement: per selected column, the type code.
const K_INT64 = 1,
  K_DOUBLE = 2,
  K_STRING = 3,
  K_BOOL = 4,
  K_FLOATS = 5;
const KIND = { int64: K_INT64, double: K_DOUBLE, string: K_STRING, bool: K_BOOL, float_list: K_FLOATS };
const planKinds = Int8Array.from(featureIndexes, (f) => KIND[VIEW_FEATURES[f]]);
const planCodes = Int32Array.from(featureIndexes, (f) =>
  VIEW_FEATURES[f] === 'float_list' ? dataTypes.list : CODE[VIEW_FEATURES[f]],
);

/** Walks the metadata without allocating, checking column count and type codes against the plan. */
function skipMetadata(buf, o) {
  const flags = buf.readInt32BE(o);
  const count = buf.readInt32BE(o + 4);
  o += 8;
  if (count !== planKinds.length * 2) throw new Error('result metadata does not match the statement');
  if (flags & 0x0002) {
    const n = buf.readInt32BE(o);
    o += 4 + (n > 0 ? n : 0);
  } // paging state
  if (flags & 0x0004) return o; // no_metadata (only with skip_metadata requests)
  const global = (flags & 0x0001) !== 0;
  if (global) {
    o += 2 + buf.readUInt16BE(o);
    o += 2 + buf.readUInt16BE(o);
  }
  for (let i = 0; i < count; i++) {
    if (!global) {
      o += 2 + buf.readUInt16BE(o);
      o += 2 + buf.readUInt16BE(o);
    }
    o += 2 + buf.readUInt16BE(o); // column name (positions, not names, identify columns)
    const code = buf.readUInt16BE(o);
    o += 2;
    const expected = (i & 1) === 0 ? planCodes[i >> 1] : dataTypes.bigint;
    if (code !== expected && !(expected === dataTypes.varchar && code === dataTypes.text)) {
      throw new Error('result metadata does not match the statement');
    }
    if (code === dataTypes.list) {
      if (buf.readUInt16BE(o) !== dataTypes.float) throw new Error('list type');
      o += 2;
    }
  }
  return o;
}

function decodeCells(buf, o) {
  const rowCount = buf.readInt32BE(o);
  o += 4;
  if (rowCount === 0) return null;
  const values = new Array(VIEW_FEATURES.length);
  const writeTimesMicros = new Float64Array(VIEW_FEATURES.length);
  for (let i = 0; i < planKinds.length; i++) {
    const index = featureIndexes[i];
    let len = buf.readInt32BE(o);
    o += 4;
    let value = null;
    if (len > 0 || (len === 0 && planKinds[i] === K_STRING)) {
      switch (planKinds[i]) {
        case K_INT64:
          value = new Long(buf.readInt32BE(o + 4), buf.readInt32BE(o));
          break;
        case K_DOUBLE:
          value = buf.readDoubleBE(o);
          break;
        case K_STRING:
          value = buf.toString('utf8', o, o + len);
          break;
        case K_BOOL:
          value = buf[o] !== 0;
          break;
        case K_FLOATS: {
          const n = buf.readInt32BE(o);
          let p = o + 4;
          value = new Array(n);
          for (let j = 0; j < n; j++) {
            const el = buf.readInt32BE(p);
            p += 4;
            value[j] = el > 0 ? buf.readFloatBE(p) : null;
            if (el > 0) p += el;
          }
          break;
        }
      }
      o += len;
    }
    values[index] = value;
    len = buf.readInt32BE(o);
    o += 4;
    writeTimesMicros[index] = len === 8 ? buf.readInt32BE(o) * 4294967296 + buf.readUInt32BE(o + 4) : Number.NaN;
    if (len > 0) o += len;
  }
  return { values, writeTimesMicros };
}
// (b1) everything by hand: kind, metadata walk, cells
function handDecode() {
  let o = 0;
  if (body.readInt32BE(o) !== types.resultKind.rows) throw new Error('not rows');
  o = skipMetadata(body, o + 4);
  return decodeCells(body, o);
}
// (b2) the driver's readMetadata kept (as a minimal Parser patch would), cells by hand
function driverMetaHandCells() {
  const r = new FrameReader(header, body, 0);
  r.readInt();
  const meta = r.readMetadata(types.resultKind.rows);
  const row = decodeCells(body, r.offset);
  return { meta, row };
}

// ---- Same values out of (a2) and (b1)? ----------------------------------------------------
{
  const a = driverPlusCassette(),
    b = handDecode(),
    c = driverMetaHandCells().row;
  for (const x of [b, c]) {
    assert.deepStrictEqual(Array.from(x.writeTimesMicros), Array.from(a.writeTimesMicros));
    for (let i = 0; i < a.values.length; i++) {
      const va = a.values[i],
        vb = x.values[i];
      if (va instanceof Long) assert.ok(vb instanceof Long && va.equals(vb), `value ${i}`);
      else assert.deepStrictEqual(vb, va === undefined ? undefined : va, `value ${i}`);
    }
  }
}

if (process.argv.includes('--check-shape')) {
  // Run with --allow-natives-syntax: is the driver's 100-column Row a dictionary-mode object?
  const row = driverDecode().rows[0];
  console.log('Row has fast properties:', eval('%HasFastProperties(row)'), 'own keys:', Object.keys(row).length);
  process.exit(0);
}

const variants = [
  ['a0 driver readMetadata only', driverMetaOnly],
  ['a1 driver Parser.parseBody (Row built)', driverDecode],
  ['a2 a1 + CassandraStore.read loop', driverPlusCassette],
  ['b2 driver readMetadata + hand cells', driverMetaHandCells],
  ['b1 hand decoder (metadata walk + cells)', handDecode],
];

if (process.argv.includes('--alloc')) {
  // Run with --expose-gc --max-semi-space-size=256: heap growth over N decodes with no GC between.
  // Nothing is kept, so with no scavenge during the N calls the growth is what they allocated.
  const N = 2000;
  for (const [name, fn] of variants) {
    for (let i = 0; i < 2000; i++) fn();
    global.gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) fn();
    const after = process.memoryUsage().heapUsed;
    console.log(`${name.padEnd(42)} ~${Math.round((after - before) / N)} B allocated per row`);
  }
  process.exit(0);
}

let sink = 0;
for (const [, fn] of variants) for (let i = 0; i < 20000; i++) sink += fn() ? 1 : 0; // warm-up
// Wall time and process CPU time (user+system, all threads: GC helpers included) per round. The
// machine this ran on was shared with a benchmark, so CPU time is the steadier of the two.
const results = variants.map(() => []);
const cpuResults = variants.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  variants.forEach(([, fn], v) => {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITERS; i++) sink += fn() ? 1 : 0;
    results[v].push(Number(process.hrtime.bigint() - t0) / ITERS);
    const c = process.cpuUsage(c0);
    cpuResults[v].push(((c.user + c.system) * 1000) / ITERS);
  });
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1];
};
console.log(
  `node ${process.version}, body ${body.length} B, ${featureIndexes.length * 2} cells/row, ${ROUNDS} rounds x ${ITERS} iterations (interleaved)`,
);
variants.forEach(([name], v) => {
  const xs = results[v],
    cs = cpuResults[v];
  console.log(
    `${name.padEnd(42)} CPU median ${median(cs).toFixed(0).padStart(6)} ns/row (min ${Math.min(...cs).toFixed(0)}, max ${Math.max(...cs).toFixed(0)})   wall median ${median(xs).toFixed(0).padStart(6)} (min ${Math.min(...xs).toFixed(0)})`,
  );
});
if (sink === 42) console.log('');
