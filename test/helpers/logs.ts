import { Writable } from 'node:stream';

import pino, { type Logger } from 'pino';

/** A logger at every level whose lines are kept in `lines` (JSON), e.g. to scan them for secrets. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    }),
  );
  return { logger, lines };
}
