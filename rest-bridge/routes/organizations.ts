import type { z } from 'zod';
import { setEntitlementsInput } from '../../schema/entitlements.ts';
import { organizationIdSchema } from '../../schema/model.ts';
import { organizationResource, entitlementsResource } from '../../schema/rest.ts';
import { ORGANIZATION, dataOf, notFound, type Route, type RouteContext } from './route.ts';

async function entitlementsOf(ctx: RouteContext) {
  const result = await ctx.graphql<{ organization: z.infer<typeof organizationResource> | null }>(
    `query($id: String) { organization(id: $id) ${ORGANIZATION} }`,
    { id: ctx.path.organization },
  );
  const org = dataOf(result).organization;
  if (!org) throw notFound(`organisation ${ctx.path.organization}`);
  return {
    organization: org.id,
    total: org.entitlements.total,
    regions: org.entitlements.regions,
    platforms: org.entitlements.platforms,
    projectDefaults: org.projectDefaults,
    updatedAt: org.entitlementsUpdatedAt,
    updatedBy: org.entitlementsUpdatedBy,
  };
}

/** The routes of the `organizations` resource (each one GraphQL operation against the gateway). */
export const organizationsRoutes: Route[] = [
  {
    method: 'get',
    path: '/organizations/{organization}',
    operationId: 'getOrganization',
    tag: 'organizations',
    summary: "An organisation's entitlements, usage, what remains and drift",
    description: 'Your own organisation; platform operators may read any.',
    params: { organization: organizationIdSchema },
    response: organizationResource,
    shape: 'resource',
    etag: true,
    async handle(ctx) {
      const result = await ctx.graphql<{ organization: unknown }>(`query($id: String) { organization(id: $id) ${ORGANIZATION} }`, {
        id: ctx.path.organization,
      });
      const org = dataOf(result).organization;
      if (!org) throw notFound(`organisation ${ctx.path.organization}`);
      return { kind: 'resource', body: org, etag: org };
    },
  },
  {
    method: 'get',
    path: '/organizations/{organization}/entitlements',
    operationId: 'getEntitlements',
    tag: 'organizations',
    summary: "An organisation's entitlements (ETag for a conditional update)",
    params: { organization: organizationIdSchema },
    response: entitlementsResource,
    shape: 'resource',
    etag: true,
    async handle(ctx) {
      const body = await entitlementsOf(ctx);
      return { kind: 'resource', body, etag: body };
    },
  },
  {
    method: 'put',
    path: '/organizations/{organization}/entitlements',
    operationId: 'setEntitlements',
    tag: 'organizations',
    summary: "Replace an organisation's entitlements (platform operators)",
    description: 'Send `If-Match` with the ETag of GET …/entitlements: a stale tag gets 412 and changes nothing.',
    params: { organization: organizationIdSchema },
    body: { schema: setEntitlementsInput, omit: ['organization'], id: 'EntitlementsInput' },
    response: entitlementsResource,
    shape: 'resource',
    etag: true,
    ifMatch: { read: entitlementsOf },
    async handle(ctx) {
      const result = await ctx.graphql<{ setEntitlements: { id: string } }>(
        'mutation($input: EntitlementsInput!) { setEntitlements(input: $input) { id } }',
        { input: ctx.body },
      );
      dataOf(result);
      const body = await entitlementsOf(ctx);
      return { kind: 'resource', body, etag: body };
    },
  },
  {
    method: 'post',
    path: '/organizations/{organization}/usage-sync',
    operationId: 'syncUsage',
    tag: 'organizations',
    summary: 'Read every placement’s quota from its platform now; report drift',
    params: { organization: organizationIdSchema },
    response: organizationResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ syncUsage: unknown }>(`mutation($id: String) { syncUsage(organization: $id) ${ORGANIZATION} }`, {
        id: ctx.path.organization,
      });
      return { kind: 'resource', body: dataOf(result).syncUsage };
    },
  },
];
