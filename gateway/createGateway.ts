import { createGatewayRuntime, type GatewayPlugin } from '@graphql-hive/gateway-runtime';
import type { NatsConnection } from '@nats-io/nats-core';
import { isAsyncIterable } from '@graphql-tools/utils';
import { useOnResolve } from '@envelop/on-resolve';
import { getNamedType, GraphQLError, isLeafType, responsePathAsArray } from 'graphql';
import { readFileSync } from 'node:fs';
import { resourcesJsonSchema } from '../schema/resources.ts';
import { ErrorCode, httpByCode, InfrafedError } from '../schema/errors.ts';
import { unverifiedIssuer, type TokenVerifier } from '../runtime/auth.ts';
import type { SignIn } from './signIn.ts';
import { SIGN_IN_ORGANIZATION_HEADER } from '../schema/contracts/graphql.ts';
import type { Logger } from '../runtime/log.ts';
import { SUPERGRAPH_PATH } from './supergraphPath.ts';
import { defaultGraphqlLimits, limitPlugins, type GraphqlLimits } from './limits.ts';
import { createNatsTransport, ENTITY_KEY, ENTITY_SUBPATH, type InfrafedGatewayContext } from './natsTransport.ts';
import { createResponseCache, type ResponseCacheOptions } from './responseCache.ts';
import type { ReadGeneration } from '../runtime/nats/readGeneration.ts';
import { requestJson } from '../runtime/nats/request.ts';
import { cachedReadsAuditReply } from '../schema/audit.ts';
import { controllerAuditSubject } from '../schema/subjects.ts';

export interface GatewayDeps {
  nc: NatsConnection;
  verifyToken: TokenVerifier;
  /** Whole request budget, milliseconds. */
  timeoutMs: number;
  log: Logger;
  /** The composed supergraph; default: the committed gateway/supergraph.graphql. */
  supergraph?: string;
  /** Default: {@link defaultGraphqlLimits}. */
  limits?: GraphqlLimits;
  /** Identity providers' issuers: their tokens sign in (are exchanged for sessions) through `signIn`. */
  providerIssuers?: ReadonlySet<string>;
  signIn?: SignIn;
  /** Answers kept for the same request of the same caller (absent, or `seconds` 0: none). */
  responseCache?: ResponseCacheOptions;
  /** What kept answers are checked against and writes move on (needed by `responseCache`). */
  readGeneration?: ReadGeneration;
}

/** A browser asking for the page (GET with Accept: text/html), not a GraphQL request over GET. */
function wantsExplorer(request: Request): boolean {
  return request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html');
}

const EXPLORER_QUERY = `# Put your token in the Headers tab below ("Authorization": "Bearer …"): every query needs one.
{
  regions { name platforms { platform status } }
  projects { id name placements { region platform } }
}
`;

/**
 * A set-aside error about an entity's field at each place the client's answer holds that field (the
 * field's path, then the rest of the subgraph's); without a known place it keeps no path (the region it
 * names says what is missing).
 */
function placed(error: GraphQLError, paths: InfrafedGatewayContext['infrafedEntityPaths']): GraphQLError[] {
  const { [ENTITY_KEY]: entity, [ENTITY_SUBPATH]: sub, ...extensions } = error.extensions as Record<string, unknown>;
  if (typeof entity !== 'string') return [error];
  const [field, ...rest] = (sub as (string | number)[] | undefined) ?? [];
  const at = field === undefined ? [] : (paths?.get(`${entity}:${String(field)}`) ?? []);
  if (at.length === 0) return [new GraphQLError(error.message, { extensions })];
  return at.map((p) => new GraphQLError(error.message, { path: [...p, ...rest], extensions }));
}

function refused(message: string, code: ErrorCode = ErrorCode.UNAUTHENTICATED, extensions: Record<string, unknown> = {}): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { ...extensions, code } }] }), {
    status: httpByCode[code].status,
    headers: {
      'content-type': 'application/graphql-response+json; charset=utf-8',
      ...(code === ErrorCode.UNAUTHENTICATED ? { 'www-authenticate': 'Bearer' } : {}),
    },
  });
}

/** Where the JSON Schema of resources files is served (no token needed: it is the format, not data). */
export const RESOURCES_SCHEMA_PATH = '/schemas/resources.json';
let resourcesSchema: string | undefined;
const resourcesSchemaText = () => (resourcesSchema ??= JSON.stringify(resourcesJsonSchema()));

/** The session a request signed in with (its identity provider's token exchanged), by request. */
const sessions = new WeakMap<Request, string>();

/**
 * The one GraphQL endpoint (`/graphql`): verifies the bearer token before anything else runs, plans
 * queries over the committed supergraph and reaches the subgraphs over NATS.
 */
