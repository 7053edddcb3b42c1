import type { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLResolveInfo } from 'graphql';
import { z } from 'zod';
import type { Member, ProjectPlacement } from '../../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { projectIdSchema, type Placement } from '../../schema/model.ts';
import {
  addMemberInput,
  createProjectInput,
  placementProblems,
  removeMemberInput,
  revokeShareInput,
  shareProjectInput,
} from '../../schema/operations.ts';
import { createSubgraphServer, type SubgraphDeps } from '../shared/subgraphMain.ts';
import { addPartialError } from '../shared/serveSubgraph.ts';
import { adapterCallOptions, operationWrites, reportMissing, subgraphContext, type SubgraphContext } from '../shared/subgraphContext.ts';
import { badUserInput, parseUserInput, toProblems, withoutNulls } from '../../runtime/problems.ts';
import { createLoaders, listPlacements, type Loaders } from './loaders.ts';
import { parseResources, toYaml } from '../../resources/document.ts';
import { readLiveProjects, unplannable } from '../../resources/live.ts';
import { exportProject, planResources, renderPlan } from '../../resources/plan.ts';
import { peopleResolvers } from './people.ts';

export interface IdentityContext extends SubgraphContext {
  loaders: Loaders;
}

interface ProjectView {
  id: string;
  organization: string;
  name: string;
  description: string;
  placements: ProjectPlacement[];
}

function toProjectView(placements: ProjectPlacement[]): ProjectView {
  const first = placements[0] as ProjectPlacement;
  return {
    id: first.projectId,
    organization: first.organization,
    name: first.name,
    description: first.description,
    placements: [...placements].sort((a, b) => a.region.localeCompare(b.region) || a.platform.localeCompare(b.platform)),
  };
}

/** The most projects one page of `projects(first:)` holds. */
const PROJECT_PAGE_MAX = 500;

/** Above an exported file (the CLI adds the `$schema` line with its API's address, for editors). */
const RESOURCES_HEADER = '# infrafed resources: one document per project. `infrafed plan -f <file>` shows what applying it would change.\n';

