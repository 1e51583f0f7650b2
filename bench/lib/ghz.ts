import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

import { z } from 'zod';

import { PROTO_DIR } from '../../src/api/proto.js';
import { createHistogram, encodeHistogram, recordMs } from './histogram.js';
import { childrenCpuSeconds } from './proc.js';

/**
 * ghz (https://ghz.sh, Go) as a second load generator for Cassette's gRPC API: a compiled client
 * on its own cores, to tell where the grpc-js generator saturates before the server does. The
 * harness writes the request pool as a JSON array (ghz cycles through it), runs ghz once per
 * phase and turns its `--format json` report into the harness's figures.
 */

/** The Cassette RPCs ghz can drive (both take a GetOnlineFeaturesRequest). */
export type GhzRpc = 'GetOnlineFeatures' | 'GetOnlineFeaturesArrow';

/** Name of the empty message the bench's copy of serving.proto answers with (see undecodedServingProto). */
const UNDECODED_RESPONSE = 'BenchUndecodedResponse';

/** ghz on PATH, else where `go install` puts it ($GOBIN, $GOPATH/bin, ~/go/bin); undefined when absent. */
export function findGhz(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [
    ...(env.PATH ?? '').split(delimiter).filter(Boolean),
    ...(env.GOBIN ? [env.GOBIN] : []),
    join(env.GOPATH ?? join(homedir(), 'go'), 'bin'),
  ];
  return dirs.map((dir) => join(dir, 'ghz')).find((path) => existsSync(path));
}

/**
 * ghz's module version (e.g. "v0.121.0"): a `go install` build says "dev" to --version, so the
 * Go build information is asked first (`go version -m`, when Go is here).
 */
