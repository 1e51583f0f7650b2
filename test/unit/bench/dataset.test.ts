import { describe, expect, it } from 'vitest';

import {
  datasetFingerprint,
  firstEntityToLoad,
  entityFeatures,
  featureValue,
  FEATURES,
  keyBatches,
  REGISTRY_YAML,
  requestedFeatures,
} from '../../../bench/lib/dataset.js';
import { buildPlan } from '../../../bench/lib/plan.js';
import { Rng, ZipfSampler } from '../../../bench/lib/random.js';
import { parseRegistry } from '../../../src/registry/index.js';

describe('bench dataset', () => {
  it('is a valid registry: one view of 50 scalar features in four types plus a 32-float embedding', () => {
    const registry = parseRegistry(REGISTRY_YAML, 'bench');
    const view = registry.featureViews.get('wide')!;
    expect(view.features).toHaveLength(51);
    const types = new Map<string, number>();
    for (const f of view.features) types.set(f.type, (types.get(f.type) ?? 0) + 1);
    expect(Object.fromEntries(types)).toEqual({ int64: 13, double: 13, string: 12, bool: 12, float_list: 1 });
  });

  it('computes the same values from (seed, entity, feature) every time, and other values for another seed', () => {
    expect(entityFeatures(42, 1234)).toEqual(entityFeatures(42, 1234));
    expect(entityFeatures(42, 1234)).not.toEqual(entityFeatures(43, 1234));
    expect(entityFeatures(42, 1234)).not.toEqual(entityFeatures(42, 1235));
    const embedding = featureValue(42, 7, FEATURES.at(-1)!);
    expect(embedding.float_list_val?.val).toHaveLength(32);
    // Float32-exact, so the stored floats read back equal.
    for (const v of embedding.float_list_val!.val!) expect(Math.fround(Number(v))).toBe(v);
  });

  it('makes values of the declared types, int64 across the full signed range', () => {
    const ints: bigint[] = [];
    for (let e = 0; e < 200; e++) {
      const values = entityFeatures(5, e);
      for (const f of FEATURES) {
        const value = values[f.name]!;
        switch (f.type) {
          case 'int64':
            expect(value.int64_val).toMatch(/^-?\d+$/);
            ints.push(BigInt(value.int64_val as string));
            break;
          case 'double':
            expect(typeof value.double_val).toBe('number');
            break;
          case 'string':
            expect(typeof value.string_val).toBe('string');
            break;
          case 'bool':
            expect(typeof value.bool_val).toBe('boolean');
            break;
          case 'float_list':
            expect(value.float_list_val?.val).toHaveLength(32);
        }
      }
    }
    expect(ints.some((i) => i > 2n ** 53n)).toBe(true);
    expect(ints.some((i) => i < -(2n ** 53n))).toBe(true);
  });

  it('requests the embedding plus the first scalars', () => {
    expect(requestedFeatures(10).map((f) => f.name)).toEqual([
      'embedding',
      'f00',
      'f01',
      'f02',
      'f03',
      'f04',
      'f05',
      'f06',
      'f07',
      'f08',
    ]);
    expect(requestedFeatures(50)).toHaveLength(50);
    expect(() => requestedFeatures(52)).toThrow();
  });

  it('fingerprints seed and size', () => {
    expect(datasetFingerprint(42, 100_000)).not.toBe(datasetFingerprint(42, 1000));
    expect(datasetFingerprint(42, 1000)).not.toBe(datasetFingerprint(41, 1000));
  });
});

