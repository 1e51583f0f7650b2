import { describe, expect, it } from 'vitest';

import { ConfigError } from '../../../src/config/index.js';
import {
  CassetteError,
  ERROR_CATALOGUE,
  invalidArgument,
  isCassetteError,
  isErrorCode,
  type ErrorCode,
} from '../../../src/errors/index.js';
import { CheckpointError, IngestSetupError } from '../../../src/import/index.js';
import { RejectedRecord } from '../../../src/import/sources/source.js';
import { RegistryValidationError } from '../../../src/registry/index.js';

describe('the error catalogue', () => {
  it('gives every code the CST_ERR_ prefix, a status and a one-line description', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(code).toMatch(/^CST_ERR_[A-Z_]+$/);
      expect(entry.status).toMatch(/^[A-Z_]+$/);
      expect(entry.description.length).toBeGreaterThan(0);
      expect(entry.description).not.toContain('\n');
    }
  });

  it('takes a code, or a bare status for that status without a more specific cause', () => {
    const coded = new CassetteError('CST_ERR_BATCH_TOO_LARGE', 'too many');
    expect(coded).toMatchObject({ code: 'CST_ERR_BATCH_TOO_LARGE', status: 'INVALID_ARGUMENT', message: 'too many' });
    expect(new CassetteError('DEADLINE_EXCEEDED', 'late')).toMatchObject({
      code: 'CST_ERR_DEADLINE',
      status: 'DEADLINE_EXCEEDED',
    });
    expect(new CassetteError('UNAVAILABLE', 'down').code).toBe('CST_ERR_UNAVAILABLE');
    expect(isErrorCode('CST_ERR_CONFIG')).toBe(true);
    expect(isErrorCode('INVALID_ARGUMENT')).toBe(false);
  });

  it('keeps the cause and the metadata', () => {
    const cause = new Error('driver');
    const error = new CassetteError('CST_ERR_STORE_UNAVAILABLE', 'down', { cause, metadata: { host: 'a' } });
    expect(error.cause).toBe(cause);
    expect(error.metadata).toEqual({ host: 'a' });
    expect(new CassetteError('CST_ERR_INTERNAL', 'x').metadata).toEqual({});
  });

  it('invalidArgument defaults to the generic code and takes a specific one', () => {
    expect(invalidArgument('bad').code).toBe('CST_ERR_INVALID_ARGUMENT');
    const specific = invalidArgument('features[0]: unknown', 'CST_ERR_UNKNOWN_FEATURE_VIEW', { field: 'features[0]' });
    expect(specific).toMatchObject({ code: 'CST_ERR_UNKNOWN_FEATURE_VIEW', status: 'INVALID_ARGUMENT' });
    expect(specific.metadata).toEqual({ field: 'features[0]' });
  });

  it('makes every named error a CassetteError with its own code, name and message', () => {
    const cases: [Error, string, ErrorCode][] = [
      [new ConfigError('bad config'), 'ConfigError', 'CST_ERR_CONFIG'],
      [
        new RegistryValidationError('r.yaml', [{ path: 'project', message: 'missing' }]),
        'RegistryValidationError',
        'CST_ERR_REGISTRY_INVALID',
      ],
      [new IngestSetupError('no files'), 'IngestSetupError', 'CST_ERR_INGEST_SETUP'],
      [new CheckpointError('bad checkpoint'), 'CheckpointError', 'CST_ERR_CHECKPOINT'],
      [new RejectedRecord('bad record'), 'RejectedRecord', 'CST_ERR_REJECTED_RECORD'],
    ];
    for (const [error, name, code] of cases) {
      expect(isCassetteError(error)).toBe(true);
      expect(error.name).toBe(name);
      expect((error as CassetteError).code).toBe(code);
      expect((error as CassetteError).status).toBe(ERROR_CATALOGUE[code].status);
    }
    expect(cases[0]![0].message).toBe('bad config');
    expect(cases[1]![0].message).toBe('r.yaml: 1 problem(s) in the feature registry:\n  r.yaml project: missing');
  });
});
