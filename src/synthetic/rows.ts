import {
  elementType,
  isListType,
  type EntityKeyType,
  type FeatureViewDef,
  type ScalarType,
  type ValueType,
} from '../registry/index.js';
import type { Random } from './random.js';

/** A generated value, format-neutral: int64 as bigint, bytes as Buffer, unix_timestamp as seconds. */
export type SyntheticScalar = number | bigint | string | Buffer | boolean;
export type SyntheticValue = SyntheticScalar | SyntheticScalar[];

/** How a bad row is bad (each format writes the ones it can express). */
export type BadKind = 'wrong-type' | 'missing-key' | 'bad-event-time' | 'unparsable';

export interface SyntheticRow {
  readonly key: SyntheticScalar[];
  /** One per view feature; undefined = not given (sparse). */
  readonly features: (SyntheticValue | undefined)[];
  readonly eventMicros: bigint;
  readonly bad?: BadKind;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'sports', 'books', 'music', 'garden', 'travel', 'food'];
/** Strings that exercise encodings: delimiters, quotes, line breaks, non-ASCII, look-alikes of markers. */
const AWKWARD = [
  'a,b',
  'say "hi"',
  'two\nlines',
  'crlf\r\nline',
  'café',
  '日本語',
  '😀 emoji',
  '',
  ' padded ',
  '\\N',
  'null',
  '[1,2]',
];

export interface RowShape {
  readonly view: FeatureViewDef;
  /** Distinct entities; row i uses entity i when 0. */
  readonly entities: number;
  /** Event times fall in (anchor - window, anchor]. */
  readonly anchorMicros: bigint;
  readonly windowMicros: bigint;
  readonly badFraction: number;
  /** Share of features left out of a row. */
  readonly sparseFraction: number;
}

/** The event-time window: inside the view's ttl (so rows are not expired on arrival), at most a week. */
export function eventWindowMicros(view: FeatureViewDef): bigint {
  const week = 7 * 86_400;
  const seconds = view.ttlSeconds > 0 ? Math.min(week, Math.floor(view.ttlSeconds * 0.8)) : week;
  return BigInt(Math.max(1, seconds)) * 1_000_000n;
}

/** Entity `index`'s key part, per join key type. */
const KEY_PART: { [K in EntityKeyType]: (index: number, joinKey: string) => SyntheticScalar } = {
  int32: (index) => 1 + index,
  int64: (index) => 10_000_000_000n + BigInt(index),
  string: (index, joinKey) => `${joinKey}_${index}`,
  bytes: (index) => {
    const out = Buffer.alloc(8);
    out.writeBigUInt64BE(BigInt(index));
    return out;
  },
};

/** A random value per scalar type; `edge` (drawn for every type, so the sequence is fixed) asks for an extreme. */
const SCALAR: { [S in ScalarType]: (random: Random, edge: boolean, anchorSeconds: number) => SyntheticScalar } = {
  int32: (random, edge) => (edge ? random.pick([INT32_MIN, INT32_MAX, 0, -1]) : random.int(0, 5000)),
  int64: (random, edge) =>
    edge
      ? random.pick([INT64_MIN, INT64_MAX, 0n, -1n])
      : BigInt(random.int(0, 2 ** 30)) * BigInt(random.int(1, 2 ** 22)),
  float: (random) => random.int(-100000, 100000) / 100,
  double: (random, edge) => (edge ? random.pick([0, -0.5, 1e300, 5e-324]) : random.int(-(10 ** 9), 10 ** 9) / 1000),
  string: (random) => (random.chance(0.05) ? random.pick(AWKWARD) : `${random.pick(WORDS)}_${random.int(0, 999)}`),
  bytes: (random) => random.bytes(random.int(1, 16)),
  bool: (random) => random.chance(0.5),
  unix_timestamp: (random, _edge, anchorSeconds) => anchorSeconds - random.int(0, 400 * 86_400),
};

function scalar(type: ScalarType, random: Random, anchorSeconds: number): SyntheticScalar {
  const edge = random.chance(0.01);
  return SCALAR[type](random, edge, anchorSeconds);
}

function value(type: ValueType, random: Random, anchorSeconds: number): SyntheticValue {
  if (!isListType(type)) return scalar(type, random, anchorSeconds);
  const element = elementType(type);
  // Embeddings have a fixed size; other lists vary, empty included.
  const length = element === 'float' ? 16 : random.int(0, 5);
  return Array.from({ length }, () => scalar(element, random, anchorSeconds));
}

const BAD_KINDS: readonly BadKind[] = ['wrong-type', 'missing-key', 'bad-event-time', 'unparsable'];

/** Row `index` of a synthetic data set; consumes `random` in a fixed order, so output is reproducible. */
export function syntheticRow(shape: RowShape, index: number, random: Random): SyntheticRow {
  const { view } = shape;
  const entity = shape.entities > 0 ? random.int(0, shape.entities - 1) : index;
  const key = view.entities.map((e) => KEY_PART[e.type](entity, e.joinKey));
  const anchorSeconds = Number(shape.anchorMicros / 1_000_000n);
  const features: (SyntheticValue | undefined)[] = view.features.map((f) => value(f.type, random, anchorSeconds));
  if (features.length > 1) {
    for (let i = 0; i < features.length; i++) if (random.chance(shape.sparseFraction)) features[i] = undefined;
    if (!features.some((f) => f !== undefined)) features[0] = value(view.features[0]!.type, random, anchorSeconds);
  }
  const eventMicros = shape.anchorMicros - BigInt(Math.floor(random.next() * Number(shape.windowMicros)));
  const bad = random.chance(shape.badFraction) ? random.pick(BAD_KINDS) : undefined;
  return { key, features, eventMicros, ...(bad ? { bad } : {}) };
}