describe('bench key mixes', () => {
  it('are reproducible from the seed', () => {
    for (const keys of [{ kind: 'uniform' }, { kind: 'zipf', exponent: 0.99 }, { kind: 'hot', hotSet: 50 }] as const) {
      expect(keyBatches(keys, 10_000, 10, 100, 3)).toEqual(keyBatches(keys, 10_000, 10, 100, 3));
    }
    expect(keyBatches({ kind: 'uniform' }, 10_000, 10, 100, 3)).not.toEqual(
      keyBatches({ kind: 'uniform' }, 10_000, 10, 100, 4),
    );
  });

  it('give distinct entities within a batch, all inside the dataset', () => {
    for (const keys of [{ kind: 'uniform' }, { kind: 'zipf', exponent: 1.2 }, { kind: 'hot', hotSet: 100 }] as const) {
      for (const batch of keyBatches(keys, 500, 100, 50, 9)) {
        expect(new Set(batch).size).toBe(100);
        // One expect per batch: 15,000 single ones made this the slowest unit test.
        expect(batch.filter((id) => !(Number.isInteger(id) && id >= 0 && id < 500))).toEqual([]);
      }
    }
  });

  it('hot keys cycle over the hot set only', () => {
    const ids = keyBatches({ kind: 'hot', hotSet: 1000 }, 100_000, 10, 300, 1).flat();
    expect(new Set(ids).size).toBe(1000);
    expect(Math.max(...ids)).toBe(999);
  });

  it('uniform keys cover the key space evenly', () => {
    const ids = keyBatches({ kind: 'uniform' }, 1000, 1, 100_000, 2).flat();
    const counts = new Array<number>(10).fill(0);
    for (const id of ids) counts[Math.floor(id / 100)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });
});

describe('Zipf sampler', () => {
  it('has probabilities proportional to 1/(k+1)^s that sum to 1', () => {
    const zipf = new ZipfSampler(1000, 1, 1);
    let total = 0;
    for (let k = 0; k < 1000; k++) total += zipf.probability(k);
    expect(total).toBeCloseTo(1, 9);
    expect(zipf.probability(0) / zipf.probability(1)).toBeCloseTo(2, 9);
    expect(zipf.probability(0) / zipf.probability(9)).toBeCloseTo(10, 9);
  });

  it('maps ranks to ids by a permutation of the key space', () => {
    for (const n of [1, 2, 10, 999, 1000, 1024]) {
      const zipf = new ZipfSampler(n, 0.99, 5);
      const ids = new Set(Array.from({ length: n }, (_, k) => zipf.idOfRank(k)));
      expect(ids.size).toBe(n);
    }
  });

  it('draws ranks with the Zipf frequencies (seeded, so the check is deterministic)', () => {
    const zipf = new ZipfSampler(10_000, 0.99, 3);
    const rng = new Rng(11);
    const draws = 200_000;
    const counts = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const rank = zipf.rankFor(rng.next());
      counts.set(rank, (counts.get(rank) ?? 0) + 1);
    }
    for (const rank of [0, 1, 9, 99]) {
      const expected = zipf.probability(rank) * draws;
      const observed = counts.get(rank) ?? 0;
      // Within 5 standard deviations of the binomial count.
      expect(Math.abs(observed - expected)).toBeLessThan(5 * Math.sqrt(expected));
    }
    // The head is heavy: at s = 0.99 the top 1 % of keys take about half of the draws.
    let head = 0;
    for (let rank = 0; rank < 100; rank++) head += counts.get(rank) ?? 0;
    expect(head / draws).toBeGreaterThan(0.45);
  });

  it('rejects nonsense parameters', () => {
    expect(() => new ZipfSampler(0, 1, 1)).toThrow();
    expect(() => new ZipfSampler(10, 0, 1)).toThrow();
  });
});

