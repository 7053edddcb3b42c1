import { z } from 'zod';
import { setEntitlementsInput } from '../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { organizationIdSchema, projectIdSchema, operationIdSchema, regionNameSchema, platformSchema, userNameSchema, groupNameSchema } from '../schema/model.ts';
import { accessRuleIdSchema, accessRuleInput, createNetworkInput, networkIdSchema } from '../schema/network.ts';
import { addMemberInput, createProjectInput, shareProjectInput } from '../schema/operations.ts';
import { quotaLimitsInput } from '../schema/quota.ts';
import {
  accessRuleResource,
  auditEventResource,
  memberResource,
  networkResource,
  operationResource,
  organizationResource,
  pageOf,
  partnerResource,
  placementQuotaResource,
  placementResource,
  projectResource,
  regionResource,
  entitlementsResource,
  quotaRegionResource,
} from '../schema/rest.ts';
import { selectionOf } from './selection.ts';

/** What a handler gets: validated path, query and body, and the gateway. */
export interface RouteContext {
  path: Record<string, string>;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
  /** One GraphQL operation against the gateway, with the caller's own headers (Authorization, Idempotency-Key, traceparent). */
  graphql<T>(query: string, variables?: Record<string, unknown>): Promise<GraphqlResult<T>>;
}

export interface GraphqlError {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown> & { code?: string };
}
export interface GraphqlResult<T> {
  data: T | null;
  errors: GraphqlError[];
}

