import { describe, expect, it, jest } from '@jest/globals';
import { RequestError, TimeoutError } from '@nats-io/nats-core';
import { RequestOne } from '@nats-io/nats-core/internal';
import { patchedAnsweredRequests } from './answeredRequests.ts';

/** A request as nats-core makes it (no async traces), on a stand-in for its inbox table. */
function request(timeoutMs = 60_000) {
  const mux = { cancel: jest.fn() };
  const r = new RequestOne(mux as never, 'infra.v1.test', { timeout: timeoutMs }, false);
  const internals = r as unknown as {
    deferred: { reject(e: Error): void } & Promise<unknown>;
    timer: Promise<unknown> & { cancel(): void };
  };
  const reject = jest.spyOn(internals.deferred, 'reject');
  return { r, mux, reject, internals };
}

describe('answered NATS requests', () => {
  it('is applied to the nats-core in use', () => {
    expect(patchedAnsweredRequests).toBe(true);
  });

  it('an answer settles the request and frees its inbox entry without building a "cancelled" error', async () => {
    const { r, mux, reject, internals } = request();
    const answer = { subject: 'reply' };
    r.resolver(null, answer as never);
    await expect(internals.deferred).resolves.toBe(answer);
    // nats-core's own cancel would reject the settled promise with new RequestError("cancelled")
    expect(reject).not.toHaveBeenCalled();
    expect(mux.cancel).toHaveBeenCalledWith(r);
  });

  it('an error answer (no responders) rejects with it once, as nats-core does', async () => {
    const { r, mux, reject, internals } = request();
    const noResponders = new Error('503');
    r.resolver(noResponders, {} as never);
    await expect(internals.deferred).rejects.toBeInstanceOf(RequestError);
    expect(reject).toHaveBeenCalledTimes(1);
    expect(mux.cancel).toHaveBeenCalledWith(r);
  });

  it('a request cancelled before any answer (a closed connection, its timeout) is rejected by nats-core as before', async () => {
    const { r, mux, internals } = request();
    r.cancel();
    await expect(internals.deferred).rejects.toThrow('cancelled');
    expect(mux.cancel).toHaveBeenCalledWith(r);
    const closed = request();
    closed.r.cancel(new Error('connection closed'));
    await expect(closed.internals.deferred).rejects.toThrow('connection closed');
    const late = request(10);
    await expect(late.internals.timer).rejects.toBeInstanceOf(TimeoutError);
    late.r.cancel();
    await expect(late.internals.deferred).rejects.toThrow('cancelled');
  });
});
