import * as grpc from '@grpc/grpc-js';
import { SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';

import { toServiceStatus } from '../api/status.js';
import type { WriteFeaturesResponse } from '../api/types.js';
import type { MethodMetrics, RequestMetrics } from './catalogue.js';
import type { Logger } from './logger.js';
import { activeTracer, addChildSpan, epochMs, startRpcSpan } from './tracing.js';

/** The shape of a GetOnlineFeatures request, as planned (LookupPlan): what is logged and traced of it. */
export interface PlannedShape {
  readonly batchSize: number;
  readonly features: { readonly length: number };
  readonly views: readonly { readonly view: { readonly name: string }; readonly keys: { readonly length: number } }[];
}

/**
 * What one call did, as the read path reports it (CallContext.observation): a few times and
 * counts, recorded as plain numbers. At the end of the call they become metrics, a slow-request
 * log line and, when tracing, the call's child spans.
 */
export class RequestObservation {
  /** performance.now() at each step's end; NaN when the step did not happen. */
  plannedAt = Number.NaN;
  cacheCheckedAt = Number.NaN;
  readAt = Number.NaN;
  encodedAt = Number.NaN;
  plan: PlannedShape | undefined = undefined;
  misses = 0;
  bytes = 0;

  constructor(
    readonly startedAt: number,
    readonly span: Span | undefined,
    readonly tracer: Tracer | undefined,
  ) {}

  /** The request was planned. */
  planned(plan: PlannedShape): void {
    this.plannedAt = performance.now();
    this.plan = plan;
  }

  /** The cache answered what it could; `misses` entity rows are left to read. */
  cacheChecked(misses: number): void {
    this.cacheCheckedAt = performance.now();
    this.misses = misses;
  }

  /** The reads of the request settled. */
  readsDone(): void {
    this.readAt = performance.now();
  }

  /** The response was encoded, `bytes` long. */
  encoded(bytes: number): void {
    this.encodedAt = performance.now();
    this.bytes = bytes;
  }
}

/** Per method: its metric children and names, resolved once when the handler is made. */
export class MethodObserver {
  constructor(
    private readonly observer: RpcObserver,
    private readonly metrics: MethodMetrics | undefined,
    /** e.g. cassette.v1.FeatureServing/GetOnlineFeatures */
    readonly fullMethod: string,
    /** How logs and messages call the method, e.g. GetOnlineFeatures, feast.GetOnlineFeatures. */
    readonly name: string,
  ) {}

  /** Starts observing a call; a span is started only when an OpenTelemetry SDK is registered. */
  start(metadata: grpc.Metadata): RequestObservation {
    const startedAt = performance.now();
    const tracer = activeTracer();
    const span = tracer ? startRpcSpan(tracer, this.fullMethod, metadata, startedAt) : undefined;
    return new RequestObservation(startedAt, span, tracer);
  }

  /** Ends a call that was answered `code`: metrics, the slow-request line, the spans. */
  finish(observation: RequestObservation, code: number): void {
    const endedAt = performance.now();
    const seconds = (endedAt - observation.startedAt) / 1000;
    this.metrics?.observe(code, seconds);
    const plan = observation.plan;
    const requests = this.observer.metrics;
    if (plan && requests) {
      requests.entityRows.observe(plan.batchSize);
      requests.features.observe(plan.features.length);
    }
    if (seconds * 1000 >= this.observer.slowRequestMs) this.observer.logSlow(this.name, code, observation, endedAt);
    if (observation.span) endSpans(observation, code, endedAt);
  }
}

function endSpans(observation: RequestObservation, code: number, endedAt: number): void {
  const { span, tracer, plan } = observation;
  if (!span || !tracer) return;
  if (plan) {
    let lookups = 0;
    for (const lookup of plan.views) lookups += lookup.keys.length;
    const planAttributes = {
      'cassette.views': plan.views.map((lookup) => lookup.view.name),
      'cassette.entity_rows': plan.batchSize,
      'cassette.features': plan.features.length,
    };
    span.setAttributes(planAttributes);
    addChildSpan(tracer, span, 'plan', observation.startedAt, observation.plannedAt, planAttributes);
    let stepStart = observation.plannedAt;
    if (!Number.isNaN(observation.cacheCheckedAt)) {
      addChildSpan(tracer, span, 'cache', stepStart, observation.cacheCheckedAt, {
        'cassette.cache.lookups': lookups,
        'cassette.cache.misses': observation.misses,
      });
      stepStart = observation.cacheCheckedAt;
    }
    if (!Number.isNaN(observation.readAt)) {
      addChildSpan(tracer, span, 'cassandra.read', stepStart, observation.readAt, {
        'db.system': 'cassandra',
        'cassette.cassandra.reads': observation.misses,
      });
      stepStart = observation.readAt;
    }
    if (!Number.isNaN(observation.encodedAt)) {
      addChildSpan(tracer, span, 'encode', stepStart, observation.encodedAt, {
        'cassette.response.bytes': observation.bytes,
      });
    }
  }
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: grpc.status[code] });
  span.end(epochMs(endedAt));
}

