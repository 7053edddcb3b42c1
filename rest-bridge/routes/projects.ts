import { z } from 'zod';
import { regionNameSchema, platformSchema } from '../../schema/model.ts';
import { createProjectInput, placementProblems } from '../../schema/operations.ts';
import { operationResource, pageOf, partialOf, placementResource, projectResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { OPERATION, PROJECT, dataOf, projectWith, operation, projectId, limitQuery, type Route } from './route.ts';

/** The routes of the `projects` resource (each one GraphQL operation against the gateway). */
export const projectsRoutes: Route[] = [
  {
    method: 'get',
    path: '/projects',
    operationId: 'listProjects',
    tag: 'projects',
    summary: "Your organisation's projects (and those shared with it), in every region",
    description:
      'The projects of your organisation and those shared with it, with their placements as the platforms report them. Filter by `name`, `region` or `platform`; a region that does not answer is named in `incompleteRegions` (its placements are then missing from the answer).',
    query: { ...limitQuery, name: z.string().max(64).optional(), region: regionNameSchema.optional(), platform: platformSchema.optional() },
    response: pageOf(projectResource, 'ProjectPage'),
    shape: 'list',
    async handle(ctx) {
      const result = await ctx.graphql<{ projects: z.infer<typeof projectResource>[] }>(`{ projects ${PROJECT} }`);
      const { name, region, platform } = ctx.query as { name?: string; region?: string; platform?: string };
      const items = dataOf(result).projects.filter(
        (p) =>
          (!name || p.name === name) &&
          (!region || p.placements.some((x) => x.region === region)) &&
          (!platform || p.placements.some((x) => x.platform === platform)),
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
    description:
      "Creates the project in every placement asked for (a Keystone project in the organisation's domain on OpenStack, a namespace on OKD), all or nothing: a placement that fails undoes the others. The name is unique in the organisation. The organisation's project defaults are set as quotas and held against its entitlements. Admins and up.",
    body: {
      schema: createProjectInput,
      omit: [],
      id: 'CreateProjectInput',
      example: {
        name: 'genomics',
        description: 'sequencing pipeline',
        placements: [
          { region: 'sto', platform: 'openstack' },
          { region: 'lla', platform: 'okd' },
        ],
      },
    },
    known: (body, placements) =>
      Array.isArray(body.placements)
        ? placementProblems(
            // (a malformed entry keeps its index; the schema's problem for it comes first)
            body.placements.map((p: { region?: unknown; platform?: unknown } | null) => ({
              region: String(p?.region),
              platform: String(p?.platform),
            })),
            placements,
            'body.placements',
          )
        : [],
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('createProject')(ctx, `mutation($input: CreateProjectInput!) { createProject(input: $input) ${OPERATION} }`, {
        input: ctx.body,
      }),
  },
  {
    method: 'get',
    path: '/projects/{projectId}',
    operationId: 'getProject',
    tag: 'projects',
    summary: 'A project with its placements and partners',
    description:
      'The project, its placements (as the platforms report them) and, for its owner, its partners. A region that does not answer is named in `incompleteRegions` and the answer then has no ETag.',
    params: projectId,
    response: partialOf(projectResource, 'ProjectRead'),
    shape: 'resource',
    etag: true,
    partial: true,
    async handle(ctx) {
      const { project, errors } = await projectWith<unknown>(ctx, PROJECT);
      return { kind: 'resource', body: project, etag: project, errors };
    },
  },
  {
    method: 'delete',
    path: '/projects/{projectId}',
    operationId: 'deleteProject',
    tag: 'projects',
    summary: 'Delete a project in every placement (with its networks and rules)',
    description:
      'Deletes the project in every placement with everything infrafed made in it (networks, subnets, routers, rules, quotas), and frees its name and its share of the entitlements. An interrupted delete finishes when it is sent again. Admins and up.',
    params: projectId,
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('deleteProject')(ctx, `mutation($id: ID!) { deleteProject(id: $id) ${OPERATION} }`, { id: ctx.path.projectId }),
  },
  {
    method: 'get',
    path: '/projects/{projectId}/placements',
    operationId: 'listPlacements',
    tag: 'projects',
    summary: 'Where the project exists, as the platforms report it',
    description: "Where the project exists: region, platform and the platform's own id (Keystone project id, namespace name).",
    params: projectId,
    query: limitQuery,
    response: pageOf(placementResource, 'PlacementPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ placements: z.infer<typeof placementResource>[] }>(
        ctx,
        `{ placements ${selectionOf(placementResource)} }`,
      );
      return {
        kind: 'list',
        items: project.placements,
        errors,
        sortKey: (p: { region: string; platform: string }) => `${p.region}/${p.platform}`,
      };
    },
  },
];
