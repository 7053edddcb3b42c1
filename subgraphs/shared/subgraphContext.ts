import { currentContext } from '../../runtime/context.ts';
import type { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLResolveInfo, type ResponsePath } from 'graphql';
import { callerHeaders } from '../../schema/contracts/graphql.ts';
import { ErrorCode, InfrafedError, publicExtensions } from '../../schema/errors.ts';
import { operationForGraphql, type OperationRequest } from '../../schema/operations.ts';
import { Header } from '../../schema/subjects.ts';
import type { Principal, TokenVerifier } from '../../runtime/auth.ts';
import type { AdapterCallOptions } from '../../runtime/nats/adapterClient.ts';
import type { CircuitBreaker } from '../../runtime/nats/circuitBreaker.ts';
import type { ControllerClient } from './controllerClient.ts';
import { addPartialError, type PartialErrors } from './serveSubgraph.ts';

/** What every subgraph resolver knows about the request. */
export interface SubgraphContext extends PartialErrors {
  /** The caller (`unaffiliated`: it belongs to no organisation yet; it may only answer invitations, `openFields`). */
  principal: Principal;
  /** What the controller gets from the caller's request. */
  forward: Record<string, string>;
  deadline: number | undefined;
}

/** Verifies the caller (401 UNAUTHENTICATED otherwise) and reads the headers passed on to the controller and adapters. */
export async function subgraphContext(headers: HeaderMap, verifyToken: TokenVerifier): Promise<SubgraphContext> {
  let principal: Principal;
  try {
    principal = await verifyToken(headers.get('authorization'));
  } catch (error) {
    const e = error as InfrafedError;
    throw new GraphQLError(e.message, { extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } } });
  }
  // the rest of this request's log lines carry whose it is (the store is this request's own)
  const request = currentContext();
  if (request) request.organization = principal.organization;
  const forward: Record<string, string> = {};
  for (const { nats: header } of callerHeaders) {
    const v = headers.get(header);
    if (v) forward[header] = v;
  }
  const deadlineHeader = Number(headers.get(Header.deadline) ?? '');
  const deadline = Number.isFinite(deadlineHeader) && deadlineHeader > 0 ? deadlineHeader : undefined;
  return { principal, forward, deadline, partialErrors: [] };
}

/** Options for adapter calls made on behalf of the request (its deadline and trace). */
export function adapterCallOptions(ctx: SubgraphContext, timeoutMs: number, breaker?: CircuitBreaker): AdapterCallOptions {
  const traceparent = ctx.forward[Header.traceparent];
  return { timeoutMs, deadline: ctx.deadline, headers: traceparent ? { traceparent } : {}, breaker };
}

export function pathOf(path: ResponsePath): (string | number)[] {
  const out: (string | number)[] = [];
  for (let p: ResponsePath | undefined = path; p; p = p.prev) out.unshift(p.key);
  return out;
}

/** Placements that did not answer become errors next to the data of those that did. */
export function reportMissing<T>(ctx: SubgraphContext, info: GraphQLResolveInfo, gathered: { value: T; missing: InfrafedError[] }): T {
  for (const error of gathered.missing) addPartialError(ctx, error, pathOf(info.path));
  return gathered.value;
}

/**
 * Writes through the controller, for every subgraph that submits them. `submit` answers the operation as
 * GraphQL's `Operation` (shared by those subgraphs, `schema/sdl/shared/operation.graphql`: the answer needs
 * no other subgraph); when the operation failed within the wait, the response carries an error with the
 * operation's code beside the operation itself (so clients that look at `errors` see it). `Operation`
 * resolves the entity (its `@key` is `id`) by reading it from the controller with the caller's token.
 */
export function operationWrites(controller: ControllerClient) {
  return {
    async submit(
      ctx: SubgraphContext,
      info: GraphQLResolveInfo,
      request: OperationRequest,
    ): Promise<ReturnType<typeof operationForGraphql>> {
      const { operation } = await controller.submit(request, { headers: ctx.forward, deadline: ctx.deadline });
      if (operation.status === 'FAILED' && operation.error) {
        const error = new InfrafedError(operation.error.code as ErrorCode, operation.error.message, {
          ...publicExtensions(operation.error.extensions),
          operationId: operation.id,
        });
        addPartialError(ctx, error, pathOf(info.path));
      }
      return operationForGraphql(operation);
    },
    Operation: {
      async __resolveReference(ref: { id: string }, ctx: SubgraphContext) {
        const op = await controller.get(ref.id, { headers: ctx.forward, deadline: ctx.deadline });
        return op ? operationForGraphql(op) : null;
      },
    },
  };
}
