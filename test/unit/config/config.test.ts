import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigError, ENVIRONMENT_VARIABLES, loadConfig, type LoadConfigOptions } from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cassette-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** Writes `text` to a fresh file in the temporary directory and returns its path. */
function configFile(text: string): string {
  const path = join(dir, `config-${fileCount++}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** loadConfig with an explicit (empty by default) environment, so the real one never leaks in. */
const load = (options: LoadConfigOptions = {}) => loadConfig({ env: {}, ...options });

/** Asserts loadConfig fails with a ConfigError and returns its message. */
function configError(options: LoadConfigOptions): string {
  let caught: unknown;
  try {
    load(options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).name).toBe('ConfigError');
  return (caught as ConfigError).message;
}

describe('loadConfig: defaults', () => {
  it('fills every setting with its default', () => {
    expect(load()).toEqual({
      listen: '127.0.0.1:6566',
      insecure: false,
      auth: { cacheEntries: 10_000 },
      cassandra: {
        contactPoints: [],
        localDataCenter: 'datacenter1',
        keyspace: 'cassette',
        replicationFactor: 1,
        readConsistency: 'localQuorum',
        writeConsistency: 'localQuorum',
        connectTimeoutMs: 5000,
        requestTimeoutMs: 2000,
        minDriverTimeoutMs: 250,
        attemptTimeoutMs: 400,
        maxAttempts: 3,
        speculativeDelayMs: 50,
        maxSpeculativeExecutions: 1,
        coreConnectionsPerHost: 2,
        maxRequestsPerConnection: 2048,
        localDataDir: '.cassette/cassandra',
        localPort: 9042,
      },
      serving: {
        maxBatchSize: 1000,
        maxConcurrentReads: 128,
        defaultDeadlineMs: 2000,
        workers: 1,
        maxInFlightReads: 1024,
        maxInFlightWriteRows: 4096,
        maxQueueWaitMs: 100,
        minTimeLeftMs: 10,
        maxConcurrentStreams: 256,
        maxReceiveMessageBytes: 4 * 1024 * 1024,
        drainMs: 5000,
        shutdownTimeoutMs: 15_000,
        healthProbeIntervalMs: 1000,
        healthProbeTimeoutMs: 1000,
        reflection: true,
      },
      http: { enabled: true, listen: '127.0.0.1:6567', maxBodyBytes: 16 * 1024 * 1024, writeDeadlineMs: 60_000 },
      cache: {
        enabled: true,
        maxBytes: 256 * 1024 * 1024,
        ttlMs: 30_000,
        coherence: { enabled: true, maxStalenessMs: 1000, maxClockSkewMs: 50, logWriteBudgetMs: 200 },
      },
      registry: { refreshIntervalMs: 10_000 },
      ingest: {
        maxFutureSkewMs: 300_000,
        expiryGraceSeconds: 3600,
        writeConcurrency: 64,
        maxRowsPerRequest: 10_000,
        maxListLength: 65_536,
        maxRowsPerSecond: 0,
        writeAttempts: 4,
        writeTimeoutMs: 10_000,
        partitionBatchRows: 32,
      },
      log: { level: 'info', format: 'auto', statsIntervalMs: 60_000, slowRequestMs: 500, audit: true },
      metrics: { enabled: true, listen: '127.0.0.1:9464' },
    });
  });

  it('treats an empty config file as no settings', () => {
    expect(load({ file: configFile('') })).toEqual(load());
    expect(load({ file: configFile('# only a comment\n') })).toEqual(load());
  });

  it('ignores environment variables that are empty or blank', () => {
    expect(load({ env: { CASSETTE_KEYSPACE: '', CASSETTE_MAX_BATCH_SIZE: '   ' } })).toEqual(load());
  });
});

describe('loadConfig: precedence', () => {
  const file = () =>
    configFile(
      [
        'listen: 0.0.0.0:7000',
        'cassandra:',
        '  keyspace: from_file',
        '  localDataCenter: dc_file',
        'serving:',
        '  maxBatchSize: 10',
        'cache:',
        '  ttlMs: 5',
        '  enabled: false',
      ].join('\n'),
    );

  it('layers defaults < file < environment < overrides, merging nested sections', () => {
    const config = load({
      file: file(),
      env: { CASSETTE_KEYSPACE: 'from_env', CASSETTE_MAX_BATCH_SIZE: '20', CASSETTE_CACHE_ENABLED: 'true' },
      overrides: { cassandra: { keyspace: 'from_flags' } },
    });
    expect(config.cassandra.keyspace).toBe('from_flags'); // file, env and flags: flags win
    expect(config.serving.maxBatchSize).toBe(20); // file and env: env wins
    expect(config.cache.enabled).toBe(true); // env beats file
    expect(config.cache.ttlMs).toBe(5); // file only
    expect(config.listen).toBe('0.0.0.0:7000'); // file only
    expect(config.cassandra.localDataCenter).toBe('dc_file'); // sibling of an overridden key survives
    expect(config.cassandra.readConsistency).toBe('localQuorum'); // default beside file settings
    expect(config.serving.maxConcurrentReads).toBe(128);
  });

  it('reads the serving worker count from the environment and refuses zero', () => {
    expect(load({ env: { CASSETTE_SERVING_WORKERS: '4' } }).serving.workers).toBe(4);
    expect(() => load({ env: { CASSETTE_SERVING_WORKERS: '0' } })).toThrow(/serving\.workers/);
  });

  it('lets overrides beat the environment', () => {
    const config = load({ env: { CASSETTE_MAX_BATCH_SIZE: '20' }, overrides: { serving: { maxBatchSize: 30 } } });
    expect(config.serving.maxBatchSize).toBe(30);
  });

  it('skips overrides that are undefined', () => {
    const config = load({
      file: file(),
      env: { CASSETTE_MAX_BATCH_SIZE: '20' },
      overrides: { listen: undefined, serving: { maxBatchSize: undefined } },
    });
    expect(config.serving.maxBatchSize).toBe(20);
    expect(config.listen).toBe('0.0.0.0:7000');
  });

  it('reads the file named by CASSETTE_CONFIG when no file is given', () => {
    const config = load({ env: { CASSETTE_CONFIG: file() } });
    expect(config.cassandra.keyspace).toBe('from_file');
  });

  it('prefers an explicit file over CASSETTE_CONFIG', () => {
    const other = configFile('cassandra: { keyspace: explicit }');
    expect(load({ file: other, env: { CASSETTE_CONFIG: file() } }).cassandra.keyspace).toBe('explicit');
  });
});

describe('loadConfig: environment parsing', () => {
  it('knows the documented variables', () => {
    expect(ENVIRONMENT_VARIABLES).toContain('CASSANDRA_CONTACT_POINTS');
    expect(ENVIRONMENT_VARIABLES).toContain('CASSETTE_CACHE_ENABLED');
  });

  it('splits CASSANDRA_CONTACT_POINTS on commas, trimming and dropping blanks', () => {
    const config = load({ env: { CASSANDRA_CONTACT_POINTS: ' 10.0.0.1:9042, cass-2 ,,cass-3:9043,' } });
    expect(config.cassandra.contactPoints).toEqual(['10.0.0.1:9042', 'cass-2', 'cass-3:9043']);
  });

  it('reads a single contact point', () => {
    expect(load({ env: { CASSANDRA_CONTACT_POINTS: 'localhost' } }).cassandra.contactPoints).toEqual(['localhost']);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    [' yes ', true],
    ['false', false],
    ['0', false],
    ['No', false],
  ])('parses CASSETTE_CACHE_ENABLED=%j as %s', (raw, expected) => {
    expect(load({ env: { CASSETTE_CACHE_ENABLED: raw } }).cache.enabled).toBe(expected);
  });

  it.each(['on', 'off', 'y', '2', 'enabled'])('rejects CASSETTE_CACHE_ENABLED=%j', (raw) => {
    expect(configError({ env: { CASSETTE_CACHE_ENABLED: raw } })).toBe(
      `CASSETTE_CACHE_ENABLED="${raw}" is not a boolean (true/false)`,
    );
  });

  it('parses numbers and strings', () => {
    const config = load({
      env: {
        CASSETTE_CACHE_MAX_BYTES: ' 1048576 ',
        CASSETTE_LISTEN: ' 0.0.0.0:9000 ',
        CASSANDRA_LOCAL_DC: 'eu-west',
        CASSETTE_LOG_LEVEL: 'debug',
        CASSETTE_READ_CONSISTENCY: 'one',
      },
    });
    expect(config.cache.maxBytes).toBe(1_048_576);
    expect(config.listen).toBe('0.0.0.0:9000');
    expect(config.cassandra.localDataCenter).toBe('eu-west');
    expect(config.log.level).toBe('debug');
    expect(config.cassandra.readConsistency).toBe('one');
  });

  it('names the variable holding something that is not a number', () => {
    expect(configError({ env: { CASSETTE_MAX_BATCH_SIZE: 'lots' } })).toBe(
      'CASSETTE_MAX_BATCH_SIZE="lots" is not a number',
    );
  });

  it('names the config path of a number that is out of range', () => {
    expect(configError({ env: { CASSETTE_MAX_BATCH_SIZE: '0' } })).toMatch(
      /^invalid configuration:\n {2}serving\.maxBatchSize: /,
    );
    expect(configError({ env: { CASSETTE_REPLICATION_FACTOR: '1.5' } })).toMatch(/cassandra\.replicationFactor: /);
  });

  it('names the config path of a bad enum value', () => {
    expect(configError({ env: { CASSETTE_LOG_LEVEL: 'loud' } })).toMatch(/log\.level: /);
  });
});

describe('loadConfig: bad files and values', () => {
  it('reports each bad value with its path', () => {
    const message = configError({
      file: configFile(
        [
          'listen: nowhere',
          'cassandra:',
          '  readConsistency: two',
          '  keyspace: Bad-Name',
          'cache:',
          '  maxBytes: -1',
        ].join('\n'),
      ),
    });
    expect(message).toMatch(/^invalid configuration:/);
    expect(message).toContain('listen: must be host:port, e.g. 127.0.0.1:6566');
    expect(message).toContain('cassandra.readConsistency: ');
    expect(message).toContain('cassandra.keyspace: must be a lower-case CQL identifier');
    expect(message).toContain('cache.maxBytes: ');
  });

  it('rejects an override of the wrong type', () => {
    expect(configError({ overrides: { serving: { maxBatchSize: 'ten' as unknown as number } } })).toMatch(
      /serving\.maxBatchSize: /,
    );
  });

  it('rejects unknown keys at the top level', () => {
    const message = configError({ file: configFile('listen: 127.0.0.1:1\nlisten_port: 80\n') });
    expect(message).toMatch(/^invalid configuration:/);
    expect(message).toContain('listen_port');
  });

  it('rejects unknown keys inside a section, naming the section', () => {
    const message = configError({ file: configFile('cache:\n  size: 10\n') });
    expect(message).toMatch(/ {2}cache: .*size/);
  });

  it('rejects a file that does not exist', () => {
    const missing = join(dir, 'missing.yaml');
    expect(configError({ file: missing })).toMatch(
      new RegExp(`^cannot read config file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
  });

  it('rejects a file that is not YAML', () => {
    const path = configFile('cache: [unclosed\n');
    expect(configError({ file: path })).toContain(`config file ${path} is not valid YAML`);
  });

  it('rejects a file that does not hold a mapping', () => {
    const path = configFile('- a\n- b\n');
    expect(configError({ file: path })).toBe(`config file ${path} must hold a mapping`);
    expect(configError({ file: configFile('just text\n') })).toMatch(/must hold a mapping/);
  });
});

describe('driver timeout bounds in the config', () => {
  it('refuses a floor above the ceiling, and EACH_QUORUM for reads', () => {
    expect(() =>
      loadConfig({ env: {}, overrides: { cassandra: { requestTimeoutMs: 100, minDriverTimeoutMs: 250 } } }),
    ).toThrow(/cassandra.minDriverTimeoutMs: minDriverTimeoutMs must not exceed requestTimeoutMs/);
    expect(() => loadConfig({ env: {}, overrides: { cassandra: { readConsistency: 'eachQuorum' as never } } })).toThrow(
      /cassandra.readConsistency/,
    );
    expect(
      loadConfig({ env: {}, overrides: { cassandra: { writeConsistency: 'eachQuorum' } } }).cassandra.writeConsistency,
    ).toBe('eachQuorum');
  });
});
