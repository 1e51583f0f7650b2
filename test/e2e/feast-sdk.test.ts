/**
 * The Feast SDK (feast 0.67.0, from PyPI) as a real client of Cassette: a Feast repo defined the
 * Feast way (test/feast/repo: Python definitions, feature_store.yaml with `online_store: {type:
 * remote}` pointing at Cassette's HTTP API) is applied with `feast apply`; the same registry is
 * applied to Cassette (test/feast/registry.yaml); the SDK writes the repo's source data through
 * Cassette (FeatureStore.write_to_online_store) and reads it back with
 * FeatureStore.get_online_features(...).to_dict(), which must hold what Cassette's own API returns.
 *
 * Needs Feast's Python: CASSETTE_FEAST_PYTHON names it (.ci/run creates the virtual environment
 * and sets it). Without it the test is skipped, saying so.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { GetOnlineFeaturesRequest, GetOnlineFeaturesResponse__Output } from '../../src/api/types.js';
import { parseFeastJson } from '../../src/feast/http/json-body.js';
import { valueToJson } from '../../src/values/index.js';
import { runProcess } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const FEAST_DIR = fileURLToPath(new URL('../feast/', import.meta.url));
const PYTHON = process.env.CASSETTE_FEAST_PYTHON;
const SKIP_REASON = !PYTHON
  ? 'CASSETTE_FEAST_PYTHON is not set (.ci/run creates the Feast virtual environment and sets it)'
  : !existsSync(PYTHON)
    ? `CASSETTE_FEAST_PYTHON=${PYTHON} does not exist`
    : undefined;
if (SKIP_REASON) console.warn(`Skipping the Feast SDK test: ${SKIP_REASON}`);

const BIG_DRIVER = '9007199254740993';

interface SdkRequest {
  features?: string[];
  feature_service?: string;
  entity_rows: Record<string, string | number>[];
  full_feature_names?: boolean;
}

const ENTITY_ROWS = [
  { driver_id: 1001, customer_id: 'c1' },
  // Written into the JSON text below as all its digits (a JS number cannot hold it).
  { driver_id: 0, customer_id: 'c2' },
  { driver_id: 1003, customer_id: 'zz' },
  { driver_id: 1002, customer_id: 'c1' },
];

const REQUESTS: SdkRequest[] = [
  {
    features: [
      'driver_stats:conv_rate',
      'customer_profile:tags',
      'driver_stats:acc_rate',
      'driver_stats:trips',
      'driver_stats:rating',
      'driver_stats:active',
      'driver_stats:city',
      'driver_stats:embedding',
      'customer_profile:segment',
      'customer_profile:lifetime_value',
    ],
    entity_rows: ENTITY_ROWS,
  },
  { feature_service: 'driver_ranking', entity_rows: ENTITY_ROWS },
  { features: ['driver_stats:trips', 'customer_profile:segment'], entity_rows: ENTITY_ROWS, full_feature_names: true },
];

/** The requests as JSON, with the big driver id as its exact digits. */
function requestsJson(): string {
  return JSON.stringify(REQUESTS).replaceAll('"driver_id":0,', `"driver_id":${BIG_DRIVER},`);
}

/** A plain comparable form: integers as decimal text (exact), everything else as is. */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return value;
}

/** Cassette's own answer (gRPC) as name -> values, values as plain JSON. */
function nativeColumns(response: GetOnlineFeaturesResponse__Output): Record<string, unknown[]> {
  const names = response.metadata?.feature_names?.val ?? [];
  return Object.fromEntries(names.map((name, i) => [name, response.results[i]!.values.map(valueToJson)]));
}

function nativeRequest(request: SdkRequest): GetOnlineFeaturesRequest {
  const entities = {
    driver_id: { val: [1001, BIG_DRIVER, 1003, 1002].map((id) => ({ int64_val: String(id) })) },
    customer_id: { val: request.entity_rows.map((row) => ({ string_val: String(row.customer_id) })) },
  };
  return request.feature_service
    ? { feature_service: request.feature_service, entities }
    : { features: { val: request.features! }, entities, full_feature_names: request.full_feature_names ?? false };
}

