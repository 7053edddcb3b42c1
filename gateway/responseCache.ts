import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { isAsyncIterable } from '@graphql-tools/utils';
import { getOperationAST, Kind, type DocumentNode, type ExecutionResult } from 'graphql';
import type { ReadGeneration } from '../runtime/nats/readGeneration.ts';
import { SIGN_IN_ORGANIZATION_HEADER } from '../schema/contracts/graphql.ts';
import { SubgraphName } from '../schema/subjects.ts';
import { projectIdOf, topLevelFields } from '../runtime/readAuditFields.ts';
import { responseCacheTotal } from '../runtime/metrics.ts';

export interface ResponseCacheOptions {
  /** How long an answer is given again, seconds; 0: never (every read goes to the subgraphs). */
  seconds: number;
  /** Answers kept at most (the oldest go first). */
  maxEntries: number;
  /** Their serialised size at most, bytes (UTF-16 code units of the JSON). */
  maxBytes: number;
}

/**
 * The root fields whose answers are kept: each changes only by a write through infrafed (which moves the
 * read generation on) or by what happens outside it (a server made in OpenStack, a region's health, the
 * usage sync), which shows within `seconds`. Operations (progress), invitations, webhooks, the audit log,
 * quota requests and plans change on their own and are never kept.
 */
export const CACHED_ROOT_FIELDS: ReadonlySet<string> = new Set(['regions', 'projects', 'project', 'organization']);

/** One subgraph read an answer was made of: the cache writes its audit event again whenever it gives that answer. */
export interface CachedRead {
  subgraph: SubgraphName;
  /** The subgraph request's top-level fields, as the subgraph's own audit names them. */
  fields: string;
  projectId: string | null;
}

interface Entry {
  text: string;
  contentType: string;
  generation: number;
  expiresAt: number;
  reads: CachedRead[];
}

/** What the cache knows of one request while it is answered. */
interface Pending {
  key: string;
  /** The generation when the request began (null: JetStream did not say; nothing is kept). */
  generation: number | null;
  cacheable: boolean;
  stored: boolean;
  reads: CachedRead[];
  /** The caller asked for a fresh answer (`Cache-Control: no-cache` or `no-store`). */
  fresh: boolean;
  /** The answer, serialised, when it may be kept. */
  text?: string;
}

const pendingOf = new WeakMap<Request, Pending>();
const subgraphNames = new Set<string>(Object.values(SubgraphName));

/**
 * The transport tells the cache of each subgraph query it sent for a request: an answer made of them is
 * audited as those reads each time it is given again.
 */
export function noteSubgraphRead(
  request: Request | undefined,
  subgraph: string,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string,
): void {
  const pending = request && pendingOf.get(request);
  if (!pending) return;
  const name = subgraph.toLowerCase();
  if (!subgraphNames.has(name)) {
    pending.cacheable = false;
    return;
  }
  pending.reads.push({
    subgraph: name as SubgraphName,
    fields: topLevelFields(getOperationAST(document, operationName)).join(',').slice(0, 500),
    projectId: projectIdOf(variables),
  });
}

/** Whether a client's query may be kept: a query whose every root field is one of {@link CACHED_ROOT_FIELDS}. */
export function isCacheableQuery(document: DocumentNode, operationName?: string | null): boolean {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'query') return false;
  return operation.selectionSet.selections.every(
    (s) => s.kind === Kind.FIELD && (s.name.value === '__typename' || CACHED_ROOT_FIELDS.has(s.name.value)),
  );
}

/** Reads answered from the cache, each with the authorization its caller's request sent on. */
export type CachedReadsBatch = { authorization: string; read: CachedRead }[];

/** At most this many reads in one audit batch (the contract's bound), sent at most this long after the first. */
export const AUDIT_BATCH_MAX = 500;
export const AUDIT_BATCH_MS = 100;

export interface ResponseCacheDeps {
  options: ResponseCacheOptions;
  generation: ReadGeneration;
  /**
   * Records reads answered from the cache (the controller's `audit.reads`, each in the name of its own
   * authorization): batched, at most {@link AUDIT_BATCH_MAX} and {@link AUDIT_BATCH_MS} after the first.
   */
  audit(batch: CachedReadsBatch): void;
  /** What the gateway sends the subgraphs as the caller's authorization (a session for a provider's token). */
  forwardedAuthorization(request: Request): string | null;
}

/**
 * Answers kept at the gateway, for the same client request of the same caller (its body byte for byte:
 * the document, variables, operation name and extensions; the `Authorization`, `Infrafed-Organization`,
 * `Prefer` and `Accept` headers exactly), while the read generation has not moved and for at most `seconds`. So two callers share an
 * answer only when they sent the same credentials, a write through infrafed (any gateway, any
 * controller replica) is seen by the next read, and what changes outside infrafed shows within `seconds`.
 * An answer with any error is never kept. A request whose generation JetStream cannot give in time is
 * answered by the subgraphs. Each answer given again is audited as the subgraph reads it was made of
 * (`result: "cached"`; sent to the controller in batches). A request with `Cache-Control: no-cache` is answered by the subgraphs (and that
 * answer kept), one with `no-store` is neither answered from nor kept. Responses say what happened in
 * `Cache-Status` (RFC 9211): `hit; ttl=<s>`, `fwd=miss`, `fwd=request` (asked fresh), `fwd=bypass` (a
 * field never kept), with `stored` when the answer was kept.
 */
