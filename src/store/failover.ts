import cassandra from 'cassandra-driver';

import type { Logger } from '../observability/logger.js';

/**
 * Failover within one store operation: who retries what.
 *
 * - The driver (this file): one read or write of the store gets a budget, the time it may take
 *   in all (what is left of the caller's deadline, see driverTimeout). Each attempt waits at most
 *   the attempt timeout; an attempt that timed out, lost its connection or met an overloaded
 *   coordinator is retried at once on the next host of the query plan, as long as a whole attempt
 *   still fits in the budget and fewer than `maxAttempts` attempts were made. Slow reads are also
 *   hedged: a speculative execution on the next host after `speculativeDelayMs`.
 * - RowSink (src/write) retries a write that still failed after that, after a jittered backoff,
 *   up to `ingest.writeAttempts` times and only while the caller's deadline allows: the driver
 *   handles a bad host, RowSink a bad moment of the cluster (Unavailable, WriteTimeout).
 *   A write thus makes at most writeAttempts x maxAttempts attempts, all within the deadline.
 *
 * Both are safe because reads change nothing and every write carries its event time as its
 * timestamp: applying it twice stores the same cells.
 */

const { RetryPolicy } = cassandra.policies.retry;
type OperationInfo = cassandra.policies.retry.OperationInfo;
type DecisionInfo = cassandra.policies.retry.DecisionInfo;

/** The driver's "retry" decision value (its enum is declared as a type only). */
const RETRY = new RetryPolicy().retryResult(cassandra.types.consistencies.one).decision;

/**
 * Counts of failover events of one session, for the metrics to come. Only the session's policies
 * write them; everyone else reads.
 */
export class StoreCounters {
  /** Attempts retried on the next host because the previous one got no answer within the attempt timeout. */
  retriesAfterTimeout = 0;
  /** Attempts retried on the next host after a lost connection or an overloaded or starting coordinator. */
  retriesAfterConnectionError = 0;
  /** Attempts retried because a coordinator answered Unavailable, ReadTimeout or WriteTimeout. */
  retriesAfterCoordinatorError = 0;
  /** Hedges started: the same read sent to another host because the first was slow to answer. */
  speculativeExecutions = 0;
  /** Retryable failures given back to the caller: attempts ran out or no whole attempt fitted in the budget. */
  retriesRefused = 0;
}

/** Why an attempt failed, as far as retrying it elsewhere is concerned. */
export type AttemptFailure = 'timeout' | 'connection' | 'overloaded' | 'unavailable';

export interface RetryInput {
  failure: AttemptFailure;
  /** Attempts made so far by this execution (1 after the first). */
  attempts: number;
  /** Milliseconds left of the operation's budget. */
  remainingMs: number;
  /** How long a new attempt may wait for its answer. */
  attemptTimeoutMs: number;
  maxAttempts: number;
}

/**
 * Whether to retry a failed attempt on the next host. Never beyond `maxAttempts`, never when a
 * whole new attempt would outlive the budget, and an Unavailable answer only once (another
 * coordinator may see more replicas alive; a second rarely does).
 */
export function retryOnNextHost(input: RetryInput): boolean {
  if (input.attempts >= input.maxAttempts) return false;
  if (input.remainingMs < input.attemptTimeoutMs) return false;
  return input.failure !== 'unavailable' || input.attempts === 1;
}

/**
 * The per-attempt timeout of an operation with `budgetMs` to spend: the attempt cap, or the whole
 * budget when that is shorter (0 as the cap means one attempt may take the whole budget).
 */
export function attemptTimeout(budgetMs: number, attemptCapMs: number): number {
  return attemptCapMs > 0 && attemptCapMs < budgetMs ? attemptCapMs : budgetMs;
}

/** Query options of a store operation: the driver's, plus when the operation's budget ends. */
export interface BudgetedQueryOptions extends cassandra.QueryOptions {
  /** performance.now() at which the operation's budget ends; read by DeadlineRetryPolicy. */
  budgetEndsAt: number;
}

function budgetEnd(info: OperationInfo): number | undefined {
  const options = info.executionOptions.getRawQueryOptions() as Partial<BudgetedQueryOptions>;
  return options.budgetEndsAt;
}

function failureOf(error: Error): AttemptFailure {
  if (error instanceof cassandra.errors.OperationTimedOutError) return 'timeout';
  // Overloaded, bootstrapping and truncate errors reach onRequestError as response errors.
  if (error instanceof cassandra.errors.ResponseError) return 'overloaded';
  return 'connection';
}

/**
 * Retries a store operation on the next host while its budget allows (see retryOnNextHost).
 * The driver asks only for idempotent requests on timeouts, lost connections and overloaded
 * coordinators; every read and write of the store is marked idempotent.
 *
 * Requests without a budget (registry reads, DDL, probes) keep the driver's default decisions,
 * except that a client-side timeout is not retried: their timeout is their whole allowance.
 */
export class DeadlineRetryPolicy extends RetryPolicy {
  constructor(
    private readonly maxAttempts: number,
    private readonly counters: StoreCounters,
    private readonly logger: Logger,
  ) {
    super();
  }

