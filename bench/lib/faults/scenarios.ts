import { setTimeout as sleep } from 'node:timers/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import * as grpc from '@grpc/grpc-js';

import { IdleProcessProbe } from '../proc.js';
import { check, latencyOf, requestStats, round, type Check, type ScenarioReport } from './report.js';
import { ScenarioRun, type FaultEnv } from './run.js';
import { Caller, closedLoop, OpenLoop, type Outcome } from './traffic.js';
import { LOOKUP_METHOD, READS_PER_LOOKUP, readBack, type ReadBack } from './workload.js';

/**
 * The fault scenarios. Each starts its own `cassette serve` (cache off) against the 3-node
 * cluster, runs a timeline of load and faults, leaves the cluster whole again, and reports its
 * checks: the targets, each with the figure measured. None throws for a failed target;
 * a scenario that cannot go on (a node that does not come back) reports `error` instead.
 */

const NODES = [1, 2, 3] as const;
/** How long a node restart, a health change or a first success may take before the scenario gives up. */
const RECOVERY_LIMIT_MS = 240_000;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `body`; a failure becomes the scenario's error (and an event) instead of an exception. */
async function guarded(run: ScenarioRun, body: () => Promise<void>): Promise<string | null> {
  try {
    await body();
    return null;
  } catch (error) {
    const message = messageOf(error);
    run.event(`scenario failed: ${message}`);
    return message;
  }
}

/** The checks every scenario with writes makes: no acknowledged write lost. */
function readBackCheck(writes: ReadBack): Check {
  return check(
    'writes_lost',
    'every acknowledged write reads back',
    writes.acknowledged - writes.read_back,
    '==',
    0,
    'writes',
  );
}

/**
 * A server asked to stop exits with code 0 within its shutdown timeout (and the second the CLI
 * gives the process to end after it).
 */
function exitChecks(
  idPrefix: string,
  what: string,
  exit: { code: number | null; afterMs: number } | undefined,
  shutdownTimeoutMs: number,
): Check[] {
  return [
    check(`${idPrefix}exit_code`, `${what} exits with code 0`, exit?.code ?? null, '==', 0),
    check(
      `${idPrefix}exit_s`,
      `${what} exits within its shutdown timeout (${shutdownTimeoutMs / 1000} s, + 1 s to end the process)`,
      exit ? exit.afterMs / 1000 : null,
      '<=',
      shutdownTimeoutMs / 1000 + 1,
      's',
    ),
  ];
}

/** The steady load in words, at `factor` times the calibrated rates. */
function steadyLoadText(env: FaultEnv, factor = 1): string {
  const c = env.calibration;
  return (
    `Steady load: ${round(c.lookupsPerSecond * factor, 2)} ranking_v1 lookups/s (10 users × 10 items), ` +
    `${round(c.writesPerSecond * factor, 2)} single-row writes/s, deadline ${env.settings.deadlineMs} ms`
  );
}

const lookupStats = (outcomes: readonly Outcome[], fromMs = 0, toMs = Number.POSITIVE_INFINITY) =>
  requestStats(outcomes, 'lookup', fromMs, toMs);
const writeStats = (outcomes: readonly Outcome[], fromMs = 0, toMs = Number.POSITIVE_INFINITY) =>
  requestStats(outcomes, 'write', fromMs, toMs);

