import type { Counts } from './watermark.js';

export type ImportStatus = 'finished' | 'already finished' | 'failed' | 'interrupted';

/** What a run of the import job reports (`cassette ingest --json` prints it as is). */
export interface ImportSummary {
  readonly status: ImportStatus;
  readonly view: string;
  readonly files: number;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly rowsRejected: number;
  readonly rowsExpired: number;
  /** Duration of this run. */
  readonly durationMs: number;
  /** Records processed by this run per second. */
  readonly rowsPerSecond: number;
  readonly peakRssBytes: number;
  readonly resumed: boolean;
  readonly dryRun: boolean;
  readonly rejectsFile: string | null;
  readonly checkpointFile: string | null;
  readonly error?: string;
}

/** What a summary says about a run whatever its outcome. */
export interface RunFacts {
  readonly view: string;
  readonly files: number;
  /** Date.now() when this run started. */
  readonly startedMs: number;
  readonly resumed: boolean;
  readonly dryRun: boolean;
  readonly rejectsPath: string;
  readonly checkpointPath: string | null;
}

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * The summary of a run that ends now. `counts` are the job's totals (at the watermark);
 * `recordsThisRun` gives the rate.
 */
export function summarizeRun(
  run: RunFacts,
  status: ImportStatus,
  counts: Counts,
  recordsThisRun: number,
  error?: string,
): ImportSummary {
  const durationMs = Date.now() - run.startedMs;
  return {
    status,
    view: run.view,
    files: run.files,
    rowsRead: counts.read,
    rowsWritten: counts.written,
    rowsRejected: counts.rejected,
    rowsExpired: counts.expired,
    durationMs,
    rowsPerSecond: durationMs > 0 ? Math.round((recordsThisRun / durationMs) * 1000) : 0,
    peakRssBytes: peakRssBytes(),
    resumed: run.resumed,
    dryRun: run.dryRun,
    rejectsFile: counts.rejected > 0 ? run.rejectsPath : null,
    checkpointFile: run.checkpointPath,
    ...(error !== undefined ? { error } : {}),
  };
}
