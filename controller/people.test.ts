import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { ErrorCode } from '../schema/errors.ts';
import type { OperationRequest, OperationView, ProjectRecord } from '../schema/operations.ts';
import type { OrgRole } from '../schema/access.ts';
import type { Principal, ProviderToken } from '../runtime/auth.ts';
import type { Audit } from './audit.ts';
import type { Events } from './events.ts';
import { createPeople, memoryPeopleStore } from './people.ts';
import { refusal } from './inMemory.ts';

const log = pino({ level: 'silent' });
const P = `prj_${'2'.repeat(26)}`;
const who = (subject: string, orgRole: OrgRole, organization = 'acme', extra: Partial<Principal> = {}): Principal => ({
  subject,
  organization,
  orgRole,
  platformAdmin: false,
  ...extra,
});
const session = (subject: string, organization = 'acme'): Principal => who(subject, 'reader', organization, { identityProvider: 'campus' });

function people(projects: Record<string, ProjectRecord> = {}) {
  let clock = Date.parse('2026-11-29T12:00:00Z');
  const audited: { action: string; organization: string; principal: string; reason: string | null }[] = [];
  const published: { organization: string; type: string }[] = [];
  const submitted: { principal: Principal; request: OperationRequest; key: string }[] = [];
  const audit = { record: async (e: (typeof audited)[number]) => void audited.push(e) } as unknown as Audit;
  const events = {
    publish: async (organization: string, type: string) => void published.push({ organization, type }),
  } as unknown as Events;
  const signed: { subject: string; organization: string | null; role: OrgRole | null }[] = [];
  const p = createPeople({
    store: memoryPeopleStore(),
    projects: { getProject: async (id) => structuredClone(projects[id] ?? null) },
    audit,
    events,
    log,
    providers: ['campus'],
    async submit(principal, request, key) {
      submitted.push({ principal, request, key });
      return { id: 'op_1', status: 'RUNNING' } as OperationView;
    },
    async signSession(s) {
      signed.push(s);
      return `session-of-${s.subject}-${s.organization}`;
    },
    sessionTtlSeconds: 900,
    invitations: { ttlSeconds: 7 * 86_400, minTtlSeconds: 1 },
    now: () => clock,
  });
  return { p, audited, published, submitted, signed, advance: (ms: number) => (clock += ms), now: () => clock };
}

const token = (sub: string, claims: Record<string, unknown> = {}): ProviderToken => ({
  provider: 'campus',
  subject: `campus:${sub}`,
  claims: { sub, ...claims },
  expiresAt: Math.floor(Date.parse('2026-11-29T13:00:00Z') / 1000),
});

