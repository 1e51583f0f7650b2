import { createRequire } from 'node:module';

import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

/** How log lines look: JSON for machines, one readable line each for a person, or by the terminal. */
export type LogFormat = 'auto' | 'json' | 'pretty';

const require = createRequire(import.meta.url);

/**
 * Logs on stderr, so stdout stays free for command output: JSON lines, or, when a person is
 * watching (stderr is a terminal, or `format` says so), pino-pretty's coloured lines. pino-pretty
 * is loaded only then, and writes from this thread: a terminal is read by a person, not under load.
 */
export function createLogger(level: string, name = 'cassette', format: LogFormat = 'auto'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  if (!pretty) return pino({ name, level }, pino.destination({ fd: 2, sync: false }));
  const prettyStream = (require('pino-pretty') as typeof PinoPretty)({
    destination: 2,
    colorize: process.stderr.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
  });
  return pino({ name, level }, prettyStream);
}
