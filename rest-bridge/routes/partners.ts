import type { z } from 'zod';
import { organizationIdSchema } from '../../schema/model.ts';
import { shareProjectInput } from '../../schema/operations.ts';
import { operationResource, pageOf, partnerResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { OPERATION, projectWith, operation, projectId, limitQuery, type Route } from './route.ts';

/** The routes of the `partners` resource (each one GraphQL operation against the gateway). */
export const partnersRoutes: Route[] = [
  {
    method: 'get',
    path: '/projects/{projectId}/partners',
    operationId: 'listPartners',
    tag: 'partners',
    summary: 'Partner organisations the project is shared with (its owner sees them)',
    description:
      'The partner organisations the project is shared with, each with its level (`reader`, `member`, `admin`) and since when. Only the owning organisation sees them.',
    params: projectId,
    query: limitQuery,
    response: pageOf(partnerResource, 'PartnerPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ shares: z.infer<typeof partnerResource>[] }>(
        ctx,
        `{ shares ${selectionOf(partnerResource)} }`,
      );
      return { kind: 'list', items: project.shares, errors, sortKey: (s: { organization: string }) => s.organization };
    },
  },
  {
    method: 'put',
    path: '/projects/{projectId}/partners/{partner}',
    operationId: 'shareProject',
    tag: 'partners',
    summary: 'Share the project with a partner organisation at a level (owners)',
    description:
      'Shares the project with another organisation at a level: its principals see the project and do what the weaker of their own role and the level allows (never quotas, deleting, sharing or the audit). Owners only. Sharing again changes the level.',
    params: { ...projectId, partner: organizationIdSchema },
    body: { schema: shareProjectInput, omit: ['projectId', 'partner'], id: 'PartnerInput', example: { level: 'member' } },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('shareProject')(
        ctx,
        `mutation($p: ID!, $o: String!, $l: String!) { shareProject(projectId: $p, partner: $o, level: $l) ${OPERATION} }`,
        {
          p: ctx.path.projectId,
          o: ctx.path.partner,
          l: ctx.body.level,
        },
      ),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/partners/{partner}',
    operationId: 'revokeShare',
    tag: 'partners',
    summary: "End a share: the partner loses access and its members' roles at once",
    description:
      'Ends the share: the partner no longer sees the project, and the roles its users and groups had are removed from every placement. Owners only.',
    params: { ...projectId, partner: organizationIdSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('revokeShare')(ctx, `mutation($p: ID!, $o: String!) { revokeShare(projectId: $p, partner: $o) ${OPERATION} }`, {
        p: ctx.path.projectId,
        o: ctx.path.partner,
      }),
  },
];
