import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { OpenAPIObject } from 'openapi3-ts/oas31';
import { callerHeaders, SIGN_IN_ORGANIZATION_HEADER } from '../schema/contracts/graphql.ts';
import { ErrorCode, httpByCode, InfrafedError, type Problem } from '../schema/errors.ts';
import type { ProblemResource } from '../schema/rest.ts';
import { httpFace, type ReadinessCheck } from '../runtime/http/ops.ts';
import type { Logger } from '../runtime/log.ts';
import { echoed, toProblems, unknownFields, valuesOutside } from '../runtime/problems.ts';
import { regionNameSchema, type Placement } from '../schema/model.ts';
import type { z } from 'zod';
import { idempotencyKeySchema } from '../schema/operations.ts';
import { renderDocs } from './docs.ts';
import { resourcesJsonSchema } from '../schema/resources.ts';
import { sseEvents } from '../runtime/sse.ts';
import { operationResource } from '../schema/rest.ts';
import { openApiDocument } from './openapi.ts';
import { selectionOf } from './selection.ts';
import { toOpenApi30 } from './openapi30.ts';
import {
  fromGraphqlError,
  routes as allRoutes,
  type GraphqlError,
  type GraphqlResult,
  type Route,
  type RouteContext,
  type RouteResult,
} from './routes/index.ts';

export interface RestBridgeOptions {
  /** The gateway's GraphQL endpoint. */
  gatewayUrl: string;
  /** Per GraphQL request to the gateway. */
  timeoutMs: number;
  log: Logger;
  version: string;
  routes?: readonly Route[];
  /** Readiness; default: the gateway's `/readyz` answers 200. */
  ready?: ReadinessCheck;
  /**
   * The configured placements: requests naming another region (or a platform a region does not run) are
   * refused with the rest of their problems, and regions are enumerations in the document.
   */
  placements?: readonly Placement[];
}

const MAX_BODY_BYTES = 1 << 20;
/** Problem types are documented on the docs page, one anchor per error code. */
const PROBLEM_BASE = '/docs#problem-';

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): Compiled {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { route, pattern, names };
}

/** A path segment as the caller meant it; a malformed `%` escape is the caller's mistake (400), not ours. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InfrafedError(ErrorCode.BAD_REQUEST, `the path has a malformed %-escape: ${segment}`);
  }
}

/** The ETag of a versioned resource (its version, which never comes back to an earlier value). */
export const versionTag = (version: number) => `"v${version}"`;
const VERSION_TAG = /^"v(0|[1-9][0-9]{0,14})"$/;

export function etagOf(value: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 27)}"`;
}

/** An error as RFC 9457 problem details: its status from the one table (schema/errors.ts). */
/** `/operations/{id}` (a well-formed id): the path an event stream of an operation may be asked on. */
const OPERATION_PATH = /^\/operations\/(op_[0-9a-z]{26})$/;

export function problemOf(error: InfrafedError, instance?: string, locate: (path: string) => string = (p) => p): ProblemResource {
  const { status, title } = httpByCode[error.code];
  const { problems, ...extensions } = error.extensions as { problems?: Problem[] } & Record<string, unknown>;
  const body: ProblemResource = {
    ...extensions,
    type: `${PROBLEM_BASE}${error.code.toLowerCase().replace(/_/g, '-')}`,
    title,
    status,
    detail: error.message,
    code: error.code,
    ...(instance ? { instance } : {}),
  };
  if (problems)
    body.problems = problems.map((p) => ({
      location: locate(p.path),
      message: p.message,
      ...('value' in p ? { value: echoed(p.value) } : {}),
    }));
  return body;
}

/**
 * The REST bridge: each route is one GraphQL operation against the gateway. It validates what the caller
 * sent (every problem at once), passes the caller's token through, and shapes the answer as REST: status
 * codes, Location, ETag / If-Match, pagination with Link, problem+json.
 */
