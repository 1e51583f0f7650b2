/**
 * Cache coherence across replicas, through Cassandra only.
 *
 * The promise (README, Consistency): a read that starts more than `cache.coherence.maxStalenessMs`
 * after a write was acknowledged, through any replica, or after a direct `cassette ingest` job
 * ended, is not answered from a cached row older than that write. With the write's consistency
 * token, a read gets no cached row read before the write, at once.
 *
 * Design
 * - Writers log what they changed. Before a write call is acknowledged (WriteInvalidations.flush),
 *   its changed rows (view, entity key) are appended to `cassette_invalidations` at LOCAL_QUORUM,
 *   after the row writes settled: partition = one-second bucket of the stamp, clustering = (stamp
 *   µs, writer id, view, key), TTL'd, TimeWindowCompactionStrategy (tombstones stay bounded: rows
 *   only expire, whole SSTables at a time, and polls read only the newest slice). A call that
 *   writes more than MAX_LOGGED_ROWS_PER_CALL rows bumps its views' generations instead.
 * - Bulk loads bump generations. A direct ingest job increments its view's counter in
 *   `cassette_generations` when it starts writing, every maxStaleness/2 while it writes, and once
 *   all its rows are written (GenerationBumpingSink). A replica that sees a new generation stops
 *   serving the view's rows cached before it saw it (a per-view floor, no scan of the cache).
 * - Replicas poll. Every pollIntervalMs (maxStaleness/4 by default) a replica reads, at
 *   LOCAL_QUORUM, the log entries stamped since its last applied poll (less an overlap for the
 *   writers' log latency budget and the clock skew, see LogPosition) and the generations, and
 *   drops the cached rows they name; entries seen twice in the overlap are applied once.
 * - Falling behind is detected, not assumed away. The replica knows the time up to which every
 *   visible log entry has been applied (LogPosition.coveredUntil). A cached row is served only if
 *   it was read after now - maxStaleness, or coveredUntil is after that: then every write
 *   acknowledged before it has been applied. So when polls fail (Cassandra unreachable, a long
 *   pause), rows older than the bound are read again instead of served, and the next poll drops
 *   the whole cache and starts its window afresh.
 * - Clocks. Stamps are the writer's clock, windows the reader's: the overlap covers
 *   maxClockSkewMs; a log write acknowledged later than logWriteBudgetMs after its stamp is
 *   written again with a new stamp, so a reader never needs to look further back than the budget.
 *   Nothing else compares clocks of two machines except the consistency token (moved later by
 *   the skew). The skew is an assumption, so it is checked: each replica compares its clock with
 *   a Cassandra node's every minute and warns when it is further than half the skew from it.
 *   Durations on one machine use Date.now(); a step of the wall clock counts as skew.
 * - Read-your-writes. A write answers its consistency token (the time it was acknowledged, µs)
 *   in WriteFeaturesResponse.consistency_token and trailer `cassette-write-time`; a read sending
 *   it back (min_write_time, or metadata `cassette-min-write-time`) gets no cached row (nor joins
 *   a read in flight) that started before token + maxClockSkewMs: it reads Cassandra, at the
 *   read consistency, which sees the acknowledged write (LOCAL_QUORUM both ways by default).
 *
 * One data center: the log is written and read at LOCAL_QUORUM, so replicas in another data
 * center see entries only as fast as Cassandra replicates them there.
 *
 * Cost per replica: one log query per poll (two when the window crosses a bucket edge) and one
 * generations query: about 8-10 queries/s at the default 1 s bound. Writers add one log batch per
 * 100 changed rows to each write call.
 */
export { GenerationBumpingSink, type ViewGenerations } from './generations.js';
export {
  coherenceTableStatements,
  CoherenceTables,
  GENERATIONS_TABLE,
  INVALIDATION_LOG_TABLE,
  LOG_TTL_SECONDS,
  type ChangedRow,
  type LogEntry,
} from './log-tables.js';
export { InvalidationLogWriter, writerId, type LogWriterStats } from './log-writer.js';
export { CacheCoherence, type CoherenceSettings, type CoherenceStats, type CoherentCache } from './replica.js';
export {
  MIN_WRITE_TIME_METADATA,
  minWriteTimeHeader,
  requestedMinWriteTime,
  WRITE_TIME_METADATA,
  writeTimeTrailer,
} from './token.js';
export { LAG_BUCKETS_MS, LOG_BUCKET_MS, logBucketOf, logBucketsBetween, LogPosition } from './window.js';

import type { Config } from '../config/index.js';
import type { CoherenceSettings } from './replica.js';

/** The coherence settings of `config`, with the poll interval worked out. */
export function coherenceSettings(config: Pick<Config, 'cache'>): CoherenceSettings {
  const { maxStalenessMs, maxClockSkewMs, logWriteBudgetMs, pollIntervalMs } = config.cache.coherence;
  return {
    maxStalenessMs,
    maxClockSkewMs,
    logWriteBudgetMs,
    pollIntervalMs: pollIntervalMs ?? Math.max(10, Math.floor(maxStalenessMs / 4)),
  };
}
