/**
 * The CPU cost of a call's metrics, in process (no network, no server): what recording a warm
 * GetOnlineFeatures call costs with metrics on and with them off (the same observer, as the
 * server builds it), and what one scrape of /metrics costs. Everything else a server exports is
 * read at scrape time from counters it keeps anyway, so these are the per-call costs of issue 14's
 * budget (3 % of a warm b1×10 request's server CPU). `npx tsx bench/metrics-cost.ts
 * [--request-cpu-us N]`, N being server CPU per request from the harness (see bench/README.md).
 */
import { parseArgs } from 'node:util';

import * as grpc from '@grpc/grpc-js';
import pino from 'pino';

import { RequestMetrics } from '../src/observability/catalogue.js';
import { MetricsRegistry } from '../src/observability/metrics.js';
import { RpcObserver, type PlannedShape } from '../src/observability/requests.js';

const ITERATIONS = 2_000_000;
const SCRAPES = 2_000;

/** A warm b1×10 call's shape, as the read path reports it. */
const PLAN: PlannedShape = { batchSize: 1, features: { length: 10 }, views: [{ view: { name: 'wide' }, keys: [1] }] };

/** CPU nanoseconds per iteration of `run`, after a warm-up of the same code. */
function cpuNsPerCall(iterations: number, run: () => void): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) run();
  const started = process.cpuUsage();
  for (let i = 0; i < iterations; i++) run();
  const cpu = process.cpuUsage(started);
  return ((cpu.user + cpu.system) * 1000) / iterations;
}

/** One call's observation from start to finish, as the gRPC transport makes it for a cache hit. */
function observedCall(observer: RpcObserver): () => void {
  const method = observer.method('cassette.v1.FeatureServing', 'GetOnlineFeatures');
  const metadata = new grpc.Metadata();
  return () => {
    const observation = method.start(metadata);
    observation.planned(PLAN);
    observation.cacheChecked(0);
    observation.encoded(600);
    method.finish(observation, grpc.status.OK);
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'request-cpu-us': { type: 'string' } } });
  const requestCpuUs = values['request-cpu-us'] === undefined ? undefined : Number(values['request-cpu-us']);
  const logger = pino({ level: 'silent' });
  const registry = new MetricsRegistry();
  const on = new RpcObserver({ metrics: new RequestMetrics(registry), logger, slowRequestMs: 500 });
  const off = new RpcObserver({ metrics: undefined, logger, slowRequestMs: 500 });

  // Alternate the two, three rounds each, and keep each one's median: a shared machine's noise
  // moves both alike within a round.
  const rounds: { on: number; off: number }[] = [];
  for (let round = 0; round < 3; round++) {
    rounds.push({ on: cpuNsPerCall(ITERATIONS, observedCall(on)), off: cpuNsPerCall(ITERATIONS, observedCall(off)) });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const onNs = median(rounds.map((r) => r.on));
  const offNs = median(rounds.map((r) => r.off));

  let scrapeBytes = 0;
  const started = process.cpuUsage();
  for (let i = 0; i < SCRAPES; i++) scrapeBytes = (await registry.registry.metrics()).length;
  const scrapeCpu = process.cpuUsage(started);
  const scrapeUs = (scrapeCpu.user + scrapeCpu.system) / SCRAPES;

  const line = (label: string, value: string): void => {
    process.stdout.write(`${label.padEnd(52)} ${value}\n`);
  };
  line('a warm call observed, metrics on', `${onNs.toFixed(0)} ns CPU`);
  line('a warm call observed, metrics off', `${offNs.toFixed(0)} ns CPU`);
  line('metrics per call (on - off)', `${(onNs - offNs).toFixed(0)} ns CPU`);
  line('one scrape of /metrics (text, this registry)', `${scrapeUs.toFixed(0)} µs CPU, ${scrapeBytes} bytes`);
  if (requestCpuUs !== undefined && requestCpuUs > 0) {
    const share = ((onNs - offNs) / 1000 / requestCpuUs) * 100;
    line(`share of a ${requestCpuUs} µs request`, `${share.toFixed(2)} %`);
  }
  process.stdout.write(
    `rounds (on/off ns): ${rounds.map((r) => `${r.on.toFixed(0)}/${r.off.toFixed(0)}`).join(', ')}\n`,
  );
}

await main();
