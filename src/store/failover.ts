import cassandra from 'cassandra-driver';

import type { Logger } from '../observability/logger.js';

/**
 * Failover within one store operation: who retries what.
 *
 * - The driver (this file): one read or write of the store gets a time budget, what it may take
 *   in all (what is left of the caller's deadline, see driverTimeout). Each attempt waits at most
 *   the attempt timeout; an attempt that timed out, lost its connection or met an overloaded
 *   coordinator is retried at once on the next host of the query plan, as long as a whole attempt
 *   still fits in the time budget and fewer than `maxAttempts` attempts were made. Slow reads and
 *   writes are also hedged: a speculative execution on the next host after `speculativeDelayMs`.
 * - Retries after a timeout or an overloaded answer, and hedges, add work to a cluster that may
 *   be slow everywhere, so they draw on a FailoverBudget: about one for ten operations, plus a
 *   burst. When it runs dry, operations go back to one attempt that may take their whole time
 *   budget, as without failover; retries after a lost connection (work that was lost, not
 *   duplicated) are always allowed.
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
  /** Hedges started: the same read or write sent to another host because the first was slow to answer. */
  speculativeExecutions = 0;
  /**
   * Retryable failures given back to the caller: attempts ran out, no whole attempt fitted in the
   * time budget, or the failover budget was spent.
   */
  retriesRefused = 0;
  /** Times a host let an attempt time out and was moved behind the others in query plans (see SlowHosts). */
  hostsMarkedSlow = 0;
}

/** How long a host that let an attempt time out stays behind the others in query plans. */
export const SLOW_HOST_HOLD_MS = 2_000;

/**
 * Hosts that recently let an attempt time out: query plans put them behind the other hosts for
 * SLOW_HOST_HOLD_MS after each timeout, so a frozen node stops getting first attempts that must
 * wait out the attempt timeout (and spend the failover budget on retries).
 *
 * Why the driver's own check is not enough: it counts a client-side timeout as an answer, so a
 * frozen node looks healthy again each time a batch of requests to it times out, and it skips the
 * check altogether while any replica came back up in the last minute. Measured (node-loss freeze,
 * 3 nodes, batch-100 lookups): the frozen node kept a third of all first attempts, and the
 * failover budget ran dry in 4 s. When every host of a plan is slow the plan keeps its order.
 */
export class SlowHosts {
  /** Host address -> performance.now() until which it counts as slow. */
  private readonly slowUntil = new Map<string, number>();

  constructor(
    private readonly counters: StoreCounters,
    private readonly holdMs = SLOW_HOST_HOLD_MS,
  ) {}

  /** An attempt sent to `address` got no answer within its timeout. */
  timedOut(address: string, now = performance.now()): void {
    if (!this.isSlow(address, now)) this.counters.hostsMarkedSlow++;
    this.slowUntil.set(address, now + this.holdMs);
  }

  /** Whether any host is held as slow (the common answer, no: plans then pass through untouched). */
  get any(): boolean {
    return this.slowUntil.size > 0;
  }

  /** Whether `address` let an attempt time out within the hold. */
  isSlow(address: string, now = performance.now()): boolean {
    const until = this.slowUntil.get(address);
    if (until === undefined) return false;
    if (until > now) return true;
    this.slowUntil.delete(address);
    return false;
  }

  /** `plan` with the slow hosts moved behind the others, lazily (a retry may never need them). */
  *behindOthers(plan: Iterator<cassandra.Host>): Generator<cassandra.Host, void, undefined> {
    const now = performance.now();
    let slow: cassandra.Host[] | undefined;
    for (let next = plan.next(); next.done !== true; next = plan.next()) {
      const host = next.value;
      if (this.isSlow(host.address, now)) (slow ??= []).push(host);
      else yield host;
    }
    if (slow !== undefined) yield* slow;
  }
}

/**
 * The driver's default load balancing (token-aware within the local data center, the less busy of
 * two replicas first), with the hosts SlowHosts holds moved to the back of each plan.
 */
