import type { HeaderMap } from '@apollo/server';
import type { GraphQLResolveInfo } from 'graphql';
import { z } from 'zod';
import { LIST_MAX_PROJECTS, type Network, type PlacedAccessRule } from '../../schema/contracts/network.ts';
import { projectIdSchema } from '../../schema/model.ts';
import { applyAccessRuleInput, createNetworkInput, networkIdSchema, removeAccessRuleInput } from '../../schema/network.ts';
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
    networks: createPlacementLoader(
      async (placement, projects) => (await requestAdapter(nc, placement, 'network', 'list', { projects }, call)).networks,
      (n: Network) => n.projectId,
      LIST_MAX_PROJECTS,
    ),
    rules: createPlacementLoader(
      async (placement, projects) => (await requestAdapter(nc, placement, 'rule', 'list', { projects }, call)).rules,
      (r: PlacedAccessRule) => r.projectId,
      LIST_MAX_PROJECTS,
    ),
  };
}

interface NetworkContext extends SubgraphContext {
  loaders: ReturnType<typeof createLoaders>;
}

/** The project as the gateway hands it over: its id only (its placements come from the controller's index). */
interface ProjectRef {
  id: string;
}

/** The network subgraph: networks and access rules of projects. Reads go to the adapters; writes are operations of the controller. */
export function createNetworkSubgraph(deps: SubgraphDeps) {
  const deleteNetworkArgs = z.object({ projectId: projectIdSchema, id: networkIdSchema });
  const writes = operationWrites(deps.controller);

  const resolvers = {
    Operation: writes.Operation,
    Mutation: {
      async createNetwork(_: unknown, args: { input: Record<string, unknown> }, ctx: NetworkContext, info: GraphQLResolveInfo) {
        const input = parseUserInput(createNetworkInput, withoutNulls(args.input), 'input');
        return writes.submit(ctx, info, { kind: 'CREATE_NETWORK', input });
      },
      async deleteNetwork(_: unknown, args: { projectId: string; id: string }, ctx: NetworkContext, info: GraphQLResolveInfo) {
        const { projectId, id } = parseUserInput(deleteNetworkArgs, args);
        return writes.submit(ctx, info, { kind: 'DELETE_NETWORK', input: { projectId, networkId: id } });
      },
      async applyAccessRule(
        _: unknown,
        args: { projectId: string; rule: Record<string, unknown> },
        ctx: NetworkContext,
        info: GraphQLResolveInfo,
      ) {
        const input = parseUserInput(applyAccessRuleInput, withoutNulls(args));
        return writes.submit(ctx, info, { kind: 'APPLY_ACCESS_RULE', input });
      },
      async removeAccessRule(_: unknown, args: { projectId: string; ruleId: string }, ctx: NetworkContext, info: GraphQLResolveInfo) {
        const input = parseUserInput(removeAccessRuleInput, args);
        return writes.submit(ctx, info, { kind: 'REMOVE_ACCESS_RULE', input });
      },
    },
    Project: {
      __resolveReference(ref: ProjectRef) {
        return ref;
      },
      async networks(project: ProjectRef, _: unknown, ctx: NetworkContext, info: GraphQLResolveInfo) {
        // networks are Neutron's: OKD placements have none
        const placed = await placedProject(ctx.loaders.projects, project.id, (p) => p.platform === 'openstack');
        const found = await Promise.all(placed.map((k) => ctx.loaders.networks.load(k)));
        return found.flatMap((g) => reportMissing(ctx, info, g));
      },
      async accessRules(project: ProjectRef, _: unknown, ctx: NetworkContext, info: GraphQLResolveInfo) {
        const placed = await placedProject(ctx.loaders.projects, project.id);
        const found = await Promise.all(placed.map((k) => ctx.loaders.rules.load(k)));
        return found.flatMap((g) => reportMissing(ctx, info, g));
      },
    },
  };

  const server = createSubgraphServer<NetworkContext>('network', resolvers, deps);

  async function context(headers: HeaderMap): Promise<NetworkContext> {
    const base = await subgraphContext(headers, deps.verifyToken);
    return { ...base, loaders: createLoaders(deps, base) };
  }

  return { server, context };
}
