import { z } from 'zod';
import { orgRoleSchema, type OrgRole } from './access.ts';
import { organizationIdSchema, projectIdSchema, projectRoleSchema, userNameSchema } from './model.ts';

/** A page's size: 1-500, default 50. */
const pageSizeSchema = z.number().int().min(1).max(500);

/**
 * An organisation's people as the controller keeps them: membership records (one per principal, each a
 * set of grants; the role is the highest grant), invitations, and identity-provider rules that grant at
 * sign-in. A principal is named by its `subject`: the token's `sub` for the primary issuer, and
 * `<provider>:<sub>` for a configured identity provider (two providers' `sub`s never meet).
 */

/** The primary issuer's name (`auth.issuer`: tokens that carry `org` and `org_role`). */
export const PRIMARY_PROVIDER = 'primary';

/** A configured identity provider's name (its subjects are `<name>:<sub>`). */
export const identityProviderNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'an identity provider name is 1-32 lower-case letters, digits or dashes, starting with a letter');

/** A principal's subject as infrafed keeps it (at most 255 characters). */
export const subjectSchema = z.string().min(1, 'the subject must not be empty').max(255, 'the subject must be at most 255 characters');

/** The subject infrafed keeps for a token's `sub` from a provider. */
export function qualifiedSubject(provider: string, sub: string): string {
  return provider === PRIMARY_PROVIDER ? sub : `${provider}:${sub}`;
}

/** How a grant was made. */
export const grantSourceSchema = z.enum(['manual', 'invitation', 'rule', 'onboarding']);
export type GrantSource = z.infer<typeof grantSourceSchema>;

export const grantSchema = z.object({
  role: orgRoleSchema,
  source: grantSourceSchema,
  /** The invitation or rule it came from; null for a grant made by hand. */
  ref: z.string().nullable(),
  /** Who made it (a subject; a rule's grants name the rule). */
  by: z.string(),
  since: z.string(),
});
export type Grant = z.infer<typeof grantSchema>;

export const memberRecordSchema = z.object({
  organization: organizationIdSchema,
  subject: subjectSchema,
  identityProvider: z.string(),
  email: z.string().nullable(),
  grants: z.array(grantSchema),
});
export type MemberRecord = z.infer<typeof memberRecordSchema>;

const roleOrder = orgRoleSchema.options;
/** The highest role of the grants; null when there are none. */
export function roleOfGrants(grants: readonly { role: OrgRole }[]): OrgRole | null {
  let best: OrgRole | null = null;
  for (const g of grants) if (best === null || roleOrder.indexOf(g.role) > roleOrder.indexOf(best)) best = g.role;
  return best;
}
/** The higher of two roles (either may be absent). */
export function higherRole(a: OrgRole | null, b: OrgRole | null): OrgRole | null {
  if (a === null) return b;
  if (b === null) return a;
  return roleOrder.indexOf(a) >= roleOrder.indexOf(b) ? a : b;
}

/** A member as the API shows it. */
export const memberViewSchema = z.object({
  subject: z.string(),
  identityProvider: z.string(),
  email: z.string().nullable(),
  /** The highest of its grants. */
  role: orgRoleSchema,
  grants: z.array(grantSchema),
  since: z.string(),
});
export type MemberView = z.infer<typeof memberViewSchema>;

export function memberView(record: MemberRecord): MemberView | null {
  const role = roleOfGrants(record.grants);
  if (role === null) return null;
  const since = record.grants.map((g) => g.since).sort()[0] as string;
  return { subject: record.subject, identityProvider: record.identityProvider, email: record.email, role, grants: record.grants, since };
}

const emailSchema = z.email('the e-mail address is not valid').max(254);

/** What an invitation gives: a role in the organisation, or a user's role on one project. */
export const invitationScopeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('organization'), role: orgRoleSchema }),
  z.object({
    type: z.literal('project'),
    projectId: projectIdSchema,
    /** The platform user the accepting principal becomes a member as (e.g. its e-mail address). */
    user: userNameSchema,
    role: projectRoleSchema,
  }),
]);
export type InvitationScope = z.infer<typeof invitationScopeSchema>;

export const invitationStatusSchema = z.enum(['pending', 'accepted', 'declined', 'cancelled', 'expired']);
export type InvitationStatus = z.infer<typeof invitationStatusSchema>;

/** An invitation as stored: `status` is pending until someone decides; expiry is read from `expiresAt`. */
export const invitationRecordSchema = z.object({
  id: z.string(),
  /** The organisation whose principal invited (a partner's, for a project shared with it). */
  organization: organizationIdSchema,
  scope: invitationScopeSchema,
  /** Where it was sent (a mailer takes it from the event); null when it names a subject. */
  email: z.string().nullable(),
  /** Only this subject may accept it, when set (`<provider>:<sub>`, or a primary subject). */
  invitee: z.string().nullable(),
  status: z.enum(['pending', 'accepted', 'declined', 'cancelled']),
  createdBy: z.string(),
  /** The role the inviter could give when it invited (a project invitation is carried out in its name, within it). */
  inviterRole: orgRoleSchema,
  createdAt: z.string(),
  expiresAt: z.string(),
  /** SHA-256 of the secret the invitee presents (the secret itself is shown once, to the inviter). */
  secretHash: z.string(),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  /** A project invitation's ADD_MEMBER operation, once accepted. */
  operationId: z.string().nullable(),
  /** Its expiry was published (`invitation.expired`, once). */
  expiryPublished: z.boolean().default(false),
});
export type InvitationRecord = z.infer<typeof invitationRecordSchema>;