export class SlowHostAwareLoadBalancing extends cassandra.policies.loadBalancing.DefaultLoadBalancingPolicy {
  constructor(
    localDc: string,
    private readonly slowHosts: SlowHosts,
  ) {
    super({ localDc });
  }

  override newQueryPlan(
    keyspace: string,
    executionOptions: cassandra.ExecutionOptions,
    callback: (error: Error, plan: Iterator<cassandra.Host>) => void,
  ): void {
    super.newQueryPlan(keyspace, executionOptions, (error, plan) => {
      if (error || !this.slowHosts.any) callback(error, plan);
      else callback(error, this.slowHosts.behindOthers(plan));
    });
  }
}

/**
 * FailoverBudget's defaults: a tenth of a retry or hedge per operation, at least ten per second
 * whatever the traffic, and a burst of 1000. The burst is sized to the requests, not to a count of
 * failures: one batch-100 lookup is 100–130 reads, and when a node freezes about a third of the
 * reads in flight need a hedge or a retry at once. A burst of 100 (measured, fault bench `freeze`)
 * ran dry within the first lookup. 1000 is about one full read gate (serving.maxInFlightReads,
 * 1024) of extra attempts, once, before the tenth-per-operation rate applies. The per-second
 * floor refills a quiet server's budget, whose operations alone would take hours to.
 */
const TOKENS_PER_OPERATION = 0.1;
const TOKENS_PER_SECOND = 10;
const MAX_TOKENS = 1000;

/**
 * Caps the extra work of failover (retries after a timeout or an overloaded answer, and hedges)
 * at a share of the operations sent, so that a cluster slow everywhere is not sent twice the
 * work: each operation earns a tenth of a token, each retry or hedge that starts spends one. The
 * burst covers the moments after a node dies or freezes, when the requests already sent to it
 * need another host.
 *
 * Retries may spend the whole budget; a hedge (a guess that a request is stuck) is armed only
 * while more than half is left, so hedging never takes the tokens that retries (requests that did
 * fail) need. An operation is given a short attempt only while a retry is available; once the budget is
 * spent, operations go back to one attempt that may take their whole time, as without failover.
 *
 * Nothing is reserved per operation in advance: a reservation per read in flight would make the
 * budget depend on throughput (at a few thousand reads/s the open reservations alone exceed the
 * burst, and no read would get a short attempt or a hedge exactly when the server is busiest).
 * A burst of failures that outruns the budget fails the few reads whose retry it could not pay
 * for, early, and the next operations take whole-time attempts.
 */
export class FailoverBudget {
  private tokens: number;
  private refilledAt = performance.now();

  constructor(
    private readonly tokensPerOperation = TOKENS_PER_OPERATION,
    private readonly maxTokens = MAX_TOKENS,
    private readonly tokensPerSecond = TOKENS_PER_SECOND,
  ) {
    this.tokens = maxTokens;
  }

  /** An operation was sent (at `now`, performance.now() ms). */
  earn(now = performance.now()): void {
    const elapsedMs = now - this.refilledAt;
    this.refilledAt = now;
    if (this.tokens >= this.maxTokens) return;
    const refill = this.tokensPerOperation + (elapsedMs > 0 ? (elapsedMs / 1000) * this.tokensPerSecond : 0);
    this.tokens = Math.min(this.maxTokens, this.tokens + refill);
  }

  /** True while a retry may start. */
  get available(): boolean {
    return this.tokens >= 1;
  }

  /** True while a request may arm a hedge: more than half the budget is left. */
  get hedgeAvailable(): boolean {
    return this.tokens >= this.maxTokens / 2 + 1;
  }

  /** A retry or hedge started. */
  spend(): void {
    this.tokens = Math.max(0, this.tokens - 1);
  }
}

/**
 * Why an attempt failed, as far as retrying it is concerned: no answer in time, a lost
 * connection, an overloaded (or starting) coordinator, an Unavailable answer, or a coordinator's
 * own ReadTimeout or WriteTimeout that the driver would retry (on the same coordinator).
 */