describe('people: roles are the highest grant', () => {
  it("raises a primary token's org_role to its grants, and a session to its grants alone", async () => {
    const { p } = people();
    const owner = who('olga', 'owner');
    await p.setMember(owner, { subject: 'rita', role: 'admin' });
    expect((await p.effective(who('rita', 'reader'))).orgRole).toBe('admin');
    // the token says more than the grants: the token's role stands (primary issuer)
    expect((await p.effective(who('rita', 'owner'))).orgRole).toBe('owner');
    await p.setMember(owner, { subject: 'campus:sam', role: 'member' });
    expect((await p.effective(session('campus:sam'))).orgRole).toBe('member');
    // a session whose principal lost its grants is refused at once
    await p.removeMember(owner, { subject: 'campus:sam' });
    expect((await refusal(p.effective(session('campus:sam')))).code).toBe(ErrorCode.FORBIDDEN);
    // another organisation's grants count for nothing here
    await p.setMember(who('zed', 'owner', 'other'), { subject: 'campus:sam', role: 'owner' });
    expect((await refusal(p.effective(session('campus:sam')))).code).toBe(ErrorCode.FORBIDDEN);
  });

  it('grants at most one own role, never changes a higher member, and keeps the last owner', async () => {
    const { p, audited } = people();
    const admin = who('ada', 'admin');
    const refused = await refusal(p.setMember(admin, { subject: 'x', role: 'owner' }));
    expect(refused.code).toBe(ErrorCode.FORBIDDEN);
    expect(audited.at(-1)).toMatchObject({ action: 'member.set', reason: expect.stringContaining('at most your own role') });
    expect((await refusal(p.setMember(who('mo', 'member'), { subject: 'x', role: 'reader' }))).code).toBe(ErrorCode.FORBIDDEN);
    const owner = who('olga', 'owner');
    await p.setMember(owner, { subject: 'olga', role: 'owner' });
    expect((await refusal(p.setMember(admin, { subject: 'olga', role: 'reader' }))).code).toBe(ErrorCode.FORBIDDEN);
    const last = await refusal(p.setMember(owner, { subject: 'olga', role: 'admin' }));
    expect(last.code).toBe(ErrorCode.CONFLICT);
    expect((await refusal(p.removeMember(owner, { subject: 'olga' }))).code).toBe(ErrorCode.CONFLICT);
    await p.setMember(owner, { subject: 'otto', role: 'owner' });
    await p.setMember(owner, { subject: 'olga', role: 'admin' });
    const { members } = await p.listMembers(owner, {});
    expect(members.map((m) => [m.subject, m.role])).toEqual([
      ['olga', 'admin'],
      ['otto', 'owner'],
    ]);
  });
});

