import { headers as natsHeaders, type Msg, type MsgHdrs } from '@nats-io/nats-core';
import { ServiceError } from '@nats-io/services';
import type { z } from 'zod';
import { ErrorCode, InfrafedError, httpStatusByCode, isErrorCode, type WireError } from '../../schema/errors.ts';
import { Header } from '../../schema/subjects.ts';
import { toProblems } from '../problems.ts';

const encoder = new TextEncoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

// errors of the NATS client (by name: the classes live in two packages) that mean a call the handler made
// over NATS found nobody or no answer: the connection, a service, or JetStream between leaders
const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'NoResponders',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'ConnectionError',
  'JetStreamNotEnabled',
]);

/**
 * Whether an error (or one it was caused by) says that NATS or JetStream could not serve a call the
 * handler made: no answer in time, no responders, a closed connection, or a JetStream API error with a
 * server status (5xx: no quorum, no leader yet, "temporarily unavailable"). Such a request may simply be
 * retried, so it is SERVICE_UNAVAILABLE, never INTERNAL.
 */
export function isUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (UNAVAILABLE_NAMES.has(e.name)) return true;
    // the API error's `status` and a status error's `code` are the server's HTTP-like status
    const status =
      e.name === 'JetStreamApiError'
        ? (e as { status?: unknown }).status
        : e.name === 'JetStreamStatusError'
          ? (e as { code?: unknown }).code
          : null;
    if (typeof status === 'number' && status >= 500) return true;
  }
  return false;
}

/**
 * The wire form of any error: infrafed errors keep code and extensions; NATS or JetStream being
 * unavailable (see {@link isUnavailable}) is SERVICE_UNAVAILABLE; everything else is masked as INTERNAL.
 */
export function toWireError(error: unknown): WireError {
  if (error instanceof InfrafedError) {
    return Object.keys(error.extensions).length > 0
      ? { code: error.code, message: error.message, extensions: { ...error.extensions } }
      : { code: error.code, message: error.message };
  }
  if (isUnavailable(error)) return { code: ErrorCode.SERVICE_UNAVAILABLE, message: 'a service this one needs did not answer; retry' };
  return { code: ErrorCode.INTERNAL, message: 'internal error' };
}

/** Headers of an error reply: the services API's numeric code (our HTTP status) plus our own code. */
export function errorHeaders(wire: WireError): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.errorCode, wire.code);
  return h;
}

export function errorStatus(wire: WireError): number {
  return httpStatusByCode[wire.code];
}

/**
 * Reads a reply: a services-API error becomes the {@link InfrafedError} it carries; a body that fails
 * its contract is the callee's fault (UPSTREAM_ERROR).
 */
export function decodeReply<S extends z.ZodType>(msg: Msg, schema: S, from: string): z.infer<S> {
  const serviceError = ServiceError.toServiceError(msg);
  if (serviceError) {
    const code = msg.headers?.get(Header.errorCode) ?? '';
    let extensions: Record<string, unknown> = {};
    try {
      const body = msg.json<Partial<WireError>>();
      if (body && typeof body.extensions === 'object' && body.extensions !== null) extensions = body.extensions;
    } catch {
      // a bare services-API error (e.g. from another client) has no JSON body
    }
    throw new InfrafedError(isErrorCode(code) ? code : ErrorCode.UPSTREAM_ERROR, serviceError.message, extensions);
  }
  let body: unknown;
  try {
    body = msg.json();
  } catch {
    throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${from} answered with a body that is not JSON`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${from} answered outside its contract`, {
      problems: toProblems(parsed.error, body),
    });
  }
  return parsed.data;
}
