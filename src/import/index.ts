export { runImportJob, type ImportJobOptions, type ImportJobDeps, type ImportTarget } from './job.js';
export { defaultCheckpointPath, defaultRejectsPath } from './setup.js';
export { IngestSetupError, RejectLimitError } from './errors.js';
export type { ImportSummary, ImportStatus } from './summary.js';
export {
  CheckpointError,
  readCheckpoint,
  readCheckpointJson,
  settingDifferences,
  writeJsonAtomically,
  type Checkpoint,
} from './checkpoint.js';
export { RejectWriter, type RejectEntry } from './rejects.js';
export { EVENT_TIME_UNITS, type EventTimeUnit } from './event-time.js';
export { DEFAULT_EVENT_TIME_COLUMN, parseMaps, type MappingOptions } from './mapping.js';
export { parseMaxRejects, rejectLimitExceeded, type RejectLimit } from './max-rejects.js';
export { ProgressReporter, formatBytes, formatDuration } from './progress.js';
export { detectFormat, FILE_FORMATS, type FileFormat, type Source } from './sources/source.js';
export { CSV_NULL } from './sources/csv-source.js';
export type { ImportSink, OpenImportSink } from './sinks/sink.js';
export { openCassandraSink, type CassandraSinkSettings } from './sinks/cassandra-sink.js';
export { ServerSink, type ServerSinkOptions } from './sinks/server-sink.js';
