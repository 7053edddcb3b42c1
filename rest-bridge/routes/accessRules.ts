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
    description:
      'Every rule in canonical form (direction, protocol, ports, remote CIDR) with where it is applied. Readers and up; a region that does not answer is named in `incompleteRegions`.',
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
    description:
      "Applies the rule in every placement of the project: a security group rule in the project's `infrafed` group on OpenStack, a NetworkPolicy on OKD. The rule's id is computed from its content, so applying an equal rule again changes nothing (`changed: false`). Members and up. ICMP rules are `NOT_SUPPORTED` (501) on OKD.",
    params: projectId,
    body: {
      schema: accessRuleInput,
      omit: [],
      id: 'AccessRuleInput',
      example: {
        direction: 'ingress',
        protocol: 'tcp',
        ports: { from: 22 },
        remoteCidr: '192.0.2.0/24',
        description: 'ssh from the office',
      },
    },
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
    description: 'Removes the rule from every placement (a rule already absent changes nothing). Members and up.',
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
