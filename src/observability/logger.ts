import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stderr, so stdout stays free for command output. */
export function createLogger(level: string, name = 'cassette'): Logger {
  return pino({ name, level }, pino.destination({ fd: 2, sync: false }));
}
