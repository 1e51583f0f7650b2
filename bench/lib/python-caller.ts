import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

import { featureRefs, requestedFeatures } from './dataset.js';
import { pythonCallerSchema, type PythonCallerResult } from './report.js';

/** The Python-caller scenario's name, as --scenarios matches it. */
export const PYTHON_CALLER = 'python-caller warm b100 f50';

const SCRIPT = fileURLToPath(new URL('../python_caller.py', import.meta.url));

/**
 * Runs bench/python_caller.py with `python` against the warm (cache-on) server at `address`:
 * batches of 100 entities cycling over the hot set (`hotSet` ids from 0), 50 features, `requests` measured requests per
 * variant. Resolves with its figures; rejects with its output when it fails.
 */
export async function runPythonCaller(
  python: string,
  address: string,
  hotSet: number,
  requests: number,
): Promise<PythonCallerResult> {
  const batch = 100;
  const args = [
    SCRIPT,
    '--target',
    address,
    '--features',
    JSON.stringify(featureRefs(requestedFeatures(50))),
    '--entities',
    String(Math.max(hotSet, batch)),
    '--batch',
    String(batch),
    '--requests',
    String(requests),
  ];
  const child = spawn(python, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (status !== 0) throw new Error(`${python} ${SCRIPT} exited ${status}: ${stderr.trim().slice(-2000)}`);
  const figures = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  return pythonCallerSchema.parse({
    name: PYTHON_CALLER,
    ...figures,
    load_average: loadavg().map((n) => Math.round(n * 100) / 100),
  });
}