/** How a route answers (the bridge turns it into HTTP). */
export type RouteResult =
  | { kind: 'resource'; body: unknown; etag?: unknown }
  | { kind: 'list'; items: unknown[]; errors: GraphqlError[]; sortKey: (item: never) => string }
  | { kind: 'page'; items: unknown[]; nextCursor: string | null; errors: GraphqlError[] }
  | { kind: 'operation'; operation: z.infer<typeof operationResource>; errors: GraphqlError[] };

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI template: `/projects/{projectId}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  params?: Record<string, z.ZodType>;
  query?: Record<string, z.ZodType>;
  /**
   * The request body: validated together with the path parameters (the GraphQL input they form), so
   * problems are reported where the caller wrote the value; `omit` are the input's fields the path gives.
   */
  body?: { schema: z.ZodType; omit: string[]; id: string };
  /** The success response's body. */
  response: z.ZodType;
  /** `operation`: 201/202 with Location; `list`: paginated with Link; `resource`: 200 (with ETag when `etag`). */
  shape: 'resource' | 'list' | 'operation';
  etag?: boolean;
  /** The If-Match precondition is checked against the ETag of this route's GET twin. */
  ifMatch?: { read: (ctx: RouteContext) => Promise<unknown> };
  handle(ctx: RouteContext): Promise<RouteResult>;
}

const OPERATION = selectionOf(operationResource);
const PROJECT = selectionOf(projectResource);
const ORGANIZATION = selectionOf(organizationResource);

/** The data of a GraphQL answer, or its (first) error when there is none. */
function dataOf<T>(result: GraphqlResult<T>): T {
  if (result.data !== null && result.data !== undefined) {
    const values = Object.values(result.data as Record<string, unknown>);
    if (values.every((v) => v !== null)) return result.data;
  }
  const first = result.errors[0];
  if (first) throw fromGraphqlError(first);
  throw new InfrafedError(ErrorCode.NOT_FOUND, 'not found');
}

/** A GraphQL error as the error every face speaks (the code and its extensions travel on). */
export function fromGraphqlError(error: GraphqlError): InfrafedError {
  const { code, ...extensions } = error.extensions ?? {};
  const known = typeof code === 'string' && (Object.values(ErrorCode) as string[]).includes(code);
  return new InfrafedError(known ? (code as ErrorCode) : ErrorCode.UPSTREAM_ERROR, error.message, extensions);
}

function notFound(what: string): InfrafedError {
  return new InfrafedError(ErrorCode.NOT_FOUND, `${what} not found`);
}

async function projectWith<T>(ctx: RouteContext, fields: string): Promise<{ project: T; errors: GraphqlError[] }> {
  const result = await ctx.graphql<{ project: T | null }>(`query($id: ID!) { project(id: $id) ${fields} }`, { id: ctx.path.projectId });
  const project = dataOf(result).project;
  if (!project) throw notFound(`project ${ctx.path.projectId}`);
  return { project, errors: result.errors };
}

function operation(name: string) {
  return async (ctx: RouteContext, query: string, variables: Record<string, unknown>): Promise<RouteResult> => {
    const result = await ctx.graphql<Record<string, z.infer<typeof operationResource>>>(query, variables);
    const op = dataOf(result)[name] as z.infer<typeof operationResource>;
    return { kind: 'operation', operation: op, errors: result.errors };
  };
}

const projectId = { projectId: projectIdSchema };
const limitQuery = { limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() };

async function quotasIn(ctx: RouteContext) {
  const { project } = await projectWith<{ quotas: z.infer<typeof placementQuotaResource>[] }>(ctx, `{ quotas ${selectionOf(placementQuotaResource)} }`);
  const placements = project.quotas.filter((q) => q.region === ctx.path.region);
  if (placements.length === 0) throw notFound(`a placement of project ${ctx.path.projectId} in ${ctx.path.region}`);
  return { region: ctx.path.region as string, placements };
}

async function entitlementsOf(ctx: RouteContext) {
  const result = await ctx.graphql<{ organization: z.infer<typeof organizationResource> | null }>(`query($id: String) { organization(id: $id) ${ORGANIZATION} }`, { id: ctx.path.organization });
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

/** Every REST operation: each is one GraphQL operation against the gateway. */
export const routes: Route[] = [
  {
    method: 'get',
    path: '/regions',
    operationId: 'listRegions',
    tag: 'regions',
    summary: 'Regions, their platforms and whether their adapters answer',
    query: limitQuery,
    response: pageOf(regionResource, 'RegionPage'),
    shape: 'list',
    async handle(ctx) {
      const result = await ctx.graphql<{ regions: z.infer<typeof regionResource>[] }>(`{ regions ${selectionOf(regionResource)} }`);
      return { kind: 'list', items: dataOf(result).regions, errors: result.errors, sortKey: (r: { name: string }) => r.name };
    },
  },
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
      const result = await ctx.graphql<{ organization: unknown }>(`query($id: String) { organization(id: $id) ${ORGANIZATION} }`, { id: ctx.path.organization });
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
      const result = await ctx.graphql<{ setEntitlements: { id: string } }>('mutation($input: EntitlementsInput!) { setEntitlements(input: $input) { id } }', { input: ctx.body });
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
      const result = await ctx.graphql<{ syncUsage: unknown }>(`mutation($id: String) { syncUsage(organization: $id) ${ORGANIZATION} }`, { id: ctx.path.organization });
      return { kind: 'resource', body: dataOf(result).syncUsage };
    },
  },
  {
    method: 'get',
    path: '/projects',
    operationId: 'listProjects',
    tag: 'projects',
    summary: "Your organisation's projects (and those shared with it), in every region",
    query: { ...limitQuery, name: z.string().max(64).optional(), region: regionNameSchema.optional(), platform: platformSchema.optional() },
    response: pageOf(projectResource, 'ProjectPage'),
    shape: 'list',
    async handle(ctx) {
      const result = await ctx.graphql<{ projects: z.infer<typeof projectResource>[] }>(`{ projects ${PROJECT} }`);
      const { name, region, platform } = ctx.query as { name?: string; region?: string; platform?: string };
      const items = dataOf(result).projects.filter(
        (p) => (!name || p.name === name) && (!region || p.placements.some((x) => x.region === region)) && (!platform || p.placements.some((x) => x.platform === platform)),
      );
      return { kind: 'list', items, errors: result.errors, sortKey: (p: { id: string }) => p.id };
    },
  },
  {
    method: 'post',
    path: '/projects',
    operationId: 'createProject',
    tag: 'projects',
    summary: 'Create a project in one or more placements',
    body: { schema: createProjectInput, omit: [], id: 'CreateProjectInput' },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('createProject')(ctx, `mutation($input: CreateProjectInput!) { createProject(input: $input) ${OPERATION} }`, { input: ctx.body }),
  },
  {
    method: 'get',
    path: '/projects/{projectId}',
    operationId: 'getProject',
    tag: 'projects',
    summary: 'A project with its placements and partners',
    params: projectId,
    response: projectResource,
    shape: 'resource',
    etag: true,
    async handle(ctx) {
      const { project } = await projectWith<unknown>(ctx, PROJECT);
      return { kind: 'resource', body: project, etag: project };
    },
  },
  {
    method: 'delete',
    path: '/projects/{projectId}',
    operationId: 'deleteProject',
    tag: 'projects',
    summary: 'Delete a project in every placement (with its networks and rules)',
    params: projectId,
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('deleteProject')(ctx, `mutation($id: ID!) { deleteProject(id: $id) ${OPERATION} }`, { id: ctx.path.projectId }),
  },
  {
    method: 'get',
    path: '/projects/{projectId}/placements',
    operationId: 'listPlacements',
    tag: 'projects',
    summary: 'Where the project exists, as the platforms report it',
    params: projectId,
    query: limitQuery,
    response: pageOf(placementResource, 'PlacementPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ placements: z.infer<typeof placementResource>[] }>(ctx, `{ placements ${selectionOf(placementResource)} }`);
      return { kind: 'list', items: project.placements, errors, sortKey: (p: { region: string; platform: string }) => `${p.region}/${p.platform}` };
    },
  },
  {
    method: 'get',
    path: '/projects/{projectId}/members',
    operationId: 'listMembers',
    tag: 'members',
    summary: 'Users and groups with a role on the project, per placement',
    params: projectId,
    query: limitQuery,
    response: pageOf(memberResource, 'MemberPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ members: z.infer<typeof memberResource>[] }>(ctx, `{ members ${selectionOf(memberResource)} }`);
      return { kind: 'list', items: project.members, errors, sortKey: (m: z.infer<typeof memberResource>) => `${m.user ?? ''}|${m.group ?? ''}|${m.region}/${m.platform}` };
    },
  },
  {
    method: 'post',
    path: '/projects/{projectId}/members',
    operationId: 'addMember',
    tag: 'members',
    summary: 'Give a user or a group (exactly one) a role on the project in every placement',
    params: projectId,
    body: { schema: addMemberInput, omit: ['projectId'], id: 'MemberInput' },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('addMember')(ctx, `mutation($p: ID!, $u: String, $g: String, $r: String!) { addMember(projectId: $p, user: $u, group: $g, role: $r) ${OPERATION} }`, {
        p: ctx.path.projectId,
        u: ctx.body.user ?? null,
        g: ctx.body.group ?? null,
        r: ctx.body.role,
      }),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/members/users/{user}',
    operationId: 'removeUser',
    tag: 'members',
    summary: "Remove a user's role on the project in every placement",
    params: { ...projectId, user: userNameSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('removeMember')(ctx, `mutation($p: ID!, $u: String) { removeMember(projectId: $p, user: $u) ${OPERATION} }`, { p: ctx.path.projectId, u: ctx.path.user }),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/members/groups/{group}',
    operationId: 'removeGroup',
    tag: 'members',
    summary: "Remove a group's role on the project in every placement",
    params: { ...projectId, group: groupNameSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('removeMember')(ctx, `mutation($p: ID!, $g: String) { removeMember(projectId: $p, group: $g) ${OPERATION} }`, { p: ctx.path.projectId, g: ctx.path.group }),
  },
  {
    method: 'get',
    path: '/projects/{projectId}/networks',
    operationId: 'listNetworks',
    tag: 'networks',
    summary: "The project's networks in every OpenStack placement",
    params: projectId,
    query: limitQuery,
    response: pageOf(networkResource, 'NetworkPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ networks: z.infer<typeof networkResource>[] }>(ctx, `{ networks ${selectionOf(networkResource)} }`);
      return { kind: 'list', items: project.networks, errors, sortKey: (n: { id: string }) => n.id };
    },
  },
  {
    method: 'post',
    path: '/projects/{projectId}/networks',
    operationId: 'createNetwork',
    tag: 'networks',
    summary: 'Create a network with one subnet (and optionally a router) in the project’s OpenStack placement in a region',
    params: projectId,
    body: { schema: createNetworkInput, omit: ['projectId'], id: 'CreateNetworkInput' },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('createNetwork')(ctx, `mutation($input: CreateNetworkInput!) { createNetwork(input: $input) ${OPERATION} }`, { input: { ...ctx.body, projectId: ctx.path.projectId } }),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/networks/{networkId}',
    operationId: 'deleteNetwork',
    tag: 'networks',
    summary: 'Delete a network with its subnet and router',
    params: { ...projectId, networkId: networkIdSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('deleteNetwork')(ctx, `mutation($p: ID!, $n: ID!) { deleteNetwork(projectId: $p, id: $n) ${OPERATION} }`, { p: ctx.path.projectId, n: ctx.path.networkId }),
  },
  {
    method: 'get',
    path: '/projects/{projectId}/access-rules',
    operationId: 'listAccessRules',
    tag: 'access rules',
    summary: "The project's access rules in every placement (security group rules, NetworkPolicies)",
    params: projectId,
    query: limitQuery,
    response: pageOf(accessRuleResource, 'AccessRulePage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ accessRules: z.infer<typeof accessRuleResource>[] }>(ctx, `{ accessRules ${selectionOf(accessRuleResource)} }`);
      return { kind: 'list', items: project.accessRules, errors, sortKey: (r: { id: string; region: string; platform: string }) => `${r.id}|${r.region}/${r.platform}` };
    },
  },
  {
    method: 'post',
    path: '/projects/{projectId}/access-rules',
    operationId: 'applyAccessRule',
    tag: 'access rules',
    summary: 'Apply an access rule in every placement (an equal rule again changes nothing)',
    params: projectId,
    body: { schema: accessRuleInput, omit: [], id: 'AccessRuleInput' },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('applyAccessRule')(ctx, `mutation($p: ID!, $rule: AccessRuleInput!) { applyAccessRule(projectId: $p, rule: $rule) ${OPERATION} }`, { p: ctx.path.projectId, rule: ctx.body }),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/access-rules/{ruleId}',
    operationId: 'removeAccessRule',
    tag: 'access rules',
    summary: 'Remove an access rule from every placement',
    params: { ...projectId, ruleId: accessRuleIdSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('removeAccessRule')(ctx, `mutation($p: ID!, $r: ID!) { removeAccessRule(projectId: $p, ruleId: $r) ${OPERATION} }`, { p: ctx.path.projectId, r: ctx.path.ruleId }),
  },
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
      const { project, errors } = await projectWith<{ quotas: z.infer<typeof placementQuotaResource>[] }>(ctx, `{ quotas ${selectionOf(placementQuotaResource)} }`);
      return { kind: 'list', items: project.quotas, errors, sortKey: (q: { region: string; platform: string }) => `${q.region}/${q.platform}` };
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
    description: 'Held against the organisation’s entitlements first. Send `If-Match` with the ETag of GET …/quotas/{region}: a stale tag gets 412 and changes nothing.',
    params: { ...projectId, region: regionNameSchema },
    body: { schema: quotaLimitsInput, omit: [], id: 'QuotaLimitsInput' },
    response: operationResource,
    shape: 'operation',
    ifMatch: { read: async (ctx) => (await quotasIn(ctx)).placements.map((p) => [p.platform, p.quota]) },
    handle: (ctx) =>
      operation('setQuota')(ctx, `mutation($p: ID!, $r: String!, $l: QuotaLimitsInput!) { setQuota(projectId: $p, region: $r, limits: $l) ${OPERATION} }`, {
        p: ctx.path.projectId,
        r: ctx.path.region,
        l: ctx.body,
      }),
  },
  {
    method: 'get',
    path: '/projects/{projectId}/partners',
    operationId: 'listPartners',
    tag: 'partners',
    summary: 'Partner organisations the project is shared with (its owner sees them)',
    params: projectId,
    query: limitQuery,
    response: pageOf(partnerResource, 'PartnerPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ shares: z.infer<typeof partnerResource>[] }>(ctx, `{ shares ${selectionOf(partnerResource)} }`);
      return { kind: 'list', items: project.shares, errors, sortKey: (s: { organization: string }) => s.organization };
    },
  },
  {
    method: 'put',
    path: '/projects/{projectId}/partners/{partner}',
    operationId: 'shareProject',
    tag: 'partners',
    summary: 'Share the project with a partner organisation at a level (owners)',
    params: { ...projectId, partner: organizationIdSchema },
    body: { schema: shareProjectInput, omit: ['projectId', 'partner'], id: 'PartnerInput' },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('shareProject')(ctx, `mutation($p: ID!, $o: String!, $l: String!) { shareProject(projectId: $p, partner: $o, level: $l) ${OPERATION} }`, {
        p: ctx.path.projectId,
        o: ctx.path.partner,
        l: ctx.body.level,
      }),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/partners/{partner}',
    operationId: 'revokeShare',
    tag: 'partners',
    summary: "End a share: the partner loses access and its members' roles at once",
    params: { ...projectId, partner: organizationIdSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) => operation('revokeShare')(ctx, `mutation($p: ID!, $o: String!) { revokeShare(projectId: $p, partner: $o) ${OPERATION} }`, { p: ctx.path.projectId, o: ctx.path.partner }),
  },
  {
    method: 'get',
    path: '/operations/{operationId}',
    operationId: 'getOperation',
    tag: 'operations',
    summary: 'An operation: its status and per-placement steps',
    params: { operationId: operationIdSchema },
    response: operationResource,
    shape: 'resource',
    etag: true,
    async handle(ctx) {
      const result = await ctx.graphql<{ operation: unknown }>(`query($id: ID!) { operation(id: $id) ${OPERATION} }`, { id: ctx.path.operationId });
      const op = dataOf(result).operation;
      return { kind: 'resource', body: op, etag: op };
    },
  },
  {
    method: 'get',
    path: '/audit-events',
    operationId: 'listAuditEvents',
    tag: 'audit',
    summary: "The organisation's audit log, oldest first (admins; platform operators: any organisation)",
    query: {
      limit: limitQuery.limit,
      cursor: z.string().regex(/^[0-9]+$/, 'a cursor comes from a previous page').optional(),
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
        `query($f: AuditFilter, $first: Int, $after: String) { auditEvents(filter: $f, first: $first, after: $after) { events ${selectionOf(auditEventResource)} nextCursor } }`,
        { f: filter, first: limit, after: cursor ?? null },
      );
      const page = dataOf(result).auditEvents;
      return { kind: 'page', items: page.events, nextCursor: page.nextCursor, errors: result.errors };
    },
  },
];
