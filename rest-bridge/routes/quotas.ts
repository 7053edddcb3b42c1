import type { z } from 'zod';
import { regionNameSchema } from '../../schema/model.ts';
import { quotaLimitsInput } from '../../schema/quota.ts';
import { operationResource, pageOf, placementQuotaResource, quotaRegionResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { OPERATION, notFound, projectWith, operation, projectId, limitQuery, type Route, type RouteContext } from './route.ts';

async function quotasIn(ctx: RouteContext) {
  const { project } = await projectWith<{ quotas: z.infer<typeof placementQuotaResource>[] }>(
    ctx,
    `{ quotas ${selectionOf(placementQuotaResource)} }`,
  );
  const placements = project.quotas.filter((q) => q.region === ctx.path.region);
  if (placements.length === 0) throw notFound(`a placement of project ${ctx.path.projectId} in ${ctx.path.region}`);
  return { region: ctx.path.region as string, placements };
}

/** The routes of the `quotas` resource (each one GraphQL operation against the gateway). */
export const quotasRoutes: Route[] = [
  {
    method: 'get',
    path: '/projects/{projectId}/quotas',
    operationId: 'listQuotas',
    tag: 'quotas',
    summary: 'Quota limits and usage of every placement',
    params: projectId,
    query: limitQuery,
    response: pageOf(placementQuotaResource, 'PlacementQuotaPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ quotas: z.infer<typeof placementQuotaResource>[] }>(
        ctx,
        `{ quotas ${selectionOf(placementQuotaResource)} }`,
      );
      return {
        kind: 'list',
        items: project.quotas,
        errors,
        sortKey: (q: { region: string; platform: string }) => `${q.region}/${q.platform}`,
      };
    },
  },
  {
    method: 'get',
    path: '/projects/{projectId}/quotas/{region}',
    operationId: 'getQuota',
    tag: 'quotas',
    summary: 'Quota limits and usage of the placements in one region (ETag over the limits)',
    description: 'The ETag covers the limits (what PATCH changes), not the usage, so new servers or networks do not make a tag stale.',
    params: { ...projectId, region: regionNameSchema },
    response: quotaRegionResource,
    shape: 'resource',
    etag: true,
    async handle(ctx) {
      const body = await quotasIn(ctx);
      return { kind: 'resource', body, etag: body.placements.map((p) => [p.platform, p.quota]) };
    },
  },
  {
    method: 'patch',
    path: '/projects/{projectId}/quotas/{region}',
    operationId: 'setQuota',
    tag: 'quotas',
    summary: "Set quota limits on the project's placements in a region (limits left out stay)",
    description:
      'Held against the organisation’s entitlements first. ' +
      'Send `If-Match` with the ETag of GET …/quotas/{region}: a stale tag gets 412 and changes nothing.',
    params: { ...projectId, region: regionNameSchema },
    body: { schema: quotaLimitsInput, omit: [], id: 'QuotaLimitsInput' },
    response: operationResource,
    shape: 'operation',
    ifMatch: { read: async (ctx) => (await quotasIn(ctx)).placements.map((p) => [p.platform, p.quota]) },
    handle: (ctx) =>
      operation('setQuota')(
        ctx,
        `mutation($p: ID!, $r: String!, $l: QuotaLimitsInput!) { setQuota(projectId: $p, region: $r, limits: $l) ${OPERATION} }`,
        {
          p: ctx.path.projectId,
          r: ctx.path.region,
          l: ctx.body,
        },
      ),
  },
];
