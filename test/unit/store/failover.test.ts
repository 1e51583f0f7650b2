import cassandra from 'cassandra-driver';
import pino from 'pino';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../../src/config/index.js';
import { CountingMetrics, DeadlineRetryPolicy, HedgingPolicy, SlowHosts } from '../../../src/store/failover.js';
import {
  attemptTimeout,
  FailoverBudget,
  mayRetry,
  retryTimeout,
  storeError,
  StoreCounters,
  type RetryInput,
} from '../../../src/store/index.js';

const { errors, types } = cassandra;
const silent = pino({ level: 'silent' });

describe('mayRetry', () => {
  const base: RetryInput = {
    failure: 'timeout',
    attempts: 1,
    remainingMs: 600,
    maxAttempts: 3,
    budgetAvailable: true,
  };

  it('retries a timeout, a lost connection or an overloaded coordinator while time is left', () => {
    for (const failure of ['timeout', 'connection', 'overloaded'] as const) {
      expect(mayRetry({ ...base, failure })).toBe(true);
      expect(mayRetry({ ...base, failure, attempts: 2, remainingMs: 50 })).toBe(true);
    }
  });

  it('rethrows when too little of the time budget is left for an answer', () => {
    expect(mayRetry({ ...base, remainingMs: 49 })).toBe(false);
    expect(mayRetry({ ...base, failure: 'connection', remainingMs: 0 })).toBe(false);
    expect(mayRetry({ ...base, remainingMs: -5 })).toBe(false);
  });

  it('never makes more than maxAttempts attempts, however much time is left', () => {
    expect(mayRetry({ ...base, attempts: 3, remainingMs: 10_000 })).toBe(false);
    expect(mayRetry({ ...base, maxAttempts: 1, remainingMs: 10_000 })).toBe(false);
  });

  it('retries what adds work (a timeout, an overloaded answer) only while the failover budget allows', () => {
    expect(mayRetry({ ...base, budgetAvailable: false })).toBe(false);
    expect(mayRetry({ ...base, failure: 'overloaded', budgetAvailable: false })).toBe(false);
    expect(mayRetry({ ...base, failure: 'coordinatorTimeout', budgetAvailable: false })).toBe(true);
    // A lost connection lost its work: retrying it duplicates nothing.
    expect(mayRetry({ ...base, failure: 'connection', budgetAvailable: false })).toBe(true);
  });

  it('retries an Unavailable answer once only', () => {
    expect(mayRetry({ ...base, failure: 'unavailable' })).toBe(true);
    expect(mayRetry({ ...base, failure: 'unavailable', attempts: 2, remainingMs: 10_000 })).toBe(false);
  });
});

/** Spends `budget` retry by retry until none is available; returns how many it held. */
function retriesLeft(budget: FailoverBudget): number {
  let retries = 0;
  while (budget.available) {
    budget.spend();
    retries++;
  }
  return retries;
}

describe('FailoverBudget', () => {
  it('starts with a burst, earns a tenth per operation, and never goes below zero', () => {
    const budget = new FailoverBudget(0.1, 3, 0);
    for (let i = 0; i < 100; i++) budget.spend();
    expect(budget.available).toBe(false);
    for (let i = 0; i < 9; i++) budget.earn();
    expect(budget.available).toBe(false);
    budget.earn();
    budget.earn();
    expect(budget.available).toBe(true);
  });

  it('arms hedges only from the upper half, and lets retries spend the rest', () => {
    const budget = new FailoverBudget(0.1, 10, 0);
    // 10 tokens: hedges while at least 6 are left (half of 10, plus the hedge itself).
    const hedges: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      hedges.push(budget.hedgeAvailable);
      if (budget.hedgeAvailable) budget.spend();
    }
    expect(hedges).toEqual([true, true, true, true, true, false]);
    // Retries may spend all that is left.
    expect(retriesLeft(budget)).toBe(5);
  });

  it('does not depend on how many operations are in flight: a busy server still fails over', () => {
    const budget = new FailoverBudget();
    // 5,000 reads started within one attempt window (a busy server): every one gets a short
    // attempt and may arm its hedge, since nothing is reserved per read.
    const short = Array.from({ length: 5_000 }, () => {
      budget.earn();
      return budget.available;
    });
    expect(short.every(Boolean)).toBe(true);
    expect(budget.hedgeAvailable).toBe(true);
  });

  it('by default covers a node freezing under batch-100 lookups: a third of two lookups hedged, then retried', () => {
    const budget = new FailoverBudget();
    const onFrozenNode = Math.ceil((2 * 130) / 3);
    let hedged = 0;
    for (let i = 0; i < onFrozenNode; i++) {
      if (budget.hedgeAvailable) {
        budget.spend();
        hedged++;
      }
    }
    expect(hedged).toBe(onFrozenNode);
    for (let i = 0; i < onFrozenNode; i++) budget.spend();
    expect(budget.available).toBe(true);
    expect(budget.hedgeAvailable).toBe(true);
  });

  it('refills at its per-second floor whatever the traffic', () => {
    const budget = new FailoverBudget(0.1, 100, 10);
    budget.earn(0);
    for (let i = 0; i < 100; i++) budget.spend();
    expect(budget.available).toBe(false);
    // One operation 1 s later: 0.1 for the operation, 10 for the second.
    budget.earn(1_000);
    expect(retriesLeft(budget)).toBe(10);
  });
});