export function createGateway(deps: GatewayDeps) {
  const generation = deps.readGeneration;
  const cache =
    deps.responseCache && deps.responseCache.seconds > 0 && generation
      ? createResponseCache({
          options: deps.responseCache,
          generation,
          forwardedAuthorization: (request) => sessions.get(request) ?? request.headers.get('authorization'),
          audit: (batch) => {
            const reads = batch.map(({ authorization, read }) => ({
              authorization,
              read: { ...read, decision: 'allowed' as const, result: 'cached', reason: null },
            }));
            requestJson(deps.nc, controllerAuditSubject('reads'), { reads }, cachedReadsAuditReply, {
              timeoutMs: 5_000,
              target: { kind: 'service', name: 'controller' },
            }).catch((error: unknown) => deps.log.warn({ err: error, reads: reads.length }, 'cached reads not audited'));
          },
        })
      : undefined;
  const onWrite = generation
    ? async () => {
        cache?.clear();
        await generation
          .bump()
          .catch((error: unknown) =>
            deps.log.warn(
              { err: error },
              'cached reads not marked stale: other gateways may answer from before this write until their cache expires',
            ),
          );
      }
    : undefined;
  const authPlugin: GatewayPlugin = {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname === RESOURCES_SCHEMA_PATH && request.method === 'GET') {
        endResponse(new Response(resourcesSchemaText(), { status: 200, headers: { 'content-type': 'application/schema+json' } }));
        return;
      }
      if (url.pathname !== '/graphql') return;
      // the explorer page itself holds nothing (it asks for the token; every query it sends is checked)
      if (wantsExplorer(request)) return;
      let authorization = request.headers.get('authorization');
      try {
        const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
        if (token && deps.signIn && deps.providerIssuers?.has(unverifiedIssuer(token) ?? '')) {
          authorization = `Bearer ${await deps.signIn(authorization as string, request.headers.get(SIGN_IN_ORGANIZATION_HEADER))}`;
          sessions.set(request, authorization);
        }
        await deps.verifyToken(authorization);
      } catch (error) {
        const e = error instanceof InfrafedError ? error : null;
        endResponse(refused(e?.message ?? 'the token is not valid', e?.code ?? ErrorCode.UNAUTHENTICATED, e?.extensions ?? {}));
      }
    },
    onContextBuilding({ extendContext, context }) {
      const request = (context as { request?: Request }).request;
      const extra: InfrafedGatewayContext = {
        infrafedAuthorization: request ? sessions.get(request) : undefined,
        infrafedDeadline: Date.now() + deps.timeoutMs,
        infrafedPartialErrors: [],
        infrafedEntityPaths: new Map(),
      };
      extendContext(extra as never);
    },
    onExecute({ args }) {
      const ctx = args.contextValue as InfrafedGatewayContext;
      return {
        onExecuteDone({ result, setResult }) {
          const extra = ctx.infrafedPartialErrors ?? [];
          if (extra.length === 0 || isAsyncIterable(result)) return;
          setResult({ ...result, errors: [...(result.errors ?? []), ...extra.flatMap((e) => placed(e, ctx.infrafedEntityPaths))] });
        },
      };
    },
  };
  // where each field of each entity of the answer sits (`Project:prj_…:quotas` → its paths), recorded as
  // it resolves: an entity's error from another subgraph goes to the client's own path of that field
  const entityPaths = useOnResolve<InfrafedGatewayContext>(({ root, info, context }) => {
    // only fields that hold objects can lack a region's part (a scalar is there or an error of its own)
    if (isLeafType(getNamedType(info.returnType))) return;
    const id = (root as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || !context.infrafedEntityPaths) return;
    const path = responsePathAsArray(info.path);
    const key = `${info.parentType.name}:${id}:${String(path.at(-1))}`;
    context.infrafedEntityPaths.set(key, [...(context.infrafedEntityPaths.get(key) ?? []), path]);
  }) as GatewayPlugin;
  return createGatewayRuntime({
    supergraph: deps.supergraph ?? readFileSync(SUPERGRAPH_PATH, 'utf8'),
    transports: {
      nats: createNatsTransport({
        nc: deps.nc,
        timeoutMs: deps.timeoutMs,
        organizationOf: async (authorization) => {
          const principal = await deps.verifyToken(authorization);
          if (!principal.organization) throw new InfrafedError(ErrorCode.FORBIDDEN, 'your token belongs to no organisation yet');
          return principal.organization;
        },
        onWrite,
      }) as never,
    },
    transportEntries: { '*': { kind: 'nats' } },
    plugins: () => [...limitPlugins(deps.limits ?? defaultGraphqlLimits), authPlugin, entityPaths, ...(cache ? [cache.plugin] : [])],
    // each subgraph request on its own (not merged with `_v<n>_` prefixes), so a partial error knows the
    // client's field (its alias) it answers
    __experimental__batchExecution: false,
    batching: false,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // GraphiQL on GET /graphql for a browser (Accept: text/html), bundled: it loads nothing from the internet
    graphiql: {
      title: 'infrafed GraphQL explorer',
      headers: JSON.stringify({ Authorization: 'Bearer <paste your token here (npm run token -- <org> <role>)>' }, null, 2),
      defaultQuery: EXPLORER_QUERY,
    },
    // loaded at the first page a browser asks for: the bundle is megabytes a gateway that serves no browser never needs
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    logging: false,
  });
}
