import { z } from 'zod';
import { resourcePlanResource, resourcesDocumentResource } from '../../schema/rest.ts';
import { projectNameSchema } from '../../schema/model.ts';
import { selectionOf } from '../selection.ts';
import { dataOf, type Route } from './route.ts';

const planInput = z
  .object({
    document: z
      .string()
      .min(1, 'give the resources file')
      .max(4 * 1024 * 1024, 'the file is larger than 4194304 bytes'),
    prune: z.boolean().default(false),
  })
  .strict();

/** Resources as code: the organisation's projects as a file, and what applying a file would change. */
export const resourcesRoutes: Route[] = [
  {
    method: 'get',
    path: '/resources',
    operationId: 'exportResources',
    tag: 'resources as code',
    summary: "The organisation's projects as a resources file (YAML)",
    description:
      "Every project of the caller's organisation as YAML, one document per project (placements, members, networks, access rules, quotas per region): what `infrafed export` writes. `project`: only the project of that name. Every placement must answer, else its `REGION_UNAVAILABLE` or `REGION_TIMEOUT`.",
    query: { project: projectNameSchema.optional() },
    response: resourcesDocumentResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ resourcesDocument: string }>('query($p: String) { resourcesDocument(project: $p) }', {
        p: ctx.query.project ?? null,
      });
      return { kind: 'resource', body: { document: dataOf(result).resourcesDocument } };
    },
  },
  {
    method: 'post',
    path: '/plans',
    operationId: 'planResources',
    tag: 'resources as code',
    summary: 'What applying a resources file would change (changes nothing)',
    description:
      'The same plan as the GraphQL `plan` and `infrafed plan`: per project and resource `+`, `~`, `-`, `-/+` with the fields that change, and the mutations that make them in the order they must run. What the file leaves out is removed only with `prune`. A file with mistakes is 400 with every problem (`document`, `line`, `column`, `path`, `message`).',
    body: {
      schema: planInput,
      omit: [],
      id: 'PlanInput',
      example: {
        document: 'apiVersion: infrafed.io/v1\nkind: Project\nname: shop\nplacements:\n  - { region: sto, platform: openstack }\n',
        prune: false,
      },
    },
    response: resourcePlanResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ plan: unknown }>(
        `query($d: String!, $p: Boolean) { plan(document: $d, prune: $p) ${selectionOf(resourcePlanResource)} }`,
        { d: ctx.body.document, p: ctx.body.prune ?? false },
      );
      return { kind: 'resource', body: dataOf(result).plan };
    },
  },
];