describe('retryTimeout', () => {
  it('lets a retry wait an attempt, never past the time budget', () => {
    expect(retryTimeout(400, 900)).toBe(400);
    expect(retryTimeout(400, 120.7)).toBe(120);
    expect(retryTimeout(2000, 0.2)).toBe(1);
  });
});

describe('attemptTimeout', () => {
  it('caps an attempt, and gives a short budget to a single attempt', () => {
    expect(attemptTimeout(1000, 400)).toBe(400);
    expect(attemptTimeout(250, 400)).toBe(250);
    expect(attemptTimeout(10_000, 0)).toBe(10_000);
  });
});

/** What the driver hands the retry policy about one request. */
function operation(options: cassandra.QueryOptions & { budgetEndsAt?: number }, nbRetry: number) {
  return {
    query: 'SELECT x FROM t WHERE k = ?',
    nbRetry,
    executionOptions: {
      getRawQueryOptions: () => options,
      getReadTimeout: () => options.readTimeout,
    } as unknown as cassandra.ExecutionOptions,
  };
}

describe('DeadlineRetryPolicy', () => {
  const quorum = types.consistencies.localQuorum;
  const timeout = new errors.OperationTimedOutError('no answer', '127.0.0.2:9042');
  const { retryDecision } = cassandra.policies.retry.RetryPolicy as unknown as { retryDecision: { retry: number } };
  const retry = (decision: cassandra.policies.retry.DecisionInfo) => decision.decision === retryDecision.retry;

  it('moves to the next host while time is left, cutting the retry to it, and counts the refusals', () => {
    const counters = new StoreCounters();
    const policy = new DeadlineRetryPolicy(3, new FailoverBudget(), counters, silent);
    const roomy = operation({ readTimeout: 400, budgetEndsAt: performance.now() + 800 }, 0);
    const decision = policy.onRequestError(roomy, quorum, timeout);
    expect(retry(decision)).toBe(true);
    expect((decision as { useCurrentHost?: boolean }).useCurrentHost).toBe(false);
    expect(counters.retriesRefused).toBe(0);

    const cut = operation({ readTimeout: 400, budgetEndsAt: performance.now() + 150 }, 1);
    expect(retry(policy.onRequestError(cut, quorum, timeout))).toBe(true);
    expect(cut.executionOptions.getReadTimeout()).toBeLessThanOrEqual(150);
    expect(cut.executionOptions.getReadTimeout()).toBeGreaterThan(50);

    const tight = operation({ readTimeout: 400, budgetEndsAt: performance.now() + 20 }, 1);
    expect(retry(policy.onRequestError(tight, quorum, timeout))).toBe(false);
    const spent = operation({ readTimeout: 400, budgetEndsAt: performance.now() + 10_000 }, 2);
    expect(retry(policy.onRequestError(spent, quorum, new Error('socket closed')))).toBe(false);
    expect(counters.retriesRefused).toBe(2);
  });

  it("keeps the driver's decisions for requests without a budget, except that a timeout is final", () => {
    const policy = new DeadlineRetryPolicy(3, new FailoverBudget(), new StoreCounters(), silent);
    const unbudgeted = operation({ readTimeout: 2000 }, 0);
    expect(retry(policy.onRequestError(unbudgeted, quorum, timeout))).toBe(false);
    expect(retry(policy.onRequestError(unbudgeted, quorum, new Error('socket closed')))).toBe(true);
    expect(retry(policy.onUnavailable(unbudgeted, quorum, 2, false))).toBe(true);
  });

  it('tells SlowHosts which host let an attempt time out, and only on a timeout', () => {
    const counters = new StoreCounters();
    const slowHosts = new SlowHosts(counters);
    const policy = new DeadlineRetryPolicy(3, new FailoverBudget(), counters, silent, slowHosts);
    policy.onRequestError(operation({ readTimeout: 400, budgetEndsAt: performance.now() + 800 }, 0), quorum, timeout);
    policy.onRequestError(operation({ readTimeout: 2000 }, 0), quorum, new Error('socket closed'));
    expect(slowHosts.isSlow('127.0.0.2:9042')).toBe(true);
    expect(slowHosts.isSlow('127.0.0.1:9042')).toBe(false);
    expect(counters.hostsMarkedSlow).toBe(1);
  });

  it('takes a coordinator timeout retry only while time is left', () => {
    const policy = new DeadlineRetryPolicy(3, new FailoverBudget(), new StoreCounters(), silent);
    const roomy = operation({ readTimeout: 400, budgetEndsAt: performance.now() + 900 }, 0);
    const tight = operation({ readTimeout: 400, budgetEndsAt: performance.now() + 20 }, 0);
    // The driver retries a read timeout when enough replicas answered but the data did not come.
    expect(retry(policy.onReadTimeout(roomy, quorum, 2, 2, false))).toBe(true);
    expect(retry(policy.onReadTimeout(tight, quorum, 2, 2, false))).toBe(false);
    expect(retry(policy.onReadTimeout(roomy, quorum, 1, 2, false))).toBe(false);
  });
});

