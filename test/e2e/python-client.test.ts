/**
 * The Python client (clients/python) and the Arrow response, from real Python: pytest runs
 * clients/python/tests against a real Cassette server on a real Cassandra, with grpcio, pyarrow,
 * pandas and NumPy from PyPI. pyarrow reads GetOnlineFeaturesArrow's stream as it is
 * (pyarrow.ipc.open_stream(resp.ipc_stream).read_all()) and the tests check its columns, types,
 * values, statuses, event times and nulls, the client's formats, writes, read-your-writes,
 * errors, deadlines, retries and that the vendored stubs match proto/.
 *
 * Needs the client's Python: CASSETTE_CLIENT_PYTHON names it (.ci/run creates the virtual
 * environment and sets it). Without it the test is skipped, saying so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runProcess } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CLIENT_DIR = fileURLToPath(new URL('../../clients/python/', import.meta.url));
const PYTHON = process.env.CASSETTE_CLIENT_PYTHON;
const SKIP_REASON = !PYTHON
  ? 'CASSETTE_CLIENT_PYTHON is not set (.ci/run creates the Python client virtual environment and sets it)'
  : !existsSync(PYTHON)
    ? `CASSETTE_CLIENT_PYTHON=${PYTHON} does not exist`
    : undefined;
if (SKIP_REASON) console.warn(`Skipping the Python client test: ${SKIP_REASON}`);

describe.skipIf(SKIP_REASON !== undefined)('the Python client against a real server', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('py_client', readFileSync(`${CLIENT_DIR}tests/registry.yaml`, 'utf8'));
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('passes the client’s pytest suite, every test run and none skipped', async () => {
    const env = {
      ...process.env,
      CASSETTE_TEST_TARGET: server.server.address,
      // The client as it is in this tree, whatever version is installed in the environment.
      PYTHONPATH: CLIENT_DIR,
      PYTHONDONTWRITEBYTECODE: '1',
    };
    const ran = await runProcess(PYTHON!, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
      cwd: CLIENT_DIR,
      env,
    });
    const output = ran.stdout + ran.stderr;
    expect(ran.status, output).toBe(0);
    const summary = /(\d+) passed/.exec(output);
    expect(Number(summary?.[1] ?? 0), output).toBeGreaterThanOrEqual(9);
    expect(output).not.toMatch(/\d+ (skipped|failed|errors?)\b/);
  }, 180_000);
});
