import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

const DIST = new URL('../../dist/', import.meta.url).href;

/** Runs `body` in a fresh Node process that has the server's fatal-error policy installed. */
function runWithPolicy(body: string): {
  status: number | null;
  lines: { level: number; msg: string; err?: { message: string } }[];
} {
  const script = `
    import { exitOnFatalErrors } from '${DIST}server/lifecycle.js';
    import { createLogger } from '${DIST}observability/logger.js';
    exitOnFatalErrors(createLogger('info'));
    // A server holds its port open: without the policy the process could linger.
    setInterval(() => undefined, 1000);
    ${body}
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const lines = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } });
  return { status: result.status, lines };
}

/** A server process never carries on after an error nobody handled: it logs it and exits non-zero. */
describe('a fatal error in a server process', () => {
  it('exits 1 on an unhandled rejection, logging it', () => {
    const { status, lines } = runWithPolicy(`void Promise.reject(new Error('a dependency failed'));`);
    expect(status).toBe(1);
    const fatal = lines.find((line) => line.level === 60)!;
    expect(fatal.msg).toMatch(/unhandled rejection/);
    expect(fatal.err?.message).toBe('a dependency failed');
  });

  it('exits 1 on an uncaught exception, logging it', () => {
    const { status, lines } = runWithPolicy(`setTimeout(() => { throw new Error('thrown in a callback'); }, 10);`);
    expect(status).toBe(1);
    const fatal = lines.find((line) => line.level === 60)!;
    expect(fatal.msg).toMatch(/uncaught exception/);
    expect(fatal.err?.message).toBe('thrown in a callback');
  });
});
