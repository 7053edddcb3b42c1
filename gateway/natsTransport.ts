import type { NatsConnection } from '@nats-io/nats-core';
import type { ExecutionRequest, ExecutionResult } from '@graphql-tools/utils';
import { GraphQLError, print, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { callerHeaders, graphqlReplySchema } from '../schema/contracts/graphql.ts';
import { requestJson } from '../runtime/nats/request.ts';

export interface NatsTransportOptions {
  nc: NatsConnection;
  /** Whole request budget at the gateway, milliseconds: subgraphs get the remaining deadline. */
  timeoutMs: number;
}

/** What the gateway adds to each request's context (see createGateway). */
export interface InfrafedGatewayContext {
  /** Set when the HTTP request arrives (epoch ms). */
  infrafedDeadline?: number;
  /**
   * Errors of regions that did not answer, next to data that is there. The query planner keeps a
   * subgraph's errors only for fields that came back null, so the transport sets these aside and the
   * gateway adds them to the response.
   */
  infrafedPartialErrors?: GraphQLError[];
}

interface GatewayContextLike extends InfrafedGatewayContext {
  request?: Request;
}

/** One error per region, platform and code in a response, whichever subgraphs found the region missing. */
const regionKey = (extensions: Record<string, unknown> | undefined) => `${extensions?.region}/${extensions?.platform}/${extensions?.code}`;

function setAsidePartialErrors(result: ExecutionResult, ctx: GatewayContextLike): ExecutionResult {
  if (!result.errors?.length || !ctx.infrafedPartialErrors) return result;
  const kept = [];
  for (const error of result.errors as unknown as GraphQLFormattedError[]) {
    if (error.extensions?.partial === true) {
      const { partial: _drop, ...extensions } = error.extensions;
      if (ctx.infrafedPartialErrors.some((e) => regionKey(e.extensions) === regionKey(extensions))) continue;
      // a path inside a subgraph's `_entities` is not one the client asked for: the region says what is missing
      const path = error.path?.[0] === '_entities' ? undefined : error.path;
      ctx.infrafedPartialErrors.push(new GraphQLError(error.message, { path, extensions }));
    } else kept.push(error);
  }
  return { ...result, errors: kept.length > 0 ? (kept as never) : undefined };
}

/**
 * A Hive gateway transport that reaches subgraphs over NATS: the subject comes from the supergraph's
 * `join__graph(url: "nats://<subject>")`; NATS's queue groups find and balance the replicas.
 */
export function createNatsTransport(options: NatsTransportOptions) {
  return {
    getSubgraphExecutor({ subgraphName, transportEntry }: { subgraphName: string; transportEntry: { location?: string } }) {
      const location = transportEntry.location ?? '';
      if (!location.startsWith('nats://')) throw new Error(`subgraph ${subgraphName} has no nats:// location (got ${location})`);
      const subject = location.slice('nats://'.length);
      return async function execute(request: ExecutionRequest): Promise<ExecutionResult> {
        const ctx = (request.context ?? {}) as GatewayContextLike;
        const headers: Record<string, string> = {};
        // the caller's headers (the subgraphs verify the token themselves)
        for (const { http, nats } of callerHeaders) {
          const v = ctx.request?.headers.get(http);
          if (v) headers[nats] = v;
        }
        try {
          const reply = await requestJson(
            options.nc,
            subject,
            { query: print(request.document), variables: request.variables ?? {}, operationName: request.operationName ?? null },
            graphqlReplySchema,
            {
              timeoutMs: options.timeoutMs,
              deadline: ctx.infrafedDeadline,
              signal: request.signal,
              headers,
              target: { kind: 'service', name: `subgraph ${subgraphName}` },
            },
          );
          return setAsidePartialErrors(reply.body as ExecutionResult, ctx);
        } catch (error) {
          const e = error instanceof InfrafedError ? error : new InfrafedError(ErrorCode.INTERNAL, 'internal error');
          return { errors: [{ message: e.message, extensions: { ...e.extensions, code: e.code, subgraph: subgraphName } }] as never };
        }
      };
    },
  };
}
