import { createGatewayRuntime, type GatewayPlugin } from '@graphql-hive/gateway-runtime';
import type { NatsConnection } from '@nats-io/nats-core';
import { isAsyncIterable } from '@graphql-tools/utils';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { readFileSync } from 'node:fs';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { TokenVerifier } from '../runtime/auth.ts';
import type { Logger } from '../runtime/log.ts';
import { SUPERGRAPH_PATH } from './compose.ts';
import { defaultGraphqlLimits, limitPlugins, type GraphqlLimits } from './limits.ts';
import { createNatsTransport, type InfrafedGatewayContext } from './natsTransport.ts';

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

function unauthenticated(message: string): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code: ErrorCode.UNAUTHENTICATED } }] }), {
    status: 401,
    headers: { 'content-type': 'application/graphql-response+json; charset=utf-8', 'www-authenticate': 'Bearer' },
  });
}

/**
 * The one GraphQL endpoint (`/graphql`): verifies the bearer token before anything else runs, plans
 * queries over the committed supergraph and reaches the subgraphs over NATS.
 */
export function createGateway(deps: GatewayDeps) {
  const authPlugin: GatewayPlugin = {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== '/graphql') return;
      // the explorer page itself holds nothing (it asks for the token; every query it sends is checked)
      if (wantsExplorer(request)) return;
      try {
        await deps.verifyToken(request.headers.get('authorization'));
      } catch (error) {
        endResponse(unauthenticated(error instanceof InfrafedError ? error.message : 'the token is not valid'));
      }
    },
    onContextBuilding({ extendContext }) {
      const extra: InfrafedGatewayContext = { infrafedDeadline: Date.now() + deps.timeoutMs, infrafedPartialErrors: [] };
      extendContext(extra as never);
    },
    onExecute({ args }) {
      const ctx = args.contextValue as InfrafedGatewayContext;
      return {
        onExecuteDone({ result, setResult }) {
          const extra = ctx.infrafedPartialErrors ?? [];
          if (extra.length === 0 || isAsyncIterable(result)) return;
          setResult({ ...result, errors: [...(result.errors ?? []), ...extra] });
        },
      };
    },
  };
  return createGatewayRuntime({
    supergraph: deps.supergraph ?? readFileSync(SUPERGRAPH_PATH, 'utf8'),
    transports: { nats: createNatsTransport({ nc: deps.nc, timeoutMs: deps.timeoutMs }) as never },
    transportEntries: { '*': { kind: 'nats' } },
    plugins: () => [...limitPlugins(deps.limits ?? defaultGraphqlLimits), authPlugin],
    batching: false,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // GraphiQL on GET /graphql for a browser (Accept: text/html), bundled: it loads nothing from the internet
    graphiql: {
      title: 'infrafed GraphQL explorer',
      headers: JSON.stringify({ Authorization: 'Bearer <paste your token here (npm run token -- <org> <role>)>' }, null, 2),
      defaultQuery: EXPLORER_QUERY,
    },
    renderGraphiQL,
    logging: false,
  });
}
