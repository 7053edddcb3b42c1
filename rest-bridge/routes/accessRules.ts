import type { z } from 'zod';
import { accessRuleIdSchema, accessRuleInput } from '../../schema/network.ts';
import { accessRuleResource, operationResource, pageOf } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { OPERATION, projectWith, operation, projectId, limitQuery, type Route } from './route.ts';

/** The routes of the `accessRules` resource (each one GraphQL operation against the gateway). */
export const accessRulesRoutes: Route[] = [
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
      const { project, errors } = await projectWith<{ accessRules: z.infer<typeof accessRuleResource>[] }>(
        ctx,
        `{ accessRules ${selectionOf(accessRuleResource)} }`,
      );
      return {
        kind: 'list',
        items: project.accessRules,
        errors,
        sortKey: (r: { id: string; region: string; platform: string }) => `${r.id}|${r.region}/${r.platform}`,
      };
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
    handle: (ctx) =>
      operation('applyAccessRule')(
        ctx,
        `mutation($p: ID!, $rule: AccessRuleInput!) { applyAccessRule(projectId: $p, rule: $rule) ${OPERATION} }`,
        { p: ctx.path.projectId, rule: ctx.body },
      ),
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
    handle: (ctx) =>
      operation('removeAccessRule')(ctx, `mutation($p: ID!, $r: ID!) { removeAccessRule(projectId: $p, ruleId: $r) ${OPERATION} }`, {
        p: ctx.path.projectId,
        r: ctx.path.ruleId,
      }),
  },
];
