import type { HeaderMap } from '@apollo/server';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { NatsConnection } from '@nats-io/nats-core';
import { GraphQLError, parse, type GraphQLResolveInfo, type ResponsePath } from 'graphql';
import { z } from 'zod';
import type { Member, ProjectPlacement } from '../../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import type { Placement } from '../../schema/model.ts';
import { addMemberInput, createProjectInput, placementProblems, removeMemberInput, type Operation, type OperationRequest } from '../../schema/operations.ts';
import { Header } from '../../schema/subjects.ts';
import type { Principal, TokenVerifier } from '../../runtime/auth.ts';
import { createFormatError } from '../../runtime/graphql/errors.ts';
import { addPartialError, partialErrorsPlugin, type PartialErrors } from '../../runtime/graphql/serveSubgraph.ts';
import { readSubgraphSdl } from '../../runtime/graphql/sdl.ts';
import type { Logger } from '../../runtime/log.ts';
import type { AdapterCallOptions } from '../../runtime/nats/adapterClient.ts';
import type { ControllerClient } from '../../runtime/nats/controllerClient.ts';
import { badUserInput, parseUserInput, toProblems } from '../../runtime/problems.ts';
import { createLoaders, listPlacements, type Gathered, type Loaders } from './loaders.ts';

export interface IdentitySubgraphDeps {
  nc: NatsConnection;
  controller: ControllerClient;
  verifyToken: TokenVerifier;
  placements: readonly Placement[];
  adapterTimeoutMs: number;
  log: Logger;
}

export interface IdentityContext extends PartialErrors {
  principal: Principal;
  loaders: Loaders;
  /** What the controller gets from the caller's request. */
  forward: Record<string, string>;
  deadline: number | undefined;
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

function pathOf(path: ResponsePath): (string | number)[] {
  const out: (string | number)[] = [];
  for (let p: ResponsePath | undefined = path; p; p = p.prev) out.unshift(p.key);
  return out;
}

function reportMissing<T>(ctx: IdentityContext, info: GraphQLResolveInfo, gathered: Gathered<T>): T {
  for (const error of gathered.missing) addPartialError(ctx, error, pathOf(info.path));
  return gathered.value;
}

function toOperationView(op: Operation) {
  const err = (e: Operation['error']) => (e ? { code: e.code, message: e.message, region: (e.extensions?.region as string | undefined) ?? null } : null);
  return {
    id: op.id,
    kind: op.kind,
    status: op.status,
    projectId: op.projectId,
    steps: op.steps.map((s) => ({ ...s, error: err(s.error) })),
    error: err(op.error),
    createdAt: op.createdAt,
    updatedAt: op.updatedAt,
  };
}

/** The identity subgraph: projects, placements, members, operations. Reads fan out to the adapters; writes go to the controller. */
export function createIdentitySubgraph(deps: IdentitySubgraphDeps) {
  const idInput = z.object({ id: z.string().regex(/^prj_[0-9a-z]{26}$/, 'a project id looks like prj_ followed by 26 letters or digits') });

  async function submit(ctx: IdentityContext, request: OperationRequest) {
    const { operation } = await deps.controller.submit(request, { headers: ctx.forward, deadline: ctx.deadline });
    return toOperationView(operation);
  }

  const resolvers = {
    Query: {
      async projects(_: unknown, __: unknown, ctx: IdentityContext, info: GraphQLResolveInfo) {
        const all = reportMissing(ctx, info, await listPlacements({ nc: deps.nc, organization: ctx.principal.organization, placements: deps.placements, call: callOptions(ctx) }));
        const byId = new Map<string, ProjectPlacement[]>();
        for (const p of all) byId.set(p.projectId, [...(byId.get(p.projectId) ?? []), p]);
        return [...byId.values()].map(toProjectView).sort((a, b) => a.name.localeCompare(b.name));
      },
      async project(_: unknown, args: { id: string }, ctx: IdentityContext, info: GraphQLResolveInfo) {
        const { id } = parseUserInput(idInput, args);
        const placements = reportMissing(ctx, info, await ctx.loaders.placementsByProject.load(id));
        return placements.length > 0 ? toProjectView(placements) : null;
      },
      async operation(_: unknown, args: { id: string }, ctx: IdentityContext) {
        try {
          const op = await deps.controller.get(args.id, { headers: ctx.forward, deadline: ctx.deadline });
          return op ? toOperationView(op) : null;
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.BAD_REQUEST) {
            throw badUserInput([{ path: 'id', message: 'an operation id looks like op_ followed by 26 letters or digits', value: args.id }]);
          }
          throw error;
        }
      },
    },
    Mutation: {
      async createProject(_: unknown, args: { input: { organization?: string | null; name: string; description?: string | null; placements: Placement[] } }, ctx: IdentityContext) {
        const { organization, ...rest } = args.input;
        if (organization != null && organization !== ctx.principal.organization) {
          throw new GraphQLError(`your token is for organization ${ctx.principal.organization}, not ${organization}`, { extensions: { code: ErrorCode.FORBIDDEN } });
        }
        const candidate = { ...rest, description: rest.description ?? '' };
        const parsed = createProjectInput.safeParse(candidate);
        const problems = parsed.success ? [] : toProblems(parsed.error, candidate, 'input');
        // configured regions/platforms and duplicates, where the shape itself was fine (one problem per field)
        for (const p of placementProblems(args.input.placements ?? [], deps.placements, 'input.placements')) {
          if (!problems.some((q) => q.path === p.path)) problems.push(p);
        }
        if (problems.length > 0 || !parsed.success) throw badUserInput(problems);
        return submit(ctx, { kind: 'CREATE_PROJECT', input: parsed.data });
      },
      async deleteProject(_: unknown, args: { id: string }, ctx: IdentityContext) {
        return submit(ctx, { kind: 'DELETE_PROJECT', input: { projectId: parseUserInput(idInput, args).id } });
      },
      async addMember(_: unknown, args: { projectId: string; user: string; role: string }, ctx: IdentityContext) {
        return submit(ctx, { kind: 'ADD_MEMBER', input: parseUserInput(addMemberInput, args) });
      },
      async removeMember(_: unknown, args: { projectId: string; user: string }, ctx: IdentityContext) {
        return submit(ctx, { kind: 'REMOVE_MEMBER', input: parseUserInput(removeMemberInput, args) });
      },
    },
    Project: {
      async __resolveReference(ref: { id: string }, ctx: IdentityContext) {
        const gathered = await ctx.loaders.placementsByProject.load(ref.id);
        for (const error of gathered.missing) addPartialError(ctx, error, []);
        return gathered.value.length > 0 ? toProjectView(gathered.value) : null;
      },
      async members(project: ProjectView, _: unknown, ctx: IdentityContext, info: GraphQLResolveInfo) {
        const perPlacement = await Promise.all(project.placements.map((p) => ctx.loaders.membersByPlacement.load(`${p.region}/${p.platform}|${project.id}|${p.nativeId}`)));
        return perPlacement.flatMap((gathered, i) => {
          const placement = project.placements[i] as ProjectPlacement;
          return reportMissing(ctx, info, gathered).map((m: Member) => ({ ...m, region: placement.region, platform: placement.platform }));
        });
      },
    },
    Operation: {
      async __resolveReference(ref: { id: string }, ctx: IdentityContext) {
        const op = await deps.controller.get(ref.id, { headers: ctx.forward, deadline: ctx.deadline });
        return op ? toOperationView(op) : null;
      },
    },
  };