describe('HedgingPolicy', () => {
  const insert = 'INSERT INTO ks.t (k, v0) VALUES (?, ?) USING TIMESTAMP ? AND TTL ?';
  const bump = 'UPDATE ks.g SET generation = generation + 1 WHERE scope = ? AND feature_view = ?';

  it('hedges SELECTs and INSERTs up to the maximum, and never a counter update', () => {
    const policy = new HedgingPolicy(50, 2, new FailoverBudget(), { hedgeWrites: true });
    const read = policy.newPlan('ks', 'SELECT v0 FROM ks.t WHERE k = ?');
    expect([read.nextExecution(), read.nextExecution(), read.nextExecution()]).toEqual([50, 50, -1]);
    expect(policy.newPlan('ks', insert).nextExecution()).toBe(50);
    expect(policy.newPlan('ks', [{ query: insert }, { query: insert }]).nextExecution()).toBe(50);
    expect(policy.newPlan('ks', bump).nextExecution()).toBe(-1);
    expect(policy.newPlan('ks', [{ query: insert }, { query: bump }]).nextExecution()).toBe(-1);
  });

  it('hedges no writes for a bulk session', () => {
    const policy = new HedgingPolicy(50, 1, new FailoverBudget(), { hedgeWrites: false });
    expect(policy.newPlan('ks', 'SELECT v0 FROM ks.t WHERE k = ?').nextExecution()).toBe(50);
    expect(policy.newPlan('ks', insert).nextExecution()).toBe(-1);
    expect(policy.newPlan('ks', [{ query: insert }]).nextExecution()).toBe(-1);
  });

  it('hedges only while another local host is up to take the hedge', () => {
    const host = (datacenter: string, up: boolean) => ({ datacenter, isUp: () => up }) as unknown as cassandra.Host;
    const hosts: cassandra.Host[] = [host('dc1', true)];
    const policy = new HedgingPolicy(50, 2, new FailoverBudget(), { hedgeWrites: true });
    policy.watchHosts({ values: () => hosts }, 'dc1');
    const select = 'SELECT v0 FROM ks.t WHERE k = ?';
    expect(policy.newPlan('ks', select).nextExecution()).toBe(-1);
    hosts.push(host('dc2', true), host('dc1', false));
    expect(policy.newPlan('ks', select).nextExecution()).toBe(-1);
    hosts.push(host('dc1', true));
    const two = policy.newPlan('ks', select);
    expect([two.nextExecution(), two.nextExecution()]).toEqual([50, -1]);
    hosts.push(host('dc1', true));
    const three = policy.newPlan('ks', select);
    expect([three.nextExecution(), three.nextExecution(), three.nextExecution()]).toEqual([50, 50, -1]);
  });

  it('arms no hedge while the failover budget is spent', () => {
    const budget = new FailoverBudget(0.1, 4, 0);
    const metrics = new CountingMetrics(budget, new StoreCounters(), silent);
    const policy = new HedgingPolicy(50, 1, budget, { hedgeWrites: true });
    expect(policy.newPlan('ks', 'SELECT v0 FROM ks.t WHERE k = ?').nextExecution()).toBe(50);
    metrics.onSpeculativeExecution();
    metrics.onSpeculativeExecution();
    expect(policy.newPlan('ks', 'SELECT v0 FROM ks.t WHERE k = ?').nextExecution()).toBe(-1);
  });
});