export interface RpcObserverOptions {
  /** Request metrics; undefined when metrics are off. */
  readonly metrics: RequestMetrics | undefined;
  readonly logger: Logger;
  /** A call taking at least this long logs a warn line with its shape; 0 turns the line off. */
  readonly slowRequestMs: number;
}

/** Slow-request lines per second at most: when everything is slow, a few lines say so as well as thousands. */
const SLOW_LINES_PER_SECOND = 10;

/** Observes the calls of a gRPC server: one MethodObserver per method. */
export class RpcObserver {
  readonly metrics: RequestMetrics | undefined;
  readonly slowRequestMs: number;
  private readonly logger: Logger;
  private slowLines = { second: 0, logged: 0, suppressed: 0 };

  constructor(options: RpcObserverOptions) {
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.slowRequestMs = options.slowRequestMs > 0 ? options.slowRequestMs : Number.POSITIVE_INFINITY;
  }

  /** The observer of `service`'s `method`; `name` is how logs call it (the method's name by default). */
  method(service: string, method: string, name = method): MethodObserver {
    return new MethodObserver(this, this.metrics?.method(service, method), `${service}/${method}`, name);
  }

  /**
   * Counts a WriteFeatures call's rows into the ingest metrics once it settles: those received,
   * written and expired, or, when the call was refused as invalid, its `rows` (0 for a stream,
   * whose refused rows are not known) as rejected.
   */
  countWrites(pending: Promise<WriteFeaturesResponse>, rows: number): Promise<WriteFeaturesResponse> {
    const writes = this.metrics?.writes;
    if (!writes) return pending;
    return pending.then(
      (response) => {
        writes.received += Number(response.rows_received ?? 0);
        writes.written += Number(response.rows_written ?? 0);
        writes.expired += Number(response.rows_expired ?? 0);
        return response;
      },
      (error: unknown) => {
        if (toServiceStatus(error).code === grpc.status.INVALID_ARGUMENT) writes.rejected += rows;
        throw error;
      },
    );
  }

  /** The slow-request line: how long each step took and the request's shape, never its keys. */
  logSlow(method: string, code: number, observation: RequestObservation, endedAt: number): void {
    const second = Math.floor(endedAt / 1000);
    const lines = this.slowLines;
    if (second !== lines.second) {
      lines.second = second;
      lines.logged = 0;
    }
    if (lines.logged >= SLOW_LINES_PER_SECOND) {
      lines.suppressed++;
      return;
    }
    lines.logged++;
    const suppressed = lines.suppressed;
    lines.suppressed = 0;
    const plan = observation.plan;
    const ms = (from: number, to: number) => (Number.isNaN(from) || Number.isNaN(to) ? undefined : round(to - from));
    const readFrom = Number.isNaN(observation.cacheCheckedAt) ? observation.plannedAt : observation.cacheCheckedAt;
    this.logger.warn(
      {
        method,
        code: grpc.status[code],
        durationMs: round(endedAt - observation.startedAt),
        ...(plan && {
          views: plan.views.map((lookup) => lookup.view.name),
          batchSize: plan.batchSize,
          features: plan.features.length,
          entityReads: observation.misses,
          planMs: ms(observation.startedAt, observation.plannedAt),
          readMs: ms(readFrom, observation.readAt),
          encodeMs: ms(Number.isNaN(observation.readAt) ? readFrom : observation.readAt, observation.encodedAt),
        }),
        ...(suppressed > 0 && { slowRequestsNotLogged: suppressed }),
      },
      'slow request',
    );
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
