import { RequestOne } from '@nats-io/nats-core/internal';

/**
 * nats-core 3.4.0 (and its main branch as of June 2026): `RequestOne.resolver` settles a request with its
 * answer (or its error), then calls `cancel()`, which builds `new RequestError("cancelled")` to reject a
 * promise that is already settled: an Error, and its stack capture, for every answered request. Measured
 * here that was 116 of 1,280 ms of the controller's CPU while rules were applied and removed (9%), the
 * largest share after the socket writes. An answered request's clean-up (its timer, its place in the
 * inbox's table) is kept and only that Error skipped; a request cancelled before any answer (its timeout,
 * a closed connection, a publish that failed) goes through nats-core's own `cancel` as before.
 *
 * Applied once, on import (runtime/nats/connect.ts imports it); `patchedAnsweredRequests` says whether the
 * class still had the shape this relies on (a nats-core that changed it is left alone).
 */
const answered = Symbol('infrafed.answered');
/** Applied once even where this module is loaded twice over one nats-core (two module registries). */
const patchedMark = Symbol.for('infrafed.answeredRequestsPatched');

interface RequestInternals {
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
  timer?: { cancel(): void };
  mux: { cancel(request: unknown): void };
  [answered]?: true;
}

function patch(): boolean {
  const proto = RequestOne.prototype as unknown as RequestInternals & { [patchedMark]?: true };
  if (proto[patchedMark]) return true;
  const { resolver, cancel } = proto;
  if (typeof resolver !== 'function' || typeof cancel !== 'function' || resolver.length !== 2) return false;
  proto.resolver = function (this: RequestInternals, err: Error | null, msg: unknown) {
    this[answered] = true;
    resolver.call(this, err, msg);
  };
  proto.cancel = function (this: RequestInternals, err?: Error) {
    if (err !== undefined || !this[answered]) return cancel.call(this, err);
    this.timer?.cancel();
    this.mux.cancel(this);
  };
  proto[patchedMark] = true;
  return true;
}

export const patchedAnsweredRequests = patch();
