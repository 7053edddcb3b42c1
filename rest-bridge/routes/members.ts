import type { z } from 'zod';
import { userNameSchema, groupNameSchema } from '../../schema/model.ts';
import { addMemberInput } from '../../schema/operations.ts';
import { memberResource, operationResource, pageOf } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { OPERATION, projectWith, operation, projectId, limitQuery, type Route } from './route.ts';

/** The routes of the `members` resource (each one GraphQL operation against the gateway). */
export const membersRoutes: Route[] = [
  {
    method: 'get',
    path: '/projects/{projectId}/members',
    operationId: 'listMembers',
    tag: 'members',
    summary: 'Users and groups with a role on the project, per placement',
    description:
      'The users and groups of the organisation (and of partner organisations) with a role on the project, one entry per placement that holds it. Readers and up.',
    params: projectId,
    query: limitQuery,
    response: pageOf(memberResource, 'MemberPage'),
    shape: 'list',
    async handle(ctx) {
      const { project, errors } = await projectWith<{ members: z.infer<typeof memberResource>[] }>(
        ctx,
        `{ members ${selectionOf(memberResource)} }`,
      );
      return {
        kind: 'list',
        items: project.members,
        errors,
        sortKey: (m: z.infer<typeof memberResource>) => `${m.user ?? ''}|${m.group ?? ''}|${m.region}/${m.platform}`,
      };
    },
  },
  {
    method: 'post',
    path: '/projects/{projectId}/members',
    operationId: 'addMember',
    tag: 'members',
    summary: 'Give a user or a group (exactly one) a role on the project in every placement',
    description:
      'Gives the user or group (`user` or `group`, exactly one) the role in every placement, replacing a role it had (a Keystone role assignment on OpenStack, a RoleBinding on OKD). A partner gives roles up to its share level. Admins and up.',
    params: projectId,
    body: { schema: addMemberInput, omit: ['projectId'], id: 'MemberInput', example: { user: 'alice@example.org', role: 'member' } },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('addMember')(
        ctx,
        `mutation($p: ID!, $u: String, $g: String, $r: String!) { addMember(projectId: $p, user: $u, group: $g, role: $r) ${OPERATION} }`,
        {
          p: ctx.path.projectId,
          u: ctx.body.user ?? null,
          g: ctx.body.group ?? null,
          r: ctx.body.role,
        },
      ),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/members/users/{user}',
    operationId: 'removeUser',
    tag: 'members',
    summary: "Remove a user's role on the project in every placement",
    description: "Removes the user's role from every placement (a user without one changes nothing). Admins and up.",
    params: { ...projectId, user: userNameSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('removeMember')(ctx, `mutation($p: ID!, $u: String) { removeMember(projectId: $p, user: $u) ${OPERATION} }`, {
        p: ctx.path.projectId,
        u: ctx.path.user,
      }),
  },
  {
    method: 'delete',
    path: '/projects/{projectId}/members/groups/{group}',
    operationId: 'removeGroup',
    tag: 'members',
    summary: "Remove a group's role on the project in every placement",
    description: "Removes the group's role from every placement (a group without one changes nothing). Admins and up.",
    params: { ...projectId, group: groupNameSchema },
    response: operationResource,
    shape: 'operation',
    handle: (ctx) =>
      operation('removeMember')(ctx, `mutation($p: ID!, $g: String) { removeMember(projectId: $p, group: $g) ${OPERATION} }`, {
        p: ctx.path.projectId,
        g: ctx.path.group,
      }),
  },
];
