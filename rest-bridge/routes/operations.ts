import { operationIdSchema } from '../../schema/model.ts';
import { operationResource } from '../../schema/rest.ts';
import { OPERATION, dataOf, type Route } from './route.ts';

/** The routes of the `operations` resource (each one GraphQL operation against the gateway). */
export const operationsRoutes: Route[] = [
  {
    method: 'get',
    path: '/operations/{operationId}',
    operationId: 'getOperation',
    tag: 'operations',
    summary: 'An operation: its status and per-placement steps',
    description:
      'An operation of your organisation: its status (PENDING, RUNNING, COMPENSATING, SUCCEEDED, FAILED), one step per placement with what it changed, and the error that failed it. Follow the `Location` of a 202 here until it ends, or ask with `Accept: text/event-stream` for its progress live: Server-Sent Events `operation` (the operation now, then each time a step starts or ends) until it ends, `problem` (a problem+json body) when it cannot be followed.',
    params: { operationId: operationIdSchema },
    response: operationResource,
    shape: 'resource',
    etag: true,
    async handle(ctx) {
      const result = await ctx.graphql<{ operation: unknown }>(`query($id: ID!) { operation(id: $id) ${OPERATION} }`, {
        id: ctx.path.operationId,
      });
      const op = dataOf(result).operation;
      return { kind: 'resource', body: op, etag: op };
    },
  },
];