describe('storeError', () => {
  it('maps a connection lost under a request to UNAVAILABLE', () => {
    const lost = new (errors.DriverError as unknown as new (message: string) => Error)('Socket was closed');
    (lost as { isSocketError?: boolean }).isSocketError = true;
    expect(storeError(lost, false)).toMatchObject({ status: 'UNAVAILABLE', code: 'CST_ERR_STORE_UNAVAILABLE' });
  });
});

describe('CountingMetrics', () => {
  it('counts retries by cause and hedges', () => {
    const counters = new StoreCounters();
    const metrics = new CountingMetrics(new FailoverBudget(), counters, silent);
    metrics.onClientTimeoutRetry();
    metrics.onOtherErrorRetry();
    metrics.onOtherErrorRetry();
    metrics.onUnavailableRetry();
    metrics.onSpeculativeExecution();
    expect(counters).toMatchObject({
      retriesAfterTimeout: 1,
      retriesAfterConnectionError: 2,
      retriesAfterCoordinatorError: 1,
      speculativeExecutions: 1,
    });
  });
});

describe('failover settings', () => {
  it('validates attempts and hedging, 0 turning hedging off', () => {
    const load = (cassandra: Record<string, number>) => loadConfig({ env: {}, overrides: { cassandra } }).cassandra;
    expect(load({ speculativeDelayMs: 0 }).speculativeDelayMs).toBe(0);
    expect(() => load({ maxAttempts: 0 })).toThrow(/cassandra.maxAttempts/);
    expect(() => load({ attemptTimeoutMs: 0 })).toThrow(/cassandra.attemptTimeoutMs/);
    expect(() => load({ maxSpeculativeExecutions: 0 })).toThrow(/cassandra.maxSpeculativeExecutions/);
    expect(() => load({ speculativeDelayMs: -1 })).toThrow(/cassandra.speculativeDelayMs/);
  });
});

describe('SlowHosts', () => {
  const host = (address: string) => ({ address }) as cassandra.Host;
  const order = (slow: SlowHosts, addresses: string[]) =>
    [...slow.behindOthers(addresses.map(host)[Symbol.iterator]())].map((h) => h.address);

  it('holds a host that timed out as slow for the hold, renewed by each timeout, counting each time it turns slow', () => {
    const counters = new StoreCounters();
    const slow = new SlowHosts(counters, 2000);
    expect(slow.any).toBe(false);
    slow.timedOut('a', 1000);
    slow.timedOut('a', 1500);
    expect(slow.isSlow('a', 3400)).toBe(true);
    expect(slow.isSlow('b', 1500)).toBe(false);
    expect(slow.isSlow('a', 3500)).toBe(false);
    // Forgotten once the hold is over: plans pass through untouched again.
    expect(slow.any).toBe(false);
    slow.timedOut('a', 4000);
    expect(counters.hostsMarkedSlow).toBe(2);
  });

  it('moves slow hosts behind the others in a plan, keeping both orders, and keeps a plan of slow hosts as it is', () => {
    const slow = new SlowHosts(new StoreCounters());
    slow.timedOut('b');
    expect(order(slow, ['a', 'b', 'c'])).toEqual(['a', 'c', 'b']);
    expect(order(slow, ['b', 'c', 'a'])).toEqual(['c', 'a', 'b']);
    slow.timedOut('a');
    expect(order(slow, ['b', 'c', 'a'])).toEqual(['c', 'b', 'a']);
    slow.timedOut('c');
    expect(order(slow, ['b', 'c', 'a'])).toEqual(['b', 'c', 'a']);
  });
});