export function createRestBridge(options: RestBridgeOptions): {
  server: Server;
  document: OpenAPIObject;
  document30: Record<string, unknown>;
} {
  const routes = options.routes ?? allRoutes;
  const compiled = routes.map(compile);
  const known = options.placements ?? [];
  const document = openApiDocument(routes, options.version, known);
  const regions = [...new Set(known.map((p) => p.region))];
  const allowed = new Map(
    regions.length > 0
      ? [[regionNameSchema as z.ZodType, { values: regions, message: `unknown region; known regions: ${regions.join(', ')}` }]]
      : [],
  );
  const documentJson = JSON.stringify(document, null, 2);
  const document30 = toOpenApi30(document);
  const document30Json = JSON.stringify(document30, null, 2);
  const docsHtml = renderDocs(document);
  const { log } = options;

  /** The gateway's `Cache-Status` of each GraphQL call a request made, in order. */
  const cacheStatuses = new WeakMap<IncomingMessage, string[]>();

  async function graphql<T>(req: IncomingMessage, query: string, variables: Record<string, unknown> = {}): Promise<GraphqlResult<T>> {
    const headers = forwardedHeaders(req, 'application/graphql-response+json, application/json');
    let res: Response;
    try {
      res = await fetch(options.gatewayUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new InfrafedError(
        timedOut ? ErrorCode.REGION_TIMEOUT : ErrorCode.SERVICE_UNAVAILABLE,
        timedOut ? 'the gateway did not answer in time' : 'the gateway is not reachable',
      );
    }
    const text = await res.text();
    const cacheStatus = res.headers.get('cache-status');
    if (cacheStatus) cacheStatuses.set(req, [...(cacheStatuses.get(req) ?? []), cacheStatus]);
    let parsed: { data?: T | null; errors?: GraphqlError[] };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new InfrafedError(ErrorCode.UPSTREAM_ERROR, `the gateway answered ${res.status} without JSON`);
    }
    // GraphQL-level refusals of the bridge's own queries are its bugs: say so, not "bad input"
    for (const e of parsed.errors ?? []) {
      const code = e.extensions?.code;
      if (code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED') {
        log.error({ error: e, query }, 'the gateway refused a query of the bridge');
        throw new InfrafedError(ErrorCode.INTERNAL, 'the bridge sent a query the gateway does not accept');
      }
    }
    return { data: parsed.data ?? null, errors: parsed.errors ?? [] };
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new InfrafedError(ErrorCode.PAYLOAD_TOO_LARGE, `the body is larger than ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return {};
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/(.+\+)?json\b/i.test(type))
      throw new InfrafedError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send the body as application/json');
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new InfrafedError(ErrorCode.BAD_REQUEST, `the body is not JSON: ${(error as Error).message}`);
    }
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, type = 'application/json'): void {
    const payload = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(body === undefined ? {} : { 'content-type': type, 'content-length': Buffer.byteLength(payload).toString() }),
    });
    res.end(payload);
  }

  function sendProblem(res: ServerResponse, problem: ProblemResource, headers: Record<string, string> = {}): void {
    if (problem.status === 401) headers['www-authenticate'] = 'Bearer';
    send(res, problem.status, problem, headers, 'application/problem+json');
  }

  /** Regions/placements that did not answer, from the partial errors of a read. */
  function incompleteRegions(errors: GraphqlError[]) {
    const seen = new Map<string, { region: string; platform: string | null; code: string; message: string }>();
    for (const e of errors) {
      const region = e.extensions?.region;
      if (typeof region !== 'string') {
        log.warn({ error: e }, 'a read answered with an error that names no region');
        continue;
      }
      const platform = typeof e.extensions?.platform === 'string' ? e.extensions.platform : null;
      seen.set(`${region}/${platform}`, { region, platform, code: String(e.extensions?.code ?? 'UPSTREAM_ERROR'), message: e.message });
    }
    return [...seen.values()];
  }

  function respond(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: Route,
    result: RouteResult,
    query: Record<string, unknown>,
  ): void {
    switch (result.kind) {
      case 'resource': {
        const headers: Record<string, string> = {};
        const incomplete = incompleteRegions(result.errors ?? []);
        if (route.partial) {
          // partial data is said, and never tagged: a tag over it would let a client skip the complete answer
          const body = { ...(result.body as Record<string, unknown>), incompleteRegions: incomplete };
          if (incomplete.length > 0) return send(res, 200, body, headers);
          result = { ...result, body };
        }
        if (route.etag) {
          const tag = result.version !== undefined ? versionTag(result.version) : etagOf(result.etag ?? result.body);
          headers.etag = tag;
          const held = req.headers['if-none-match'];
          if (req.method === 'GET' && held && held.split(',').some((t) => t.trim() === tag || t.trim() === '*'))
            return send(res, 304, undefined, headers);
        }
        if (route.created) return send(res, 201, result.body, { ...headers, location: route.created.of(result.body) });
        return send(res, 200, result.body, headers);
      }
      case 'list': {
        const limit = query.limit as number;
        const key = result.sortKey as (item: unknown) => string;
        const sorted = [...result.items].sort((a, b) => key(a).localeCompare(key(b)));
        const after = query.cursor === undefined ? null : Buffer.from(String(query.cursor), 'base64url').toString('utf8');
        const rest = after === null ? sorted : sorted.filter((item) => key(item).localeCompare(after) > 0);
        const items = rest.slice(0, limit);
        const last = items.at(-1);
        const nextCursor = rest.length > limit && last !== undefined ? Buffer.from(key(last), 'utf8').toString('base64url') : null;
        return sendPage(res, url, items, nextCursor, incompleteRegions(result.errors));
      }
      case 'page':
        return sendPage(res, url, result.items, result.nextCursor, incompleteRegions(result.errors));
      case 'operation': {
        const op = result.operation;
        const headers: Record<string, string> = { location: `/operations/${op.id}` };
        if (op.status === 'SUCCEEDED' && result.version !== undefined) headers.etag = versionTag(result.version);
        if (op.status === 'FAILED') {
          const error = new InfrafedError(ErrorCode.INTERNAL, 'the operation failed');
          const failed = op.error ? fromGraphqlError({ message: op.error.message, extensions: { ...op.error } }) : error;
          return sendProblem(res, { ...problemOf(failed, `/operations/${op.id}`), operationId: op.id, operation: op }, headers);
        }
        // a finished create is 201 Created; a finished change or delete is 200 (nothing new was made); 202 while it runs
        const done = route.method === 'post' ? 201 : 200;
        return send(res, op.status === 'SUCCEEDED' ? done : 202, op, headers);
      }
    }
  }

  function sendPage(
    res: ServerResponse,
    url: URL,
    items: unknown[],
    nextCursor: string | null,
    incomplete: ReturnType<typeof incompleteRegions>,
  ): void {
    const headers: Record<string, string> = {};
    if (nextCursor) {
      const next = new URLSearchParams(url.searchParams);
      next.set('cursor', nextCursor);
      headers.link = `<${url.pathname}?${next.toString()}>; rel="next"`;
    }
    send(res, 200, { items, nextCursor, incompleteRegions: incomplete }, headers);
  }

  let resourcesSchema: string | undefined;

  /** What the bridge sends the gateway: the caller's own headers as they are (it holds no credentials of its own). */
  function forwardedHeaders(req: IncomingMessage, accept: string): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept };
    for (const { http: name } of callerHeaders) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    // the organisation a principal of several signs in to (an identity provider's token; the gateway reads it)
    const organization = req.headers[SIGN_IN_ORGANIZATION_HEADER];
    if (typeof organization === 'string') headers[SIGN_IN_ORGANIZATION_HEADER] = organization;
    // `no-cache` asks the gateway's response cache for a fresh answer
    const cacheControl = req.headers['cache-control'];
    if (typeof cacheControl === 'string') headers['cache-control'] = cacheControl;
    return headers;
  }

  /**
   * `GET /operations/{id}` with `Accept: text/event-stream`: the gateway's `operationUpdated(id)` subscription
   * (over SSE, with the caller's own token) relayed as events `operation` (the REST operation resource), and
   * `problem` (problem+json) when it cannot be followed; the stream ends when the operation does.
   */
  async function followOperation(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const headers = forwardedHeaders(req, 'text/event-stream');
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    let upstream: Response;
    try {
      upstream = await fetch(options.gatewayUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          query: `subscription($id: ID!) { operationUpdated(id: $id) ${selectionOf(operationResource)} }`,
          variables: { id },
        }),
        signal: aborted.signal,
      });
    } catch {
      throw new InfrafedError(ErrorCode.SERVICE_UNAVAILABLE, 'the gateway is not reachable');
    }
    if (!upstream.ok || !upstream.body) {
      const parsed = (await upstream.json().catch(() => ({}))) as { errors?: GraphqlError[] };
      const first = parsed.errors?.[0];
      throw first ? fromGraphqlError(first) : new InfrafedError(ErrorCode.UPSTREAM_ERROR, `the gateway answered ${upstream.status}`);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    try {
      for await (const { event, data } of sseEvents(upstream.body)) {
        if (event === 'complete') break;
        if (event !== 'next' || !data) continue;
        const next = JSON.parse(data) as { data?: { operationUpdated?: unknown } | null; errors?: GraphqlError[] };
        if (next.data?.operationUpdated) send('operation', next.data.operationUpdated);
        else if (next.errors?.[0]) {
          send('problem', problemOf(fromGraphqlError(next.errors[0]), `/operations/${id}`));
          break;
        }
      }
    } catch (error) {
      if (!aborted.signal.aborted) log?.warn({ err: error, operationId: id }, 'operation stream broken');
    }
    res.end();
  }
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bridge.invalid');
    const method = (req.method ?? 'GET').toLowerCase();
    if (method === 'get' && url.pathname === '/openapi.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(documentJson);
    }
    if (method === 'get' && url.pathname === '/schemas/resources.json') {
      res.writeHead(200, { 'content-type': 'application/schema+json' });
      return void res.end((resourcesSchema ??= JSON.stringify(resourcesJsonSchema())));
    }
    if (method === 'get' && url.pathname === '/openapi-3.0.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(document30Json);
    }
    if (method === 'get' && (url.pathname === '/docs' || url.pathname === '/docs/')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(docsHtml);
    }

    const followed = method === 'get' && /text\/event-stream/.test(req.headers.accept ?? '') ? OPERATION_PATH.exec(url.pathname) : null;
    if (followed) return followOperation(req, res, followed[1] as string);

    const matches = compiled.filter((c) => c.pattern.test(url.pathname));
    if (matches.length === 0) throw new InfrafedError(ErrorCode.NOT_FOUND, `no resource at ${url.pathname} (see /openapi.json)`);
    const match = matches.find((c) => c.route.method === method);
    if (!match) {
      res.setHeader('allow', matches.map((c) => c.route.method.toUpperCase()).join(', '));
      throw new InfrafedError(ErrorCode.METHOD_NOT_ALLOWED, `${method.toUpperCase()} is not allowed on ${url.pathname}`);
    }
    const { route } = match;
    const raw = match.pattern.exec(url.pathname) as RegExpExecArray;
    const pathValues = Object.fromEntries(match.names.map((n, i) => [n, decodePathSegment(raw[i + 1] as string)]));

    // every problem of path, query and body at once
    const problems: Problem[] = [];
    const path: Record<string, string> = {};
    for (const [name, schema] of Object.entries(route.params ?? {})) {
      const r = schema.safeParse(pathValues[name]);
      if (r.success) path[name] = r.data as string;
      else problems.push(...toProblems(r.error, pathValues[name], `path.${name}`));
      if (r.success) problems.push(...valuesOutside(schema, pathValues[name], `path.${name}`, allowed));
    }
    const query: Record<string, unknown> = {};
    for (const name of new Set(url.searchParams.keys())) {
      if (!route.query || !Object.hasOwn(route.query, name)) {
        const known = Object.keys(route.query ?? {});
        problems.push({
          path: `query.${name}`,
          message: known.length > 0 ? `unknown query parameter; known: ${known.join(', ')}` : 'this operation takes no query parameters',
        });
      }
    }
    for (const [name, schema] of Object.entries(route.query ?? {})) {
      const given = url.searchParams.get(name) ?? undefined;
      const r = schema.safeParse(given);
      if (r.success) query[name] = r.data;
      else problems.push(...toProblems(r.error, given, `query.${name}`));
      if (r.success) problems.push(...valuesOutside(schema, given, `query.${name}`, allowed));
    }
    if (route.query?.cursor && typeof query.cursor === 'string' && route.shape === 'list' && route.operationId !== 'listAuditEvents') {
      if (!/^[A-Za-z0-9_-]+$/.test(query.cursor))
        problems.push({ path: 'query.cursor', message: 'a cursor comes from a previous page', value: query.cursor });
    }
    let body: Record<string, unknown> = {};
    if (route.body) {
      const given = await readBody(req);
      if (given === null || typeof given !== 'object' || Array.isArray(given)) {
        problems.push({ path: 'body', message: 'the body must be a JSON object' });
      } else {
        const { omit } = route.body;
        const input = { ...(given as Record<string, unknown>), ...Object.fromEntries(omit.map((k) => [k, pathValues[k]])) };
        for (const key of omit)
          if (key in (given as Record<string, unknown>))
            problems.push({ path: `body.${key}`, message: `unknown field; ${key} is given by the path or a header` });
        problems.push(...unknownFields(route.body.schema, given, 'body'));
        const r = route.body.schema.safeParse(input);
        if (r.success) body = r.data as Record<string, unknown>;
        else {
          // (a strict schema's own "unrecognized keys" is said above, one problem per field)
          const issues = r.error.issues.filter((i) => i.code !== 'unrecognized_keys');
          problems.push(...toProblems({ issues } as z.ZodError, input, (first) => (omit.includes(String(first)) ? 'path' : 'body')));
        }
        // what the configuration knows, besides the schema: regions, and each region's platforms
        const outside = [
          ...valuesOutside(route.body.schema, given, 'body', allowed),
          ...(known.length > 0 ? (route.known?.(given as Record<string, unknown>, known) ?? []) : []),
        ];
        for (const p of outside) if (!problems.some((q) => q.path === p.path)) problems.push(p);
      }
    }
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string') {
      const r = idempotencyKeySchema.safeParse(key);
      if (!r.success) problems.push(...toProblems(r.error, key, 'header.Idempotency-Key'));
    }
    if (problems.length > 0) {
      throw new InfrafedError(ErrorCode.BAD_USER_INPUT, `invalid request: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, {
        problems,
      });
    }

    const ctx: RouteContext = { path, query, body, graphql: (q, v) => graphql(req, q, v) };
    if (route.ifMatch) {
      // the version goes to the controller, which compares and advances it as one step with the write
      const wanted = req.headers['if-match']?.trim();
      if (wanted && wanted !== '*') {
        const match = VERSION_TAG.exec(wanted);
        if (!match) {
          throw new InfrafedError(
            ErrorCode.PRECONDITION_FAILED,
            `If-Match ${wanted} is not a tag of this resource (send the one ETag you read); nothing was changed`,
          );
        }
        ctx.ifVersion = Number(match[1]);
      }
    }
    const result = await route.handle(ctx);
    // what the gateway's response cache did for each read the answer was made of
    const statuses = cacheStatuses.get(req);
    if (req.method === 'GET' && statuses) res.setHeader('cache-status', statuses.join(', '));
    respond(req, res, url, route, result, query);
  }

  const listener: RequestListener = (req, res) => {
    const instance = req.url ?? '/';
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy(error as Error);
      if (error instanceof InfrafedError) {
        // problems the gateway found in an input the bridge passed on are the caller's body (without the
        // name of the GraphQL argument that carried it: `input.name` is `body.name`)
        return sendProblem(
          res,
          problemOf(error, instance, (p) =>
            /^(path|query|header|body)\b/.test(p) ? p : `body.${p.replace(/^(input|rule|limits)\./, '')}`,
          ),
        );
      }
      log.error({ err: error, url: instance }, 'unexpected error');
      sendProblem(res, problemOf(new InfrafedError(ErrorCode.INTERNAL, 'unexpected error; see the bridge log'), instance));
    });
  };
  /** The route's operationId (the `operation` label of the metrics). */
  const operationOf = (req: IncomingMessage) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const method = (req.method ?? 'GET').toLowerCase();
    return (
      compiled.find((c) => c.route.method === method && c.pattern.test(path))?.route.operationId ??
      (path === '/openapi.json' || path === '/openapi-3.0.json' || path.startsWith('/docs') ? path : 'unknown')
    );
  };
  // ready: the gateway behind it says it is ready
  const ready: ReadinessCheck =
    options.ready ??
    (async () => {
      try {
        const res = await fetch(new URL('/readyz', options.gatewayUrl), { signal: AbortSignal.timeout(2_000) });
        return { gateway: res.ok ? true : `the gateway is not ready (${res.status})` };
      } catch (error) {
        return { gateway: `the gateway does not answer: ${(error as Error).message}` };
      }
    });
  const server = createServer(httpFace(listener, { log, ready, operationOf }));
  return { server, document, document30 };
}
