import { collectDefaultMetrics, Registry, type Aggregator, type Metric } from 'prom-client';

/**
 * The metric primitives Cassette registers with prom-client.
 *
 * prom-client's own labelled metrics validate and hash their labels on every observe() and
 * allocate a {labels, value} pair each time, and its worker aggregation loses the labels of
 * labelled histograms. Here a label set is resolved once into a child holding plain numbers, so
 * recording is an array walk and two additions, and values are exported (to a scrape, or to
 * the cluster primary) with all their labels. Values that already exist as running totals
 * elsewhere (cache hits, admission counters, ingest counts) are read at scrape time instead
 * (ScrapedMetric): nothing at all happens on the request path for them.
 */

export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** One exported sample, as prom-client's registry serialises it. */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** What prom-client asks of a registered metric: get() and the fields it reads. */
interface Exported {
  readonly name: string;
  readonly help: string;
  readonly type: MetricKind;
  readonly aggregator: Aggregator;
  get(): { name: string; help: string; type: MetricKind; aggregator: Aggregator; values: Sample[] };
}

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i]!;
  return labels;
}

/** One label set of a Histogram: counts per bucket, sum and count, as plain numbers. */
export class HistogramChild {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: Float64Array,
    readonly labels: Record<string, string>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** A histogram whose label sets are resolved once (child()) and then recorded into directly. */
export class Histogram implements Exported {
  readonly type: MetricKind = 'histogram';
  readonly aggregator: Aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly children = new Map<string, HistogramChild>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    this.bounds = Float64Array.from(buckets).sort();
  }

  /** The child for these label values (in labelNames order); the same one each time. */
  child(...values: string[]): HistogramChild {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes labels ${this.labelNames.join(', ')}`);
    }
    const key = values.join('\u0000');
    let child = this.children.get(key);
    if (!child) {
      child = new HistogramChild(this.bounds, labelObject(this.labelNames, values));
      this.children.set(key, child);
    }
    return child;
  }

  get(): ReturnType<Exported['get']> {
    const values: Sample[] = [];
    for (const child of this.children.values()) {
      pushHistogramSamples(values, this.name, this.bounds, child.labels, child.counts, child.sum, child.count);
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** The _bucket (cumulative), _sum and _count samples of one label set of a histogram. */
function pushHistogramSamples(
  values: Sample[],
  name: string,
  bounds: ArrayLike<number>,
  labels: Record<string, string>,
  counts: ArrayLike<number>,
  sum: number,
  count: number,
): void {
  const bucket = `${name}_bucket`;
  let cumulative = 0;
  for (let i = 0; i <= bounds.length; i++) {
    cumulative += counts[i]!;
    const le = i < bounds.length ? bounds[i]! : '+Inf';
    values.push({ labels: { ...labels, le }, value: cumulative, metricName: bucket });
  }
  values.push({ labels, value: sum, metricName: `${name}_sum` });
  values.push({ labels, value: count, metricName: `${name}_count` });
}

/** What a histogram kept elsewhere reports: observations per bucket (not cumulative, +Inf last), sum, count. */
export interface HistogramReading {
  readonly counts: ArrayLike<number>;
  readonly sum: number;
  readonly count: number;
}

/** An unlabelled histogram kept by another part (in its own units), read at scrape time. */
export class ScrapedHistogram implements Exported {
  readonly type: MetricKind = 'histogram';
  readonly aggregator: Aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly read: () => HistogramReading,
  ) {}

  get(): ReturnType<Exported['get']> {
    const values: Sample[] = [];
    const { counts, sum, count } = this.read();
    pushHistogramSamples(values, this.name, this.bounds, {}, counts, sum, count);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A counter or gauge read at scrape time; `read` emits each label set's current value. */
export class ScrapedMetric implements Exported {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    readonly labelNames: readonly string[],
    private readonly read: (emit: (value: number, ...labels: string[]) => void) => void,
    readonly aggregator: Aggregator = 'sum',
  ) {}

  get(): ReturnType<Exported['get']> {
    const values: Sample[] = [];
    this.read((value, ...labels) => values.push({ labels: labelObject(this.labelNames, labels), value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** Latency buckets, in seconds: from half a millisecond (a cache hit) to five seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
/** Count buckets (entity rows, features of a request). */
export const COUNT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/** One process's metrics: a prom-client registry of Cassette's metrics and the process defaults. */
export class MetricsRegistry {
  readonly registry = new Registry();

  constructor(options: { processDefaults?: boolean } = {}) {
    // Event-loop lag, GC, memory, CPU, handles: under their usual names (nodejs_*, process_*), so
    // the usual dashboards work.
    if (options.processDefaults ?? true) collectDefaultMetrics({ register: this.registry });
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** A histogram kept by another part, read at each scrape. */
  scrapedHistogram(
    name: string,
    help: string,
    bounds: readonly number[],
    read: () => HistogramReading,
  ): ScrapedHistogram {
    return this.add(new ScrapedHistogram(name, help, bounds, read));
  }

  /** A counter or gauge whose values `read` emits at each scrape. */
  scraped(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    labelNames: readonly string[],
    read: (emit: (value: number, ...labels: string[]) => void) => void,
    aggregator: Aggregator = 'sum',
  ): ScrapedMetric {
    return this.add(new ScrapedMetric(name, help, type, labelNames, read, aggregator));
  }

  private add<M extends Exported>(metric: M): M {
    this.registry.registerMetric(metric as unknown as Metric);
    return metric;
  }

  /** The names of the metrics registered. */
  names(): string[] {
    return this.registry.getMetricsAsArray().map((metric) => (metric as unknown as { name: string }).name);
  }

  /** The text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
