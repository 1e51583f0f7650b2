import {
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import type * as grpc from '@grpc/grpc-js';

import type { Logger } from './logger.js';

export const TRACER_NAME = 'cassette';

/**
 * The tracer of the registered OpenTelemetry SDK, or undefined when none is registered: then
 * no span, context or attribute object is made at all (the API's no-op tracer would still
 * allocate a span per call).
 */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider
    ? provider.getDelegateTracer(TRACER_NAME)
    : provider.getTracer(TRACER_NAME);
}

/**
 * A performance.now() time as epoch milliseconds. The SDK would turn a performance time into wall
 * time with an offset it measures again for every span (to the millisecond), so children could
 * appear to start before their parent; epoch times it takes as they are.
 */
export function epochMs(performanceMs: number): number {
  return performance.timeOrigin + performanceMs;
}

/** Reads propagation headers (W3C traceparent, tracestate) from gRPC metadata. */
const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key);
    if (values.length === 0) return undefined;
    return values.map((value) => (typeof value === 'string' ? value : value.toString('utf8')));
  },
};

/** The caller's trace context from the call's metadata (with the SDK's propagators, W3C by default). */
export function callerContext(metadata: grpc.Metadata): Context {
  return propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
}

/** Starts the span of one RPC at `startTime` (performance.now()), a child of the caller's span if the metadata names one. */
export function startRpcSpan(tracer: Tracer, fullMethod: string, metadata: grpc.Metadata, startTime: number): Span {
  const slash = fullMethod.indexOf('/');
  return tracer.startSpan(
    fullMethod,
    {
      kind: SpanKind.SERVER,
      startTime: epochMs(startTime),
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': fullMethod.slice(0, slash),
        'rpc.method': fullMethod.slice(slash + 1),
      },
    },
    callerContext(metadata),
  );
}

/** Adds a finished child span of `parent`, from `start` to `end` (performance.now() times). */
export function addChildSpan(
  tracer: Tracer,
  parent: Span,
  name: string,
  start: number,
  end: number,
  attributes: Attributes,
): void {
  const parentContext = trace.setSpan(ROOT_CONTEXT, parent);
  tracer.startSpan(name, { startTime: epochMs(start), attributes }, parentContext).end(epochMs(end));
}

/**
 * Starts the OpenTelemetry SDK when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans are exported over
 * OTLP/HTTP to it (the SDK reads the other OTEL_* variables too). Loaded only then, so a process
 * without it neither loads the SDK nor pays for tracing. Returns the SDK's shutdown, which
 * flushes the spans not yet sent.
 */
export async function startTracingFromEnvironment(
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<() => Promise<void>> {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!endpoint) return async () => undefined;
  const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'cassette',
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [],
  });
  sdk.start();
  logger.info({ endpoint }, 'tracing: exporting spans over OTLP');
  return async () => {
    try {
      await sdk.shutdown();
    } catch (error) {
      logger.warn({ err: error }, 'tracing: the last spans could not be exported');
    }
  };
}