describe.skipIf(SKIP_REASON !== undefined)('the Feast SDK (feast 0.67) as a client of Cassette', () => {
  let server: TestServer;
  let repo: string;
  let sdkResults: Record<string, unknown[]>[];

  beforeAll(async () => {
    server = await startTestServer('feast_sdk', readFileSync(join(FEAST_DIR, 'registry.yaml'), 'utf8'));
    repo = mkdtempSync(join(tmpdir(), 'cassette-feast-repo-'));
    cpSync(join(FEAST_DIR, 'repo'), repo, { recursive: true });
    const env = {
      ...process.env,
      CASSETTE_HTTP_URL: `http://${server.server.httpAddress}`,
      FEAST_USAGE: 'False',
      PYTHONDONTWRITEBYTECODE: '1',
    };
    const client = join(FEAST_DIR, 'feast_client.py');
    const anchor = String(Math.floor(Date.now() / 1000));
    const data = await runProcess(PYTHON!, [client, 'data', repo, anchor], { env });
    expect(data.status).toBe(0);
    const applied = await runProcess(PYTHON!, ['-m', 'feast.cli.cli', 'apply'], { cwd: repo, env });
    expect(applied.status, applied.stderr).toBe(0);
    const ran = await runProcess(PYTHON!, [client, 'run', repo, requestsJson()], { env });
    expect(ran.status, ran.stderr).toBe(0);
    // Parsed so that the big driver id keeps its digits.
    sdkResults = parseFeastJson(ran.stdout) as Record<string, unknown[]>[];
  }, 300_000);

  afterAll(async () => {
    if (repo) rmSync(repo, { recursive: true, force: true });
    await server?.close();
  });

  it('gets what Cassette’s own API returns, join keys first, for a list of features', async () => {
    const sdk = sdkResults[0]!;
    const native = nativeColumns(await server.get(nativeRequest(REQUESTS[0]!)));
    // Feast's layout: the join keys, then each view's features together.
    expect(Object.keys(sdk)).toEqual([
      'driver_id',
      'customer_id',
      'conv_rate',
      'acc_rate',
      'trips',
      'rating',
      'active',
      'city',
      'embedding',
      'tags',
      'segment',
      'lifetime_value',
    ]);
    expect(comparable(sdk.driver_id)).toEqual(['1001', BIG_DRIVER, '1003', '1002']);
    expect(sdk.customer_id).toEqual(['c1', 'c2', 'zz', 'c1']);
    for (const [name, values] of Object.entries(native)) {
      expect(comparable(sdk[name]), name).toEqual(comparable(values));
    }
    // What the SDK wrote is what it reads: spot checks against the source data.
    expect(comparable(sdk.trips)).toEqual(['10', '7', '0', String(2 ** 40)]);
    expect(sdk.city).toEqual(['Lisbon', 'Oslo', null, 'Zürich']);
    expect(sdk.conv_rate).toEqual([0.5, 0.75, 0.25, Math.fround(0.1)]);
    expect(sdk.embedding).toEqual([[Math.fround(0.1), Math.fround(0.2)], [0, -2.25, 3], null, [1.5]]);
    expect(sdk.segment).toEqual(['gold', 'new', null, 'gold']);
  });

  it('gets a feature service, and full feature names', async () => {
    const service = sdkResults[1]!;
    expect(Object.keys(service)).toEqual(['driver_id', 'customer_id', 'conv_rate', 'trips', 'segment']);
    const nativeService = nativeColumns(await server.get(nativeRequest(REQUESTS[1]!)));
    for (const [name, values] of Object.entries(nativeService)) {
      expect(comparable(service[name]), name).toEqual(comparable(values));
    }
    const full = sdkResults[2]!;
    expect(Object.keys(full)).toEqual(['driver_id', 'customer_id', 'driver_stats__trips', 'customer_profile__segment']);
    const nativeFull = nativeColumns(await server.get(nativeRequest(REQUESTS[2]!)));
    for (const [name, values] of Object.entries(nativeFull)) {
      expect(comparable(full[name]), name).toEqual(comparable(values));
    }
  });
});
