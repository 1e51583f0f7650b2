export {
  featureRowOf,
  newRecordRow,
  validateRecord,
  validateRow,
  type RecordRow,
  type ValidatedRow,
  type WritePolicy,
  type WriteRow,
} from './rows.js';
export { RowSink, type RowSinkOptions, type RowSinkStats } from './sink.js';
export { newStreamCounts, writeMessageStream, type StreamCounts, type ValidatedMessage } from './stream.js';
export { FeatureWriter } from './feature-writer.js';