export function createResponseCache(deps: ResponseCacheDeps) {
  const { options } = deps;
  const entries = new Map<string, Entry>();
  let bytes = 0;

  function drop(key: string): void {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.text.length;
  }
  /** Expired answers go (the map is in the order they were kept, so the oldest are first). */
  function sweep(now = Date.now()): void {
    for (const [key, entry] of entries) {
      if (entry.expiresAt > now) break;
      drop(key);
    }
  }
  function keep(key: string, entry: Entry): void {
    if (entry.text.length > options.maxBytes) return;
    drop(key);
    entries.set(key, entry);
    bytes += entry.text.length;
    for (const [oldest] of entries) {
      if (entries.size <= options.maxEntries && bytes <= options.maxBytes) break;
      drop(oldest);
    }
  }
  // the audit events of the answers given again, sent together (one controller request, not one per read)
  const queued: CachedReadsBatch = [];
  let flushTimer: NodeJS.Timeout | undefined;
  function flush(): void {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    while (queued.length > 0) deps.audit(queued.splice(0, AUDIT_BATCH_MAX));
  }
  function audit(read: CachedRead, authorization: string): void {
    queued.push({ authorization, read });
    if (queued.length >= AUDIT_BATCH_MAX) flush();
    else if (!flushTimer) {
      flushTimer = setTimeout(flush, AUDIT_BATCH_MS);
      flushTimer.unref();
    }
  }
  // memory goes back after a burst even when no request comes to sweep it
  const timer = options.seconds > 0 ? setInterval(() => sweep(), Math.max(1_000, options.seconds * 1_000)) : undefined;
  timer?.unref();

  function dispose(): void {
    flush();
    if (timer) clearInterval(timer);
    entries.clear();
    bytes = 0;
  }

  const plugin: GatewayPlugin = {
    // the gateway stops: the reads it gave are audited before it goes
    onDispose: dispose,
    // before the request is parsed: a kept answer costs no GraphQL work at all (the token is verified first,
    // by the gateway's own `onRequest`; a request it refused never gets here)
    async onRequest({ request, url, endResponse }) {
      if (options.seconds <= 0 || request.method !== 'POST' || url.pathname !== '/graphql') return;
      const authorization = request.headers.get('authorization');
      if (!authorization) return;
      const key = JSON.stringify([
        await request.clone().text(),
        authorization,
        request.headers.get(SIGN_IN_ORGANIZATION_HEADER),
        request.headers.get('prefer'),
        request.headers.get('accept'),
      ]);
      // RFC 9111: `no-cache` asks for a fresh answer (which is kept), `no-store` for one that is not kept either
      const directives = (request.headers.get('cache-control') ?? '').toLowerCase();
      const fresh = /\bno-(cache|store)\b/.test(directives);
      const generation = /\bno-store\b/.test(directives) ? null : await deps.generation.current();
      const entry = entries.get(key);
      const now = Date.now();
      if (entry && generation !== null && !fresh) {
        if (entry.generation === generation && entry.expiresAt > now) {
          responseCacheTotal.inc({ result: 'hit' });
          const forwarded = deps.forwardedAuthorization(request);
          if (forwarded) for (const read of entry.reads) audit(read, forwarded);
          const ttl = Math.ceil((entry.expiresAt - now) / 1_000);
          endResponse(
            new Response(entry.text, {
              status: 200,
              headers: { 'content-type': entry.contentType, 'cache-status': `infrafed; hit; ttl=${ttl}` },
            }),
          );
          return;
        }
        drop(key);
      }
      pendingOf.set(request, { key, generation, cacheable: false, stored: false, reads: [], fresh });
    },
    onExecute({ args }) {
      const pending = pendingOf.get((args.contextValue as { request?: Request }).request as Request);
      if (pending) pending.cacheable = isCacheableQuery(args.document, args.operationName);
    },
    onExecutionResult({ request, result }) {
      const pending = pendingOf.get(request);
      if (!pending?.cacheable || pending.generation === null || !result || isAsyncIterable(result)) return;
      const r = result as ExecutionResult & { extensions?: { http?: unknown } };
      if (r.errors?.length || !r.data || r.extensions?.http) return;
      // kept once the response is made (its content type is the one this caller's Accept chose)
      pending.text = JSON.stringify(r);
    },
    onResponse({ request, response }) {
      const pending = pendingOf.get(request);
      if (!pending) return;
      if (pending.text !== undefined && pending.generation !== null && response.status === 200) {
        const now = Date.now();
        sweep(now);
        keep(pending.key, {
          text: pending.text,
          contentType: response.headers.get('content-type') ?? 'application/json; charset=utf-8',
          generation: pending.generation,
          expiresAt: now + options.seconds * 1_000,
          reads: pending.reads,
        });
        pending.stored = true;
      }
      const forwarded = pending.cacheable ? (pending.fresh ? 'request' : 'miss') : 'bypass';
      responseCacheTotal.inc({ result: forwarded });
      response.headers.set('cache-status', `infrafed; fwd=${forwarded}${pending.stored ? '; stored' : ''}`);
    },
  };

  return {
    plugin,
    /** After a write through this gateway: nothing kept before it is given again (the generation says the same to every gateway). */
    clear(): void {
      entries.clear();
      bytes = 0;
    },
    stats() {
      return { entries: entries.size, bytes };
    },
    /** Sends the audit events still queued at once. */
    flush,
    dispose,
  };
}
