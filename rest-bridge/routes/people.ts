import { z } from 'zod';
import { orgRoleSchema } from '../../schema/access.ts';
import { organizationIdSchema, projectIdSchema, projectRoleSchema, userNameSchema } from '../../schema/model.ts';
import {
  claimNameSchema,
  claimPatternSchema,
  invitationIdSchema,
  invitationSecretSchema,
  invitationStatusSchema,
  ruleIdSchema,
  subjectSchema,
} from '../../schema/people.ts';
import {
  createdInvitationResource,
  identityRuleResource,
  invitationResource,
  organizationMemberResource,
  pageOf,
} from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { dataOf, fromGraphqlError, limitQuery, notFound, type Route } from './route.ts';

const MEMBER = selectionOf(organizationMemberResource);
const INVITATION = selectionOf(invitationResource);
const RULE = selectionOf(identityRuleResource);

/** The body of POST /invitations (GraphQL's InvitationInput). */
const invitationBody = z.object({
  organization: organizationIdSchema.optional(),
  role: z.union([orgRoleSchema, projectRoleSchema]),
  projectId: projectIdSchema.optional(),
  user: userNameSchema.optional(),
  email: z.email().max(254).optional(),
  invitee: subjectSchema.optional(),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .optional(),
});
const memberBody = z.object({
  organization: organizationIdSchema,
  subject: subjectSchema,
  role: orgRoleSchema,
  email: z.email().max(254).optional(),
});
const memberPath = { organization: organizationIdSchema, subject: subjectSchema };
const decisionBody = z.object({ id: invitationIdSchema, secret: invitationSecretSchema });
const ruleBody = z.object({
  identityProvider: z.string().min(1).max(32),
  claim: claimNameSchema,
  pattern: claimPatternSchema,
  role: orgRoleSchema,
});

