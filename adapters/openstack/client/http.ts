import type { InfrafedError } from '../../../schema/errors.ts';
import { childTraceparent, currentContext } from '../../../runtime/context.ts';
import { recordVendorCall } from '../../../runtime/metrics.ts';
import type { Logger } from '../../../runtime/log.ts';
import { fromVendorFailure, fromVendorResponse } from '../errors.ts';
import { createInFlight } from '../../../runtime/inFlight.ts';

export interface CallOptions {
  body?: unknown;
  /** Query parameters; a list repeats the parameter (Neutron filters by any of the values). */
  query?: Record<string, string | readonly string[] | undefined>;
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

/** A vendor's answer before it is parsed: what identical GETs in flight share. */
interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * One OpenStack JSON API: timeout per call, the caller's cancellation, one retry with a fresh token on
 * 401, and vendor errors mapped to neutral codes. Identical GETs in flight (same URL, for the same
 * organisation) are sent once and their answer parsed for each caller.
 */
export function createOpenstackHttp(options: OpenstackHttpOptions): OpenstackHttp {
  const base = options.baseUrl.replace(/\/+$/, '');
  const inFlight = createInFlight<RawResponse>();
  return async function call<T>(method: string, path: string, callOptions: CallOptions = {}): Promise<VendorResponse<T>> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(callOptions.query ?? {})) {
      if (typeof v === 'string') url.searchParams.set(k, v);
      else for (const one of v ?? []) url.searchParams.append(k, one);
    }
    for (let attempt = 0; ; attempt++) {
      const send = async (signal: AbortSignal | undefined): Promise<RawResponse> => {
        const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
        const trace = currentContext()?.traceparent;
        if (trace) headers.traceparent = childTraceparent(trace);
        if (callOptions.body !== undefined) headers['Content-Type'] = 'application/json';
        if (options.token) headers['X-Auth-Token'] = await options.token(attempt > 0);
        const signals = [AbortSignal.timeout(options.timeoutMs)];
        if (signal) signals.push(signal);
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
        return { status: response.status, headers: response.headers, text };
      };
      let raw: RawResponse;
      if (method === 'GET' && attempt === 0) {
        // shared work runs on the vendor timeout alone; each caller still stops waiting when it gives up
        const shared = inFlight.run(`${currentContext()?.organization ?? ''}|${url.href}`, () => send(undefined));
        raw = callOptions.signal ? await raceSignal(shared, callOptions.signal) : await shared;
      } else {
        // a write: GETs already in flight began before it, so no later read joins them
        if (method !== 'GET') inFlight.forget();
        raw = await send(callOptions.signal);
      }
      let body: unknown = raw.text;
      if (raw.text.length > 0 && (raw.headers.get('content-type') ?? '').includes('json')) {
        try {
          body = JSON.parse(raw.text);
        } catch {
          body = raw.text;
        }
      }
      if (raw.status === 401 && options.token && attempt === 0) continue;
      const ok = callOptions.accept ? callOptions.accept.includes(raw.status) : raw.status >= 200 && raw.status < 300;
      if (!ok)
        throw fromVendorResponse(options.service, raw.status, body, {
          ...options.context,
          method,
          path: url.pathname,
        }) satisfies InfrafedError;
      return { status: raw.status, headers: raw.headers, body: body as T };
    }
  };
}

/** The work's answer, or the signal's reason as soon as it aborts (the work goes on for others). */
function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
