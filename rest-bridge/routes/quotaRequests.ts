import { z } from 'zod';
import { organizationIdSchema, regionNameSchema } from '../../schema/model.ts';
import { quotaTiersSchema, tierNameSchema } from '../../schema/quota.ts';
import { quotaRequestIdSchema, quotaRequestStatusSchema } from '../../schema/quotaRequests.ts';
import { pageOf, quotaRequestResource, quotaTiersResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { dataOf, limitQuery, projectId, type Route } from './route.ts';

const TIERS = selectionOf(quotaTiersResource);
const REQUEST = selectionOf(quotaRequestResource);

/** Quota tiers and tier requests (each route one GraphQL operation against the gateway). */
export const quotaRequestsRoutes: Route[] = [
  {
    method: 'get',
    path: '/quota-tiers',
    operationId: 'getQuotaTiers',
    tag: 'quota requests',
    summary: 'The quota tiers platform operators defined, smallest first',
    description: 'Each tier is a set of limits; a project admin asks for one with `POST /projects/{projectId}/quota-requests`.',
    response: quotaTiersResource,
    shape: 'resource',
    async handle(ctx) {
      return { kind: 'resource', body: dataOf(await ctx.graphql<{ quotaTiers: unknown }>(`{ quotaTiers ${TIERS} }`)).quotaTiers };
    },
  },
  {
    method: 'put',
    path: '/quota-tiers',
    operationId: 'setQuotaTiers',
    tag: 'quota requests',
    summary: 'Replace the quota tiers (platform operators)',
    description: 'Replaces the list of tiers, smallest first (the order is the rank a request moves along). Platform operators only.',
    body: {
      schema: z.object({ tiers: quotaTiersSchema }),
      omit: [],
      id: 'QuotaTiersInput',
      example: {
        tiers: [
          { name: 'small', limits: { cores: 8, ramMiB: 16384 } },
          { name: 'medium', limits: { cores: 32, ramMiB: 65536 } },
        ],
      },
    },
    response: quotaTiersResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ setQuotaTiers: unknown }>(
        `mutation($t: [QuotaTierInput!]!) { setQuotaTiers(tiers: $t) ${TIERS} }`,
        {
          t: ctx.body.tiers,
        },
      );
      return { kind: 'resource', body: dataOf(result).setQuotaTiers };
    },
  },
  {
    method: 'post',
    path: '/projects/{projectId}/quota-requests',
    operationId: 'requestQuotaTier',
    tag: 'quota requests',
    summary: 'Ask for a quota tier on the project in some regions (admins)',
    description:
      'One tier up with no quota change in those regions for 30 days (or a tier down) is approved at once and applied (`operationId`: follow it at `/operations/{id}`); a jump over a tier or a change within 30 days waits for a platform operator (`PENDING_APPROVAL`, with `reasons`). While one request of the project waits, another is 409.',
    params: projectId,
    body: {
      schema: z.object({ projectId: projectId.projectId, tier: tierNameSchema, regions: z.array(regionNameSchema).min(1).max(30) }),
      omit: ['projectId'],
      id: 'QuotaRequestInput',
      example: { tier: 'medium', regions: ['sto', 'lla'] },
    },
    response: quotaRequestResource,
    shape: 'resource',
    created: { location: '/quota-requests', of: () => '/quota-requests' },
    async handle(ctx) {
      const result = await ctx.graphql<{ requestQuotaTier: unknown }>(
        `mutation($p: ID!, $t: String!, $r: [String!]!) { requestQuotaTier(projectId: $p, tier: $t, regions: $r) ${REQUEST} }`,
        { p: ctx.path.projectId, t: ctx.body.tier, r: ctx.body.regions },
      );
      return { kind: 'resource', body: dataOf(result).requestQuotaTier };
    },
  },
  {
    method: 'get',
    path: '/quota-requests',
    operationId: 'listQuotaRequests',
    tag: 'quota requests',
    summary: "Tier requests: the organisation's (admins), or every organisation's (platform operators)",
    description:
      'Oldest first; filter by `status` (e.g. `PENDING_APPROVAL`: what waits for an operator); operators may name an `organization`.',
    query: { ...limitQuery, status: quotaRequestStatusSchema.optional(), organization: organizationIdSchema.optional() },
    response: pageOf(quotaRequestResource, 'QuotaRequestPage'),
    shape: 'list',
    async handle(ctx) {
      const { limit, cursor, status, organization } = ctx.query as {
        limit: number;
        cursor?: string;
        status?: string;
        organization?: string;
      };
      const result = await ctx.graphql<{ quotaRequests: { requests: unknown[]; nextCursor: string | null } }>(
        `query($s: QuotaRequestStatus, $o: String, $f: Int, $a: String) { quotaRequests(status: $s, organization: $o, first: $f, after: $a) { requests ${REQUEST} nextCursor } }`,
        { s: status ?? null, o: organization ?? null, f: limit, a: cursor ?? null },
      );
      const page = dataOf(result).quotaRequests;
      return { kind: 'page', items: page.requests, nextCursor: page.nextCursor, errors: [] };
    },
  },
  ...(['approve', 'reject'] as const).map((verb): Route => ({
    method: 'post',
    path: `/quota-requests/{id}/${verb}`,
    operationId: `${verb}QuotaRequest`,
    tag: 'quota requests',
    summary:
      verb === 'approve'
        ? 'Approve a waiting tier request (platform operators)'
        : 'Reject a waiting tier request, saying why (platform operators)',
    description:
      verb === 'approve'
        ? 'The tier is applied as one operation across the request’s regions (`operationId`), held against the entitlements like a quota change: QUOTA_EXCEEDED (409) leaves the request waiting. A request that is no longer waiting is 409.'
        : 'The request is rejected with the `reason` given; it changes nothing. A request that is no longer waiting is 409.',
    params: { id: quotaRequestIdSchema },
    body: {
      schema: z.object({
        id: quotaRequestIdSchema,
        reason: verb === 'approve' ? z.string().max(500).optional() : z.string().min(1).max(500),
      }),
      omit: ['id'],
      id: verb === 'approve' ? 'QuotaApproval' : 'QuotaRejection',
      example: { reason: verb === 'approve' ? 'granted for the spring campaign' : 'the allocation round is closed' },
    },
    response: quotaRequestResource,
    shape: 'resource',
    async handle(ctx) {
      const field = `${verb}QuotaRequest`;
      const result = await ctx.graphql<Record<string, unknown>>(
        `mutation($id: ID!, $r: String${verb === 'reject' ? '!' : ''}) { ${field}(id: $id, reason: $r) ${REQUEST} }`,
        { id: ctx.path.id, r: ctx.body.reason ?? null },
      );
      return { kind: 'resource', body: dataOf(result)[field] };
    },
  })),
];
