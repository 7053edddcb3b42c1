import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import { RequestError, TimeoutError, headers as natsHeaders } from '@nats-io/nats-core';
import type { z } from 'zod';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { Header } from '../../schema/subjects.ts';
import { childTraceparent, currentContext } from '../context.ts';
import { natsNoRespondersTotal, natsRequestDuration, natsRequestsTotal } from '../metrics.ts';
import { decodeReply, encodeJson } from './wire.ts';

/** Who is being called, for error codes and messages. */
export type RequestTarget = { kind: 'region'; region: string; platform: string } | { kind: 'service'; name: string };

export interface RequestOptions {
  /** Upper bound for this call, milliseconds; shrunk to `deadline` when that comes sooner. */
  timeoutMs: number;
  /** Absolute deadline inherited from the caller (epoch ms), e.g. from an incoming `Infrafed-Deadline`. */
  deadline?: number;
  /** The caller gave up: the promise rejects at once with the signal's reason. */
  signal?: AbortSignal;
  headers?: Record<string, string>;
  target: RequestTarget;
}

function describe(target: RequestTarget): string {
  return target.kind === 'region' ? `region ${target.region} (${target.platform})` : target.name;
}

function targetExtensions(target: RequestTarget): Record<string, unknown> {
  return target.kind === 'region' ? { region: target.region, platform: target.platform } : { service: target.name };
}

/** Adds region/platform to an error that lacks them, without overwriting what the callee said. */
function withTarget(error: InfrafedError, target: RequestTarget & { kind: 'region' }): InfrafedError {
  const extra = targetExtensions(target);
  const missing = Object.entries(extra).filter(([k]) => !(k in error.extensions));
  if (missing.length === 0) return error;
  return new InfrafedError(error.code, error.message, { ...error.extensions, ...Object.fromEntries(missing) }, { cause: error });
}

/**
 * One JSON request/reply with a deadline. No responders fails at once (REGION_UNAVAILABLE, or
 * SERVICE_UNAVAILABLE for a component); no answer in time is REGION_TIMEOUT (or SERVICE_UNAVAILABLE);
 * an error reply becomes the {@link InfrafedError} it carries; a reply is parsed by `replySchema`.
 */
export async function requestJson<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  replySchema: S,
  options: RequestOptions,
): Promise<z.infer<S>> {
  const { target } = options;
  options.signal?.throwIfAborted();
  const deadline = Math.min(Date.now() + options.timeoutMs, options.deadline ?? Number.POSITIVE_INFINITY);
  const timeoutMs = deadline - Date.now();
  if (timeoutMs <= 0) throw timeoutError(target);

  const h: MsgHdrs = natsHeaders();
  for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v);
  const trace = currentContext()?.traceparent;
  if (trace && !h.has(Header.traceparent)) h.set(Header.traceparent, childTraceparent(trace));
  const organization = currentContext()?.organization;
  if (organization && !h.has(Header.organization)) h.set(Header.organization, organization);
  h.set(Header.deadline, String(deadline));

  const request = nc.request(subject, encodeJson(body), { timeout: timeoutMs, headers: h });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!options.signal) return;
    onAbort = () => reject(options.signal?.reason);
    options.signal.addEventListener('abort', onAbort, { once: true });
  });
  const labels = {
    target: target.kind === 'region' ? `adapter-${target.platform}` : target.name,
    region: target.kind === 'region' ? target.region : '',
  };
  const started = performance.now();
  let outcome = 'error';
  try {
    const msg = await Promise.race([request, aborted]);
    const reply = decodeReply(msg, replySchema, describe(target));
    outcome = 'ok';
    return reply;
  } catch (error) {
    if (error instanceof InfrafedError) throw target.kind === 'region' ? withTarget(error, target) : error;
    if (error instanceof RequestError && error.isNoResponders()) {
      outcome = 'no_responders';
      natsNoRespondersTotal.inc(labels);
      throw unavailableError(target);
    }
    if (error instanceof TimeoutError || (error instanceof RequestError && error.cause instanceof TimeoutError)) {
      outcome = 'timeout';
      throw timeoutError(target);
    }
    throw error;
  } finally {
    natsRequestsTotal.inc({ ...labels, outcome });
    natsRequestDuration.observe(labels, (performance.now() - started) / 1000);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    request.catch(() => undefined); // settled after an abort: nobody listens any more
  }
}

function unavailableError(target: RequestTarget): InfrafedError {
  return target.kind === 'region'
    ? new InfrafedError(
        ErrorCode.REGION_UNAVAILABLE,
        `region ${target.region} has no ${target.platform} adapter available`,
        targetExtensions(target),
      )
    : new InfrafedError(ErrorCode.SERVICE_UNAVAILABLE, `${target.name} is not available`, targetExtensions(target));
}

function timeoutError(target: RequestTarget): InfrafedError {
  return target.kind === 'region'
    ? new InfrafedError(
        ErrorCode.REGION_TIMEOUT,
        `region ${target.region} (${target.platform}) did not answer in time`,
        targetExtensions(target),
      )
    : new InfrafedError(ErrorCode.SERVICE_UNAVAILABLE, `${target.name} did not answer in time`, targetExtensions(target));
}

export interface FanOutResult<T, V> {
  ok: { target: T; value: V }[];
  failed: { target: T; error: InfrafedError }[];
}

/**
 * Calls every target in parallel (scatter) and gathers what each said: values from those that answered,
 * one error per target that did not. Never rejects; a down target costs nothing (no responders is at once).
 */
export async function fanOut<T, V>(targets: readonly T[], call: (target: T) => Promise<V>): Promise<FanOutResult<T, V>> {
  const settled = await Promise.allSettled(targets.map((t) => call(t)));
  const result: FanOutResult<T, V> = { ok: [], failed: [] };
  settled.forEach((s, i) => {
    const target = targets[i] as T;
    if (s.status === 'fulfilled') result.ok.push({ target, value: s.value });
    else {
      const error =
        s.reason instanceof InfrafedError ? s.reason : new InfrafedError(ErrorCode.INTERNAL, 'internal error', {}, { cause: s.reason });
      result.failed.push({ target, error });
    }
  });
  return result;
}
