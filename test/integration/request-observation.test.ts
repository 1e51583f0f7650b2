import { Writable } from 'node:stream';

import * as grpc from '@grpc/grpc-js';
import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { core } from '@opentelemetry/sdk-node';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, connectClients, deadlineIn, type CassetteClients } from '../../src/client/index.js';
import type { GetOnlineFeaturesRequest } from '../../src/generated/cassette/v1/GetOnlineFeaturesRequest.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { CassandraClient } from '../../src/store/index.js';
import { applyYaml, connectTestSession, dropKeyspace, testConfig, uniqueKeyspace } from '../helpers/cluster.js';

const REGISTRY = `
project: spans
entities: [{ name: user, join_key: user_id, type: int64 }]
feature_views:
  - name: profile
    entities: [user]
    features: [{ name: age, type: int32 }, { name: country, type: string }]
  - name: activity
    entities: [user]
    features: [{ name: clicks, type: int64 }]
`;

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN_ID = 'b7ad6b7169203331';
const GET = 'cassette.v1.FeatureServing/GetOnlineFeatures';

const lookup = (...ids: number[]): GetOnlineFeaturesRequest => ({
  features: { val: ['profile:age', 'profile:country', 'activity:clicks'] },
  entities: { user_id: { val: ids.map((id) => ({ int64_val: String(900_000 + id) })) } },
});

/** A real server whose log lines are kept, with the OpenTelemetry SDK registered in memory. */
describe('request observation: trace spans and the slow-request line', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const logLines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    }),
  );
  const config = testConfig(uniqueKeyspace('spans'), { log: { slowRequestMs: 1 } });
  let session: CassandraClient;
  let server: RunningServer;
  let clients: CassetteClients;

  const get = (request: GetOnlineFeaturesRequest, metadata = new grpc.Metadata()) =>
    call((cb) => clients.serving.GetOnlineFeatures(request, metadata, deadlineIn(10_000), cb));
  const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const childrenOf = (parent: ReadableSpan) =>
    exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

  beforeAll(async () => {
    session = await connectTestSession(config);
    await applyYaml(session, config, REGISTRY);
    server = await startServer(config, logger, { client: session });
    clients = connectClients(server.address);
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  });

  afterAll(async () => {
    trace.disable();
    propagation.disable();
    await provider.shutdown();
    clients?.close();
    await server?.close();
    await dropKeyspace(session, config.cassandra.keyspace);
    await session.shutdown();
  });

  it('makes one server span per call, a child of the caller span named by W3C traceparent', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`);
    await get(lookup(1, 2, 3), metadata);
    const spans = spansOf(TRACE_ID);
    const rpc = spans.filter((s) => s.name === GET);
    expect(rpc).toHaveLength(1);
    const [server] = rpc as [ReadableSpan];
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(server.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'cassette.v1.FeatureServing',
      'rpc.method': 'GetOnlineFeatures',
      'rpc.grpc.status_code': 0,
      'cassette.entity_rows': 3,
      'cassette.features': 3,
      'cassette.views': ['profile', 'activity'],
    });
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('has child spans for planning, the cache, the Cassandra reads (one span with the count) and encoding', async () => {
    exporter.reset();
    const metadata = new grpc.Metadata();
    const traceId = 'aaaabbbbccccddddeeeeffff00001111';
    metadata.set('traceparent', `00-${traceId}-${CALLER_SPAN_ID}-01`);
    // Users never read before: 4 users x 2 views = 8 cache misses, read from Cassandra.
    await get(lookup(11, 12, 13, 14), metadata);
    const server = spansOf(traceId).find((s) => s.name === GET)!;
    const children = childrenOf(server);
    expect(children.map((s) => s.name)).toEqual(['plan', 'cache', 'cassandra.read', 'encode']);
    const [plan, cache, reads, encode] = children as [ReadableSpan, ReadableSpan, ReadableSpan, ReadableSpan];
    expect(plan.attributes['cassette.entity_rows']).toBe(4);
    expect(cache.attributes).toMatchObject({ 'cassette.cache.lookups': 8, 'cassette.cache.misses': 8 });
    expect(reads.attributes).toMatchObject({ 'db.system': 'cassandra', 'cassette.cassandra.reads': 8 });
    expect(encode.attributes['cassette.response.bytes']).toBeGreaterThan(0);
    // The steps follow each other within the call.
    const ms = (time: [number, number]) => time[0] * 1000 + time[1] / 1e6;
    const order = [
      server.startTime,
      plan.startTime,
      cache.startTime,
      reads.startTime,
      encode.startTime,
      encode.endTime,
    ];
    for (let i = 1; i < order.length; i++) expect(ms(order[i]!)).toBeGreaterThanOrEqual(ms(order[i - 1]!));
    expect(ms(server.endTime)).toBeGreaterThanOrEqual(ms(encode.endTime));

    // The same users again: the cache answers, so no Cassandra span.
    exporter.reset();
    await get(lookup(11, 12, 13, 14));
    const again = exporter.getFinishedSpans().find((s) => s.name === GET)!;
    expect(childrenOf(again).map((s) => s.name)).toEqual(['plan', 'cache', 'encode']);
  });

  it('marks a failed call with its status code', async () => {
    exporter.reset();
    await expect(get({ features: { val: ['profile:nope'] }, entities: lookup(1).entities })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    const [span] = exporter.getFinishedSpans().filter((s) => s.name === GET);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['rpc.grpc.status_code']).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('makes no span at all once no SDK is registered', async () => {
    trace.disable();
    exporter.reset();
    await get(lookup(1));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    trace.setGlobalTracerProvider(provider);
  });

  it('logs a slow call at warn with its shape (views, batch size, features), never its keys', async () => {
    logLines.length = 0;
    await get(lookup(21, 22));
    const slow = logLines.filter((line) => line.msg === 'slow request' && line.method === 'GetOnlineFeatures');
    expect(slow.length).toBeGreaterThan(0);
    expect(slow[0]).toMatchObject({
      level: 40,
      code: 'OK',
      views: ['profile', 'activity'],
      batchSize: 2,
      features: 3,
    });
    expect(slow[0]!.durationMs).toEqual(expect.any(Number));
    expect(JSON.stringify(slow)).not.toMatch(/9000(21|22)/);
  });
});