export type AttemptFailure = 'timeout' | 'connection' | 'overloaded' | 'unavailable' | 'coordinatorTimeout';

export interface RetryInput {
  failure: AttemptFailure;
  /** Attempts made so far by this execution (1 after the first). */
  attempts: number;
  /** Milliseconds left of the operation's time budget. */
  remainingMs: number;
  maxAttempts: number;
  /** Whether the FailoverBudget holds a retry that adds work. */
  budgetAvailable: boolean;
}

/**
 * Time a retry needs at least to be worth sending: less than this and even a healthy but busy
 * cluster would not answer in time, so the caller gets the failure now instead of a bit later.
 */
export const MIN_RETRY_MS = 50;

/**
 * Whether to retry a failed attempt. Never beyond `maxAttempts`, never with less than
 * MIN_RETRY_MS of the time budget left (the retry waits at most what is left: see
 * retryTimeout), after a timeout or an overloaded answer only while the failover budget allows
 * (the first attempt may still be running on the server), and after an Unavailable answer only
 * once (another coordinator may see more replicas alive; a second rarely does).
 */
export function mayRetry(input: RetryInput): boolean {
  if (input.attempts >= input.maxAttempts) return false;
  if (input.remainingMs < MIN_RETRY_MS) return false;
  if (input.failure === 'unavailable') return input.attempts === 1;
  return !addsWork(input.failure) || input.budgetAvailable;
}

/** Whether a retry after `failure` spends from the failover budget. */
export function addsWork(failure: AttemptFailure): boolean {
  return failure === 'timeout' || failure === 'overloaded';
}

