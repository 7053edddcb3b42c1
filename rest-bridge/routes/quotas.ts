import type { z } from 'zod';
import { regionNameSchema } from '../../schema/model.ts';
import { quotaLimitsInput } from '../../schema/quota.ts';
import { operationResource, pageOf, partialOf, placementQuotaResource, quotaRegionResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import {
  OPERATION,
  fromGraphqlError,
  notFound,
  type GraphqlError,
  projectWith,
  operation,
  projectId,
  limitQuery,
  type Route,
  type RouteContext,
} from './route.ts';

async function quotasIn(ctx: RouteContext) {
  const { project, errors } = await projectWith<{ quotas: z.infer<typeof placementQuotaResource>[] }>(
    ctx,
    `{ quotas ${selectionOf(placementQuotaResource)} }`,
  );
  const placements = project.quotas.filter((q) => q.region === ctx.path.region);
  const here = errors.filter((e) => e.extensions?.region === ctx.path.region);
  // the region did not answer: that is not "no placement there"
  if (placements.length === 0 && here.length > 0) throw fromGraphqlError(here[0] as GraphqlError);
  if (placements.length === 0) throw notFound(`a placement of project ${ctx.path.projectId} in ${ctx.path.region}`);
  return { region: ctx.path.region as string, placements, errors: here };
}

/** The routes of the `quotas` resource (each one GraphQL operation against the gateway). */
export const quotasRoutes: Route[] = [
  {
    method: 'get',
    path: '/projects/{projectId}/quotas',
    operationId: 'listQuotas',
    tag: 'quotas',
    summary: 'Quota limits and usage of every placement',
    description: "Limits and usage of every placement of the project, with each region's quota version. Readers and up.",
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
    summary: "Quota limits and usage of the placements in one region (ETag: the region's quota version)",
    description:
      'The ETag is the version of the region’s limits (what PATCH changes): it changes with every quota change accepted ' +
      'through infrafed, never with usage, and never comes back to an earlier value.',
    params: { ...projectId, region: regionNameSchema },
    response: partialOf(quotaRegionResource, 'RegionQuotaRead'),
    shape: 'resource',
    etag: true,
    partial: true,
    async handle(ctx) {
      const { errors, ...body } = await quotasIn(ctx);
      return { kind: 'resource', body, version: body.placements[0]?.version ?? 0, errors };
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
      'Send `If-Match` with the ETag of GET …/quotas/{region}: the controller compares it with the current version and ' +
      'advances it in one step, so of two writes with the same tag one is accepted and the other gets 412 and changes ' +
      'nothing. A conditional write that finished answers with the new `ETag`.',
    params: { ...projectId, region: regionNameSchema },
    body: { schema: quotaLimitsInput, omit: [], id: 'QuotaLimitsInput', example: { cores: 8, ramMiB: 16384 } },
    response: operationResource,
    shape: 'operation',
    ifMatch: { version: true },
    async handle(ctx) {
      const result = await operation('setQuota')(
        ctx,
        `mutation($p: ID!, $r: String!, $l: QuotaLimitsInput!, $v: Int) { setQuota(projectId: $p, region: $r, limits: $l, ifVersion: $v) ${OPERATION} }`,
        { p: ctx.path.projectId, r: ctx.path.region, l: ctx.body, v: ctx.ifVersion ?? null },
      );
      // the version this write made: known when it was conditional (it advanced the one it named)
      return result.kind === 'operation' && ctx.ifVersion !== undefined ? { ...result, version: ctx.ifVersion + 1 } : result;
    },
  },
];
