import { describe, expect, it } from 'vitest';

import {
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  mergeHistograms,
  ninesOf,
  percentileCurve,
  percentileMs,
  percentileOfNines,
  recordMs,
  summarize,
} from '../../../bench/lib/histogram.js';

/** Latency histograms of the harness: microsecond recording, percentiles in ms, merging, encoding. */
describe('bench latency histogram', () => {
  it('records milliseconds with microsecond resolution', () => {
    const h = createHistogram();
    recordMs(h, 0.25);
    recordMs(h, 1.5);
    recordMs(h, 1.5);
    recordMs(h, 12.345);
    expect(h.totalCount).toBe(4);
    expect(percentileMs(h, 0)).toBe(0.25);
    expect(percentileMs(h, 50)).toBe(1.5);
    // 3 significant digits: 12.345 ms is held within 0.1 %.
    expect(percentileMs(h, 100)).toBeCloseTo(12.345, 1);
    expect(Math.abs(percentileMs(h, 100) - 12.345) / 12.345).toBeLessThan(0.001);
  });

  it('never records below 1 µs (sub-microsecond and zero latencies count as 1 µs)', () => {
    const h = createHistogram();
    recordMs(h, 0);
    recordMs(h, 0.0001);
    expect(h.totalCount).toBe(2);
    expect(percentileMs(h, 100)).toBe(0.001);
  });

  it('gives exact percentiles of a known distribution (1..1000 ms)', () => {
    const h = createHistogram();
    for (let ms = 1; ms <= 1000; ms++) recordMs(h, ms);
    const s = summarize(h);
    expect(s.count).toBe(1000);
    const within = (actual: number, expected: number) =>
      expect(Math.abs(actual - expected) / expected).toBeLessThanOrEqual(0.001);
    within(s.p50_ms, 500);
    within(s.p90_ms, 900);
    within(s.p99_ms, 990);
    within(s.p999_ms, 999);
    within(s.max_ms, 1000);
    within(s.mean_ms, 500.5);
  });

  it('keeps values beyond a minute (auto-resize) instead of dropping them', () => {
    const h = createHistogram();
    recordMs(h, 1);
    recordMs(h, 120_000);
    expect(h.totalCount).toBe(2);
    expect(percentileMs(h, 100) / 120_000).toBeCloseTo(1, 2);
  });

  it('summarizes an empty histogram as NaN, not zero', () => {
    const s = summarize(createHistogram());
    expect(s.count).toBe(0);
    expect(s.p99_ms).toBeNaN();
    expect(s.max_ms).toBeNaN();
  });

  it('merges histograms of several channels into one distribution', () => {
    const fast = createHistogram();
    const slow = createHistogram();
    for (let i = 0; i < 900; i++) recordMs(fast, 1);
    for (let i = 0; i < 100; i++) recordMs(slow, 50);
    const merged = mergeHistograms([fast, slow]);
    expect(merged.totalCount).toBe(1000);
    expect(percentileMs(merged, 50)).toBe(1);
    expect(percentileMs(merged, 90)).toBe(1);
    expect(percentileMs(merged, 91)).toBeCloseTo(50, 1);
    expect(percentileMs(merged, 100)).toBeCloseTo(50, 1);
    // The parts are left as they were.
    expect(fast.totalCount).toBe(900);
    expect(slow.totalCount).toBe(100);
  });

  it('round-trips through the compressed base64 encoding used over IPC and in the report', () => {
    const h = createHistogram();
    for (let i = 1; i <= 5000; i++) recordMs(h, (i % 97) * 0.37 + 0.1);
    const decoded = decodeHistogram(encodeHistogram(h));
    expect(decoded.totalCount).toBe(h.totalCount);
    for (const p of [0, 50, 90, 99, 99.9, 100]) expect(percentileMs(decoded, p)).toBe(percentileMs(h, p));
    // A decoded histogram merges with fresh ones.
    const merged = mergeHistograms([decoded, h]);
    expect(merged.totalCount).toBe(10_000);
  });

  it('maps percentiles to nines and back', () => {
    expect(ninesOf(0)).toBeCloseTo(0);
    expect(ninesOf(90)).toBeCloseTo(1);
    expect(ninesOf(99)).toBeCloseTo(2);
    expect(ninesOf(99.9)).toBeCloseTo(3);
    expect(percentileOfNines(2)).toBeCloseTo(99);
    expect(percentileOfNines(ninesOf(97.5))).toBeCloseTo(97.5);
  });

  it('draws a percentile curve as deep as the sample supports, non-decreasing, ending at the max', () => {
    const h = createHistogram();
    for (let i = 1; i <= 1000; i++) recordMs(h, i / 10);
    const curve = percentileCurve(h);
    expect(curve[0]).toEqual([0, 0.1]);
    expect(curve.at(-1)).toEqual([100, percentileMs(h, 100)]);
    // 1,000 values support three nines: nothing between 99.9 % and the max.
    const beforeMax = curve.slice(0, -1);
    expect(Math.max(...beforeMax.map(([p]) => p))).toBeLessThan(99.9);
    for (let i = 1; i < curve.length; i++) {
      expect(curve[i]![0]).toBeGreaterThan(curve[i - 1]![0]);
      expect(curve[i]![1]).toBeGreaterThanOrEqual(curve[i - 1]![1]);
    }
    expect(percentileCurve(createHistogram())).toEqual([]);
  });
});