  override onRequestError(info: OperationInfo, consistency: number, err: Error): DecisionInfo {
    const failure = failureOf(err);
    if (budgetEnd(info) === undefined) {
      return failure === 'timeout' ? this.rethrowResult() : super.onRequestError(info, consistency, err);
    }
    return this.decide(info, consistency, failure, err);
  }

  override onUnavailable(info: OperationInfo, consistency: number, required: number, alive: boolean): DecisionInfo {
    if (budgetEnd(info) === undefined) return super.onUnavailable(info, consistency, required, alive);
    return this.decide(info, consistency, 'unavailable', undefined);
  }

  override onReadTimeout(
    info: OperationInfo,
    consistency: number,
    received: number,
    blockFor: number,
    isDataPresent: boolean,
  ): DecisionInfo {
    return this.withinBudget(info, super.onReadTimeout(info, consistency, received, blockFor, isDataPresent));
  }

  override onWriteTimeout(
    info: OperationInfo,
    consistency: number,
    received: number,
    blockFor: number,
    writeType: string,
  ): DecisionInfo {
    return this.withinBudget(info, super.onWriteTimeout(info, consistency, received, blockFor, writeType));
  }

  private decide(
    info: OperationInfo,
    consistency: number,
    failure: AttemptFailure,
    err: Error | undefined,
  ): DecisionInfo {
    const attemptTimeoutMs = info.executionOptions.getReadTimeout();
    const remainingMs = budgetEnd(info)! - performance.now();
    const attempts = info.nbRetry + 1;
    const coordinator = (err as { coordinator?: string } | undefined)?.coordinator;
    if (retryOnNextHost({ failure, attempts, remainingMs, attemptTimeoutMs, maxAttempts: this.maxAttempts })) {
      this.logger.debug({ failure, coordinator, attempts, remainingMs }, 'retrying on the next Cassandra host');
      return this.retryResult(consistency, false);
    }
    this.counters.retriesRefused++;
    this.logger.debug({ failure, coordinator, attempts, remainingMs }, 'not retrying: attempts or time ran out');
    return this.rethrowResult();
  }

  /** The driver's decision on a coordinator timeout, unless a new attempt would not fit in the budget. */
  private withinBudget(info: OperationInfo, decision: DecisionInfo): DecisionInfo {
    const end = budgetEnd(info);
    if (end === undefined || decision.decision !== RETRY) return decision;
    if (info.nbRetry + 1 < this.maxAttempts && end - performance.now() >= info.executionOptions.getReadTimeout()) {
      return decision;
    }
    this.counters.retriesRefused++;
    return this.rethrowResult();
  }
}

/** A plan that never hedges. */
const NO_HEDGE = Object.freeze({ nextExecution: (): number => -1 });

/**
 * Hedges reads only: an idempotent SELECT still unanswered after the delay is sent to the next
 * host as well (up to `maxSpeculativeExecutions` times), and the first answer wins. Writes are
 * not hedged: a write goes to every replica anyway, and a hedge would double the coordinators'
 * work exactly when a node is slow; a write whose coordinator is gone is retried instead.
 */
export class ReadHedgingPolicy extends cassandra.policies.speculativeExecution.ConstantSpeculativeExecutionPolicy {
  override newPlan(keyspace: string, queryInfo: string | object[]): { nextExecution: () => number } {
    if (typeof queryInfo === 'string' && queryInfo.startsWith('SELECT')) {
      return super.newPlan(keyspace, queryInfo) as { nextExecution: () => number };
    }
    return NO_HEDGE;
  }
}

/**
 * The driver's metrics hooks, counting retries and hedges into StoreCounters. The driver calls
 * them only when a retry or hedge actually starts.
 */
export class CountingMetrics implements cassandra.metrics.ClientMetrics {
  constructor(
    private readonly counters: StoreCounters,
    private readonly logger: Logger,
  ) {}

  onClientTimeoutRetry(): void {
    this.counters.retriesAfterTimeout++;
  }
  onOtherErrorRetry(): void {
    this.counters.retriesAfterConnectionError++;
  }
  onReadTimeoutRetry(): void {
    this.counters.retriesAfterCoordinatorError++;
  }
  onUnavailableRetry(): void {
    this.counters.retriesAfterCoordinatorError++;
  }
  onWriteTimeoutRetry(): void {
    this.counters.retriesAfterCoordinatorError++;
  }
  onSpeculativeExecution(): void {
    this.counters.speculativeExecutions++;
    this.logger.debug('hedging a slow read on the next Cassandra host');
  }

  // Not counted here (errors reach the caller, who maps and counts them).
  onAuthenticationError(): void {}
  onClientTimeoutError(): void {}
  onConnectionError(): void {}
  onIgnoreError(): void {}
  onOtherError(): void {}
  onReadTimeoutError(): void {}
  onUnavailableError(): void {}
  onWriteTimeoutError(): void {}
  onResponse(): void {}
  onSuccessfulResponse(): void {}
}