  function callOptions(ctx: IdentityContext): AdapterCallOptions {
    const traceparent = ctx.forward[Header.traceparent];
    return { timeoutMs: deps.adapterTimeoutMs, deadline: ctx.deadline, headers: traceparent ? { traceparent } : {} };
  }

  const server = new ApolloServer<IdentityContext>({
    schema: buildSubgraphSchema({ typeDefs: parse(readSubgraphSdl('identity')), resolvers: resolvers as never }),
    formatError: createFormatError(deps.log),
    includeStacktraceInErrorResponses: false,
    // no inline traces: they are Apollo Studio's, and nothing here reports to it
    plugins: [partialErrorsPlugin<IdentityContext>(), ApolloServerPluginInlineTraceDisabled()],
  });

  async function context(headers: HeaderMap): Promise<IdentityContext> {
    let principal: Principal;
    try {
      principal = await deps.verifyToken(headers.get('authorization'));
    } catch (error) {
      const e = error as InfrafedError;
      throw new GraphQLError(e.message, { extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } } });
    }
    const forward: Record<string, string> = {};
    for (const header of [Header.authorization, Header.idempotencyKey, Header.traceparent]) {
      const v = headers.get(header);
      if (v) forward[header] = v;
    }
    const deadlineHeader = Number(headers.get(Header.deadline) ?? '');
    const deadline = Number.isFinite(deadlineHeader) && deadlineHeader > 0 ? deadlineHeader : undefined;
    const ctx: IdentityContext = { principal, forward, deadline, partialErrors: [], loaders: undefined as unknown as Loaders };
    ctx.loaders = createLoaders({ nc: deps.nc, organization: principal.organization, placements: deps.placements, call: callOptions(ctx) });
    return ctx;
  }

  return { server, context };
}
