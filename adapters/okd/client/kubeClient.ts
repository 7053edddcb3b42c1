import { ErrorCode, InfrafedError } from '../../../schema/errors.ts';
import { childTraceparent, currentContext } from '../../../runtime/context.ts';
import { recordVendorCall } from '../../../runtime/metrics.ts';
import type { Logger } from '../../../runtime/log.ts';

export interface KubeClientOptions {
  /** API server URL, e.g. https://api.okd.example:6443 */
  apiUrl: string;
  /** Bearer token of the adapter's service account. */
  token: string;
  timeoutMs: number;
  /** Name in messages, e.g. `OKD lla`. */
  service: string;
  context: Record<string, unknown>;
  log?: Logger;
}

export interface KubeMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export type KubeObject<T = Record<string, unknown>> = { apiVersion?: string; kind?: string; metadata: KubeMeta } & T;

interface KubeStatus {
  kind: 'Status';
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { field?: string; message?: string; reason?: string }[] };
}

export interface KubeCallOptions {
  signal?: AbortSignal;
  query?: Record<string, string>;
}

/**
 * `exceeded quota: infrafed, requested: count/networkpolicies.networking.k8s.io=1, used: …=2, limited: …=2`
 * (the API server's ResourceQuota admission message) → per resource: requested, used, limit.
 */
export function parseExceededQuota(message: string): { resource: string; requested: string; used: string; limited: string }[] | null {
  const m = /exceeded quota: [^,]+, requested: (\S+), used: (\S+), limited: (\S+)/.exec(message);
  if (!m) return null;
  const pairs = (s: string) => new Map(s.split(',').map((p) => p.split('=') as [string, string]));
  const [requested, used, limited] = [pairs(m[1] as string), pairs(m[2] as string), pairs(m[3] as string)];
  return [...requested.keys()].map((resource) => ({
    resource,
    requested: requested.get(resource) ?? '0',
    used: used.get(resource) ?? '0',
    limited: limited.get(resource) ?? '0',
  }));
}

/**
 * Runs a read-modify-write again when the API server says someone else wrote first (409 Conflict on a
 * stale resourceVersion, or AlreadyExists when another writer created the object): optimistic concurrency.
 */
export async function retryOnConflict<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const lostRace =
        error instanceof InfrafedError &&
        error.code === ErrorCode.CONFLICT &&
        ['Conflict', 'AlreadyExists'].includes(String(error.extensions.reason));
      if (!lostRace || attempt >= attempts) throw error;
    }
  }
}

/**
 * The Kubernetes REST API as `@kubernetes/client-node` uses it (same paths, JSON objects, `Status`
 * errors), with the adapter's bearer token, a timeout per call and the caller's cancellation. Errors map
 * to neutral codes: 404 NOT_FOUND, 409 AlreadyExists/Conflict CONFLICT (`extensions.reason`), 403 exceeded
 * quota QUOTA_EXCEEDED, 422 Invalid UPSTREAM_ERROR with the causes (the adapter sent something invalid),
 * 401/other 403 UPSTREAM_ERROR (the adapter's own credentials), unreachable and 5xx on a read
 * REGION_UNAVAILABLE, 5xx on a write UPSTREAM_ERROR (the API server may have stored it before failing, e.g.
 * an etcd timeout: an outcome the controller treats as unknown, and undoes).
 */