/** The identity subgraph: projects, placements, members, operations. Reads fan out to the adapters; writes go to the controller. */
export function createIdentitySubgraph(deps: SubgraphDeps) {
  const idInput = z.object({ id: projectIdSchema });
  const projectPageInput = z.object({
    first: z.number().int().min(1).max(PROJECT_PAGE_MAX, `at most ${PROJECT_PAGE_MAX} projects a page`).optional(),
    after: projectIdSchema.optional(),
  });

  const writes = operationWrites(deps.controller);

  const people = peopleResolvers(deps.controller);
  const resolvers = {
    Organization: people.Organization,
    Query: {
      ...people.Query,
      ...people.WebhookQuery,
      async projects(_: unknown, args: { first?: number | null; after?: string | null }, ctx: IdentityContext, info: GraphQLResolveInfo) {
        const page = parseUserInput(projectPageInput, withoutNulls(args));
        const all = reportMissing(ctx, info, await listPlacements(loaderDeps(ctx)));
        const byId = new Map<string, ProjectPlacement[]>();
        for (const p of all) byId.set(p.projectId, [...(byId.get(p.projectId) ?? []), p]);
        const projects = [...byId.values()].map(toProjectView);
        if (page.first === undefined && page.after === undefined) return projects.sort((a, b) => a.name.localeCompare(b.name));
        // a page: by id, after the caller's last (ids are ordered as made, so a deleted one still places the page)
        const { after } = page;
        return projects
          .filter((p) => after === undefined || p.id > after)
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .slice(0, page.first ?? PROJECT_PAGE_MAX);
      },
      async project(_: unknown, args: { id: string }, ctx: IdentityContext, info: GraphQLResolveInfo) {
        const { id } = parseUserInput(idInput, args);
        const placements = reportMissing(ctx, info, await ctx.loaders.placementsByProject.load(id));
        return placements.length > 0 ? toProjectView(placements) : null;
      },
      async resourcesDocument(_: unknown, args: { project?: string | null }, ctx: IdentityContext) {
        const live = await readLive(ctx, { only: args.project ?? undefined });
        if (args.project != null && live.length === 0) {
          throw new InfrafedError(ErrorCode.NOT_FOUND, `your organisation has no project named ${JSON.stringify(args.project)}`);
        }
        return toYaml(live.map(exportProject), RESOURCES_HEADER);
      },
      async plan(_: unknown, args: { document: string; prune?: boolean | null }, ctx: IdentityContext) {
        const parsed = parseResources(args.document);
        if (parsed.problems.length > 0) {
          throw badUserInput(parsed.problems.map((p) => ({ ...p, path: p.path })));
        }
        const quotaRegions = new Map(parsed.projects.map((p) => [p.name, Object.keys(p.quotas)]));
        const live = await readLive(ctx, { quotaRegions: (name) => quotaRegions.get(name) ?? [] });
        const { plan, problems } = planResources(parsed.projects, live, { prune: args.prune === true });
        if (problems.length > 0) throw badUserInput(problems);
        return {
          ...plan,
          actions: plan.actions.map((a) => ({ ...a, variables: JSON.stringify(a.variables) })),
          text: renderPlan(plan),
        };
      },
      async operation(_: unknown, args: { id: string }, ctx: IdentityContext) {
        try {
          return await writes.Operation.__resolveReference({ id: args.id }, ctx);
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.BAD_REQUEST) {
            throw badUserInput([
              { path: 'id', message: 'an operation id looks like op_ followed by 26 letters or digits', value: args.id },
            ]);
          }
          throw error;
        }
      },
    },
    Mutation: {
      ...people.Mutation,
      ...people.WebhookMutation,
      async createProject(
        _: unknown,
        args: { input: { organization?: string | null; name: string; description?: string | null; placements: Placement[] } },
        ctx: IdentityContext,
        info: GraphQLResolveInfo,
      ) {
        const { organization, ...rest } = args.input;
        if (organization != null && organization !== ctx.principal.organization) {
          throw new GraphQLError(`your token is for organization ${ctx.principal.organization}, not ${organization}`, {
            extensions: { code: ErrorCode.FORBIDDEN },
          });
        }
        const candidate = { ...rest, description: rest.description ?? '' };
        const parsed = createProjectInput.safeParse(candidate);
        const problems = parsed.success ? [] : toProblems(parsed.error, candidate, 'input');
        // configured regions/platforms and duplicates, where the shape itself was fine (one problem per field)
        for (const p of placementProblems(args.input.placements ?? [], deps.placements, 'input.placements')) {
          if (!problems.some((q) => q.path === p.path)) problems.push(p);
        }
        if (problems.length > 0 || !parsed.success) throw badUserInput(problems);
        return writes.submit(ctx, info, { kind: 'CREATE_PROJECT', input: parsed.data });
      },
      async deleteProject(_: unknown, args: { id: string }, ctx: IdentityContext, info: GraphQLResolveInfo) {
        return writes.submit(ctx, info, { kind: 'DELETE_PROJECT', input: { projectId: parseUserInput(idInput, args).id } });
      },
      async addMember(
        _: unknown,
        args: { projectId: string; user?: string | null; group?: string | null; role: string },
        ctx: IdentityContext,
        info: GraphQLResolveInfo,
      ) {
        return writes.submit(ctx, info, { kind: 'ADD_MEMBER', input: parseUserInput(addMemberInput, args) });
      },
      async removeMember(
        _: unknown,
        args: { projectId: string; user?: string | null; group?: string | null },
        ctx: IdentityContext,
        info: GraphQLResolveInfo,
      ) {
        return writes.submit(ctx, info, { kind: 'REMOVE_MEMBER', input: parseUserInput(removeMemberInput, args) });
      },
      async shareProject(
        _: unknown,
        args: { projectId: string; partner: string; level: string },
        ctx: IdentityContext,
        info: GraphQLResolveInfo,
      ) {
        return writes.submit(ctx, info, { kind: 'SHARE_PROJECT', input: parseUserInput(shareProjectInput, args) });
      },
      async revokeShare(_: unknown, args: { projectId: string; partner: string }, ctx: IdentityContext, info: GraphQLResolveInfo) {
        return writes.submit(ctx, info, { kind: 'REVOKE_SHARE', input: parseUserInput(revokeShareInput, args) });
      },
    },
    Project: {
      async __resolveReference(ref: { id: string }, ctx: IdentityContext) {
        const gathered = await ctx.loaders.placementsByProject.load(ref.id);
        for (const error of gathered.missing) addPartialError(ctx, error, []);
        return gathered.value.length > 0 ? toProjectView(gathered.value) : null;
      },
      async shares(project: ProjectView, _: unknown, ctx: IdentityContext) {
        if (project.organization !== ctx.principal.organization) return [];
        return ctx.loaders.partnersByProject.load(project.id);
      },
      async members(project: ProjectView, _: unknown, ctx: IdentityContext, info: GraphQLResolveInfo) {
        const perPlacement = await Promise.all(
          project.placements.map((p) => ctx.loaders.membersByPlacement.load({ ...p, projectId: project.id })),
        );
        return perPlacement.flatMap((gathered, i) => {
          const placement = project.placements[i] as ProjectPlacement;
          return reportMissing(ctx, info, gathered).map((m: Member) => ({
            user: m.kind === 'user' ? m.user : null,
            group: m.kind === 'group' ? m.user : null,
            organization: m.organization,
            role: m.role,
            region: placement.region,
            platform: placement.platform,
          }));
        });
      },
    },
    Operation: writes.Operation,
  };

  const callOptions = (ctx: IdentityContext) => adapterCallOptions(ctx, deps.adapterTimeoutMs, deps.breaker);

  /** The organisation's own projects with everything in them; a placement that does not answer fails it. */
  async function readLive(ctx: IdentityContext, options: { only?: string; quotaRegions?: (name: string) => readonly string[] }) {
    try {
      return await readLiveProjects({
        nc: deps.nc,
        organization: ctx.principal.organization,
        placements: deps.placements,
        call: callOptions(ctx),
        ...options,
      });
    } catch (error) {
      throw unplannable(error);
    }
  }

  /** Per request: the projects shared with the caller's organisation are asked for once, when first needed. */
  function loaderDeps(ctx: IdentityContext) {
    let shared: Promise<Map<string, string>> | undefined;
    return {
      nc: deps.nc,
      organization: ctx.principal.organization,
      placements: deps.placements,
      call: callOptions(ctx),
      sharedWithMe: () =>
        (shared ??= deps.controller
          .listShares({}, { headers: ctx.forward, deadline: ctx.deadline })
          .then((r) => new Map(r.sharedWithMe.map((e) => [e.projectId, e.owner])))),
      partnersOf: async (projectIds: string[]) =>
        (await deps.controller.listShares({ projectIds }, { headers: ctx.forward, deadline: ctx.deadline })).partnersByProject,
    };
  }

  const server = createSubgraphServer<IdentityContext>('identity', resolvers, deps);

  async function context(headers: HeaderMap): Promise<IdentityContext> {
    const base = await subgraphContext(headers, deps.verifyToken);
    const ctx: IdentityContext = { ...base, loaders: undefined as unknown as Loaders };
    ctx.loaders = createLoaders(loaderDeps(ctx));
    return ctx;
  }

  return { server, context };
}
