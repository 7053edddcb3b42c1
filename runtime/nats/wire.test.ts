import { describe, expect, it } from '@jest/globals';
import { ClosedConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { JetStreamStatusError } from '@nats-io/jetstream/internal';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { isUnavailable, toWireError } from './wire.ts';

describe('toWireError', () => {
  it('keeps an infrafed error as it is', () => {
    expect(toWireError(new InfrafedError(ErrorCode.NOT_FOUND, 'no such project', { id: 'prj_1' }))).toEqual({
      code: ErrorCode.NOT_FOUND,
      message: 'no such project',
      extensions: { id: 'prj_1' },
    });
  });

  it('answers SERVICE_UNAVAILABLE when NATS or JetStream could not serve a call (retryable), not INTERNAL', () => {
    const unavailable = [
      new TimeoutError(),
      new RequestError('request failed', { cause: new TimeoutError() }),
      new NoRespondersError('$JS.API.STREAM.INFO.KV_infrafed_operations'),
      new ClosedConnectionError(),
      // what a KV write gets while its stream has no leader (a JetStream server killed)
      new JetStreamApiError({ code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' }),
      new JetStreamStatusError('no responders', 503),
      new Error('put failed', { cause: new JetStreamApiError({ code: 500, err_code: 10074, description: 'insufficient resources' }) }),
    ];
    for (const error of unavailable) {
      expect(isUnavailable(error)).toBe(true);
      expect(toWireError(error)).toEqual({
        code: ErrorCode.SERVICE_UNAVAILABLE,
        message: 'a service this one needs did not answer; retry',
      });
    }
  });

  it('masks every other error as INTERNAL', () => {
    const internal = [
      new Error('boom'),
      new TypeError('x is undefined'),
      // a client error of the JetStream API is a bug of ours, not an outage
      new JetStreamApiError({ code: 400, err_code: 10052, description: 'invalid stream name' }),
      'a string',
      null,
    ];
    for (const error of internal) {
      expect(isUnavailable(error)).toBe(false);
      expect(toWireError(error)).toEqual({ code: ErrorCode.INTERNAL, message: 'internal error' });
    }
  });
});