/** How long a retry may wait: as long as an attempt, but never past the end of the time budget. */
export function retryTimeout(attemptTimeoutMs: number, remainingMs: number): number {
  return Math.max(1, Math.min(attemptTimeoutMs, Math.floor(remainingMs)));
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

/**
 * Driver options of one idempotent operation with `timeoutMs` to spend (see CassandraStore's own):
 * attempts capped at `attemptCapMs` while the failover budget holds a retry and there is
 * another host to fail over to, else one attempt that may take the whole time.
 */
export function budgetedOptions(
  budget: FailoverBudget,
  consistency: number,
  timeoutMs: number,
  attemptCapMs: number,
  canFailOver: boolean,
): BudgetedQueryOptions {
  const now = performance.now();
  budget.earn(now);
  const attemptMs = attemptTimeout(timeoutMs, attemptCapMs);
  return {
    prepare: true,
    consistency,
    readTimeout: canFailOver && attemptMs < timeoutMs && budget.available ? attemptMs : timeoutMs,
    isIdempotent: true,
    budgetEndsAt: now + timeoutMs,
  };
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
 * Retries a store operation on the next host while its budgets allow (see mayRetry).
 * The driver asks only for idempotent requests on timeouts, lost connections and overloaded
 * coordinators; every read and write of the store is marked idempotent.
 *
 * Requests without a budget (registry reads, DDL, probes) keep the driver's default decisions,
 * except that a client-side timeout is not retried: their timeout is their whole allowance.
 */
export class DeadlineRetryPolicy extends RetryPolicy {
  constructor(
    private readonly maxAttempts: number,
    private readonly budget: FailoverBudget,
    private readonly counters: StoreCounters,
    private readonly logger: Logger,
    /** Told of every host that let an attempt time out. */
    private readonly slowHosts?: SlowHosts,
  ) {
    super();
  }

  override onRequestError(info: OperationInfo, consistency: number, err: Error): DecisionInfo {
    const failure = failureOf(err);
    if (failure === 'timeout') {
      const host = (err as { host?: unknown }).host;
      if (typeof host === 'string') this.slowHosts?.timedOut(host);
    }
    if (budgetEnd(info) === undefined) {
      return failure === 'timeout' ? this.rethrowResult() : super.onRequestError(info, consistency, err);
    }
    return this.decide(info, failure, err) ? this.retryResult(consistency, false) : this.rethrowResult();
  }

  override onUnavailable(info: OperationInfo, consistency: number, required: number, alive: boolean): DecisionInfo {
    if (budgetEnd(info) === undefined) return super.onUnavailable(info, consistency, required, alive);
    return this.decide(info, 'unavailable', undefined) ? this.retryResult(consistency, false) : this.rethrowResult();
  }

  override onReadTimeout(
    info: OperationInfo,
    consistency: number,
    received: number,
    blockFor: number,
    isDataPresent: boolean,
  ): DecisionInfo {
    return this.unlessOverBudget(info, super.onReadTimeout(info, consistency, received, blockFor, isDataPresent));
  }

  override onWriteTimeout(
    info: OperationInfo,
    consistency: number,
    received: number,
    blockFor: number,
    writeType: string,
  ): DecisionInfo {
    return this.unlessOverBudget(info, super.onWriteTimeout(info, consistency, received, blockFor, writeType));
  }

  /**
   * Whether to retry (see mayRetry); counts, spends and logs accordingly. A retry's timeout is
   * cut to what is left of the time budget: the driver reads it from the operation's options at
   * every send (retries and hedges alike), and those options are the store's own, per operation.
   */
  private decide(info: OperationInfo, failure: AttemptFailure, err: Error | undefined): boolean {
    const options = info.executionOptions.getRawQueryOptions() as BudgetedQueryOptions;
    const remainingMs = options.budgetEndsAt - performance.now();
    const attempts = info.nbRetry + 1;
    const coordinator = (err as { coordinator?: string } | undefined)?.coordinator;
    const { maxAttempts, budget } = this;
    if (mayRetry({ failure, attempts, remainingMs, maxAttempts, budgetAvailable: budget.available })) {
      if (addsWork(failure)) budget.spend();
      options.readTimeout = retryTimeout(info.executionOptions.getReadTimeout(), remainingMs);
      this.logger.debug({ failure, coordinator, attempts, remainingMs }, 'retrying a Cassandra request');
      return true;
    }
    this.counters.retriesRefused++;
    this.logger.debug(
      { failure, coordinator, attempts, remainingMs },
      'not retrying: attempts, time or budget ran out',
    );
    return false;
  }

  /** The driver's decision on a coordinator's timeout, unless the budgets say otherwise. */
  private unlessOverBudget(info: OperationInfo, decision: DecisionInfo): DecisionInfo {
    if (budgetEnd(info) === undefined || decision.decision !== RETRY) return decision;
    return this.decide(info, 'coordinatorTimeout', undefined) ? decision : this.rethrowResult();
  }
}

/** A plan that never hedges. */
const NO_HEDGE = Object.freeze({ nextExecution: (): number => -1 });

/**
 * An operation's hedges: up to the maximum, each only while the failover budget holds one and
 * another host is up to take it.
 */
class HedgePlan {
  private armed = 0;

  constructor(
    private readonly delayMs: number,
    private readonly maxHedges: number,
    private readonly budget: FailoverBudget,
    private readonly hostsUp: number,
  ) {}

  /** Called as each execution starts: the delay before the next hedge, or -1 for none. */
  nextExecution(): number {
    // Executions so far: the first one and each hedge armed; a hedge needs a host none of them has.
    if (this.armed >= this.maxHedges || this.armed + 1 >= this.hostsUp || !this.budget.hedgeAvailable) return -1;
    this.armed++;
    return this.delayMs;
  }
}

/** What HedgingPolicy reads of the driver's hosts (the client's HostMap; its values() array is cached). */
export interface HedgeTargets {
  values(): readonly cassandra.Host[];
}

/** Whether a statement may be hedged: a SELECT, or with `hedgeWrites` an INSERT (every store INSERT carries its timestamp). */
function isHedgeable(cql: string, hedgeWrites: boolean): boolean {
  return cql.startsWith('SELECT') || (hedgeWrites && cql.startsWith('INSERT'));
}

/**
 * Hedges store reads and writes: an idempotent SELECT or INSERT (or a batch of INSERTs) still
 * unanswered after the delay is sent to the next host as well (up to `maxSpeculativeExecutions`
 * times, while the failover budget allows), and the first answer wins.
 *
 * Writes are hedged too because a write whose coordinator froze otherwise waits out its whole
 * attempt before its retry, and with a 1 s deadline on a busy machine that retry may no longer
 * fit (measured: fault suite, node-loss freeze, 2 writes DEADLINE_EXCEEDED). Sending an INSERT
 * twice stores the same cells: each carries its event time as its timestamp. Counter UPDATEs
 * (the coherence generations) are never hedged: each run adds one. A bulk session hedges no
 * writes (`hedgeWrites` false): its writes queue in the driver by design, and waiting there is normal.
 */
export class HedgingPolicy extends cassandra.policies.speculativeExecution.ConstantSpeculativeExecutionPolicy {
  private targets: { hosts: HedgeTargets; localDc: string } | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly maxHedges: number,
    private readonly budget: FailoverBudget,
    private readonly options: { hedgeWrites: boolean },
  ) {
    super(delayMs, maxHedges);
  }

  /**
   * Hedge only while another host of `localDc` (the only data center query plans use) is up.
   * Without this a single-node session counted a hedge, and spent a budget token, for every slow
   * request: the driver reports a hedge before it looks for a host to send it to.
   */
  watchHosts(hosts: HedgeTargets, localDc: string): void {
    this.targets = { hosts, localDc };
  }

  override newPlan(_keyspace: string, queryInfo: string | object[]): { nextExecution: () => number } {
    const { hedgeWrites } = this.options;
    const hedgeable =
      typeof queryInfo === 'string'
        ? isHedgeable(queryInfo, hedgeWrites)
        : queryInfo.every((entry) => isHedgeable(String((entry as { query?: unknown }).query ?? ''), hedgeWrites));
    if (!hedgeable) return NO_HEDGE;
    const hostsUp = this.localHostsUp();
    return hostsUp > 1 ? new HedgePlan(this.delayMs, this.maxHedges, this.budget, hostsUp) : NO_HEDGE;
  }

  /** Local hosts up, or no limit before watchHosts. */
  private localHostsUp(): number {
    if (this.targets === undefined) return Number.POSITIVE_INFINITY;
    const { hosts, localDc } = this.targets;
    let up = 0;
    for (const host of hosts.values()) if (host.datacenter === localDc && host.isUp()) up++;
    return up;
  }
}

/** The driver's no-op metrics base class (its type declarations only have the interface). */
const ClientMetrics = (cassandra.metrics as unknown as { ClientMetrics: new () => cassandra.metrics.ClientMetrics })
  .ClientMetrics;

/**
 * The driver's metrics hooks, counting retries and hedges into StoreCounters (the driver calls
 * them only when a retry or hedge actually starts). Errors are not counted here: they reach the
 * caller, who maps them.
 */
export class CountingMetrics extends ClientMetrics {
  constructor(
    private readonly budget: FailoverBudget,
    private readonly counters: StoreCounters,
    private readonly logger: Logger,
  ) {
    super();
  }

  override onClientTimeoutRetry(): void {
    this.counters.retriesAfterTimeout++;
  }
  override onOtherErrorRetry(): void {
    this.counters.retriesAfterConnectionError++;
  }
  override onReadTimeoutRetry(): void {
    this.counters.retriesAfterCoordinatorError++;
  }
  override onUnavailableRetry(): void {
    this.counters.retriesAfterCoordinatorError++;
  }
  override onWriteTimeoutRetry(): void {
    this.counters.retriesAfterCoordinatorError++;
  }
  override onSpeculativeExecution(): void {
    this.budget.spend();
    this.counters.speculativeExecutions++;
    this.logger.debug('hedging a slow Cassandra request on the next host');
  }
}