/** Members, invitations and identity-provider rules (each route one GraphQL operation against the gateway). */
export const peopleRoutes: Route[] = [
  {
    method: 'get',
    path: '/organizations/{organization}/members',
    operationId: 'listOrganizationMembers',
    tag: 'people',
    summary: "The organisation's members and their grants",
    description:
      'Every principal with a recorded grant (by hand, invitation, rule or onboarding) and its role, the highest of its grants. Your own organisation; platform operators may read any. A principal of the primary issuer whose role comes from its token alone is not listed.',
    params: { organization: organizationIdSchema },
    query: limitQuery,
    response: pageOf(organizationMemberResource, 'OrganizationMemberPage'),
    shape: 'list',
    async handle(ctx) {
      const { limit, cursor } = ctx.query as { limit: number; cursor?: string };
      const result = await ctx.graphql<{
        organization: { members: { members: z.infer<typeof organizationMemberResource>[]; nextCursor: string | null } } | null;
      }>(
        `query($id: String, $f: Int, $a: String) { organization(id: $id) { members(first: $f, after: $a) { members ${MEMBER} nextCursor } } }`,
        {
          id: ctx.path.organization,
          f: limit,
          a: cursor ?? null,
        },
      );
      const org = dataOf(result).organization;
      if (!org) throw notFound(`organisation ${ctx.path.organization}`);
      return { kind: 'page', items: org.members.members, nextCursor: org.members.nextCursor, errors: [] };
    },
  },
  {
    method: 'put',
    path: '/organizations/{organization}/members/{subject}',
    operationId: 'setOrganizationMemberRole',
    tag: 'people',
    summary: "Set a principal's role in the organisation by hand (admins, at most their own role)",
    description:
      "Gives the principal (`sub` of the primary issuer, or `<provider>:<sub>`) the role by hand, replacing its grants by hand or invitation; a rule's grant stays. Admins grant at most their own role and change no member above it; demoting the last owner is 409.",
    params: memberPath,
    body: {
      schema: memberBody,
      omit: ['organization', 'subject'],
      id: 'OrganizationMemberInput',
      example: { role: 'member', email: 'kim@uni.example' },
    },
    response: organizationMemberResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ setMemberRole: unknown }>(
        `mutation($o: String, $s: String!, $r: OrgRole!, $e: String) { setMemberRole(organization: $o, subject: $s, role: $r, email: $e) ${MEMBER} }`,
        { o: ctx.path.organization, s: ctx.path.subject, r: ctx.body.role, e: ctx.body.email ?? null },
      );
      return { kind: 'resource', body: dataOf(result).setMemberRole };
    },
  },
  {
    method: 'delete',
    path: '/organizations/{organization}/members/{subject}',
    operationId: 'removeOrganizationMember',
    tag: 'people',
    summary: "Remove a principal's grants by hand or invitation (admins)",
    description:
      "Removes the principal's grants made by hand, invitation or onboarding. A rule's grant stays until its claim no longer matches at sign-in: the answer then holds what is left (`remaining`). Removing the last owner is 409.",
    params: memberPath,
    response: z.object({ subject: z.string(), remaining: organizationMemberResource.optional() }).meta({ id: 'OrganizationMemberRemoval' }),
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ removeOrganizationMember: unknown }>(
        `mutation($o: String, $s: String!) { removeOrganizationMember(organization: $o, subject: $s) ${MEMBER} }`,
        { o: ctx.path.organization, s: ctx.path.subject },
      );
      // null is an answer here (no grant left), not a missing resource
      if (result.errors[0]) throw fromGraphqlError(result.errors[0]);
      const remaining = result.data?.removeOrganizationMember;
      return { kind: 'resource', body: { subject: ctx.path.subject, ...(remaining ? { remaining } : {}) } };
    },
  },
  {
    method: 'post',
    path: '/invitations',
    operationId: 'createInvitation',
    tag: 'people',
    summary: 'Invite someone to the organisation or to one project (admins)',
    description:
      "Invites to the organisation with a role, or with `projectId` and `user` to one project with a project role. The answer holds the `secret` the invitee presents with the id: it is shown only here. Admins invite at most their own role; a partner's admin invites to a project shared with it within the share's level; platform operators name `organization` (e.g. a new organisation's first owner). Pending for `ttlSeconds` (default 7 days).",
    body: {
      schema: invitationBody,
      omit: [],
      id: 'InvitationInput',
      example: { role: 'member', email: 'kim@uni.example' },
    },
    response: createdInvitationResource,
    shape: 'resource',
    created: { location: '/invitations?status=pending', of: () => '/invitations?status=pending' },
    async handle(ctx) {
      const result = await ctx.graphql<{ createInvitation: unknown }>(
        `mutation($i: InvitationInput!) { createInvitation(input: $i) ${selectionOf(createdInvitationResource)} }`,
        { i: ctx.body },
      );
      return { kind: 'resource', body: dataOf(result).createInvitation };
    },
  },
  {
    method: 'get',
    path: '/invitations',
    operationId: 'listInvitations',
    tag: 'people',
    summary: "The organisation's invitations (admins)",
    description:
      'Every invitation with its state (`pending`, `accepted`, `declined`, `cancelled`, `expired`), oldest first; filter by `status`.',
    query: { ...limitQuery, status: invitationStatusSchema.optional() },
    response: pageOf(invitationResource, 'InvitationPage'),
    shape: 'list',
    async handle(ctx) {
      const { limit, cursor, status } = ctx.query as { limit: number; cursor?: string; status?: string };
      const result = await ctx.graphql<{ invitations: { invitations: unknown[]; nextCursor: string | null } }>(
        `query($s: InvitationStatus, $f: Int, $a: String) { invitations(status: $s, first: $f, after: $a) { invitations ${INVITATION} nextCursor } }`,
        { s: status ?? null, f: limit, a: cursor ?? null },
      );
      const page = dataOf(result).invitations;
      return { kind: 'page', items: page.invitations, nextCursor: page.nextCursor, errors: [] };
    },
  },
  ...(['accept', 'decline'] as const).map((verb): Route => ({
    method: 'post',
    path: `/invitations/{id}/${verb}`,
    operationId: `${verb}Invitation`,
    tag: 'people',
    summary: verb === 'accept' ? 'Accept an invitation with its secret' : 'Decline an invitation with its secret',
    description:
      verb === 'accept'
        ? "Binds the invitation to the caller (any identity provider's principal, also one that belongs to no organisation yet). An organisation invitation grants its role (the next sign-in carries it); a project invitation starts the operation that gives its user the role (`operationId`). An expired, cancelled or answered invitation is 409 with its `invitationStatus`; a wrong secret 404."
        : 'Declines the invitation: it grants nothing. An answered, cancelled or expired invitation is 409 with its `invitationStatus`.',
    params: { id: invitationIdSchema },
    body: { schema: decisionBody, omit: ['id'], id: 'InvitationSecret', example: { secret: 'x'.repeat(43) } },
    response: invitationResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<Record<string, unknown>>(
        `mutation($id: ID!, $s: String!) { r: ${verb}Invitation(id: $id, secret: $s) ${INVITATION} }`,
        { id: ctx.path.id, s: ctx.body.secret },
      );
      return { kind: 'resource', body: dataOf(result).r };
    },
  })),
  {
    method: 'post',
    path: '/invitations/{id}/cancel',
    operationId: 'cancelInvitation',
    tag: 'people',
    summary: 'Cancel a pending invitation (admins)',
    description: 'The invitation grants nothing from now on; one that is no longer pending is 409 with its `invitationStatus`.',
    params: { id: invitationIdSchema },
    response: invitationResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ cancelInvitation: unknown }>(`mutation($id: ID!) { cancelInvitation(id: $id) ${INVITATION} }`, {
        id: ctx.path.id,
      });
      return { kind: 'resource', body: dataOf(result).cancelInvitation };
    },
  },
  {
    method: 'get',
    path: '/identity-rules',
    operationId: 'listIdentityRules',
    tag: 'people',
    summary: "The organisation's identity-provider rules (admins)",
    description: 'The rules that grant organisation roles at sign-in from identity-provider token claims.',
    query: limitQuery,
    response: pageOf(identityRuleResource, 'IdentityRulePage'),
    shape: 'list',
    async handle(ctx) {
      const result = await ctx.graphql<{ identityRules: { id: string }[] }>(`{ identityRules ${RULE} }`);
      return { kind: 'list', items: dataOf(result).identityRules, errors: [], sortKey: (r: { id: string }) => r.id };
    },
  },
  {
    method: 'post',
    path: '/identity-rules',
    operationId: 'createIdentityRule',
    tag: 'people',
    summary: 'Define a rule that grants a role at sign-in (owners)',
    description:
      "A token of `identityProvider` (a configured one) whose `claim` has a value matching `pattern` (`*`: any characters) gets `role` in the organisation at every sign-in; when the claim no longer matches, the next sign-in removes that rule's grant only. Owners, at most their own role.",
    body: {
      schema: ruleBody,
      omit: [],
      id: 'IdentityRuleInput',
      example: { identityProvider: 'campus', claim: 'eduperson_entitlement', pattern: 'urn:mace:example.org:group:hpc-*', role: 'member' },
    },
    response: identityRuleResource,
    shape: 'resource',
    created: { location: '/identity-rules', of: () => '/identity-rules' },
    async handle(ctx) {
      const result = await ctx.graphql<{ createIdentityRule: unknown }>(
        `mutation($i: IdentityRuleInput!) { createIdentityRule(input: $i) ${RULE} }`,
        { i: ctx.body },
      );
      return { kind: 'resource', body: dataOf(result).createIdentityRule };
    },
  },
  {
    method: 'delete',
    path: '/identity-rules/{id}',
    operationId: 'deleteIdentityRule',
    tag: 'people',
    summary: 'Delete a rule and every grant it made (owners)',
    description: 'The rule goes, and with it, at once, every grant it made; grants by hand or by other rules stay.',
    params: { id: ruleIdSchema },
    response: identityRuleResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ deleteIdentityRule: unknown }>(`mutation($id: ID!) { deleteIdentityRule(id: $id) ${RULE} }`, {
        id: ctx.path.id,
      });
      return { kind: 'resource', body: dataOf(result).deleteIdentityRule };
    },
  },
];
