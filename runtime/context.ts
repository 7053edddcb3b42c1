import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/** What every log line and outgoing call of one request carries (W3C trace context, whose request). */
export interface RequestContext {
  /** The W3C `traceparent` of the request as this component received (or started) it. */
  traceparent?: string;
  /** Its trace id (32 hex digits): the same on every hop of one request. */
  traceId?: string;
  organization?: string;
  operationId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The trace id of a valid `traceparent` (version 00, not all zeros), else undefined. */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  const m = TRACEPARENT.exec(traceparent ?? '');
  if (!m || /^0+$/.test(m[1] as string) || /^0+$/.test(m[2] as string)) return undefined;
  return m[1];
}

/** Random bytes for trace and span ids, drawn 4 KiB at a time (one system call for about 170 ids, not one each). */
let pool = Buffer.alloc(0);
let used = 0;
function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}

/** A new trace (sampled), for a request that came without one. */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/** The same trace with a new span id: what this component sends on (to NATS, to a vendor API). */
export function childTraceparent(traceparent: string): string {
  const m = TRACEPARENT.exec(traceparent);
  return m ? `00-${m[1]}-${randomHex(8)}-${m[3]}` : traceparent;
}

/** Runs `fn` with the context (merged over the current one): log lines and calls made within carry it. */
export function withContext<T>(context: RequestContext, fn: () => T): T {
  const merged = { ...storage.getStore(), ...context };
  if (merged.traceparent && !merged.traceId) merged.traceId = traceIdOf(merged.traceparent);
  return storage.run(merged, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/** The incoming `traceparent` when valid, else a new trace. */
export function traceparentFrom(header: string | null | undefined): string {
  return header && traceIdOf(header) ? header : newTraceparent();
}
