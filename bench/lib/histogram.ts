import * as hdr from 'hdr-histogram-js';

/**
 * Latency recording with HdrHistogram: values in microseconds, 3 significant digits (0.1 %
 * relative error), from 1 µs up to a minute. Percentiles come out in milliseconds.
 */

export type Histogram = hdr.Histogram;

const LOWEST_US = 1;
const HIGHEST_US = 60_000_000;

export function createHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: LOWEST_US,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    // A stall longer than a minute is still recorded rather than thrown away.
    autoResize: true,
  });
}

/** Records a latency given in (fractional) milliseconds. */
export function recordMs(histogram: Histogram, ms: number): void {
  histogram.recordValue(Math.max(LOWEST_US, Math.round(ms * 1000)));
}

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
}

const usToMs = (us: number): number => Math.round(us) / 1000;

/** Percentile (0–100) in milliseconds; NaN for an empty histogram. */
export function percentileMs(histogram: Histogram, percentile: number): number {
  if (histogram.totalCount === 0) return Number.NaN;
  return usToMs(histogram.getValueAtPercentile(percentile));
}

export function summarize(histogram: Histogram): LatencySummary {
  return {
    count: histogram.totalCount,
    p50_ms: percentileMs(histogram, 50),
    p90_ms: percentileMs(histogram, 90),
    p99_ms: percentileMs(histogram, 99),
    p999_ms: percentileMs(histogram, 99.9),
    max_ms: percentileMs(histogram, 100),
    mean_ms: histogram.totalCount === 0 ? Number.NaN : Math.round(histogram.mean) / 1000,
  };
}

/** A new histogram holding every value of `parts` (e.g. one per gRPC channel or worker). */
export function mergeHistograms(parts: readonly Histogram[]): Histogram {
  const merged = createHistogram();
  for (const part of parts) merged.add(part);
  return merged;
}

/** Compact text form (the standard compressed HdrHistogram encoding, base64) for IPC and the report. */
export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  const decoded = hdr.decodeFromCompressedBase64(encoded);
  // Re-home into our configuration so merges with fresh histograms line up.
  return mergeHistograms([decoded]);
}

/** "Nines" of a percentile: 90 -> 1, 99 -> 2, 99.9 -> 3. The x axis of a percentile plot. */
export function ninesOf(percentile: number): number {
  return -Math.log10(1 - percentile / 100);
}

export function percentileOfNines(nines: number): number {
  return 100 * (1 - Math.pow(10, -nines));
}

/**
 * Points of the latency-by-percentile curve, evenly spaced on the nines axis up to the deepest
 * percentile the sample size supports (log10 of the count), plus the maximum. [percentile, ms].
 */
export function percentileCurve(histogram: Histogram, step = 0.1): Array<[number, number]> {
  const count = histogram.totalCount;
  if (count === 0) return [];
  const deepest = Math.log10(count);
  const points: Array<[number, number]> = [];
  for (let nines = 0; nines < deepest; nines += step) {
    const p = percentileOfNines(nines);
    points.push([Number(p.toFixed(6)), percentileMs(histogram, p)]);
  }
  points.push([100, percentileMs(histogram, 100)]);
  return points;
}