export function createKubeClient(options: KubeClientOptions) {
  const base = options.apiUrl.replace(/\/+$/, '');

  function toError(status: number, body: unknown, method: string, path: string): InfrafedError {
    const s = (body && typeof body === 'object' ? body : {}) as Partial<KubeStatus>;
    const message = s.message ?? `HTTP ${status}`;
    const extensions = { ...options.context, vendorStatus: status, reason: s.reason ?? null, method, path };
    if (status === 404) return new InfrafedError(ErrorCode.NOT_FOUND, `${options.service}: ${message}`, extensions);
    if (status === 409) return new InfrafedError(ErrorCode.CONFLICT, `${options.service}: ${message}`, extensions);
    if (status === 403 && message.includes('exceeded quota')) {
      return new InfrafedError(ErrorCode.QUOTA_EXCEEDED, `${options.service}: ${message}`, {
        ...extensions,
        exceeded: parseExceededQuota(message),
      });
    }
    if (status === 422) {
      const causes = (s.details?.causes ?? []).map((c) => ({ field: c.field ?? '', message: c.message ?? '' }));
      return new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${options.service} refused the object as invalid: ${message}`, {
        ...extensions,
        causes,
      });
    }
    if (status === 401 || status === 403)
      return new InfrafedError(
        ErrorCode.UPSTREAM_ERROR,
        `${options.service} refused the adapter's credentials (${status}): ${message}`,
        extensions,
      );
    if (status >= 500)
      return new InfrafedError(
        method === 'GET' ? ErrorCode.REGION_UNAVAILABLE : ErrorCode.UPSTREAM_ERROR,
        `${options.service} failed with HTTP ${status}: ${message}`,
        extensions,
      );
    return new InfrafedError(ErrorCode.UPSTREAM_ERROR, `${options.service} refused the request (${status}): ${message}`, extensions);
  }

  async function request<T>(method: string, path: string, body?: unknown, callOptions: KubeCallOptions = {}): Promise<T> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(callOptions.query ?? {})) url.searchParams.set(k, v);
    const signals = [AbortSignal.timeout(options.timeoutMs)];
    if (callOptions.signal) signals.push(callOptions.signal);
    const started = performance.now();
    const trace = currentContext()?.traceparent;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(trace ? { traceparent: childTraceparent(trace) } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new InfrafedError(ErrorCode.REGION_TIMEOUT, `${options.service} did not answer in time`, options.context, { cause: error });
      }
      throw new InfrafedError(ErrorCode.REGION_UNAVAILABLE, `${options.service} is unreachable`, options.context, { cause: error });
    }
    const text = await response.text();
    options.log?.debug(
      { vendor: options.service, method, path: url.pathname, status: response.status, ms: Math.round(performance.now() - started) },
      'vendor call',
    );
    recordVendorCall(options.service, response.status, performance.now() - started);
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: kept as text for the message
    }
    if (!response.ok) throw toError(response.status, parsed, method, url.pathname);
    return parsed as T;
  }

  return {
    request,
    get: <T>(path: string, o?: KubeCallOptions) => request<KubeObject<T>>('GET', path, undefined, o),
    /** The object, or null on 404. */
    async find<T>(path: string, o?: KubeCallOptions): Promise<KubeObject<T> | null> {
      try {
        return await request<KubeObject<T>>('GET', path, undefined, o);
      } catch (error) {
        if (error instanceof InfrafedError && error.code === ErrorCode.NOT_FOUND) return null;
        throw error;
      }
    },
    async list<T>(path: string, labelSelector?: string, o: KubeCallOptions = {}): Promise<KubeObject<T>[]> {
      const res = await request<{ items: KubeObject<T>[] }>('GET', path, undefined, {
        ...o,
        query: { ...o.query, ...(labelSelector ? { labelSelector } : {}) },
      });
      return res.items;
    },
    create: <T>(path: string, obj: unknown, o?: KubeCallOptions) => request<KubeObject<T>>('POST', path, obj, o),
    replace: <T>(path: string, obj: unknown, o?: KubeCallOptions) => request<KubeObject<T>>('PUT', path, obj, o),
    /** True when it was deleted, false when it was not there. */
    async remove(path: string, o?: KubeCallOptions): Promise<boolean> {
      try {
        await request('DELETE', path, undefined, o);
        return true;
      } catch (error) {
        if (error instanceof InfrafedError && error.code === ErrorCode.NOT_FOUND) return false;
        throw error;
      }
    },
  };
}
export type KubeClient = ReturnType<typeof createKubeClient>;
