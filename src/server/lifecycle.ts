import type { Logger } from '../observability/logger.js';
import type { CassandraClient } from '../store/index.js';

/** Exit status of a server process that stopped on a fatal error or could not stop in time. */
export const FATAL_EXIT_CODE = 1;

/** How long an exiting process waits for its log lines to be written. */
const LOG_FLUSH_MS = 1000;

/** Writes what the logger holds, then exits with `code`; exits anyway if the flush hangs. */
export function flushAndExit(logger: Logger, code: number): void {
  const exit = () => process.exit(code);
  setTimeout(exit, LOG_FLUSH_MS).unref();
  try {
    logger.flush(exit);
  } catch {
    exit();
  }
}

/**
 * Makes a fatal error end a server process: an unhandled rejection or an uncaught exception is
 * logged with its context and the process exits non-zero at once. Carrying on would leave a
 * process whose state nobody knows (half-dead: listening but not answering, or answering wrong);
 * a supervisor, or the primary of a worker group, starts a fresh one instead.
 */
export function exitOnFatalErrors(logger: Logger): void {
  let exiting = false;
  const fatal = (kind: string) => (error: unknown) => {
    if (exiting) return;
    exiting = true;
    logger.fatal({ err: error, kind, pid: process.pid }, `${kind}: the server process exits`);
    flushAndExit(logger, FATAL_EXIT_CODE);
  };
  process.on('unhandledRejection', fatal('unhandled rejection'));
  process.on('uncaughtException', fatal('uncaught exception'));
}

/**
 * The last word on a shutdown that began now: if the process has not exited within `timeoutMs`
 * (something hangs, or a handle such as a Cassandra reconnection timer keeps it alive), it
 * exits then, non-zero unless `finished()` says the shutdown itself completed.
 */
export function exitWithin(timeoutMs: number, logger: Logger, finished: () => boolean): void {
  setTimeout(() => {
    const done = finished();
    if (done) logger.info('exiting: open handles outlived the shutdown');
    else logger.error({ timeoutMs }, 'shutdown did not finish in time; exiting');
    flushAndExit(logger, done ? (typeof process.exitCode === 'number' ? process.exitCode : 0) : FATAL_EXIT_CODE);
  }, timeoutMs).unref();
}

/**
 * Shuts the Cassandra session down, waiting `timeoutMs` at most: after an outage the driver can
 * take over a minute (it waits on reconnection attempts), and a stopping server must not.
 */
export async function shutdownSession(client: CassandraClient, timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs));
  });
  const shutdown = client.shutdown().then(
    () => 'done' as const,
    (error: unknown) => {
      logger.warn({ err: error }, 'the Cassandra session failed to shut down cleanly');
      return 'done' as const;
    },
  );
  const outcome = await Promise.race([shutdown, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn({ timeoutMs }, 'the Cassandra session did not shut down in time; going on without it');
  }
}
