import type { KeyDistribution } from '../lib/dataset.js';

/** Messages between the harness (parent) and the load generator (child process). */

export type TargetSpec =
  /** GetOnlineFeatures on a Cassette server, round-robin over `channels` separate HTTP/2 connections. */
  | { readonly kind: 'cassette'; readonly address: string; readonly channels: number; readonly deadlineMs: number }
  /** Feast's ServingService.GetOnlineFeatures on the same server's gRPC port, over the same channels. */
  | { readonly kind: 'feast-grpc'; readonly address: string; readonly channels: number; readonly deadlineMs: number }
  /**
   * Feast's POST /get-online-features (JSON) on the server's HTTP listener, over at most
   * `connections` keep-alive HTTP/1.1 connections.
   */
  | { readonly kind: 'feast-http'; readonly address: string; readonly connections: number; readonly deadlineMs: number }
  /** The same single-partition reads with a long-lived, tuned cassandra-driver session in the generator. */
  | { readonly kind: 'direct-driver'; readonly cassandra: CassandraSpec; readonly deadlineMs: number }
  /** A new driver session per request: connect, read, shut down. */
  | { readonly kind: 'connect-per-request'; readonly cassandra: CassandraSpec };

export interface CassandraSpec {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly keyspace: string;
}

export interface WorkloadSpec {
  readonly batch: number;
  readonly features: number;
  readonly keys: KeyDistribution;
  readonly entities: number;
  /** Dataset seed (what the values are) and the key-mix seed. */
  readonly seed: number;
}

export type LoadSpec =
  | {
      readonly mode: 'closed';
      readonly concurrency: number;
      readonly warmupMs: number;
      readonly durationMs: number;
      /** Stop after this many measured requests even if time remains (bounds costly baselines). */
      readonly maxRequests?: number;
    }
  | {
      readonly mode: 'open';
      readonly ratePerSecond: number;
      readonly poisson: boolean;
      readonly warmupMs: number;
      readonly durationMs: number;
      /** Requests in flight beyond which due sends wait (their wait still counts as latency). */
      readonly maxInFlight: number;
    };

export interface Job {
  readonly id: number;
  readonly target: TargetSpec;
  readonly workload: WorkloadSpec;
  readonly load: LoadSpec;
  /** Decode and check a sample of responses against the dataset. */
  readonly verify: boolean;
}

export interface JobResult {
  /** Latency histogram of the measured requests (compressed base64 HdrHistogram, µs). */
  readonly histogram: string;
  /** Open loop: how late requests went out relative to their intended time. */
  readonly sendLag: string | null;
  /** Measured requests answered (their latencies are in the histogram). */
  readonly completed: number;
  /** Answers per second inside the window. */
  readonly achievedRps: number;
  readonly errors: number;
  readonly errorsByCode: Record<string, number>;
  /** Length of the measured window, from its start to the last measured completion. */
  readonly windowMs: number;
  /** The generator process's own CPU over the window (100 = one core). */
  readonly cpuPercent: number;
  /** The generator's garbage-collection pauses during the window: total and longest. */
  readonly gcPauseTotalMs: number;
  readonly gcPauseMaxMs: number;
  readonly verified: number;
  readonly verifyFailures: number;
  readonly firstVerifyFailure: string | null;
}

export type ToGenerator = { readonly type: 'run'; readonly job: Job } | { readonly type: 'shutdown' };

export type FromGenerator =
  | { readonly type: 'ready' }
  | { readonly type: 'window'; readonly id: number; readonly phase: 'start' | 'end' }
  | { readonly type: 'result'; readonly id: number; readonly result: JobResult }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };
