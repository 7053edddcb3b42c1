import { z } from 'zod';
import type { HeaderMap } from '@apollo/server';
import type { GraphQLResolveInfo } from 'graphql';
import { PeopleVerb, QuotaVerb } from '../../schema/subjects.ts';
import { onboardingSchema, onboardInput, onboardReply } from '../../schema/onboarding.ts';
import {
  decideQuotaRequestInput,
  quotaRequestListInput,
  quotaRequestPageReply,
  quotaRequestReply,
  quotaTiersReply,
  requestQuotaTierInput,
  setQuotaTiersInput,
} from '../../schema/quotaRequests.ts';
import { QUOTA_GET_MAX_PROJECTS, type PlacementQuota } from '../../schema/contracts/quota.ts';
import { organizationIdSchema, type Placement } from '../../schema/model.ts';
import { auditListRequest } from '../../schema/audit.ts';
import { setEntitlementsInput, type Amounts } from '../../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { quotaResources, setQuotaInput } from '../../schema/quota.ts';
import { createSubgraphServer, type SubgraphDeps } from '../shared/subgraphMain.ts';
import { createPlacementLoader, createVisibleProjectLoader, placedProject } from '../shared/placementLoader.ts';
import { adapterCallOptions, operationWrites, reportMissing, subgraphContext, type SubgraphContext } from '../shared/subgraphContext.ts';
import { requestAdapter } from '../../runtime/nats/adapterClient.ts';
import { parseUserInput, withoutNulls } from '../../runtime/problems.ts';

function createLoaders(deps: SubgraphDeps, ctx: SubgraphContext) {
  const { nc } = deps;
  const call = adapterCallOptions(ctx, deps.adapterTimeoutMs, deps.breaker);
  return {
    projects: createVisibleProjectLoader(
      async (ids) => (await deps.controller.resolveProjects(ids, { headers: ctx.forward, deadline: ctx.deadline })).projects,
    ),
    quotas: createPlacementLoader(
      async (placement, projects) => (await requestAdapter(nc, placement, 'quota', 'get', { projects }, call)).quotas,
      (q: PlacementQuota) => q.projectId,
      QUOTA_GET_MAX_PROJECTS,
      // Nova is read once per project: a page of more is refused with a clear error rather than sent (its
      // calls would hold the region's vendors past every deadline, the page's other fields with them)
      (found) =>
        new InfrafedError(
          ErrorCode.QUERY_LIMIT_EXCEEDED,
          `quotas are read for at most ${QUOTA_GET_MAX_PROJECTS} projects of a region in one request (${found} asked): ask a page at a time (\`projects(first: ${QUOTA_GET_MAX_PROJECTS})\`, then \`after\` the last id), or each project's quotas`,
          { limit: 'maxQuotaProjects', max: QUOTA_GET_MAX_PROJECTS, found },
        ),
    ),
  };
}

interface QuotaContext extends SubgraphContext {
  loaders: ReturnType<typeof createLoaders>;
}

/** The project as the gateway hands it over: its id only (its placements come from the controller's index). */
interface ProjectRef {
  id: string;
}

/** Every resource as a field: null where the platform has no such resource. */
const allResources = <T>(values: Partial<Record<(typeof quotaResources)[number], T>>) =>
  Object.fromEntries(quotaResources.map((r) => [r, values[r] ?? null]));

