import type { NatsConnection } from '@nats-io/nats-core';
import type { ExecutionRequest, ExecutionResult } from '@graphql-tools/utils';
import {
  execute as executeLocally,
  GraphQLError,
  parse,
  print,
  responsePathAsArray,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { readSubgraphSdl } from '../runtime/sdl.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { callerHeaders, graphqlReplySchema } from '../schema/contracts/graphql.ts';
import { requestJson } from '../runtime/nats/request.ts';
import { Header, SubgraphName } from '../schema/subjects.ts';
import { createInFlight } from '../runtime/inFlight.ts';
import { subscribeToOperations } from './subscriptions.ts';
import { noteSubgraphRead } from './responseCache.ts';

export interface NatsTransportOptions {
  nc: NatsConnection;
  /** Whole request budget at the gateway, milliseconds: subgraphs get the remaining deadline. */
  timeoutMs: number;
  /** The organisation of a verified `Authorization` (subscriptions listen to the caller's organisation only). */
  organizationOf?: (authorization: string | null) => Promise<string>;
  /**
   * After each mutation's answer, before the client gets it: what reads kept before may no longer be true
   * (the response cache). It must not reject: it logs its own failures.
   */
  onWrite?: () => Promise<void>;
}

/** What the gateway adds to each request's context (see createGateway). */
export interface InfrafedGatewayContext {
  /** The session the request signed in with (an identity provider's token exchanged): sent on instead of the token. */
  infrafedAuthorization?: string;
  /** Set when the HTTP request arrives (epoch ms). */
  infrafedDeadline?: number;
  /**
   * Errors of regions that did not answer, next to data that is there. The query planner keeps a
   * subgraph's errors only for fields that came back null, so the transport sets these aside and the
   * gateway adds them to the response.
   */
  infrafedPartialErrors?: GraphQLError[];
  /** The places (`placeKey`) those errors are at: one error per region, platform and code at each. */
  infrafedPartialPlaces?: Set<string>;
  /**
   * Where each field of each entity of the client's answer sits (`Project:prj_…:quotas` → its response
   * paths), recorded as the gateway resolves them: a subgraph's error about entity `i` of an `_entities`
   * batch is put at the client's own path, never at the batch position.
   */
  infrafedEntityPaths?: Map<string, (string | number)[][]>;
}

/** Extensions a set-aside error carries until the gateway places it (never sent to a client). */
export const ENTITY_KEY = 'infrafedEntity';
export const ENTITY_SUBPATH = 'infrafedSubPath';

interface GatewayContextLike extends InfrafedGatewayContext {
  request?: Request;
}

/** What makes two partial errors one: the region, platform and code, at the same place of the answer. */
const placeKey = (e: GraphQLError) =>
  [
    e.extensions.region,
    e.extensions.platform,
    e.extensions.code,
    e.extensions[ENTITY_KEY],
    JSON.stringify(e.extensions[ENTITY_SUBPATH]),
    JSON.stringify(e.path),
  ].join('|');

/**
 * The partial errors of a subgraph's answer, set aside for the gateway to add: a root field's error at the
 * client's path of that field (its alias included: the request's `info`), an `_entities` error with the
 * entity it is about (placed by the gateway where the client's answer holds that entity's field).
 */
function setAsidePartialErrors(result: ExecutionResult, ctx: GatewayContextLike, request: ExecutionRequest): ExecutionResult {
  if (!result.errors?.length || !ctx.infrafedPartialErrors) return result;
  const kept = [];
  for (const error of result.errors as unknown as GraphQLFormattedError[]) {
    if (error.extensions?.partial === true) {
      const { partial: _drop, ...extensions } = error.extensions;
      const [first, index, ...rest] = error.path ?? [];
      let next: GraphQLError;
      if (first === '_entities') {
        const representations = (request.variables?.representations ?? []) as { __typename?: string; id?: string }[];
        const entity = typeof index === 'number' ? representations[index] : undefined;
        const placed = entity?.__typename && entity.id ? { [ENTITY_KEY]: `${entity.__typename}:${entity.id}`, [ENTITY_SUBPATH]: rest } : {};
        next = new GraphQLError(error.message, { extensions: { ...extensions, ...placed } });
      } else {
        // the client's path of the field this request resolves (an alias is the client's name for it)
        const at = request.info?.path ? responsePathAsArray(request.info.path) : [];
        next = new GraphQLError(error.message, {
          path: error.path && at.length > 0 ? [...at, ...error.path.slice(1)] : error.path,
          extensions,
        });
      }
      // one error per region, platform and code for each place of the answer (a field, or an entity's field)
      const place = placeKey(next);
      const places = (ctx.infrafedPartialPlaces ??= new Set());
      if (places.has(place)) continue;
      places.add(place);
      ctx.infrafedPartialErrors.push(next);
    } else kept.push(error);
  }
  return { ...result, errors: kept.length > 0 ? (kept as never) : undefined };
}

/** The planner's subgraph documents are the same objects request after request: each is printed once. */
const printedDocuments = new WeakMap<DocumentNode, string>();
function printed(document: DocumentNode): string {
  let text = printedDocuments.get(document);
  if (text === undefined) printedDocuments.set(document, (text = print(document)));
  return text;
}

/**
 * The identity subgraph's schema, built once: announced operations are answered with it, as the subgraph
 * would. Loaded at the first subscription (Apollo's subgraph library is about 1 MB of source a gateway
 * that serves no subscription never needs).
 */
let identity: Promise<GraphQLSchema> | undefined;
function identitySchema(): Promise<GraphQLSchema> {
  return (identity ??= import('@apollo/subgraph').then(({ buildSubgraphSchema }) =>
    buildSubgraphSchema({ typeDefs: parse(readSubgraphSdl(SubgraphName.identity)) }),
  ));
}

/**
 * A Hive gateway transport that reaches subgraphs over NATS: the subject comes from the supergraph's
 * `join__graph(url: "nats://<subject>")`; NATS's queue groups find and balance the replicas.
 */
export function createNatsTransport(options: NatsTransportOptions) {
  /**
   * Identical subgraph queries in flight are sent once: same subgraph, document, variables and every
   * header the subgraph reads (the caller's token or session and organisation among them), so two
   * callers share an answer only when they would have got the same one. Mutations are never merged.
   */
  const inFlight = createInFlight<unknown>();
  return {
    getSubgraphExecutor({ subgraphName, transportEntry }: { subgraphName: string; transportEntry: { location?: string } }) {
      const location = transportEntry.location ?? '';
      if (!location.startsWith('nats://')) throw new Error(`subgraph ${subgraphName} has no nats:// location (got ${location})`);
      const subject = location.slice('nats://'.length);
      return async function execute(request: ExecutionRequest): Promise<ExecutionResult | AsyncIterable<ExecutionResult>> {
        const ctx = (request.context ?? {}) as GatewayContextLike;
        const headers: Record<string, string> = {};
        // the caller's headers (the subgraphs verify the token themselves)
        for (const { http, nats } of callerHeaders) {
          const v = ctx.request?.headers.get(http);
          if (v) headers[nats] = v;
        }
        if (ctx.infrafedAuthorization) headers[Header.authorization] = ctx.infrafedAuthorization;
        if (request.operationType === 'subscription') {
          let organization: string;
          try {
            if (!options.organizationOf) throw new InfrafedError(ErrorCode.NOT_SUPPORTED, 'this gateway serves no subscriptions');
            organization = await options.organizationOf(headers[Header.authorization] ?? null);
          } catch (error) {
            const e = error instanceof InfrafedError ? error : new InfrafedError(ErrorCode.INTERNAL, 'internal error');
            return { errors: [{ message: e.message, extensions: { ...e.extensions, code: e.code } }] as never };
          }
          return subscribeToOperations({
            nc: options.nc,
            request,
            organization,
            answer: async (query, variables, operation) =>
              (await executeLocally({
                schema: await identitySchema(),
                document: query,
                variableValues: variables,
                rootValue: { operation },
              } as never)) as ExecutionResult,
            // each read its own budget: a subscription lives longer than any request deadline
            read: async (query, variables) =>
              (
                await requestJson(options.nc, subject, { query: printed(query), variables, operationName: null }, graphqlReplySchema, {
                  timeoutMs: options.timeoutMs,
                  headers,
                  target: { kind: 'service', name: `subgraph ${subgraphName}` },
                })
              ).body as ExecutionResult,
          });
        }
        const body = { query: printed(request.document), variables: request.variables ?? {}, operationName: request.operationName ?? null };
        const send = (signal?: AbortSignal) =>
          requestJson(options.nc, subject, body, graphqlReplySchema, {
            timeoutMs: options.timeoutMs,
            deadline: ctx.infrafedDeadline,
            signal,
            headers,
            target: { kind: 'service', name: `subgraph ${subgraphName}` },
          });
        try {
          let reply;
          if (request.operationType === 'query') {
            // the trace context is the first caller's; nothing else in `headers` differs between merged calls
            const { [Header.traceparent]: _trace, ...keyed } = headers;
            const key = JSON.stringify([subject, body, keyed]);
            noteSubgraphRead(ctx.request, subgraphName, request.document, request.variables, request.operationName);
            // each caller gets its own copy: the planner merges entity answers into the objects it is given
            reply = structuredClone((await inFlight.run(key, () => send())) as Awaited<ReturnType<typeof send>>);
          } else {
            // a mutation: queries already in flight began before it, so no later query joins them
            inFlight.forget();
            try {
              reply = await send(request.signal);
            } finally {
              // a mutation that failed on its way may still have changed something
              await options.onWrite?.();
            }
          }
          return setAsidePartialErrors(reply.body as ExecutionResult, ctx, request);
        } catch (error) {
          const e = error instanceof InfrafedError ? error : new InfrafedError(ErrorCode.INTERNAL, 'internal error');
          return { errors: [{ message: e.message, extensions: { ...e.extensions, code: e.code, subgraph: subgraphName } }] as never };
        }
      };
    },
  };
}
