import type { ApolloServer, BaseContext, ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import { GraphQLError } from 'graphql';
import { createServer } from 'node:http';
import { createHttpHandler } from './httpHandler.ts';
import { callerHeaders, graphqlReplySchema, graphqlRequestSchema } from '../../schema/contracts/graphql.ts';
import { publicExtensions, type InfrafedError } from '../../schema/errors.ts';
import { publicMessage } from './errors.ts';
import { currentContext } from '../../runtime/context.ts';
import { Header, subgraphQueue, subgraphServiceName, subgraphSubject, type SubgraphName } from '../../schema/subjects.ts';
import type { Logger } from '../../runtime/log.ts';
import { endpoint, startService } from '../../runtime/nats/service.ts';

/** NATS headers a subgraph reads: the caller's, and the request's deadline. */
const forwardedHeaders = [...callerHeaders.map((h) => h.nats), Header.deadline];

export interface ServeSubgraphOptions<TContext extends BaseContext> {
  nc: NatsConnection;
  name: SubgraphName;
  server: ApolloServer<TContext>;
  context: (headers: HeaderMap) => Promise<TContext>;
  log: Logger;
  version: string;
}

/**
 * Serves a started Apollo Server on its NATS subject (queue group per subgraph: replicas are found and
 * balanced by NATS). Each message runs through Apollo's full HTTP pipeline, so plugins, error formatting
 * and status codes are the same as over HTTP.
 */
export async function serveSubgraphOverNats<TContext extends BaseContext>(options: ServeSubgraphOptions<TContext>): Promise<Service> {
  const { server, name } = options;
  return startService(
    options.nc,
    {
      name: subgraphServiceName(name),
      version: options.version,
      description: `infrafed ${name} subgraph`,
      queue: subgraphQueue(name),
      log: options.log,
      component: `subgraph-${name}`,
      defaultTimeoutMs: 30_000,
    },
    [
      endpoint({
        name: 'graphql',
        subject: subgraphSubject(name),
        request: graphqlRequestSchema,
        reply: graphqlReplySchema,
        async handle(req, { headers }) {
          const map = new HeaderMap();
          map.set('content-type', 'application/json');
          for (const h of forwardedHeaders) {
            const v = headers?.get(h);
            if (v) map.set(h, v);
          }
          const res = await server.executeHTTPGraphQLRequest({
            httpGraphQLRequest: { method: 'POST', headers: map, search: '', body: req },
            context: () => options.context(map),
          });
          let text = '';
          if (res.body.kind === 'complete') text = res.body.string;
          else for await (const chunk of res.body.asyncIterator) text += chunk;
          return { status: res.status ?? 200, body: JSON.parse(text) as unknown };
        },
      }),
    ],
  );
}

/** Per-request list of errors for regions that did not answer; the plugin below adds them to the response. */
export interface PartialErrors {
  partialErrors: GraphQLError[];
}

export function addPartialError(context: PartialErrors, error: InfrafedError, path: readonly (string | number)[]): void {
  const key = `${String(error.extensions.region)}/${String(error.extensions.platform)}/${error.code}/${path.join('.')}`;
  if (context.partialErrors.some((e) => e.extensions.dedupeKey === key)) return;
  const traceId = publicMessage(error) !== error.message ? currentContext()?.traceId : undefined;
  context.partialErrors.push(
    new GraphQLError(publicMessage(error), {
      path,
      originalError: error,
      extensions: { ...publicExtensions(error.extensions), ...(traceId ? { traceId } : {}), code: error.code, dedupeKey: key },
    }),
  );
}

/**
 * Reads across regions answer with the data that came back plus one error per region that did not
 * (never a blanket failure): resolvers collect those errors and this plugin appends them. What the
 * region's vendor said is logged here (with the request's trace id), not sent.
 */
export function partialErrorsPlugin<TContext extends BaseContext & PartialErrors>(log: Logger): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single' || contextValue.partialErrors.length === 0) return;
          for (const e of contextValue.partialErrors) {
            const original = e.originalError as InfrafedError | undefined;
            log.warn(
              { code: original?.code, message: original?.message, extensions: original?.extensions },
              'a region is missing from a read',
            );
          }
          const extra = contextValue.partialErrors.map((e) => {
            const { dedupeKey: _drop, ...extensions } = e.extensions;
            return { message: e.message, path: e.path, extensions: { ...extensions, partial: true } };
          });
          response.body.singleResult.errors = [...(response.body.singleResult.errors ?? []), ...extra];
        },
      };
    },
  };
}

export interface StartSubgraphOptions<TContext extends BaseContext> extends ServeSubgraphOptions<TContext> {
  /** Also serve GraphQL over HTTP on this port (tooling, conformance suites); none when undefined. */
  httpPort?: number;
}

/** Starts the server, serves it on NATS (and HTTP when asked); returns `stop` and the HTTP URL. */
export async function startSubgraph<TContext extends BaseContext>(
  options: StartSubgraphOptions<TContext>,
): Promise<{ stop(): Promise<void>; httpUrl: string | null }> {
  await options.server.start();
  const service = await serveSubgraphOverNats(options);
  let httpUrl: string | null = null;
  let closeHttp = async () => {};
  if (options.httpPort !== undefined) {
    const http = createServer(createHttpHandler(options.server, options.context));
    await new Promise<void>((resolve) => http.listen(options.httpPort, '127.0.0.1', resolve));
    const address = http.address() as { port: number };
    httpUrl = `http://127.0.0.1:${address.port}/graphql`;
    closeHttp = () => new Promise<void>((resolve) => http.close(() => resolve()));
  }
  return {
    httpUrl,
    async stop() {
      await service.stop();
      await closeHttp();
      await options.server.stop();
    },
  };
}
