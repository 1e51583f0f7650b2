import { setTimeout as sleep } from 'node:timers/promises';

import * as grpc from '@grpc/grpc-js';

import { ArrivalSchedule, OpenLoopPacer, sleepBefore } from '../schedule.js';
import { LOOKUP_METHOD, WRITE_METHOD, writeRequest } from './workload.js';

/**
 * Client traffic of the fault benchmark, in this process: open loops (requests leave on a fixed
 * schedule whatever the server does, latency counted from the intended send time) and closed
 * loops (the probe). Every request's outcome is kept, with its times on the scenario's clock, so
 * a scenario can cut them by phase and by second. Loops are bounded in count and in time.
 */

export type RequestKind = 'lookup' | 'write';

export interface Outcome {
  readonly kind: RequestKind;
  /** Scenario-clock ms: when the request was due (open loop; = sentMs in a closed loop). */
  readonly intendedMs: number;
  readonly sentMs: number;
  readonly doneMs: number;
  /** gRPC status code, 0 = OK. */
  readonly code: number;
}

/** Milliseconds since a scenario began. */
export type Clock = () => number;

export function clockFrom(originMs = performance.now()): Clock {
  return () => performance.now() - originMs;
}

const passthrough = (buffer: Buffer): Buffer => buffer;

/** Sends one request on one of the channels in turn; `done` gets the gRPC status code. */
export class Caller {
  private next = 0;

  constructor(private readonly channels: readonly grpc.Client[]) {}

  send(method: string, request: Buffer, deadlineMs: number, done: (code: number, response?: Buffer) => void): void {
    const channel = this.channels[this.next++ % this.channels.length]!;
    channel.makeUnaryRequest<Buffer, Buffer>(
      method,
      passthrough,
      passthrough,
      request,
      { deadline: Date.now() + deadlineMs },
      (error, response) => (error ? done(error.code) : done(grpc.status.OK, response)),
    );
  }

  /** The response bytes of one call; rejects with the status code's name on an error. */
  call(method: string, request: Buffer, deadlineMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      this.send(method, request, deadlineMs, (code, response) =>
        response ? resolve(response) : reject(new Error(grpc.status[code] ?? `status ${code}`)),
      ),
    );
  }
}

export interface OpenLoopSpec {
  kind: RequestKind;
  ratePerSecond: number;
  /** The loop stops issuing after this long, or after maxRequests, or on stop(), whichever first. */
  maxDurationMs: number;
  maxRequests: number;
  /** Due requests wait (and the wait counts in their latency) while this many are in flight. */
  maxInFlight: number;
}

/** One open loop: request i is due at i / rate seconds after start(). */
export class OpenLoop {
  private stopped = false;
  private inFlight = 0;
  private issued = 0;
  private loop: Promise<void> | undefined;
  private idle: (() => void) | undefined;

  constructor(
    private readonly spec: OpenLoopSpec,
    private readonly clock: Clock,
    /** Sends request number i; calls done(code) exactly once. */
    private readonly send: (i: number, done: (code: number) => void) => void,
    private readonly record: (outcome: Outcome) => void,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops issuing and resolves once every request sent has been answered. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private async run(): Promise<void> {
    const { spec, clock } = this;
    const startedAt = clock();
    const pacer = new OpenLoopPacer(
      new ArrivalSchedule({ kind: 'constant', ratePerSecond: spec.ratePerSecond }),
      spec.maxDurationMs,
    );
    const issue = (intended: number) => {
      const i = this.issued++;
      const intendedMs = startedAt + intended;
      const sentMs = clock();
      this.inFlight++;
      this.send(i, (code) => {
        this.inFlight--;
        this.record({ kind: spec.kind, intendedMs, sentMs, doneMs: clock(), code });
        if (this.inFlight === 0) this.idle?.();
      });
    };
    while (!this.stopped && !pacer.done && this.issued < spec.maxRequests) {
      const now = clock() - startedAt;
      const room = Math.min(spec.maxInFlight - this.inFlight, spec.maxRequests - this.issued);
      if (room > 0) pacer.takeDue(now, room, issue);
      // Wake for the next arrival, or soon to see whether the run is over (nextAt is Infinity then).
      await sleep(room > 0 ? Math.min(sleepBefore(pacer.nextAt, clock() - startedAt), 100) : 1);
    }
  }
}

/**
 * `concurrency` callers, each sending its next request when the previous one is answered, for
 * `durationMs` or `maxRequests` in all. Latency is from the actual send.
 */
export async function closedLoop(
  kind: RequestKind,
  concurrency: number,
  durationMs: number,
  maxRequests: number,
  clock: Clock,
  send: (i: number, done: (code: number) => void) => void,
  record: (outcome: Outcome) => void,
): Promise<void> {
  const endAt = clock() + durationMs;
  let issued = 0;
  const caller = async () => {
    while (clock() < endAt && issued < maxRequests) {
      const i = issued++;
      const sentMs = clock();
      const code = await new Promise<number>((resolve) => send(i, resolve));
      record({ kind, intendedMs: sentMs, sentMs, doneMs: clock(), code });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
}

export interface SteadyLoadSpec {
  lookupsPerSecond: number;
  writesPerSecond: number;
  deadlineMs: number;
  maxDurationMs: number;
  /** Written users are firstUser, firstUser + 1, …: no other scenario writes them. */
  firstUser: number;
}

/**
 * The steady load of a fault scenario: ranking_v1 lookups and single-row writes, each an open loop.
 * Every acknowledged write (user -> value) is remembered for the read-back.
 */
export class SteadyLoad {
  readonly outcomes: Outcome[] = [];
  readonly acknowledged = new Map<number, number>();
  private readonly loops: OpenLoop[];

  constructor(spec: SteadyLoadSpec, caller: Caller, lookups: readonly Buffer[], clock: Clock) {
    const record = (outcome: Outcome) => this.outcomes.push(outcome);
    const bound = (kind: RequestKind, rate: number): OpenLoopSpec => ({
      kind,
      ratePerSecond: rate,
      maxDurationMs: spec.maxDurationMs,
      maxRequests: Math.ceil((rate * spec.maxDurationMs) / 1000) + 1,
      maxInFlight: 1024,
    });
    this.loops = [
      new OpenLoop(
        bound('lookup', spec.lookupsPerSecond),
        clock,
        (i, done) => caller.send(LOOKUP_METHOD, lookups[i % lookups.length]!, spec.deadlineMs, done),
        record,
      ),
      new OpenLoop(
        bound('write', spec.writesPerSecond),
        clock,
        (i, done) => {
          const user = spec.firstUser + i;
          caller.send(WRITE_METHOD, writeRequest(user, i), spec.deadlineMs, (code) => {
            if (code === grpc.status.OK) this.acknowledged.set(user, i);
            done(code);
          });
        },
        record,
      ),
    ];
  }

  start(): void {
    for (const loop of this.loops) loop.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((loop) => loop.stop()));
  }
}