/** One node SIGKILLed under steady lookups and writes, restarted later. */
export async function killScenario(env: FaultEnv): Promise<ScenarioReport> {
  const s = env.settings;
  const node = s.killNode;
  const run = await ScenarioRun.begin(
    env,
    'kill',
    `${steadyLoadText(env)}; node ${node} of 3 is SIGKILLed, stays down ${s.killDownS} s, then restarts.`,
  );
  await run.warmUp();
  const load = run.steadyLoad();
  const error = await guarded(run, async () => {
    await run.hold('before', s.beforeS);
    const killAt = run.event(`SIGKILL node ${node}`);
    await env.cluster.signal(node, 'KILL');
    await sleep(s.killDownS * 1000);
    const restartAt = run.event(`restart node ${node}`);
    run.mark('node down', killAt, restartAt);
    await env.cluster.restart(node);
    run.mark('restarting', restartAt, run.event(`node ${node} answers CQL`));
    await run.hold('after', s.afterS);
  });
  await load.stop();
  const writes = await readBack(run.caller, load.acknowledged);
  const lookups = lookupStats(load.outcomes);
  const written = writeStats(load.outcomes);
  return run.finish({
    outcomes: load.outcomes,
    checks: [
      check('failed_lookups', `0 failed lookups (deadline ${s.deadlineMs} ms)`, lookups.failed, '==', 0, 'lookups'),
      check('failed_writes', `0 failed writes (deadline ${s.deadlineMs} ms)`, written.failed, '==', 0, 'writes'),
      readBackCheck(writes),
    ],
    figures: { lookups: lookups.requests, writes: written.requests, killed_node: node },
    writes,
    error,
  });
}

/** One node frozen (SIGSTOP) under steady load for freezeS seconds, then resumed. */
export async function freezeScenario(env: FaultEnv): Promise<ScenarioReport> {
  const s = env.settings;
  const node = s.freezeNode;
  const run = await ScenarioRun.begin(
    env,
    'freeze',
    `${steadyLoadText(env)}; node ${node} of 3 is frozen with SIGSTOP for ${s.freezeS} s, then resumed with SIGCONT.`,
  );
  await run.warmUp();
  const load = run.steadyLoad();
  let window = { before: [0, 0], frozen: [0, 0] };
  const error = await guarded(run, async () => {
    const beforeFrom = run.now();
    await run.hold('before', s.beforeS);
    const stopAt = run.event(`SIGSTOP node ${node}`);
    try {
      await env.cluster.signal(node, 'STOP');
      await sleep(s.freezeS * 1000);
    } finally {
      await env.cluster.signal(node, 'CONT');
    }
    const contAt = run.event(`SIGCONT node ${node}`);
    run.mark('frozen', stopAt, contAt);
    window = { before: [beforeFrom, stopAt], frozen: [stopAt, contAt] };
    await run.hold('after', s.afterS);
  });
  await load.stop();
  const writes = await readBack(run.caller, load.acknowledged);
  const before = lookupStats(load.outcomes, window.before[0], window.before[1]);
  const frozen = lookupStats(load.outcomes, window.frozen[0], window.frozen[1]);
  const lookups = lookupStats(load.outcomes);
  const ratio = before.p99_ms && frozen.p99_ms !== null ? frozen.p99_ms / before.p99_ms : null;
  return run.finish({
    outcomes: load.outcomes,
    checks: [
      check('freeze_p99_ratio', 'lookup p99 during the freeze at most 2× the p99 before it', ratio, '<=', 2, '×'),
      check('failed_lookups', `0 failed lookups (deadline ${s.deadlineMs} ms)`, lookups.failed, '==', 0, 'lookups'),
      readBackCheck(writes),
    ],
    figures: {
      p99_before_ms: before.p99_ms,
      p99_frozen_ms: frozen.p99_ms,
      failed_writes: writeStats(load.outcomes).failed,
      frozen_node: node,
    },
    writes,
    error,
  });
}

interface CycleFigures {
  cycle: number;
  /** From the kill of the last node to health NOT_SERVING. */
  not_serving_after_ms: number | null;
  /** From the first node answering CQL to health SERVING. */
  serving_after_ms: number | null;
  /** From the second node answering CQL (a quorum of replicas) to the first lookup answered OK. */
  lookup_ok_after_ms: number | null;
  /** Lookups due during the outage that were not answered UNAVAILABLE within their deadline. */
  outage_lookups: number;
  outage_lookups_not_fast_unavailable: number;
  /**
   * Lookups due from 10 s after the quorum came back until the last node answered CQL that failed
   * (reported, not a target: see allDownScenario).
   */
  failed_with_two_nodes: number;
  /** Lookups due from the last node answering CQL to the cycle's end that failed. */
  failed_after_recovery: number;
}

