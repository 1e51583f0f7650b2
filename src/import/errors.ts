import { CassetteError } from '../errors/index.js';

// The import job's own errors, in the one catalogue (src/errors), so that every piece of the job
// can throw them (CheckpointError lives in checkpoint.ts, RejectedRecord in sources/source.ts).

/** A problem with the job's setup, reported before anything is written. */
export class IngestSetupError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_INGEST_SETUP', message);
    this.name = 'IngestSetupError';
  }
}

export class RejectLimitError extends CassetteError {
  constructor(message: string) {
    super('CST_ERR_REJECT_LIMIT', message);
    this.name = 'RejectLimitError';
  }
}