describe('people: invitations', () => {
  it('accepting binds the invitation to the caller and grants its role; a second answer is a CONFLICT', async () => {
    const { p, published } = people();
    const admin = who('ada', 'admin');
    const { invitation, secret } = await p.createInvitation(admin, {
      scope: { type: 'organization', role: 'member' },
      email: 'new@uni.example',
    });
    expect(invitation).toMatchObject({ status: 'pending', email: 'new@uni.example', organization: 'acme' });
    expect(JSON.stringify(invitation)).not.toContain(secret);
    const newcomer = who('campus:neo', 'reader', '', { identityProvider: 'campus', unaffiliated: true });
    // a wrong secret tells nothing about the invitation
    expect((await refusal(p.acceptInvitation(newcomer, invitation.id, 'A'.repeat(43)))).code).toBe(ErrorCode.NOT_FOUND);
    const accepted = await p.acceptInvitation(newcomer, invitation.id, secret);
    expect(accepted.invitation).toMatchObject({ status: 'accepted', decidedBy: 'campus:neo' });
    expect((await p.effective(session('campus:neo'))).orgRole).toBe('member');
    const again = await refusal(p.declineInvitation(newcomer, invitation.id, secret));
    expect(again.code).toBe(ErrorCode.CONFLICT);
    expect(again.extensions).toMatchObject({ invitationStatus: 'accepted' });
    expect(published.map((e) => e.type)).toEqual(['invitation.created', 'member.granted', 'invitation.accepted']);
  });

  it('an invitation to another role than one own, an expired, declined or cancelled one grants nothing', async () => {
    const { p, advance, published } = people();
    const admin = who('ada', 'admin');
    expect((await refusal(p.createInvitation(admin, { scope: { type: 'organization', role: 'owner' }, email: 'a@b.example' }))).code).toBe(
      ErrorCode.FORBIDDEN,
    );
    const newcomer = who('campus:neo', 'reader', '', { identityProvider: 'campus', unaffiliated: true });
    const short = await p.createInvitation(admin, { scope: { type: 'organization', role: 'member' }, email: 'a@b.example', ttlSeconds: 5 });
    advance(5_000);
    expect((await p.listInvitations(admin, {})).invitations[0]?.status).toBe('expired');
    const expired = await refusal(p.acceptInvitation(newcomer, short.invitation.id, short.secret));
    expect([expired.code, expired.extensions.invitationStatus]).toEqual([ErrorCode.CONFLICT, 'expired']);
    const declined = await p.createInvitation(admin, { scope: { type: 'organization', role: 'member' }, email: 'a@b.example' });
    await p.declineInvitation(newcomer, declined.invitation.id, declined.secret);
    const cancelled = await p.createInvitation(admin, { scope: { type: 'organization', role: 'member' }, email: 'a@b.example' });
    await p.cancelInvitation(admin, cancelled.invitation.id);
    expect((await refusal(p.acceptInvitation(newcomer, cancelled.invitation.id, cancelled.secret))).extensions.invitationStatus).toBe(
      'cancelled',
    );
    expect((await refusal(p.effective(session('campus:neo')))).code).toBe(ErrorCode.FORBIDDEN);
    const statuses = (await p.listInvitations(admin, {})).invitations.map((i) => i.status);
    expect(statuses).toEqual(['expired', 'declined', 'cancelled']);
    // the expiry is told once
    expect(await p.publishExpired()).toBe(1);
    expect(await p.publishExpired()).toBe(0);
    expect(published.filter((e) => e.type === 'invitation.expired')).toEqual([{ organization: 'acme', type: 'invitation.expired' }]);
    expect((await p.listInvitations(admin, { status: 'declined' })).invitations).toHaveLength(1);
  });

  it('only the invitee named may accept; another organisation cannot cancel', async () => {
    const { p } = people();
    const admin = who('ada', 'admin');
    const inv = await p.createInvitation(admin, { scope: { type: 'organization', role: 'reader' }, invitee: 'campus:neo' });
    const other = who('campus:eve', 'reader', '', { identityProvider: 'campus', unaffiliated: true });
    expect((await refusal(p.acceptInvitation(other, inv.invitation.id, inv.secret))).code).toBe(ErrorCode.FORBIDDEN);
    expect((await refusal(p.cancelInvitation(who('mallory', 'owner', 'evil'), inv.invitation.id))).code).toBe(ErrorCode.NOT_FOUND);
    expect((await p.listInvitations(who('mallory', 'owner', 'evil'), {})).invitations).toEqual([]);
  });

  it("a partner's admin invites to a shared project within the share's level, carried out in its name", async () => {
    const shared = (level: string) =>
      ({
        projectId: P,
        organization: 'acme',
        shares: [{ organization: 'partner', level, since: '2026-11-01T00:00:00Z' }],
        state: 'ACTIVE',
      }) as unknown as ProjectRecord;
    const invite = { scope: { type: 'project' as const, projectId: P, user: 'neo', role: 'member' as const }, email: 'n@x.example' };
    const partnerAdmin = who('pat', 'admin', 'partner');
    // shared at level member: managing the project's members needs level admin
    const atMember = people({ [P]: shared('member') });
    expect((await refusal(atMember.p.createInvitation(partnerAdmin, invite))).code).toBe(ErrorCode.FORBIDDEN);
    const { p, submitted } = people({ [P]: shared('admin') });
    const inv = await p.createInvitation(partnerAdmin, invite);
    const accepted = await p.acceptInvitation(who('campus:neo', 'reader', '', { unaffiliated: true }), inv.invitation.id, inv.secret);
    expect(accepted.invitation.operationId).toBe('op_1');
    expect(submitted).toEqual([
      {
        principal: expect.objectContaining({ subject: 'pat', organization: 'partner', orgRole: 'admin' }),
        request: { kind: 'ADD_MEMBER', input: { projectId: P, user: 'neo', role: 'member' } },
        key: `invitation-${inv.invitation.id}`,
      },
    ]);
    // a reader of the partner cannot invite at all; nobody outside the share sees the project
    const reader = await refusal(p.createInvitation(who('rd', 'reader', 'partner'), invite));
    expect(reader.code).toBe(ErrorCode.FORBIDDEN);
    expect((await refusal(p.createInvitation(who('eve', 'owner', 'evil'), invite))).code).toBe(ErrorCode.NOT_FOUND);
  });
});