/**
 * Every node killed under steady load, cyclesN times, and brought back: health must say
 * NOT_SERVING within 5 s, lookups fail UNAVAILABLE within their deadline, RSS stays bounded,
 * and after the restart health says SERVING and lookups succeed within 10 s. In the last outage a
 * second server is stopped (SIGTERM) and must exit within its shutdown timeout.
 */
export async function allDownScenario(env: FaultEnv): Promise<ScenarioReport> {
  const s = env.settings;
  const run = await ScenarioRun.begin(
    env,
    'all-down',
    `${steadyLoadText(env)}; ${s.cycles} times: every node SIGKILLed, down ${s.outageS} s, then restarted one by one. In the last outage a second server (drain ${s.drainMs} ms, shutdown timeout ${s.shutdownTimeoutMs} ms) gets SIGTERM.`,
  );
  await run.warmUp();
  const load = run.steadyLoad();
  const cycles: CycleFigures[] = [];
  let firstKillAt = Number.POSITIVE_INFINITY;
  let drainExit: { code: number | null; afterMs: number } | undefined;
  const error = await guarded(run, async () => {
    for (let cycle = 1; cycle <= s.cycles; cycle++) {
      await run.hold(`cycle ${cycle}: up`, cycle === 1 ? s.beforeS : Math.min(s.afterS, 5));
      const drainServer =
        cycle === s.cycles
          ? await run.extraServer('drain', { drainMs: s.drainMs, shutdownTimeoutMs: s.shutdownTimeoutMs })
          : undefined;
      const killAt = run.event(`cycle ${cycle}: SIGKILL every node`);
      firstKillAt = Math.min(firstKillAt, killAt);
      await Promise.all(NODES.map((node) => env.cluster.signal(node, 'KILL')));
      const lastKilledAt = run.now();
      const notServingAt = await run.health.until('NOT_SERVING', 30_000);
      await sleep(s.outageS * 1000);
      if (drainServer) {
        const termAt = run.event('SIGTERM to the second server (during the outage)');
        const exit = await run.terminate(drainServer);
        const afterMs = run.clockOf(exit.atMs) - termAt;
        drainExit = { code: exit.code, afterMs };
        run.event(`second server exited with code ${exit.code} after ${(afterMs / 1000).toFixed(1)} s`);
      }
      const restartAt = run.event(`cycle ${cycle}: restart node 1`);
      await env.cluster.restart(1);
      const firstCqlAt = run.event('node 1 answers CQL');
      run.mark(`cycle ${cycle}: down`, killAt, firstCqlAt);
      const serving = run.health.until('SERVING', RECOVERY_LIMIT_MS);
      await env.cluster.restart(2);
      const quorumAt = run.event('node 2 answers CQL (a quorum of replicas is back)');
      const servingAt = await serving;
      await env.cluster.restart(3);
      const wholeAt = run.event('node 3 answers CQL');
      const lookupOkAt = await firstOkLookup(load.outcomes, quorumAt, RECOVERY_LIMIT_MS);
      await run.hold(`cycle ${cycle}: recovered`, s.afterS);
      const endAt = run.now();
      run.mark(`cycle ${cycle}: recovering`, firstCqlAt, endAt);
      // The outage proper: from NOT_SERVING (or 5 s after the kill, if it never came) to the restart.
      const outageFrom = Number.isNaN(notServingAt) ? lastKilledAt + 5000 : notServingAt;
      const outage = load.outcomes.filter(
        (o) => o.kind === 'lookup' && o.intendedMs >= outageFrom && o.intendedMs < restartAt,
      );
      const notFast = outage.filter(
        (o) => o.code !== grpc.status.UNAVAILABLE || latencyOf(o, 'sent') >= s.deadlineMs,
      ).length;
      cycles.push({
        cycle,
        not_serving_after_ms: Number.isNaN(notServingAt) ? null : round(notServingAt - lastKilledAt, 0),
        serving_after_ms: Number.isNaN(servingAt) ? null : round(Math.max(0, servingAt - firstCqlAt), 0),
        lookup_ok_after_ms: Number.isNaN(lookupOkAt) ? null : round(Math.max(0, lookupOkAt - quorumAt), 0),
        outage_lookups: outage.length,
        outage_lookups_not_fast_unavailable: notFast,
        failed_with_two_nodes: lookupStats(load.outcomes, quorumAt + 10_000, wholeAt).failed,
        failed_after_recovery: lookupStats(load.outcomes, wholeAt, endAt).failed,
      });
      env.say(`  all-down cycle ${cycle}: ${JSON.stringify(cycles.at(-1))}`);
    }
  });
  await load.stop();
  const writes = await readBack(run.caller, load.acknowledged);
  const worst = (pick: (c: CycleFigures) => number | null): number | null =>
    cycles.length === 0 || cycles.some((c) => pick(c) === null) ? null : Math.max(...cycles.map((c) => pick(c)!));
  const sum = (pick: (c: CycleFigures) => number): number => cycles.reduce((total, c) => total + pick(c), 0);
  const rssBefore = run.process.peakRss(0, firstKillAt);
  const rssPeak = run.process.peakRss(firstKillAt, Number.POSITIVE_INFINITY);
  const outageLatency = requestStats(load.outcomes, 'lookup', 0, Number.POSITIVE_INFINITY, {
    from: 'sent',
    codes: [grpc.status.UNAVAILABLE],
  });
  return run.finish({
    outcomes: load.outcomes,
    checks: [
      check('cycles', `${s.cycles} outage-and-recovery cycles completed`, cycles.length, '==', s.cycles, 'cycles'),
      check(
        'not_serving_within_s',
        'health NOT_SERVING within 5 s of the outage (worst cycle)',
        sec(worst((c) => c.not_serving_after_ms)),
        '<=',
        5,
        's',
      ),
      check(
        'outage_lookups_not_unavailable',
        `every lookup during an outage answered UNAVAILABLE within its deadline (${s.deadlineMs} ms)`,
        sum((c) => c.outage_lookups_not_fast_unavailable),
        '==',
        0,
        'lookups',
      ),
      check(
        'rss_ratio',
        'server RSS bounded while clients retry: peak after the first outage at most 1.5× the peak before it',
        rssBefore && rssPeak ? rssPeak / rssBefore : null,
        '<=',
        1.5,
        '×',
      ),
      check(
        'serving_within_s',
        'health SERVING within 10 s of the first node answering CQL (worst cycle)',
        sec(worst((c) => c.serving_after_ms)),
        '<=',
        10,
        's',
      ),
      check(
        'lookups_ok_within_s',
        'lookups succeed within 10 s of a quorum (2 of 3 nodes) answering CQL (worst cycle)',
        sec(worst((c) => c.lookup_ok_after_ms)),
        '<=',
        10,
        's',
      ),
      // Not from the quorum's return on: with one replica of three still down, every LOCAL_QUORUM
      // read needs both of the others, one a JVM seconds old on a busy machine, and no failover
      // routes around it (those failures are reported per cycle as failed_with_two_nodes).
      check(
        'failed_after_recovery',
        'no failed lookup once every node is back (from the last node answering CQL to the end of the cycle)',
        sum((c) => c.failed_after_recovery),
        '==',
        0,
        'lookups',
      ),
      ...exitChecks('drain_', 'a server stopped during an outage', drainExit, s.shutdownTimeoutMs),
      readBackCheck(writes),
    ],
    figures: {
      cycles: JSON.stringify(cycles),
      failed_with_two_nodes: sum((c) => c.failed_with_two_nodes),
      rss_before_mib: rssBefore === null ? null : round(rssBefore / 2 ** 20),
      rss_peak_mib: rssPeak === null ? null : round(rssPeak / 2 ** 20),
      unavailable_p50_ms: outageLatency.p50_ms,
      unavailable_p99_ms: outageLatency.p99_ms,
      unavailable_max_ms: outageLatency.max_ms,
    },
    writes,
    error,
  });
}