export function ghzVersionOf(binary: string): string {
  const run = (command: string, args: string[]): string => {
    try {
      return execFileSync(command, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      return '';
    }
  };
  const module = /^\s*mod\s+github\.com\/bojand\/ghz\s+(\S+)/m.exec(run('go', ['version', '-m', binary]))?.[1];
  return module ?? (run(binary, ['--version']).trim() || 'unknown');
}

/**
 * serving.proto with both serving RPCs answering an empty message: ghz then keeps each response's
 * fields as unparsed bytes instead of building 5,000 dynamic Value and Timestamp messages for a
 * 100 × 50 answer, as the grpc-js generator keeps responses as a Buffer. The request types are
 * the real ones, byte for byte: the server sees exactly what a real client sends.
 */
export function undecodedServingProto(servingProto: string): string {
  let rewritten = servingProto;
  for (const response of ['GetOnlineFeaturesResponse', 'ArrowFeatures']) {
    const from = `returns (${response});`;
    if (!rewritten.includes(from)) throw new Error(`serving.proto: no "${from}" to rewrite for ghz`);
    rewritten = rewritten.replace(from, `returns (${UNDECODED_RESPONSE});`);
  }
  return `${rewritten}\n// Written by bench/lib/ghz.ts: responses left undecoded by the load generator.\nmessage ${UNDECODED_RESPONSE} {}\n`;
}

/** The proto ghz is given and where its imports are found: the rewritten serving.proto first, then proto/. */
export interface GhzProto {
  readonly protoFile: string;
  readonly importPaths: readonly string[];
}

/** Writes the undecoded-response serving.proto under `dir` (mirroring proto/'s layout). */
export function writeGhzProto(dir: string): GhzProto {
  const relative = join('cassette', 'v1', 'serving.proto');
  const root = join(dir, 'proto');
  mkdirSync(join(root, 'cassette', 'v1'), { recursive: true });
  const protoFile = join(root, relative);
  writeFileSync(protoFile, undecodedServingProto(readFileSync(join(PROTO_DIR, relative), 'utf8')));
  return { protoFile, importPaths: [root, PROTO_DIR] };
}

/** The request pool as ghz call data: a JSON array (protobuf JSON, int64 as strings) it cycles through. */
export function ghzRequestData(
  batches: readonly (readonly number[])[],
  featureRefs: readonly string[],
  joinKey: string,
): string {
  const features = { val: featureRefs };
  return JSON.stringify(
    batches.map((ids) => ({
      features,
      entities: { [joinKey]: { val: ids.map((id) => ({ int64_val: String(id) })) } },
    })),
  );
}

/**
 * ghz's --duration runs from before it connects and reads its call data, which can take a good
 * part of a second on a busy machine: it is given this much longer, and the report is cut to the
 * duration asked for, counted from its first call (ghzWindowMs).
 */
export const GHZ_START_ALLOWANCE_MS = 1_500;

/** The window to cut a run's report to (parseGhzReport): the duration asked for, or no limit. */
export function ghzWindowMs(load: GhzLoad): number {
  return load.mode === 'count' ? Number.POSITIVE_INFINITY : load.durationMs;
}

export type GhzLoad =
  /** Closed loop: `concurrency` callers over `connections` HTTP/2 connections, for `durationMs`. */
  | { readonly mode: 'closed'; readonly concurrency: number; readonly durationMs: number }
  /** A fixed rate (ghz's --rps: sends paced by a rate limiter over `concurrency` callers), for `durationMs`. */
  | { readonly mode: 'rate'; readonly rps: number; readonly concurrency: number; readonly durationMs: number }
  /** At most `count` requests (tests): bounded in count as well as by the process timeout. */
  | { readonly mode: 'count'; readonly count: number; readonly concurrency: number };

export interface GhzRunSpec {
  readonly address: string;
  readonly rpc: GhzRpc;
  readonly proto: GhzProto;
  readonly dataFile: string;
  readonly connections: number;
  readonly deadlineMs: number;
  readonly load: GhzLoad;
}

/** ghz's command line for one run. Pure. */
export function ghzArgs(spec: GhzRunSpec): string[] {
  const { load } = spec;
  const args = [
    '--proto',
    spec.proto.protoFile,
    '--import-paths',
    spec.proto.importPaths.join(','),
    '--call',
    `cassette.v1.FeatureServing/${spec.rpc}`,
    '--data-file',
    spec.dataFile,
    '--insecure',
    '--format',
    'json',
    // Plain JSON data: no template parsing per call.
    '--disable-template-functions',
    '--disable-template-data',
    '--connections',
    String(Math.min(spec.connections, load.concurrency)),
    '--concurrency',
    String(load.concurrency),
    '--timeout',
    `${spec.deadlineMs}ms`,
    '--max-recv-message-size',
    '64MB',
  ];
  if (load.mode === 'count') {
    args.push('--total', String(load.count));
  } else {
    // Calls still in flight when the time is up are left out of the report, not counted as errors.
    const durationMs = load.durationMs + GHZ_START_ALLOWANCE_MS;
    args.push('--duration', `${durationMs}ms`, '--duration-stop', 'ignore');
    if (load.mode === 'rate') args.push('--rps', String(Math.max(1, Math.round(load.rps))));
  }
  args.push(spec.address);
  return args;
}

/** Go's names of gRPC codes (ghz's `status`) as grpc-js spells them, as the other generator reports errors. */
export function grpcCodeName(goName: string): string {
  if (goName === 'Canceled') return 'CANCELLED';
  if (goName === 'OK') return 'OK';
  return goName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

const nanoseconds = z.number().nonnegative();
const ghzReportSchema = z.object({
  count: z.number().int().nonnegative(),
  details: z
    .array(
      z.object({
        /** When the call ended (RFC 3339, nanoseconds). */
        timestamp: z.string(),
        latency: nanoseconds,
        status: z.string(),
        error: z.string().optional(),
      }),
    )
    .nullable()
    .optional(),
});

/** Milliseconds since the epoch of an RFC 3339 time with up to nanosecond digits (Date.parse keeps ms). */
export function rfc3339Ms(text: string): number {
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
  const ms = Date.parse(text.replace(/\.\d+/, ''));
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 time: ${text}`);
  return ms + Number(`0.${fraction || '0'}`) * 1000;
}

/** One ghz run in the harness's terms. */
export interface GhzResult {
  /** Calls answered in the window (with or without an error). */
  readonly count: number;
  /**
   * The measured window, ms since the epoch: from the first call's start to the last call's end
   * (ghz's start-up and report writing left out). Calls answered per second of it: achievedRps.
   */
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly achievedRps: number;
  /** HdrHistogram (µs) of every call's latency, errors included (as the grpc-js generator records them). */
  readonly histogram: string;
  readonly errors: number;
  readonly errorsByCode: Record<string, number>;
}

/** Requests in ghz's call data at most: its start-up parses them all (see GHZ_START_ALLOWANCE_MS). */
export const GHZ_POOL_MAX_REQUESTS = 2_000;

/**
 * Parses ghz's `--format json` report. Pure. The window starts when the first call was sent and
 * lasts at most `windowLimitMs`: calls that ended later are left out (see GHZ_START_ALLOWANCE_MS).
 */
export function parseGhzReport(json: string, windowLimitMs = Number.POSITIVE_INFINITY): GhzResult {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new Error(`ghz printed no JSON report: ${(error as Error).message}: ${json.slice(0, 200)}`);
  }
  const report = ghzReportSchema.parse(raw);
  const details = report.details ?? [];
  if (details.length !== report.count) {
    // ghz keeps at most a million details; a longer run would need its own (coarser) histogram.
    throw new Error(`ghz report has ${details.length} call details for ${report.count} calls`);
  }
  const calls = details.map((call) => ({
    latencyMs: call.latency / 1e6,
    endMs: rfc3339Ms(call.timestamp),
    status: call.status,
  }));
  let windowStartMs = Number.POSITIVE_INFINITY;
  let windowEndMs = Number.NEGATIVE_INFINITY;
  for (const call of calls) {
    windowStartMs = Math.min(windowStartMs, call.endMs - call.latencyMs);
    windowEndMs = Math.max(windowEndMs, call.endMs);
  }
  if (calls.length === 0) windowStartMs = windowEndMs = 0;
  windowEndMs = Math.min(windowEndMs, windowStartMs + windowLimitMs);
  const histogram = createHistogram();
  const errorsByCode: Record<string, number> = {};
  let errors = 0;
  let count = 0;
  for (const call of calls) {
    if (call.endMs > windowEndMs) continue;
    count++;
    recordMs(histogram, call.latencyMs);
    if (call.status !== 'OK') {
      errors++;
      const code = grpcCodeName(call.status);
      errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
    }
  }
  const windowMs = windowEndMs - windowStartMs;
  return {
    count,
    windowStartMs,
    windowEndMs,
    achievedRps: windowMs > 0 ? count / (windowMs / 1000) : 0,
    histogram: encodeHistogram(histogram),
    errors,
    errorsByCode,
  };
}

/** A ghz process's report and the CPU it used. */
export interface GhzProcessResult extends GhzResult {
  /** CPU seconds the ghz process used over its whole life (start-up and report included). */
  readonly cpuSeconds: number | null;
}

/**
 * Runs ghz for `spec` to the end and parses its report. `timeoutMs` bounds the process whatever
 * its arguments say (it is killed, and the run fails, past it).
 */
export async function runGhz(
  binary: string,
  spec: GhzRunSpec,
  timeoutMs: number,
  onSpawn: (pid: number | null) => void = () => undefined,
): Promise<GhzProcessResult> {
  // ghz is this process's child: its CPU shows in our children's CPU once it is reaped.
  const cpuBefore = childrenCpuSeconds();
  const child = spawn(binary, ghzArgs(spec), { stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn(child.pid ?? null);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  }).finally(() => clearTimeout(timer));
  const cpuAfter = childrenCpuSeconds();
  if (timedOut) throw new Error(`ghz did not finish within ${timeoutMs} ms`);
  // ghz exits 1 when it printed a report of a run with errors: the report still says what happened.
  const output = Buffer.concat(stdout).toString('utf8');
  if (code !== 0 && !output.trimStart().startsWith('{')) {
    throw new Error(`ghz exited with ${code}: ${stderr.trim() || output.slice(0, 500)}`);
  }
  const result = parseGhzReport(output, ghzWindowMs(spec.load));
  return {
    ...result,
    cpuSeconds: cpuBefore === null || cpuAfter === null ? null : Math.max(0, cpuAfter - cpuBefore),
  };
}
