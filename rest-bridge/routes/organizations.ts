import type { z } from 'zod';
import { setEntitlementsInput } from '../../schema/entitlements.ts';
import { organizationIdSchema } from '../../schema/model.ts';
import { organizationResource, entitlementsResource, onboardingResource, onboardingResultResource } from '../../schema/rest.ts';
import { onboardInput } from '../../schema/onboarding.ts';
import { selectionOf } from '../selection.ts';
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
    version: org.entitlementsVersion,
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
    description:
      "What the organisation may allocate to its projects' quotas, in total, per region and per platform, with the defaults every new placement gets. Its ETag is what `PUT` takes in `If-Match`.",
    params: { organization: organizationIdSchema },
    response: entitlementsResource,
    shape: 'resource',
    etag: true,
    async handle(ctx) {
      const body = await entitlementsOf(ctx);
      return { kind: 'resource', body, version: body.version };
    },
  },
  {
    method: 'put',
    path: '/organizations/{organization}/entitlements',
    operationId: 'setEntitlements',
    tag: 'organizations',
    summary: "Replace an organisation's entitlements (platform operators)",
    description:
      'Replaces the organisation’s entitlements (platform operators only). The ETag is their version: send it in ' +
      '`If-Match` and the controller compares and replaces in one step, so of two operators writing with the same tag ' +
      'one succeeds (answered with the new `ETag`) and the other gets 412 and changes nothing.',
    params: { organization: organizationIdSchema },
    body: {
      schema: setEntitlementsInput,
      // the organisation comes from the path, the version from If-Match
      omit: ['organization', 'ifVersion'],
      id: 'EntitlementsInput',
      example: {
        total: { cores: 64, ramMiB: 131072 },
        regions: [{ region: 'sto', amounts: { cores: 32 } }],
        platforms: [],
        projectDefaults: { cores: 4, ramMiB: 8192 },
      },
    },
    response: entitlementsResource,
    shape: 'resource',
    etag: true,
    ifMatch: { version: true },
    async handle(ctx) {
      const result = await ctx.graphql<{ setEntitlements: { id: string } }>(
        'mutation($input: EntitlementsInput!) { setEntitlements(input: $input) { id } }',
        { input: { ...ctx.body, ifVersion: ctx.ifVersion ?? null } },
      );
      dataOf(result);
      const body = await entitlementsOf(ctx);
      return { kind: 'resource', body, version: body.version };
    },
  },
  {
    method: 'post',
    path: '/organizations/{organization}/usage-sync',
    operationId: 'syncUsage',
    tag: 'organizations',
    summary: 'Read every placement’s quota from its platform now; report drift',
    description:
      "Reads every placement's quota from its platform now (it also runs every 5 minutes), records it as the organisation's usage and reports limits that differ from what infrafed set as `drift`. Admins; platform operators for any organisation.",
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
  {
    method: 'post',
    path: '/organizations/{organization}/onboarding',
    operationId: 'onboardOrganization',
    tag: 'organizations',
    summary: 'Onboard an organisation in one call: entitlements, its first owner invited, a first project (platform operators)',
    description:
      'Sets the entitlements, invites the first owner (by `email` or `subject`; the answer holds the invitation’s `secret`, shown only here) and, with `project`, creates a first project in the organisation’s name. All or nothing: a failing step undoes the steps before it (the project’s operation included, also when it fails after this answers with it still running: `GET` shows `state: failed`). An organisation already known is 409.',
    params: { organization: organizationIdSchema },
    body: {
      schema: onboardInput,
      omit: ['organization'],
      id: 'OnboardInput',
      example: {
        entitlements: { total: { cores: 64, ramMiB: 131072 } },
        owner: { email: 'pi@newlab.example' },
        project: { name: 'first', placements: [{ region: 'sto', platform: 'openstack' }] },
      },
    },
    response: onboardingResultResource,
    shape: 'resource',
    created: {
      location: '/organizations/{organization}/onboarding',
      of: (b) => `/organizations/${(b as { onboarding: { organization: string } }).onboarding.organization}/onboarding`,
    },
    async handle(ctx) {
      const result = await ctx.graphql<{ onboardOrganization: unknown }>(
        `mutation($i: OnboardInput!) { onboardOrganization(input: $i) ${selectionOf(onboardingResultResource)} }`,
        { i: { ...ctx.body, organization: ctx.path.organization } },
      );
      return { kind: 'resource', body: dataOf(result).onboardOrganization };
    },
  },
  {
    method: 'get',
    path: '/organizations/{organization}/onboarding',
    operationId: 'getOnboarding',
    tag: 'organizations',
    summary: "An organisation's onboarding: its state and what it made (platform operators)",
    description: '`running` while the first project’s operation runs, `succeeded`, or `failed` with the error (every step undone).',
    params: { organization: organizationIdSchema },
    response: onboardingResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ onboarding: unknown }>(
        `query($o: String!) { onboarding(organization: $o) ${selectionOf(onboardingResource)} }`,
        {
          o: ctx.path.organization,
        },
      );
      const found = dataOf(result).onboarding;
      if (!found) throw notFound(`the onboarding of ${ctx.path.organization}`);
      return { kind: 'resource', body: found };
    },
  },
];
