// The import job's own errors, moved here unchanged from job.ts so that every piece of the job
// can throw them (CheckpointError lives in checkpoint.ts, RejectedRecord in sources/source.ts).

/** A problem with the job's setup, reported before anything is written. */
export class IngestSetupError extends Error {
  override name = 'IngestSetupError';
}

export class RejectLimitError extends Error {
  override name = 'RejectLimitError';
}
