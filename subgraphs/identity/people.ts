import { z } from 'zod';
import {
  createdInvitationReply,
  createInvitationInput,
  createRuleInput,
  invitationCancelInput,
  invitationDecisionInput,
  invitationListInput,
  invitationPageReply,
  invitationReply,
  memberListInput,
  memberPageReply,
  memberReply,
  removeMemberInput,
  ruleIdSchema,
  ruleListReply,
  ruleReply,
  setMemberRoleInput,
} from '../../schema/people.ts';
import { PeopleVerb, WebhookVerb } from '../../schema/subjects.ts';
import {
  createdWebhookReply,
  createWebhookInput,
  deliveryListInput,
  deliveryPageReply,
  deliveryReply,
  webhookIdSchema,
  webhookListReply,
  webhookReply,
} from '../../schema/webhooks.ts';
import { badUserInput, parseUserInput, withoutNulls } from '../../runtime/problems.ts';
import type { ControllerClient } from '../shared/controllerClient.ts';
import type { SubgraphContext } from '../shared/subgraphContext.ts';

type Args = Record<string, unknown>;

/** GraphQL's invitation input as the controller takes it: with `projectId`, a project invitation. */
export function invitationInputOf(input: Args): z.infer<typeof createInvitationInput> {
  const { role, projectId, user, ...rest } = withoutNulls(input);
  const scope = projectId !== undefined ? { type: 'project', projectId, user, role } : { type: 'organization', role };
  if (projectId === undefined && user !== undefined)
    throw badUserInput([{ path: 'input.user', message: 'a user goes with a projectId (a project invitation)', value: user }]);
  return parseUserInput(createInvitationInput, { ...rest, scope }, 'input');
}

/** Members, invitations and identity-provider rules: each resolver is one request to the controller, which decides. */
export function peopleResolvers(controller: ControllerClient) {
  // a principal of no organisation reaches only accepting and declining (OPEN_FIELDS); the controller decides the rest
  const call = (ctx: SubgraphContext) => ({ headers: ctx.forward, deadline: ctx.deadline });
  return {
    Query: {
      async invitations(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(invitationListInput, withoutNulls(args));
        return controller.people(PeopleVerb.invitationList, req, invitationPageReply, call(ctx));
      },
      async identityRules(_: unknown, __: Args, ctx: SubgraphContext) {
        return (await controller.people(PeopleVerb.ruleList, {}, ruleListReply, call(ctx))).rules;
      },
    },
    Mutation: {
      async setMemberRole(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(setMemberRoleInput, withoutNulls(args));
        return (await controller.people(PeopleVerb.memberSet, req, memberReply, call(ctx))).member;
      },
      async removeOrganizationMember(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(removeMemberInput, withoutNulls(args));
        return (await controller.people(PeopleVerb.memberRemove, req, memberReply, call(ctx))).member;
      },
      async createInvitation(_: unknown, args: { input: Args }, ctx: SubgraphContext) {
        return controller.people(PeopleVerb.invitationCreate, invitationInputOf(args.input), createdInvitationReply, call(ctx));
      },
      async cancelInvitation(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(invitationCancelInput, args);
        return (await controller.people(PeopleVerb.invitationCancel, req, invitationReply, call(ctx))).invitation;
      },
      async acceptInvitation(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(invitationDecisionInput, args);
        return (await controller.people(PeopleVerb.invitationAccept, req, invitationReply, call(ctx))).invitation;
      },
      async declineInvitation(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(invitationDecisionInput, args);
        return (await controller.people(PeopleVerb.invitationDecline, req, invitationReply, call(ctx))).invitation;
      },
      async createIdentityRule(_: unknown, args: { input: Args }, ctx: SubgraphContext) {
        const req = parseUserInput(createRuleInput, args.input, 'input');
        return (await controller.people(PeopleVerb.ruleCreate, req, ruleReply, call(ctx))).rule;
      },
      async deleteIdentityRule(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(z.object({ id: ruleIdSchema }), args);
        return (await controller.people(PeopleVerb.ruleDelete, req, ruleReply, call(ctx))).rule;
      },
    },
    // webhooks (the controller decides who may)
    WebhookQuery: {
      async webhooks(_: unknown, __: Args, ctx: SubgraphContext) {
        return (await controller.webhook(WebhookVerb.list, {}, webhookListReply, call(ctx))).webhooks;
      },
      async webhookDeliveries(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(deliveryListInput, withoutNulls(args));
        return controller.webhook(WebhookVerb.deliveries, req, deliveryPageReply, call(ctx));
      },
    },
    WebhookMutation: {
      async createWebhook(_: unknown, args: { input: Args }, ctx: SubgraphContext) {
        const req = parseUserInput(createWebhookInput, withoutNulls(args.input), 'input');
        return controller.webhook(WebhookVerb.create, req, createdWebhookReply, call(ctx));
      },
      async deleteWebhook(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(z.object({ id: webhookIdSchema }), args);
        return (await controller.webhook(WebhookVerb.delete, req, webhookReply, call(ctx))).webhook;
      },
      async testWebhook(_: unknown, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(z.object({ id: webhookIdSchema }), args);
        return (await controller.webhook(WebhookVerb.test, req, deliveryReply, call(ctx))).delivery;
      },
    },
    Organization: {
      __resolveReference(ref: { id: string }) {
        return ref;
      },
      async members(org: { id: string }, args: Args, ctx: SubgraphContext) {
        const req = parseUserInput(memberListInput, withoutNulls({ ...args, organization: org.id }));
        return controller.people(PeopleVerb.memberList, req, memberPageReply, call(ctx));
      },
    },
  };
}