/** The quota subgraph: limits and usage per placement, and setting limits (an operation of the controller). */
export function createQuotaSubgraph(deps: SubgraphDeps) {
  const toOrganization = (reply: Awaited<ReturnType<typeof deps.controller.getEntitlements>>) => {
    const allocation = (a: { total: Amounts; regions: Record<string, Amounts>; platforms?: Partial<Record<string, Amounts>> }) => ({
      total: allResources(a.total),
      regions: Object.entries(a.regions)
        .map(([region, amounts]) => ({ region, amounts: allResources(amounts) }))
        .sort((x, y) => x.region.localeCompare(y.region)),
      platforms: Object.entries(a.platforms ?? {})
        .map(([platform, amounts]) => ({ platform, amounts: allResources(amounts ?? {}) }))
        .sort((x, y) => x.platform.localeCompare(y.platform)),
    });
    return {
      id: reply.entitlements.organization,
      entitlements: allocation(reply.entitlements),
      usage: allocation(reply.usage),
      remaining: allocation(reply.remaining),
      projectDefaults: allResources(reply.entitlements.projectDefaults),
      entitlementsUpdatedAt: reply.entitlements.updatedAt,
      entitlementsUpdatedBy: reply.entitlements.updatedBy,
      entitlementsVersion: reply.entitlements.version,
      drift: reply.drift,
      usageSyncedAt: reply.syncedAt,
      syncUnreachable: reply.unreachable,
    };
  };

  const writes = operationWrites(deps.controller);
  const resolvers = {
    Operation: writes.Operation,
    Query: {
      async organization(_: unknown, args: { id?: string | null }, ctx: QuotaContext) {
        const id = args.id === null || args.id === undefined ? undefined : parseUserInput(organizationIdSchema, args.id, 'id');
        try {
          return toOrganization(await deps.controller.getEntitlements(id, { headers: ctx.forward, deadline: ctx.deadline }));
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.NOT_FOUND) return null;
          throw error;
        }
      },
      async onboarding(_: unknown, args: { organization: string }, ctx: QuotaContext) {
        const req = parseUserInput(z.object({ organization: organizationIdSchema }), args);
        const reply = await deps.controller.people(PeopleVerb.onboarding, req, z.object({ onboarding: onboardingSchema.nullable() }), {
          headers: ctx.forward,
          deadline: ctx.deadline,
        });
        return reply.onboarding;
      },
      async quotaTiers(_: unknown, __: unknown, ctx: QuotaContext) {
        return deps.controller.quota(QuotaVerb.tiersGet, {}, quotaTiersReply, { headers: ctx.forward, deadline: ctx.deadline });
      },
      async quotaRequests(_: unknown, args: Record<string, unknown>, ctx: QuotaContext) {
        const req = parseUserInput(quotaRequestListInput, withoutNulls(args));
        return deps.controller.quota(QuotaVerb.list, req, quotaRequestPageReply, { headers: ctx.forward, deadline: ctx.deadline });
      },
      async auditEvents(
        _: unknown,
        args: { filter?: Record<string, unknown> | null; first?: number | null; after?: string | null },
        ctx: QuotaContext,
      ) {
        const request = parseUserInput(auditListRequest, withoutNulls({ ...(args.filter ?? {}), first: args.first, after: args.after }));
        return deps.controller.listAudit(request, { headers: ctx.forward, deadline: ctx.deadline });
      },
    },
    Mutation: {
      async onboardOrganization(_: unknown, args: { input: Record<string, unknown> }, ctx: QuotaContext) {
        const req = parseUserInput(onboardInput, withoutNulls(args.input), 'input');
        const reply = await deps.controller.people(
          PeopleVerb.onboard,
          req,
          onboardReply,
          { headers: ctx.forward, deadline: ctx.deadline },
          20_000,
        );
        return {
          onboarding: reply.onboarding,
          invitationId: reply.invitation?.id ?? null,
          secret: reply.secret,
          operationId: reply.operation?.id ?? null,
          operationStatus: reply.operation?.status ?? null,
          projectId: reply.operation?.projectId ?? null,
        };
      },
      async setQuotaTiers(_: unknown, args: { tiers: unknown[] }, ctx: QuotaContext) {
        const req = parseUserInput(setQuotaTiersInput, withoutNulls(args));
        return deps.controller.quota(QuotaVerb.tiersSet, req, quotaTiersReply, { headers: ctx.forward, deadline: ctx.deadline });
      },
      async requestQuotaTier(_: unknown, args: Record<string, unknown>, ctx: QuotaContext) {
        const req = parseUserInput(requestQuotaTierInput, args);
        return (await deps.controller.quota(QuotaVerb.request, req, quotaRequestReply, { headers: ctx.forward, deadline: ctx.deadline }))
          .request;
      },
      async approveQuotaRequest(_: unknown, args: { id: string; reason?: string | null }, ctx: QuotaContext) {
        const req = parseUserInput(decideQuotaRequestInput, { ...args, approve: true });
        return (await deps.controller.quota(QuotaVerb.decide, req, quotaRequestReply, { headers: ctx.forward, deadline: ctx.deadline }))
          .request;
      },
      async rejectQuotaRequest(_: unknown, args: { id: string; reason: string }, ctx: QuotaContext) {
        const req = parseUserInput(decideQuotaRequestInput, { ...args, approve: false });
        return (await deps.controller.quota(QuotaVerb.decide, req, quotaRequestReply, { headers: ctx.forward, deadline: ctx.deadline }))
          .request;
      },
      async syncUsage(_: unknown, args: { organization?: string | null }, ctx: QuotaContext) {
        const organization =
          args.organization === null || args.organization === undefined
            ? undefined
            : parseUserInput(organizationIdSchema, args.organization, 'organization');
        return toOrganization(await deps.controller.syncUsage(organization, { headers: ctx.forward, deadline: ctx.deadline }));
      },
      async setEntitlements(_: unknown, args: { input: Record<string, unknown> }, ctx: QuotaContext) {
        const input = parseUserInput(setEntitlementsInput, withoutNulls(args.input), 'input');
        return toOrganization(await deps.controller.setEntitlements(input, { headers: ctx.forward, deadline: ctx.deadline }));
      },
      async setQuota(
        _: unknown,
        args: { projectId: string; region: string; limits: Record<string, unknown>; ifVersion?: number | null },
        ctx: QuotaContext,
        info: GraphQLResolveInfo,
      ) {
        const input = parseUserInput(setQuotaInput, withoutNulls(args));
        return writes.submit(ctx, info, { kind: 'SET_QUOTA', input });
      },
    },
    Organization: {
      // another subgraph's Organization (its people): the caller's own, or any for platform operators
      async __resolveReference(ref: { id: string }, ctx: QuotaContext) {
        try {
          return toOrganization(await deps.controller.getEntitlements(ref.id, { headers: ctx.forward, deadline: ctx.deadline }));
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.NOT_FOUND) return null;
          throw error;
        }
      },
    },
    Project: {
      __resolveReference(ref: ProjectRef) {
        return ref;
      },
      async quotas(project: ProjectRef, _: unknown, ctx: QuotaContext, info: GraphQLResolveInfo) {
        const placements = await placedProject(ctx.loaders.projects, project.id);
        const { quotaVersions = {} } = await ctx.loaders.projects.load(project.id);
        const found = await Promise.all(placements.map((p) => ctx.loaders.quotas.load(p)));
        return found.flatMap((g, i) => {
          const p = placements[i] as Placement;
          return reportMissing(ctx, info, g).map((q) => ({
            region: p.region,
            platform: p.platform,
            version: quotaVersions[p.region] ?? 0,
            quota: allResources(q.limits),
            usage: allResources(q.usage),
          }));
        });
      },
    },
  };

  const server = createSubgraphServer<QuotaContext>('quota', resolvers, deps, ['organization', 'auditEvents']);

  async function context(headers: HeaderMap): Promise<QuotaContext> {
    const base = await subgraphContext(headers, deps.verifyToken);
    return { ...base, loaders: createLoaders(deps, base) };
  }

  return { server, context };
}
