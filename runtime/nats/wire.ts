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

/** The wire form of any error: infrafed errors keep code and extensions, everything else is masked. */
export function toWireError(error: unknown): WireError {
  if (error instanceof InfrafedError) {
    return Object.keys(error.extensions).length > 0
      ? { code: error.code, message: error.message, extensions: { ...error.extensions } }
      : { code: error.code, message: error.message };
  }
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
