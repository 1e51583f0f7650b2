export {
  runIngestJob,
  defaultCheckpointPath,
  defaultRejectsPath,
  IngestSetupError,
  type IngestJobOptions,
  type IngestDeps,
  type IngestSummary,
  type IngestStatus,
  type RowWriter,
} from './job.js';
export { CheckpointError, readCheckpoint, type Checkpoint } from './checkpoint.js';
export { EVENT_TIME_UNITS, type EventTimeUnit } from './event-time.js';
export { DEFAULT_EVENT_TIME_COLUMN, parseMaps, type MappingOptions } from './mapping.js';
export { parseMaxRejects, type RejectLimit } from './max-rejects.js';
export { ProgressReporter, formatBytes, formatDuration } from './progress.js';
export { detectFormat, FILE_FORMATS, type FileFormat } from './sources/source.js';
export { CSV_NULL } from './sources/csv-source.js';
export { StreamWriter, type StreamWriterOptions } from './sinks/server-sink.js';
