import type { InfrafedError } from '../../../schema/errors.ts';
import { childTraceparent, currentContext } from '../../../runtime/context.ts';
import { recordVendorCall } from '../../../runtime/metrics.ts';
import type { Logger } from '../../../runtime/log.ts';
import { fromVendorFailure, fromVendorResponse } from '../errors.ts';

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  /** The caller's deadline; combined with the per-call timeout. */
  signal?: AbortSignal;
  /** Statuses that are not errors (default: 2xx). */
  accept?: readonly number[];
}

export interface VendorResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface OpenstackHttpOptions {
  /** Name in messages, e.g. `Keystone sto`. */
  service: string;
  baseUrl: string;
  /** Per-call timeout, milliseconds. */
  timeoutMs: number;
  /** Returns a valid token; `fresh` forces a new one (after a 401). None for the token call itself. */
  token?: (fresh: boolean) => Promise<string>;
  /** Extra headers on every call (e.g. a compute microversion). */
  headers?: Record<string, string>;
  context: Record<string, unknown>;
  /** Each call is logged at debug level (service, method, path, status, milliseconds). */
  log?: Logger;
}

export type OpenstackHttp = <T = unknown>(method: string, path: string, options?: CallOptions) => Promise<VendorResponse<T>>;

/**
 * One OpenStack JSON API: timeout per call, the caller's cancellation, one retry with a fresh token on
 * 401, and vendor errors mapped to neutral codes.
 */
export function createOpenstackHttp(options: OpenstackHttpOptions): OpenstackHttp {
  const base = options.baseUrl.replace(/\/+$/, '');
  return async function call<T>(method: string, path: string, callOptions: CallOptions = {}): Promise<VendorResponse<T>> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(callOptions.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
      const trace = currentContext()?.traceparent;
      if (trace) headers.traceparent = childTraceparent(trace);
      if (callOptions.body !== undefined) headers['Content-Type'] = 'application/json';
      if (options.token) headers['X-Auth-Token'] = await options.token(attempt > 0);
      const signals = [AbortSignal.timeout(options.timeoutMs)];
      if (callOptions.signal) signals.push(callOptions.signal);
      let response: Response;
      const started = performance.now();
      try {
        response = await fetch(url, {
          method,
          headers,
          body: callOptions.body === undefined ? undefined : JSON.stringify(callOptions.body),
          signal: AbortSignal.any(signals),
        });
      } catch (error) {
        throw fromVendorFailure(options.service, error, options.timeoutMs, options.context);
      }
      const text = await response.text();
      options.log?.debug(
        { vendor: options.service, method, path: url.pathname, status: response.status, ms: Math.round(performance.now() - started) },
        'vendor call',
      );
      recordVendorCall(options.service, response.status, performance.now() - started);
      let body: unknown = text;
      if (text.length > 0 && (response.headers.get('content-type') ?? '').includes('json')) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      if (response.status === 401 && options.token && attempt === 0) continue;
      const ok = callOptions.accept ? callOptions.accept.includes(response.status) : response.ok;
      if (!ok)
        throw fromVendorResponse(options.service, response.status, body, {
          ...options.context,
          method,
          path: url.pathname,
        }) satisfies InfrafedError;
      return { status: response.status, headers: response.headers, body: body as T };
    }
  };
}
