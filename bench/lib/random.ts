/**
 * Deterministic randomness for the benchmark: a seeded generator for sequences (key mixes,
 * Poisson gaps) and a stateless hash for values that must be recomputable from (seed, entity,
 * feature) alone, so the loader, the load generator and `--verify` agree without sharing state.
 */

/** Mixes a 32-bit integer into a well-distributed 32-bit unsigned integer (a murmur3-style finalizer). */
export function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of several integers, order-sensitive. */
export function hash32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) h = mix32((h ^ mix32(part)) + 0x7f4a7c15);
  return h;
}

/** A seeded pseudo-random generator (mulberry32): fast, 32-bit state, good enough for load mixes. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = hash32(seed) | 0;
  }

  /** Uniform unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Exponentially distributed with the given mean (inter-arrival gaps of a Poisson process). */
  exponential(mean: number): number {
    // 1 - next() is in (0, 1], so the log is finite.
    return -Math.log(1 - this.next()) * mean;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Draws ranks 0..n-1 with P(rank k) proportional to 1 / (k+1)^s (Zipf), by binary search in a
 * precomputed CDF, and maps each rank to an item id through a fixed permutation, so the popular
 * ids are spread over the key space rather than being 0, 1, 2, …
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;
  private readonly stride: number;
  private readonly offset: number;

  constructor(
    readonly n: number,
    readonly exponent: number,
    seed: number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Zipf needs n >= 1, got ${n}`);
    if (!(exponent > 0)) throw new Error(`Zipf exponent must be > 0, got ${exponent}`);
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / Math.pow(k + 1, exponent);
      this.cdf[k] = total;
    }
    for (let k = 0; k < n; k++) this.cdf[k]! /= total;
    // rank -> (rank * stride + offset) mod n is a bijection when gcd(stride, n) = 1.
    let stride = (hash32(seed, 1) % n) | 1;
    while (gcd(stride, n) !== 1) stride = (stride + 2) % n || 1;
    this.stride = stride;
    this.offset = hash32(seed, 2) % n;
  }

  /** The rank (0 = most popular) for a uniform u in [0, 1). */
  rankFor(u: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The item id of a rank. */
  idOfRank(rank: number): number {
    return (rank * this.stride + this.offset) % this.n;
  }

  /** Probability of a rank (for tests and the report). */
  probability(rank: number): number {
    return this.cdf[rank]! - (rank === 0 ? 0 : this.cdf[rank - 1]!);
  }

  sample(rng: Rng): number {
    return this.idOfRank(this.rankFor(rng.next()));
  }
}
