import { CassetteError, isCassetteError } from '../errors/index.js';
import type { FeatureViewDef } from '../registry/index.js';
import type { WriteRow } from './rows.js';
import type { RowSink } from './sink.js';

/** One stream message, validated whole: the rows to write and the count of rows too old to store. */
export interface ValidatedMessage {
  readonly view: FeatureViewDef;
  /** Registry version the message was validated under: a change opens a new sink. */
  readonly version: number;
  readonly rows: readonly WriteRow[];
  readonly received: number;
  readonly expired: number;
}

export interface StreamCounts {
  messages: number;
  rowsReceived: number;
  rowsWritten: number;
  rowsExpired: number;
}

export function newStreamCounts(): StreamCounts {
  return { messages: 0, rowsReceived: 0, rowsWritten: 0, rowsExpired: 0 };
}

/**
 * Writes a stream of messages through RowSinks, one message at a time. Each message is validated
 * whole before any of its rows is pushed; the next message is not read while the sink's window is
 * full, so a stream holds at most one message and one window of rows, and a transport that reads
 * lazily passes the backpressure on to the sender.
 *
 * Consecutive messages for the same view share a sink; a message for another view (or validated
 * under another registry version) first waits for the previous sink to drain.
 *
 * When a message is invalid, the rows of the messages before it are written (flushed) first, and
 * then its INVALID_ARGUMENT error is thrown, saying how many rows were written.
 */
export async function writeMessageStream<M>(
  messages: AsyncIterable<M>,
  validate: (message: M, index: number) => ValidatedMessage,
  openSink: (view: FeatureViewDef, version: number) => RowSink,
  /** Filled in as the stream goes, so a caller can still report them when it fails. */
  counts: StreamCounts = newStreamCounts(),
): Promise<StreamCounts> {
  let pushed = 0;
  let sink: { sink: RowSink; view: FeatureViewDef; version: number } | undefined;
  const drain = async () => {
    if (!sink) return;
    const current = sink.sink;
    sink = undefined;
    try {
      await current.flush();
    } finally {
      counts.rowsWritten += current.stats.written;
    }
  };
  try {
    for await (const message of messages) {
      const index = counts.messages;
      let validated: ValidatedMessage;
      try {
        validated = validate(message, index);
      } catch (error) {
        if (!isCassetteError(error) || error.status !== 'INVALID_ARGUMENT') throw error;
        await drain();
        throw new CassetteError(
          error.code,
          `${error.message} (the stream stopped at messages[${index}]: the ${counts.rowsWritten} rows of the ` +
            `${index} messages before it were written, none of messages[${index}] or after)`,
          { metadata: error.metadata },
        );
      }
      counts.messages++;
      counts.rowsReceived += validated.received;
      counts.rowsExpired += validated.expired;
      if (sink && (sink.view !== validated.view || sink.version !== validated.version)) await drain();
      sink ??= { sink: openSink(validated.view, validated.version), view: validated.view, version: validated.version };
      const { rows } = validated;
      for (let i = 0; i < rows.length; i++) {
        const room = sink.sink.push(rows[i]!, pushed++);
        if (room !== null) await room;
      }
    }
    await drain();
  } catch (error) {
    // Whatever ended the stream, no write of it is left running unobserved.
    await drain().catch(() => undefined);
    throw error;
  }
  return counts;
}