const sec = (ms: number | null): number | null => (ms === null ? null : ms / 1000);

/** The scenario-clock time the first lookup due at or after `fromMs` was answered OK (waits for it). */
async function firstOkLookup(outcomes: readonly Outcome[], fromMs: number, limitMs: number): Promise<number> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    let first = Number.NaN;
    for (const o of outcomes) {
      if (o.kind === 'lookup' && o.code === grpc.status.OK && o.intendedMs >= fromMs && !(o.doneMs >= first)) {
        first = o.doneMs;
      }
    }
    if (!Number.isNaN(first) || performance.now() > deadline) return first;
    await sleep(250);
  }
}

/**
 * Open-loop overload at overloadFactor × the maximum sustainable rate. The server's in-flight
 * limit is sized to the cluster as an operator would: serving.maxInFlightReads = the reads of
 * `knee` lookups, the fewest in flight that reached 90 % of the best throughput in the
 * calibration sweep (more in flight only queues inside Cassandra). A closed-loop probe at the
 * knee finds the maximum this server sustains, an open loop at unloadedFraction of it gives the
 * unloaded latencies, then the overload. Latencies here count from the actual send, so the
 * generator's own lag at ten times the rate (reported) does not count against the server.
 */
export async function overloadScenario(env: FaultEnv): Promise<ScenarioReport> {
  const s = env.settings;
  const knee = env.calibration.kneeConcurrency;
  const maxInFlightReads = knee * READS_PER_LOOKUP;
  const run = await ScenarioRun.begin(
    env,
    'overload',
    `ranking_v1 lookups only (deadline ${s.deadlineMs} ms, 4 channels), serving.maxInFlightReads ${maxInFlightReads} (${knee} lookups, the calibration's knee): a closed-loop probe (${knee} in flight, ${s.probeS} s) for the maximum sustainable rate, an open loop at ${s.unloadedFraction * 100} % of it (unloaded, ${s.unloadedS} s), then ${s.overloadFactor}× it for ${s.overloadS} s, then the unloaded rate again.`,
    { maxInFlightReads },
    4,
  );
  const outcomes: Outcome[] = [];
  const record = (o: Outcome) => outcomes.push(o);
  const caller = run.caller;
  const send = (i: number, done: (code: number) => void) =>
    caller.send(LOOKUP_METHOD, env.lookups[i % env.lookups.length]!, s.deadlineMs, done);
  const openLoop = async (name: string, rate: number, seconds: number) => {
    const from = run.now();
    const loop = new OpenLoop(
      {
        kind: 'lookup',
        ratePerSecond: rate,
        maxDurationMs: seconds * 1000,
        maxRequests: Math.ceil(rate * seconds) + 1,
        maxInFlight: 20_000,
      },
      run.clock,
      send,
      record,
    );
    loop.start();
    await sleep(seconds * 1000);
    await loop.stop();
    const to = from + seconds * 1000;
    run.mark(name, from, to);
    return { from, to };
  };
  let maxRps = Number.NaN;
  const figures: Record<string, number | string | null> = {};
  type Window = { from: number; to: number };
  let windows: { probe: Window; unloaded: Window; overload: Window } | undefined;
  const error = await guarded(run, async () => {
    await run.warmUp(40);
    await run.server.stats();
    const probeFrom = run.event(`probe: closed loop, ${knee} in flight`);
    await closedLoop('lookup', knee, s.probeS * 1000, 1_000_000, run.clock, send, record);
    const probeTo = run.now();
    run.mark('probe', probeFrom, probeTo);
    const probe = lookupStats(outcomes, probeFrom, probeTo);
    maxRps = probe.ok / ((probeTo - probeFrom) / 1000);
    // The latency of the same number in flight without the overload's refusals around it: what
    // admitted requests can be expected to see when the server adds nothing of its own.
    figures.probe_p50_ms = probe.p50_ms;
    figures.probe_p99_ms = probe.p99_ms;
    const probeStats = await run.server.stats();
    for (const [name, value] of Object.entries(probeStats?.eventLoop ?? {})) {
      figures[`server_event_loop_probe_${name}`] = value;
    }
    run.event(
      `max sustainable ${maxRps.toFixed(1)} lookups/s; unloaded open loop at ${(maxRps * s.unloadedFraction).toFixed(1)}/s`,
    );
    const unloaded = await openLoop('unloaded', maxRps * s.unloadedFraction, s.unloadedS);
    run.event(`overload: open loop at ${(maxRps * s.overloadFactor).toFixed(0)}/s`);
    const gateBefore = (await run.server.stats())?.readAdmission ?? null;
    // This process's own event loop while it sends at 10×: a late loop delays sends (send lag)
    // and the reading of answers (latencies here count up to that).
    const clientLoop = monitorEventLoopDelay({ resolution: 10 });
    clientLoop.enable();
    const clientBusy = performance.eventLoopUtilization();
    // An idle process's loop over the same seconds: the machine's floor under every latency here.
    const idleProbe = IdleProcessProbe.start();
    const overload = await openLoop('overload', maxRps * s.overloadFactor, s.overloadS);
    const idle = await idleProbe.stop();
    figures.idle_process_event_loop_delay_p99_ms = idle?.p99Ms ?? null;
    figures.idle_process_event_loop_delay_max_ms = idle?.maxMs ?? null;
    clientLoop.disable();
    figures.client_event_loop_utilization = round(performance.eventLoopUtilization(clientBusy).utilization, 3);
    figures.client_event_loop_delay_p99_ms = round(clientLoop.percentile(99) / 1e6, 2);
    figures.client_event_loop_delay_max_ms = round(clientLoop.max / 1e6, 2);
    const statsAfter = await run.server.stats();
    const gateAfter = statsAfter?.readAdmission ?? null;
    // The server's event loop over the overload (the stats line covers the time since the one before).
    for (const [name, value] of Object.entries(statsAfter?.eventLoop ?? {}))
      figures[`server_event_loop_${name}`] = value;
    if (gateBefore && gateAfter) {
      // What the server's read admission did during the overload (its own counters).
      for (const [counter, total] of Object.entries(gateAfter)) {
        figures[`server_${counter}`] = total - (gateBefore[counter] ?? 0);
      }
    }
    run.event('back to the unloaded rate');
    await openLoop('after', maxRps * s.unloadedFraction, Math.min(s.afterS, 5));
    windows = { probe: { from: probeFrom, to: probeTo }, unloaded, overload };
  });
  figures.max_rps = round(maxRps);
  figures.max_in_flight_reads = maxInFlightReads;
  figures.calibration_sweep = JSON.stringify(env.calibration.sweep);
  const checks: Check[] = [];
  if (windows) {
    const { probe, unloaded, overload } = windows;
    const ok = [grpc.status.OK];
    const shedCodes = [grpc.status.RESOURCE_EXHAUSTED];
    const unloadedOk = requestStats(outcomes, 'lookup', unloaded.from, unloaded.to, { from: 'sent', codes: ok });
    const admitted = requestStats(outcomes, 'lookup', overload.from, overload.to, { from: 'sent', codes: ok });
    const admittedFromIntended = requestStats(outcomes, 'lookup', overload.from, overload.to, { codes: ok });
    const shed = requestStats(outcomes, 'lookup', overload.from, overload.to, { from: 'sent', codes: shedCodes });
    const all = lookupStats(outcomes, overload.from, overload.to);
    const goodput = admitted.requests / ((overload.to - overload.from) / 1000);
    const rssBefore = run.process.peakRss(0, overload.from);
    const rssPeak = run.process.peakRss(overload.from, Number.POSITIVE_INFINITY);
    const sendLag = sendLagP99(outcomes, overload.from, overload.to);
    // Server CPU per request, which the machine's load does not distort as it does latencies: per
    // lookup served in the probe, and per refusal in the overload once the served ones are taken out.
    const cpuMs = (w: Window) => {
      const percent = run.process.mean((sample) => sample.cpuPercent, w.from, w.to);
      return percent === null ? null : (percent / 100) * (w.to - w.from);
    };
    // The probe served maxRps lookups a second over its window.
    const probeCpuMs = cpuMs(probe);
    const probeServed = (maxRps * (probe.to - probe.from)) / 1000;
    const cpuPerServedMs = probeCpuMs !== null && probeServed > 0 ? probeCpuMs / probeServed : null;
    // Null when the refusals' share is lost in the noise (the served ones' estimate exceeds the total).
    const overloadCpuMs = cpuMs(overload);
    const shedCpuMs =
      overloadCpuMs !== null && cpuPerServedMs !== null ? overloadCpuMs - admitted.requests * cpuPerServedMs : null;
    const cpuPerShedMs = shedCpuMs !== null && shedCpuMs > 0 && shed.requests > 0 ? shedCpuMs / shed.requests : null;
    Object.assign(figures, {
      offered_rps: round(all.requests / ((overload.to - overload.from) / 1000)),
      goodput_rps: round(goodput),
      shed_requests: shed.requests,
      other_failures: JSON.stringify(
        Object.fromEntries(Object.entries(all.failures_by_code).filter(([code]) => code !== 'RESOURCE_EXHAUSTED')),
      ),
      unloaded_p50_ms: unloadedOk.p50_ms,
      unloaded_p99_ms: unloadedOk.p99_ms,
      admitted_p50_ms: admitted.p50_ms,
      admitted_p99_ms: admitted.p99_ms,
      admitted_p99_from_intended_ms: admittedFromIntended.p99_ms,
      admitted_p99_vs_probe_p99:
        admitted.p99_ms !== null && typeof figures.probe_p99_ms === 'number'
          ? round(admitted.p99_ms / figures.probe_p99_ms, 2)
          : null,
      shed_p50_ms: shed.p50_ms,
      shed_p99_ms: shed.p99_ms,
      send_lag_p99_ms: sendLag,
      server_cpu_ms_per_served_lookup: cpuPerServedMs === null ? null : round(cpuPerServedMs, 3),
      server_cpu_ms_overload: overloadCpuMs === null ? null : round(overloadCpuMs),
      server_cpu_ms_per_shed_request: cpuPerShedMs === null ? null : round(cpuPerShedMs, 3),
      rss_before_mib: rssBefore === null ? null : round(rssBefore / 2 ** 20),
      rss_peak_mib: rssPeak === null ? null : round(rssPeak / 2 ** 20),
    });
    checks.push(
      check('overloaded', 'the overload was one: some requests were shed', shed.requests, '>=', 1, 'requests'),
      check(
        'goodput_ratio',
        'goodput at least 80 % of the maximum sustainable throughput',
        goodput / maxRps,
        '>=',
        0.8,
        '×',
      ),
      check(
        'shed_p99_ms',
        'shed requests (RESOURCE_EXHAUSTED) answered in under 5 ms at p99',
        shed.p99_ms,
        '<=',
        5,
        'ms',
      ),
      check(
        'shed_p99_vs_unloaded_p50',
        'shed requests answered faster (p99) than an unloaded lookup is served (p50)',
        shed.p99_ms !== null && unloadedOk.p50_ms ? shed.p99_ms / unloadedOk.p50_ms : null,
        '<=',
        1,
        '×',
      ),
      check(
        'admitted_p99_ratio',
        "admitted requests' p99 at most 3× their unloaded p99",
        admitted.p99_ms !== null && unloadedOk.p99_ms ? admitted.p99_ms / unloadedOk.p99_ms : null,
        '<=',
        3,
        '×',
      ),
      check(
        'rss_ratio',
        'server RSS bounded: peak during and after the overload at most 1.5× the peak before it',
        rssBefore && rssPeak ? rssPeak / rssBefore : null,
        '<=',
        1.5,
        '×',
      ),
    );
  }
  return run.finish({ outcomes, checks, figures, error });
}

