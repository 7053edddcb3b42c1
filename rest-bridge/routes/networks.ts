import type { z } from 'zod';
import { createNetworkInput, networkIdSchema } from '../../schema/network.ts';
import { networkResource, operationResource, pageOf } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { OPERATION, projectWith, operation, projectId, limitQuery, type Route } from './route.ts';

/** The routes of the `networks` resource (each one GraphQL operation against the gateway). */
export const networksRoutes: Route[] = [
  {
    method: 'get',
    path: '/projects/{projectId}/networks',
    operationId: 'listNetworks',
    tag: 'networks',
    summary: "The project's networks in every OpenStack placement",
    description:
      'Each network with its subnet (CIDR, gateway) and router. OKD placements have no networks of their own (their pods share the cluster network; access rules still apply).',
    params: projectId,
    query: limitQuery,
    response: pageOf(networkResource, 'NetworkPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ networks: z.infer<typeof networkResource>[] }>(
        ctx,
        `{ networks ${selectionOf(networkResource)} }`,
      );
      return { kind: 'list', items: project.networks, errors, sortKey: (n: { id: string }) => n.id };
    },
  },
  {
    method: 'post',
    path: '/projects/{projectId}/networks',
    operationId: 'createNetwork',
    tag: 'networks',
    summary: 'Create a network with one subnet (and optionally a router) in the project’s OpenStack placement in a region',
    description:
      "Creates the network, its subnet and, with `router`, a router attached to the region's external network, in the project's OpenStack placement in `region`; held against the organisation's entitlements (networks, subnets, routers). Members and up.",
    params: projectId,
    body: {
      schema: createNetworkInput,
      omit: ['projectId'],
      id: 'CreateNetworkInput',
      example: { region: 'sto', name: 'backend', cidr: '10.20.0.0/24', router: { external: true } },
    },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('createNetwork')(ctx, `mutation($input: CreateNetworkInput!) { createNetwork(input: $input) ${OPERATION} }`, {
        input: { ...ctx.body, projectId: ctx.path.projectId },
      }),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/networks/{networkId}',
    operationId: 'deleteNetwork',
    tag: 'networks',
    summary: 'Delete a network with its subnet and router',
    description: 'Deletes the network with its subnet and router, and the objects are released from the entitlements. Members and up.',
    params: { ...projectId, networkId: networkIdSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('deleteNetwork')(ctx, `mutation($p: ID!, $n: ID!) { deleteNetwork(projectId: $p, id: $n) ${OPERATION} }`, {
        p: ctx.path.projectId,
        n: ctx.path.networkId,
      }),
  },
];
