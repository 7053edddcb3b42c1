import { z } from 'zod';
import { organizationIdSchema, projectIdSchema } from '../../schema/model.ts';
import { auditListRequest } from '../../schema/audit.ts';
import { auditEventResource, pageOf } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { dataOf, limitQuery, type Route } from './route.ts';

/** The routes of the `audit` resource (each one GraphQL operation against the gateway). */
export const auditRoutes: Route[] = [
  {
    method: 'get',
    path: '/audit-events',
    operationId: 'listAuditEvents',
    tag: 'audit',
    summary: "The organisation's audit log, oldest first (admins; platform operators: any organisation)",
    description:
      "Every decision of the control layer (allowed or denied), every operation's submission and outcome and every read, with the principal, the target (member and role, partner and level, network, rule, region) and the result. Page with `cursor` (the opaque `nextCursor` of the previous page); filter by project, action or decision. Admins and owners; platform operators may name any organisation.",
    query: {
      limit: limitQuery.limit,
      cursor: auditListRequest.shape.after,
      organization: organizationIdSchema.optional(),
      projectId: projectIdSchema.optional(),
      action: z.string().max(100).optional(),
      decision: z.enum(['allowed', 'denied']).optional(),
    },
    response: pageOf(auditEventResource, 'AuditEventPage'),
    shape: 'list',
    async handle(ctx) {
      const { limit, cursor, ...filter } = ctx.query as { limit: number; cursor?: string } & Record<string, string | undefined>;
      const result = await ctx.graphql<{ auditEvents: { events: unknown[]; nextCursor: string | null } }>(
        'query($f: AuditFilter, $first: Int, $after: String) ' +
          `{ auditEvents(filter: $f, first: $first, after: $after) { events ${selectionOf(auditEventResource)} nextCursor } }`,
        { f: filter, first: limit, after: cursor ?? null },
      );
      const page = dataOf(result).auditEvents;
      return { kind: 'page', items: page.events, nextCursor: page.nextCursor, errors: result.errors };
    },
  },
];