/** p99 of how late requests due in [fromMs, toMs) were sent. */
function sendLagP99(outcomes: readonly Outcome[], fromMs: number, toMs: number): number | null {
  const lags = outcomes
    .filter((o) => o.intendedMs >= fromMs && o.intendedMs < toMs)
    .map((o) => o.sentMs - o.intendedMs)
    .sort((a, b) => a - b);
  return lags.length === 0 ? null : round(lags[Math.min(lags.length - 1, Math.floor(lags.length * 0.99))]!, 2);
}

/**
 * SIGTERM under load: health NOT_SERVING at once, requests still answered during the drain
 * (clients keep sending until shortly before it ends, as a load balancer would until it has seen
 * NOT_SERVING), exit code 0 within the shutdown timeout; the writes it acknowledged read back.
 */
export async function drainScenario(env: FaultEnv): Promise<ScenarioReport> {
  const s = env.settings;
  const run = await ScenarioRun.begin(
    env,
    'drain',
    `${steadyLoadText(env, s.drainLoadFactor)}; SIGTERM to the server (drain ${s.drainMs} ms, shutdown timeout ${s.shutdownTimeoutMs} ms); clients stop sending 0.5 s before the drain ends.`,
    { drainMs: s.drainMs, shutdownTimeoutMs: s.shutdownTimeoutMs },
  );
  await run.warmUp();
  const load = run.steadyLoad(s.drainLoadFactor);
  let figures:
    | {
        notServingAfterMs: number | null;
        exitCode: number | null;
        exitAfterMs: number;
        drainFrom: number;
        drainTo: number;
      }
    | undefined;
  const error = await guarded(run, async () => {
    await run.hold('before', s.beforeS);
    const termAt = run.event('SIGTERM');
    const exit = run.terminate(run.server);
    const notServingAt = await run.health.until('NOT_SERVING', s.drainMs);
    await sleep(Math.max(0, termAt + s.drainMs - 500 - run.now()));
    const stopAt = run.event('clients stop sending');
    run.mark('draining', termAt, stopAt);
    await load.stop();
    const exited = await exit;
    const exitAt = run.clockOf(exited.atMs);
    run.event(`server exited with code ${exited.code}`);
    figures = {
      notServingAfterMs: Number.isNaN(notServingAt) ? null : notServingAt - termAt,
      exitCode: exited.code,
      exitAfterMs: exitAt - termAt,
      drainFrom: termAt,
      drainTo: stopAt,
    };
  });
  await load.stop();
  // The acknowledged writes, read back through a fresh server.
  let writes: ReadBack = { acknowledged: load.acknowledged.size, read_back: 0, missing: [] };
  const readError = await guarded(run, async () => {
    const reader = await run.extraServer('read-back');
    writes = await readBack(new Caller(await run.channelsTo(reader.address, 1)), load.acknowledged);
  });
  const during = figures
    ? [
        lookupStats(load.outcomes, figures.drainFrom, figures.drainTo),
        writeStats(load.outcomes, figures.drainFrom, figures.drainTo),
      ]
    : [];
  const failedDuring = figures ? during.reduce((n, stats) => n + stats.failed, 0) : null;
  const answeredDuring = figures ? during.reduce((n, stats) => n + stats.ok, 0) : null;
  return run.finish({
    outcomes: load.outcomes,
    checks: [
      check('failed_during_drain', '0 failed requests during the drain', failedDuring, '==', 0, 'requests'),
      check('answered_during_drain', 'requests were answered during the drain', answeredDuring, '>=', 1, 'requests'),
      check(
        'not_serving_within_s',
        'health NOT_SERVING at once on SIGTERM (before the drain ends)',
        figures?.notServingAfterMs == null ? null : figures.notServingAfterMs / 1000,
        '<=',
        s.drainMs / 1000,
        's',
      ),
      ...exitChecks(
        '',
        'the server',
        figures && { code: figures.exitCode, afterMs: figures.exitAfterMs },
        s.shutdownTimeoutMs,
      ),
      readBackCheck(writes),
    ],
    figures: {
      not_serving_after_ms: figures?.notServingAfterMs == null ? null : round(figures.notServingAfterMs, 0),
      exit_after_ms: figures ? round(figures.exitAfterMs, 0) : null,
      answered_during_drain: answeredDuring,
      failed_in_whole_run: lookupStats(load.outcomes).failed + writeStats(load.outcomes).failed,
    },
    writes,
    error: error ?? readError,
  });
}

export const SCENARIO_FUNCTIONS = {
  kill: killScenario,
  freeze: freezeScenario,
  overload: overloadScenario,
  drain: drainScenario,
  'all-down': allDownScenario,
} as const;
