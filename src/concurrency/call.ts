import type { RequestObservation } from '../observability/requests.js';

/** What the serving core knows about one call, whatever transport it came through. */
export interface CallContext {
  /** Absolute deadline, in Date.now() milliseconds; Infinity for none (a stream may have none). */
  readonly deadline: number;
  /** True once the caller has gone away. */
  readonly isCancelled: () => boolean;
  /** The consistency token the caller sent as metadata (`cassette-min-write-time`), unparsed. */
  readonly minWriteTime?: string;
  /** Where the read path reports its steps (metrics, slow-request log, trace spans); absent when unobserved. */
  readonly observation?: RequestObservation;
}
