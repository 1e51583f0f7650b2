import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import {
  decodeErrorInfo,
  decodeRpcStatus,
  encodeErrorInfo,
  encodeRpcStatus,
  ERROR_INFO_TYPE_URL,
  errorInfoOf,
  STATUS_DETAILS_KEY,
  toServiceStatus,
} from '../../../src/api/index.js';
import { errorCodeOf, errorMetadataOf } from '../../../src/client/index.js';
import { CassetteError, invalidArgument } from '../../../src/errors/index.js';

// These bytes are what protobufjs encodes from proto/google/rpc for the same messages.
const INFO_HEX =
  '0a1c4353545f4552525f554e4b4e4f574e5f464541545552455f56494557120863617373657474651a140a056669656c64120b66656174757265735b305d';
const STATUS_HEX =
  '0803122866656174757265735b305d3a20756e6b6e6f776e2066656174757265207669657720226e6f7065221a6a0a28747970652e676f6f676c65617069732e636f6d2f676f6f676c652e7270632e4572726f72496e666f123e' +
  INFO_HEX;
const INFO = { reason: 'CST_ERR_UNKNOWN_FEATURE_VIEW', domain: 'cassette', metadata: { field: 'features[0]' } };
const MESSAGE = 'features[0]: unknown feature view "nope"';

/** A failed call as a grpc-js client sees it. */
function serviceError(status: grpc.StatusObject): grpc.ServiceError {
  return Object.assign(new Error(`${status.code} ${grpc.status[status.code]}: ${status.details}`), status);
}

describe('google.rpc.Status and ErrorInfo', () => {
  it('encodes as protobuf does', () => {
    const info = encodeErrorInfo(INFO);
    expect(info.toString('hex')).toBe(INFO_HEX);
    const status = encodeRpcStatus({
      code: 3,
      message: MESSAGE,
      details: [{ typeUrl: ERROR_INFO_TYPE_URL, value: info }],
    });
    expect(status.toString('hex')).toBe(STATUS_HEX);
  });

  it('decodes what it encodes, skipping unknown fields', () => {
    const status = decodeRpcStatus(Buffer.from(STATUS_HEX, 'hex'));
    expect(status.code).toBe(3);
    expect(status.message).toBe(MESSAGE);
    expect(status.details.map((d) => d.typeUrl)).toEqual([ERROR_INFO_TYPE_URL]);
    expect(decodeErrorInfo(status.details[0]!.value)).toEqual(INFO);
    // Field 9 as a varint, a fixed64 and a fixed32 before the known fields.
    const withUnknown = Buffer.concat([
      Buffer.from('48ac02', 'hex'),
      Buffer.from('490102030405060708', 'hex'),
      Buffer.from('4d01020304', 'hex'),
      Buffer.from(INFO_HEX, 'hex'),
    ]);
    expect(decodeErrorInfo(withUnknown)).toEqual(INFO);
  });

  it('rejects truncated input', () => {
    expect(() => decodeRpcStatus(Buffer.from(STATUS_HEX.slice(0, 40), 'hex'))).toThrow(RangeError);
  });
});

describe('toServiceStatus', () => {
  it("answers a CassetteError with its status, its message and its code as the ErrorInfo's reason", () => {
    const status = toServiceStatus(invalidArgument(MESSAGE, 'CST_ERR_UNKNOWN_FEATURE_VIEW', { field: 'features[0]' }));
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toBe(MESSAGE);
    const trailer = status.metadata.get(STATUS_DETAILS_KEY)[0] as Buffer;
    expect(trailer.toString('hex')).toBe(STATUS_HEX);
    const error = serviceError(status);
    expect(errorInfoOf(error)).toEqual(INFO);
    expect(errorCodeOf(error)).toBe('CST_ERR_UNKNOWN_FEATURE_VIEW');
    expect(errorMetadataOf(error)).toEqual({ field: 'features[0]' });
  });

  it('maps each status of the catalogue', () => {
    expect(toServiceStatus(new CassetteError('CST_ERR_DEADLINE', 'late')).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(toServiceStatus(new CassetteError('CST_ERR_CANCELLED', 'gone')).code).toBe(grpc.status.CANCELLED);
    expect(toServiceStatus(new CassetteError('CST_ERR_STORE_UNAVAILABLE', 'down')).code).toBe(grpc.status.UNAVAILABLE);
    expect(toServiceStatus(new CassetteError('CST_ERR_REGISTRY_NOT_APPLIED', 'none')).code).toBe(
      grpc.status.FAILED_PRECONDITION,
    );
    expect(toServiceStatus(new CassetteError('CST_ERR_NOT_FOUND', 'none')).code).toBe(grpc.status.NOT_FOUND);
  });

  it('answers anything else with INTERNAL and a fixed message', () => {
    const status = toServiceStatus(new TypeError('secret detail'));
    expect(status.code).toBe(grpc.status.INTERNAL);
    expect(status.details).toBe('internal error');
    expect(errorCodeOf(serviceError(status))).toBe('CST_ERR_INTERNAL');
  });

  it('finds no code where the server sent none, or sent garbage', () => {
    expect(errorCodeOf(new Error('plain'))).toBeUndefined();
    expect(errorCodeOf(null)).toBeUndefined();
    const metadata = new grpc.Metadata();
    metadata.set(STATUS_DETAILS_KEY, Buffer.from('0a', 'hex'));
    expect(errorCodeOf(serviceError({ code: grpc.status.UNKNOWN, details: 'x', metadata }))).toBeUndefined();
    const foreign = new grpc.Metadata();
    foreign.set(
      STATUS_DETAILS_KEY,
      encodeRpcStatus({
        code: 3,
        message: 'x',
        details: [{ typeUrl: ERROR_INFO_TYPE_URL, value: encodeErrorInfo({ ...INFO, domain: 'elsewhere' }) }],
      }),
    );
    expect(errorCodeOf(serviceError({ code: 3, details: 'x', metadata: foreign }))).toBeUndefined();
  });
});
