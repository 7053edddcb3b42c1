import type { Server } from 'node:http';
import { getGraphQLWSOptions, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { TokenVerifier } from '../runtime/auth.ts';

/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the gateway's own port and path, for subscriptions
 * (queries and mutations work too). The token comes in `connection_init`'s payload (`authorization:
 * "Bearer …"`: browsers cannot set headers on a WebSocket) and is verified before any operation (4403
 * Forbidden otherwise); every operation then runs through the gateway's plugins (limits) and its NATS
 * transport with that token as its `Authorization`, as over HTTP.
 */
export function serveWebSockets(server: Server, gateway: GatewayRuntime, deps: { verifyToken: TokenVerifier; log: Logger; url: string }) {
  const wss = new WebSocketServer({ server, path: gateway.graphqlEndpoint });
  const authorizationOf = (params: unknown): string | null => {
    const given = (params ?? {}) as Record<string, unknown>;
    const value = given.authorization ?? given.Authorization;
    return typeof value === 'string' ? value : null;
  };
  const options = getGraphQLWSOptions(gateway as never, (ctx: { connectionParams?: unknown }) => ({
    // the transport and the plugins read the caller's headers from a request, as over HTTP
    request: new Request(deps.url, { method: 'POST', headers: { authorization: authorizationOf(ctx.connectionParams) ?? '' } }),
  }));
  const stop = useServer(
    {
      ...(options as object),
      async onConnect(ctx) {
        try {
          await deps.verifyToken(authorizationOf(ctx.connectionParams));
          // the supergraph is loaded at the first HTTP request; a WebSocket may come first
          await (gateway as unknown as { getSchema(): Promise<unknown> }).getSchema();
          return true;
        } catch (error) {
          deps.log.debug({ err: error }, 'websocket refused');
          return false;
        }
      },
    },
    wss,
  );
  return {
    async close(): Promise<void> {
      await stop.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