describe('bench scenario plan', () => {
  const options = { quick: false, rateFraction: 0.5, hotSet: 1000, zipfExponent: 0.99 };

  it('covers batch 1/10/100 × 10/50 features warm and cold with a direct-driver baseline each, Zipf, connect-per-request and sweeps', () => {
    const plan = buildPlan(options);
    const names = plan.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const b of [1, 10, 100]) {
      for (const f of [10, 50]) {
        expect(names).toContain(`cassette warm b${b} f${f}`);
        expect(names).toContain(`cassette cold b${b} f${f}`);
        expect(names).toContain(`direct-driver b${b} f${f}`);
      }
    }
    expect(names).toContain('cassette zipf b10 f10');
    expect(names).toContain('connect-per-request b1 f10');
    const sweep = plan.filter((s) => s.group === 'sweep');
    expect(sweep.map((s) => (s.flow.kind === 'closed' ? s.flow.concurrency : 0))).toEqual([
      1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32,
    ]);
    // Cold runs against the server without cache, warm and Zipf against the cached one.
    expect(plan.find((s) => s.name === 'cassette cold b1 f10')?.server).toBe('no-cache');
    expect(plan.find((s) => s.name === 'cassette warm b1 f10')?.server).toBe('cache');
    expect(plan.find((s) => s.name === 'cassette zipf b10 f10')?.server).toBe('cache');
    // Every baseline runs after the Cassette scenario whose rate it matches.
    for (const [i, s] of plan.entries()) {
      if (s.flow.kind === 'probe-then-match') {
        const match = s.flow.match;
        expect(plan.findIndex((o) => o.name === match)).toBeLessThan(i);
      }
    }
  });

  it('runs each cache-server variant right after its base warm scenario, at 1×10 and 100×50 only', () => {
    const plan = buildPlan({ ...options, variants: ['metrics-off', 'coherence-off'], filter: /^cassette warm/ });
    expect(plan.map((s) => [s.name, s.server])).toEqual([
      ['cassette warm b1 f10', 'cache'],
      ['cassette warm b1 f10 [metrics-off]', 'variant:metrics-off'],
      ['cassette warm b1 f10 [coherence-off]', 'variant:coherence-off'],
      ['cassette warm b1 f50', 'cache'],
      ['cassette warm b10 f10', 'cache'],
      ['cassette warm b10 f50', 'cache'],
      ['cassette warm b100 f10', 'cache'],
      ['cassette warm b100 f50', 'cache'],
      ['cassette warm b100 f50 [metrics-off]', 'variant:metrics-off'],
      ['cassette warm b100 f50 [coherence-off]', 'variant:coherence-off'],
    ]);
    const variants = plan.filter((s) => s.group === 'variant');
    expect(variants.every((s) => s.keys.kind === 'hot')).toBe(true);
    // At the offered rate of the base scenario, which runs first.
    expect(variants.map((s) => (s.flow.kind === 'probe-then-match' ? s.flow.match : s.flow.kind))).toEqual([
      'cassette warm b1 f10',
      'cassette warm b1 f10',
      'cassette warm b100 f50',
      'cassette warm b100 f50',
    ]);
  });

  it('filters by name', () => {
    const plan = buildPlan({ ...options, filter: /b1 f10$/ });
    expect(plan.map((s) => s.name)).toEqual([
      'cassette warm b1 f10',
      'cassette cold b1 f10',
      'direct-driver b1 f10',
      'feast-grpc warm b1 f10',
      'feast-grpc cold b1 f10',
      'feast-http warm b1 f10',
      'feast-http cold b1 f10',
      'connect-per-request b1 f10',
    ]);
  });

  it("measures Feast's gRPC and HTTP APIs at 1×10 and 100×50 on the same servers and keys as Cassette's own", () => {
    const plan = buildPlan(options);
    const feast = plan.filter((s) => s.group === 'feast');
    expect(feast.map((s) => s.name)).toEqual(
      ['b1 f10', 'b100 f50'].flatMap((at) =>
        ['feast-grpc', 'feast-http'].flatMap((system) => [`${system} warm ${at}`, `${system} cold ${at}`]),
      ),
    );
    for (const s of feast) {
      const own = plan.find((o) => o.name === s.name.replace(s.system, 'cassette'))!;
      expect([s.server, s.keys, s.batch, s.features], s.name).toEqual([own.server, own.keys, own.batch, own.features]);
    }
  });
});

describe('bench dataset loading', () => {
  it('loads everything when nothing or another dataset was recorded', () => {
    expect(firstEntityToLoad(undefined, 42, 1000)).toBe(0);
    expect(firstEntityToLoad('garbage', 42, 1000)).toBe(0);
    expect(firstEntityToLoad(datasetFingerprint(41, 5000), 42, 1000)).toBe(0);
    expect(firstEntityToLoad(datasetFingerprint(42, 5000).replace(/^v\d+/, 'v0'), 42, 1000)).toBe(0);
  });

  it('skips a load that an equal or larger load of the same seed covers, and loads only the missing rows of a larger one', () => {
    expect(firstEntityToLoad(datasetFingerprint(42, 1000), 42, 1000)).toBeNull();
    expect(firstEntityToLoad(datasetFingerprint(42, 100_000), 42, 20_000)).toBeNull();
    expect(firstEntityToLoad(datasetFingerprint(42, 20_000), 42, 100_000)).toBe(20_000);
  });
});