/** An invitation's status at `now` (a pending one past its expiry is expired). */
export function invitationStatus(inv: InvitationRecord, now: number): InvitationStatus {
  return inv.status === 'pending' && Date.parse(inv.expiresAt) <= now ? 'expired' : inv.status;
}

export const invitationViewSchema = invitationRecordSchema
  .omit({ secretHash: true, status: true, inviterRole: true, expiryPublished: true })
  .extend({ status: invitationStatusSchema });
export type InvitationView = z.infer<typeof invitationViewSchema>;

export const createInvitationInput = z
  .object({
    /** Platform operators invite to another organisation (its first owner, at onboarding). */
    organization: organizationIdSchema.nullish(),
    scope: invitationScopeSchema,
    email: emailSchema.nullish(),
    /** The subject that alone may accept it. */
    invitee: subjectSchema.nullish(),
    /** Default `controller.invitations.ttlSeconds` (7 days); at most 30 days. */
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .nullish(),
  })
  .superRefine((v, ctx) => {
    if (!v.email && !v.invitee)
      ctx.addIssue({ code: 'custom', path: ['email'], message: 'name the e-mail address or the subject invited' });
  });
export type CreateInvitationInput = z.infer<typeof createInvitationInput>;

/** `inv_` + 26 characters. */
export const invitationIdSchema = z.string().regex(/^inv_[0-9a-z]{26}$/, 'an invitation id is inv_ and 26 letters or digits');
/** The secret an invitee presents: 43 base64url characters. */
export const invitationSecretSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'the invitation secret is 43 base64url characters');

export const invitationDecisionInput = z.object({ id: invitationIdSchema, secret: invitationSecretSchema });
export const invitationCancelInput = z.object({ id: invitationIdSchema });
export const invitationListInput = z.object({
  status: invitationStatusSchema.nullish(),
  first: pageSizeSchema.nullish(),
  after: z.string().max(64).nullish(),
});

export const invitationReply = z.object({ invitation: invitationViewSchema });
export const createdInvitationReply = z.object({
  invitation: invitationViewSchema,
  /** Shown once: the invitee presents it with the id to accept or decline. */
  secret: z.string(),
});
export const invitationPageReply = z.object({ invitations: z.array(invitationViewSchema), nextCursor: z.string().nullable() });

/** A glob over a claim's value: `*` any characters; everything else literal. At most 255 characters. */
export const claimPatternSchema = z.string().min(1).max(255);
/** A claim's name in the token (e.g. `eduperson_entitlement`, `groups`). */
export const claimNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_:.-]{0,63}$/, 'a claim name is 1-64 letters, digits, _ : . -');

/** An identity-provider rule: a token of `identityProvider` whose `claim` has a value matching `pattern` gets `role` in the organisation. */
export const ruleRecordSchema = z.object({
  id: z.string(),
  organization: organizationIdSchema,
  identityProvider: z.string(),
  claim: claimNameSchema,
  pattern: claimPatternSchema,
  role: orgRoleSchema,
  createdBy: z.string(),
  createdAt: z.string(),
});
export type RuleRecord = z.infer<typeof ruleRecordSchema>;

export const createRuleInput = z.object({
  identityProvider: z.string().min(1).max(32),
  claim: claimNameSchema,
  pattern: claimPatternSchema,
  role: orgRoleSchema,
});
export const ruleIdSchema = z.string().regex(/^rul_[0-9a-z]{26}$/, 'a rule id is rul_ and 26 letters or digits');
export const ruleReply = z.object({ rule: ruleRecordSchema });
export const ruleListReply = z.object({ rules: z.array(ruleRecordSchema) });

/** Whether a claim's value (a string or a list of strings) matches a rule's glob. */
export function claimMatches(value: unknown, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => typeof v === 'string' && re.test(v));
}

export const memberListInput = z.object({
  organization: organizationIdSchema.nullish(),
  first: pageSizeSchema.nullish(),
  after: z.string().max(300).nullish(),
});
export const memberPageReply = z.object({ members: z.array(memberViewSchema), nextCursor: z.string().nullable() });
export const setMemberRoleInput = z.object({
  organization: organizationIdSchema.nullish(),
  subject: subjectSchema,
  role: orgRoleSchema,
  email: emailSchema.nullish(),
});
export const removeMemberInput = z.object({ organization: organizationIdSchema.nullish(), subject: subjectSchema });
export const memberReply = z.object({ member: memberViewSchema.nullable() });

/** Sign-in: an identity provider's token exchanged for an infrafed session in one organisation. */
export const sessionExchangeInput = z.object({
  /** The organisation to act in, when the principal belongs to several. */
  organization: organizationIdSchema.nullish(),
});
export const sessionExchangeReply = z.object({
  /** An infrafed session token (null: the principal belongs to no organisation yet). */
  token: z.string().nullable(),
  organization: z.string().nullable(),
  role: orgRoleSchema.nullable(),
  /** Seconds since the epoch. */
  expiresAt: z.number().int().nullable(),
  /** Organisations the principal may act in. */
  organizations: z.array(z.string()),
});
