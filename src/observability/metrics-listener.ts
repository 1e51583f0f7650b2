import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';

import { AggregatorRegistry } from 'prom-client';

import type { Logger } from './logger.js';
import type { MetricsRegistry } from './metrics.js';

/** What the listener serves: the text exposition and its content type. */
export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsListener {
  /** host:port bound (with the real port when 0 was asked for). */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on its own HTTP listener (metrics.listen), apart from the gRPC port, so
 * scrapes never queue behind calls and the port can stay private. Fails when the address is
 * taken: metrics that were asked for and silently missing would only be noticed in an incident.
 */
export async function startMetricsListener(
  listen: string,
  source: MetricsSource,
  logger: Logger,
): Promise<MetricsListener> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon);
  const port = Number(listen.slice(colon + 1));
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain' });
      response.end(path === '/metrics' ? 'GET only\n' : 'metrics are at /metrics\n');
      return;
    }
    source.render().then(
      (text) => {
        response.writeHead(200, { 'content-type': source.contentType });
        response.end(text);
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'metrics could not be collected');
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('metrics could not be collected\n');
      },
    );
  });
  // A scrape is short; do not let an idle keep-alive connection hold shutdown up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`cannot serve metrics on ${listen}: ${error.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const address = typeof bound === 'object' && bound !== null ? `${host}:${bound.port}` : listen;
  logger.info({ address: `http://${address}/metrics` }, 'serving metrics');
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * In a serving worker: answers the primary's requests for this worker's metrics (prom-client's
 * cluster protocol), so the primary's one endpoint reports every worker.
 */
export function reportMetricsToPrimary(metrics: MetricsRegistry): void {
  // Constructing the aggregator in a worker installs its answer to the primary's requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
}

/**
 * In the primary of a worker group: the metrics of all workers, summed per series (gauges such as
 * the registry version take the lowest; see docs/operations.md).
 */
export function workerGroupMetrics(): MetricsSource {
  if (!cluster.isPrimary) throw new Error('worker metrics are aggregated in the primary');
  const aggregator = new AggregatorRegistry();
  return {
    render: () => aggregator.clusterMetrics(),
    get contentType() {
      return aggregator.contentType;
    },
  };
}