describe('people: identity-provider rules at sign-in', () => {
  it("grants while the claim matches and removes only that rule's grant when it goes", async () => {
    const { p, audited, signed } = people();
    const owner = who('olga', 'owner');
    const { rule } = await p.createRule(owner, {
      identityProvider: 'campus',
      claim: 'eduperson_entitlement',
      pattern: 'urn:mace:example.org:group:hpc-*',
      role: 'member',
    });
    const hpc = { eduperson_entitlement: ['urn:mace:example.org:group:staff', 'urn:mace:example.org:group:hpc-users'] };
    const first = await p.session(token('kim', hpc), null);
    expect(first).toMatchObject({ organization: 'acme', role: 'member', organizations: ['acme'] });
    expect(audited.find((e) => e.action === 'member.grant')?.reason).toContain(rule.id);
    // a hand-made grant beside the rule's
    await p.setMember(owner, { subject: 'campus:kim', role: 'reader' });
    const gone = await p.session(token('kim', { eduperson_entitlement: ['urn:mace:example.org:group:staff'] }), null);
    expect(gone).toMatchObject({ organization: 'acme', role: 'reader' });
    const [kim] = (await p.listMembers(owner, {})).members;
    expect(kim?.grants.map((g) => g.source)).toEqual(['manual']);
    expect(audited.filter((e) => e.action === 'member.revoke').map((e) => e.reason)).toEqual([
      expect.stringContaining('no longer matches'),
    ]);
    expect(signed.at(-1)).toMatchObject({ subject: 'campus:kim', organization: 'acme', role: 'reader' });
  });

  it('a rule names a configured provider; deleting it removes its grants; several organisations need a choice', async () => {
    const { p } = people();
    const owner = who('olga', 'owner');
    expect((await refusal(p.createRule(owner, { identityProvider: 'nope', claim: 'groups', pattern: 'x', role: 'reader' }))).code).toBe(
      ErrorCode.BAD_USER_INPUT,
    );
    expect(
      (await refusal(p.createRule(who('ada', 'admin'), { identityProvider: 'campus', claim: 'groups', pattern: 'x', role: 'reader' })))
        .code,
    ).toBe(ErrorCode.FORBIDDEN);
    const { rule } = await p.createRule(owner, { identityProvider: 'campus', claim: 'groups', pattern: 'hpc', role: 'admin' });
    await p.createRule(who('oz', 'owner', 'beta'), { identityProvider: 'campus', claim: 'groups', pattern: 'hpc', role: 'reader' });
    const both = await refusal(p.session(token('kim', { groups: ['hpc'] }), null));
    expect([both.code, both.extensions.organizations]).toEqual([ErrorCode.BAD_USER_INPUT, ['acme', 'beta']]);
    expect(await p.session(token('kim', { groups: ['hpc'] }), 'beta')).toMatchObject({ organization: 'beta', role: 'reader' });
    await p.deleteRule(owner, rule.id);
    expect((await p.listMembers(owner, {})).members).toEqual([]);
    // no organisation left but beta; none at all gives a session of no organisation
    expect(await p.session(token('kim', { groups: ['hpc'] }), null)).toMatchObject({ organization: 'beta' });
    expect(await p.session(token('nobody'), null)).toMatchObject({ organization: null, role: null, organizations: [] });
  });
});

describe('people: project invitations need the project members permission', () => {
  it("refuses a reader or member of the owner's organisation", async () => {
    const project = { projectId: P, organization: 'acme', shares: [], state: 'ACTIVE' } as unknown as ProjectRecord;
    const { p } = people({ [P]: project });
    const invite = { scope: { type: 'project' as const, projectId: P, user: 'neo', role: 'reader' as const }, email: 'n@x.example' };
    for (const role of ['reader', 'member'] as const)
      expect((await refusal(p.createInvitation(who('x', role), invite))).code).toBe(ErrorCode.FORBIDDEN);
    expect((await p.createInvitation(who('ada', 'admin'), invite)).invitation.scope).toMatchObject({ type: 'project', projectId: P });
  });
});
