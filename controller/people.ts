import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { monotonicFactory } from 'ulid';

/** Ids that sort in the order they were made (within a replica; lists page by id). */
const ulid = monotonicFactory();
import type { z } from 'zod';
import { orgRoleSchema, Permission, weaker, type OrgRole } from '../schema/access.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { OperationRequest, OperationView } from '../schema/operations.ts';
import {
  claimMatches,
  higherRole,
  invitationRecordSchema,
  invitationStatus,
  memberRecordSchema,
  memberView,
  PRIMARY_PROVIDER,
  roleOfGrants,
  ruleRecordSchema,
  type createInvitationInput,
  type createRuleInput,
  type Grant,
  type InvitationRecord,
  type InvitationView,
  type invitationListInput,
  type MemberRecord,
  type MemberView,
  type memberListInput,
  type RuleRecord,
  type setMemberRoleInput,
} from '../schema/people.ts';
import { Bucket } from '../schema/subjects.ts';
import type { Principal, ProviderToken } from '../runtime/auth.ts';
import { badUserInput } from '../runtime/problems.ts';
import { encodeJson } from '../runtime/nats/wire.ts';
import type { Audit } from './audit.ts';
import { backoffMs, isCasConflict, openBucket } from './durable.ts';
import type { Events } from './events.ts';
import { activeProject, auditDecision, authorize, targetOrganization } from './permissions.ts';
import type { ControllerStore } from './store.ts';

/**
 * The keys the people bucket holds (an organisation's keys all start with its own segment, so no listing
 * of one reaches another's): `member.<org>.<sha256(subject)>`, `invitation.<org>.<id>`, `rule.<org>.<id>`.
 */
export interface PeopleStore {
  get(key: string): Promise<{ value: unknown; revision: number } | null>;
  /** Writes `value` if the key is at `revision` (0: absent); false when another writer got there first. */
  put(key: string, value: unknown, revision: number): Promise<boolean>;
  /** Removes the key if it is at `revision`; false when it moved. */
  remove(key: string, revision: number): Promise<boolean>;
  /** Keys matching a NATS subject filter (`*` one token, `>` the rest). */
  keys(filter: string): Promise<string[]>;
}

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex');
export const memberKey = (organization: string, subject: string) => `member.${organization}.${hashOf(subject)}`;
const invitationKey = (organization: string, id: string) => `invitation.${organization}.${id}`;
const ruleKey = (organization: string, id: string) => `rule.${organization}.${id}`;

/** The people bucket on JetStream KV (`controller.replicas` copies, reads at the leader). */
export function openPeopleStore(nc: NatsConnection, options: { replicas: number }): Promise<PeopleStore> {
  return openJsonStore(nc, Bucket.people, options);
}

/** A bucket of JSON records written with compare-and-set (people, quota requests). */
export async function openJsonStore(nc: NatsConnection, bucket: string, options: { replicas: number }): Promise<PeopleStore> {
  const kv: KV = await openBucket(nc, bucket, { replicas: options.replicas, history: 1 });
  return {
    async get(key) {
      const e = await kv.get(key);
      return e && e.operation === 'PUT' ? { value: e.json(), revision: e.revision } : null;
    },
    async put(key, value, revision) {
      try {
        if (revision === 0) await kv.create(key, encodeJson(value));
        else await kv.update(key, encodeJson(value), revision);
        return true;
      } catch (error) {
        if (isCasConflict(error)) return false;
        throw error;
      }
    },
    async remove(key, revision) {
      try {
        await kv.delete(key, { previousSeq: revision });
        return true;
      } catch (error) {
        if (isCasConflict(error)) return false;
        throw error;
      }
    },
    async keys(filter) {
      // once each: a key written while the listing runs can come back a second time (a webhook's delivery
      // retried meanwhile was once listed twice)
      const out = new Set<string>();
      for await (const k of await kv.keys(filter)) out.add(k);
      return [...out];
    },
  };
}

/** The same in memory (unit tests). */
export function memoryPeopleStore(): PeopleStore {
  const data = new Map<string, { value: unknown; revision: number }>();
  let revision = 0;
  const matches = (filter: string, key: string) => {
    const f = filter.split('.');
    const k = key.split('.');
    for (let i = 0; i < f.length; i++) {
      if (f[i] === '>') return k.length > i;
      if (f[i] !== '*' && f[i] !== k[i]) return false;
    }
    return f.length === k.length;
  };
  return {
    get: async (key) => structuredClone(data.get(key) ?? null),
    async put(key, value, expected) {
      if ((data.get(key)?.revision ?? 0) !== expected) return false;
      data.set(key, { value: structuredClone(value), revision: ++revision });
      return true;
    },
    async remove(key, expected) {
      if (data.get(key)?.revision !== expected) return false;
      data.delete(key);
      return true;
    },
    keys: async (filter) => [...data.keys()].filter((k) => matches(filter, k)),
  };
}

/** Read, change, write on the revision read; again when another writer got there first. */
export async function change<T>(
  store: PeopleStore,
  key: string,
  parse: (v: unknown) => T,
  fn: (current: T | null) => T | null | undefined,
): Promise<T | null> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const entry = await store.get(key);
    const current = entry ? parse(entry.value) : null;
    const next = fn(current);
    if (next === undefined) return current;
    const ok = next === null ? (entry ? await store.remove(key, entry.revision) : true) : await store.put(key, next, entry?.revision ?? 0);
    if (ok) return next;
    await sleep(backoffMs(attempt, 5, 500));
  }
  throw new InfrafedError(ErrorCode.SERVICE_UNAVAILABLE, `${key}: too many concurrent writers; retry`);
}

const roleRank = (role: OrgRole) => orgRoleSchema.options.indexOf(role);
const atMost = (role: OrgRole, ceiling: OrgRole) => roleRank(role) <= roleRank(ceiling);
const parseMember = (v: unknown) => memberRecordSchema.parse(v);
const parseInvitation = (v: unknown) => invitationRecordSchema.parse(v);
const parseRule = (v: unknown) => ruleRecordSchema.parse(v);

/** A page of items sorted by `sortKey`, after an opaque cursor. */
export function page<T>(items: T[], sortKey: (t: T) => string, first: number, after: string | null | undefined) {
  const from = after ? Buffer.from(after, 'base64url').toString('utf8') : null;
  const sorted = items.sort((a, b) => sortKey(a).localeCompare(sortKey(b))).filter((t) => from === null || sortKey(t) > from);
  const out = sorted.slice(0, first);
  const last = out.at(-1);
  return { items: out, nextCursor: sorted.length > first && last ? Buffer.from(sortKey(last), 'utf8').toString('base64url') : null };
}

export interface PeopleDeps {
  store: PeopleStore;
  projects: Pick<ControllerStore, 'getProject'>;
  audit: Audit;
  events?: Events;
  log: Logger;
  /** Configured identity providers' names (rules name one). */
  providers: readonly string[];
  /** Runs an operation in the name of a principal (a project invitation's ADD_MEMBER). */
  submit(principal: Principal, request: OperationRequest, idempotencyKey: string): Promise<OperationView>;
  /** Signs a session (absent: sign-in is not configured). */
  signSession?(session: {
    subject: string;
    provider: string;
    organization: string | null;
    role: OrgRole | null;
    expiresAt: number;
  }): Promise<string>;
  sessionTtlSeconds: number;
  invitations: { ttlSeconds: number; minTtlSeconds: number };
  now?: () => number;
}

/**
 * An organisation's people: membership records (a principal's role is the highest of its grants, and of
 * the primary token's `org_role`), invitations to the organisation or to a project, and the
 * identity-provider rules applied at sign-in, when an identity provider's token is exchanged for a session.
 */
export function createPeople(deps: PeopleDeps) {
  const { store, audit } = deps;
  const now = deps.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();

  async function memberOf(organization: string, subject: string): Promise<MemberRecord | null> {
    const entry = await store.get(memberKey(organization, subject));
    return entry ? parseMember(entry.value) : null;
  }

  const publish = (organization: string, type: string, subject: string | null, data: Record<string, unknown>) =>
    deps.events?.publish(organization, type, subject, data) ?? Promise.resolve();

  async function record(
    principal: Pick<Principal, 'subject'>,
    organization: string,
    action: string,
    target: { type: string; id: string; role: string | null } | null,
    reason: string | null,
  ) {
    await audit.record({
      principal: principal.subject,
      organization,
      action,
      kind: null,
      projectId: null,
      operationId: null,
      placements: [],
      decision: 'allowed',
      result: 'OK',
      reason,
      target,
    });
  }

  /**
   * The principal with its role as it is now: the highest of its grants (and, for the primary issuer's
   * tokens, of the token's `org_role`). A session whose principal has no grant left is refused.
   */
  async function effective(principal: Principal): Promise<Principal> {
    if (principal.unaffiliated)
      throw new InfrafedError(ErrorCode.FORBIDDEN, 'you belong to no organisation yet: accept an invitation first');
    const granted = roleOfGrants((await memberOf(principal.organization, principal.subject))?.grants ?? []);
    const primary = (principal.identityProvider ?? PRIMARY_PROVIDER) === PRIMARY_PROVIDER;
    const role = primary ? higherRole(principal.orgRole, granted) : granted;
    if (role === null) throw new InfrafedError(ErrorCode.FORBIDDEN, `you are no longer a member of ${principal.organization}`);
    return role === principal.orgRole ? principal : { ...principal, orgRole: role };
  }

  /** Refused unless the principal may manage people and `role` is at most its own (platform operators: any). */
  async function mayGrant(principal: Principal, organization: string, role: OrgRole, action: string) {
    if (principal.platformAdmin) return;
    try {
      authorize(principal, Permission.managePeople);
      if (!atMost(role, principal.orgRole))
        throw new InfrafedError(ErrorCode.FORBIDDEN, `you may grant at most your own role (${principal.orgRole}), not ${role}`, {
          role: principal.orgRole,
        });
    } catch (error) {
      const e = error as InfrafedError;
      await auditDecision(audit, principal, { organization, action, decision: 'denied', result: e.code, reason: e.message });
      throw error;
    }
  }

  /** Whether another member than `subject` holds the owner role (a record's grants). */
  async function anotherOwner(organization: string, subject: string): Promise<boolean> {
    const hash = memberKey(organization, subject);
    for (const key of await store.keys(`member.${organization}.*`)) {
      if (key === hash) continue;
      const entry = await store.get(key);
      if (entry && roleOfGrants(parseMember(entry.value).grants) === 'owner') return true;
    }
    return false;
  }

  async function grantTo(
    organization: string,
    subject: string,
    grant: Grant,
    options: { email?: string | null; replace: (g: Grant) => boolean },
  ): Promise<MemberRecord | null> {
    const provider = subject.includes(':') ? (subject.split(':')[0] as string) : PRIMARY_PROVIDER;
    return change(store, memberKey(organization, subject), parseMember, (current) => {
      const base: MemberRecord = current ?? { organization, subject, identityProvider: provider, email: null, grants: [] };
      const kept = base.grants.filter((g) => !options.replace(g));
      return { ...base, email: options.email ?? base.email, grants: [...kept, grant] };
    });
  }

  // ---- members ----

  async function listMembers(principal: Principal, req: z.infer<typeof memberListInput>) {
    const organization = await targetOrganization(audit, principal, req.organization ?? undefined, 'member.list');
    const records = await Promise.all((await store.keys(`member.${organization}.*`)).map((k) => store.get(k)));
    const views = records.flatMap((e) => {
      const v = e ? memberView(parseMember(e.value)) : null;
      return v ? [v] : [];
    });
    const { items, nextCursor } = page(views, (m) => m.subject, req.first ?? 50, req.after);
    return { members: items, nextCursor };
  }

  /** Sets a member's role by hand: its grants by hand, invitation or onboarding become this one; a rule's stay. */
  async function setMember(principal: Principal, req: z.infer<typeof setMemberRoleInput>): Promise<{ member: MemberView | null }> {
    const organization = await targetOrganization(audit, principal, req.organization ?? undefined, 'member.set');
    await mayGrant(principal, organization, req.role, 'member.set');
    const current = await memberOf(organization, req.subject);
    const currentRole = roleOfGrants(current?.grants ?? []);
    if (currentRole && !principal.platformAdmin && !atMost(currentRole, principal.orgRole))
      throw new InfrafedError(ErrorCode.FORBIDDEN, `${req.subject} has the role ${currentRole}, above yours (${principal.orgRole})`);
    if (currentRole === 'owner' && req.role !== 'owner' && !(await anotherOwner(organization, req.subject)))
      throw new InfrafedError(ErrorCode.CONFLICT, `${req.subject} is the organisation's last owner: make another member owner first`);
    const grant: Grant = { role: req.role, source: 'manual', ref: null, by: principal.subject, since: iso() };
    const saved = await grantTo(organization, req.subject, grant, { email: req.email ?? null, replace: (g) => g.source !== 'rule' });
    await record(principal, organization, 'member.grant', { type: 'subject', id: req.subject, role: req.role }, 'by hand');
    await publish(organization, 'member.granted', req.subject, {
      subject: req.subject,
      role: req.role,
      source: 'manual',
      by: principal.subject,
    });
    return { member: saved && memberView(saved) };
  }

  /** Removes the member's grants by hand, invitation or onboarding (a rule's grant stays until its claim goes). */
  async function removeMember(principal: Principal, req: { organization?: string | null; subject: string }) {
    const organization = await targetOrganization(audit, principal, req.organization ?? undefined, 'member.remove');
    const current = await memberOf(organization, req.subject);
    if (!current) throw new InfrafedError(ErrorCode.NOT_FOUND, `${req.subject} is not a member of ${organization}`);
    const currentRole = roleOfGrants(current.grants) ?? 'reader';
    await mayGrant(principal, organization, currentRole, 'member.remove');
    if (currentRole === 'owner' && !(await anotherOwner(organization, req.subject)))
      throw new InfrafedError(ErrorCode.CONFLICT, `${req.subject} is the organisation's last owner: make another member owner first`);
    const saved = await change(store, memberKey(organization, req.subject), parseMember, (cur) => {
      if (!cur) return undefined;
      const left = cur.grants.filter((g) => g.source === 'rule');
      return left.length ? { ...cur, grants: left } : null;
    });
    await record(principal, organization, 'member.revoke', { type: 'subject', id: req.subject, role: currentRole }, 'by hand');
    await publish(organization, 'member.revoked', req.subject, {
      subject: req.subject,
      role: currentRole,
      source: 'manual',
      by: principal.subject,
    });
    return { member: saved && memberView(saved) };
  }

  // ---- invitations ----

  function invitationView(inv: InvitationRecord): InvitationView {
    const { secretHash: _secret, inviterRole: _role, expiryPublished: _published, ...rest } = inv;
    return { ...rest, status: invitationStatus(inv, now()) };
  }

  async function createInvitation(principal: Principal, input: z.infer<typeof createInvitationInput>) {
    const organization = await targetOrganization(audit, principal, input.organization ?? undefined, 'invitation.create');
    const ttl = input.ttlSeconds ?? deps.invitations.ttlSeconds;
    if (ttl < deps.invitations.minTtlSeconds)
      throw badUserInput([{ path: 'input.ttlSeconds', message: `at least ${deps.invitations.minTtlSeconds} seconds`, value: ttl }]);
    let inviterRole: OrgRole = principal.orgRole;
    if (input.scope.type === 'organization') {
      await mayGrant(principal, organization, input.scope.role, 'invitation.create');
    } else {
      // a partner's admin invites within its share's level (activeProject checks the level)
      authorize(principal, Permission.manageMembers);
      const project = await activeProject(deps.projects, principal, input.scope.projectId, Permission.manageMembers);
      const share = project.shares.find((s) => s.organization === principal.organization);
      const ceiling = share && project.organization !== principal.organization ? weaker(principal.orgRole, share.level) : principal.orgRole;
      if (!atMost(input.scope.role, ceiling))
        throw new InfrafedError(
          ErrorCode.FORBIDDEN,
          `you may give at most the role ${ceiling} on ${project.projectId}, not ${input.scope.role}`,
        );
      inviterRole = ceiling;
    }
    const secret = randomBytes(32).toString('base64url');
    const inv: InvitationRecord = {
      id: `inv_${ulid().toLowerCase()}`,
      organization,
      scope: input.scope,
      email: input.email ?? null,
      invitee: input.invitee ?? null,
      status: 'pending',
      createdBy: principal.subject,
      inviterRole,
      createdAt: iso(),
      expiresAt: new Date(now() + ttl * 1000).toISOString(),
      secretHash: hashOf(secret),
      decidedBy: null,
      decidedAt: null,
      operationId: null,
      expiryPublished: false,
    };
    await store.put(invitationKey(organization, inv.id), inv, 0);
    const view = invitationView(inv);
    await record(principal, organization, 'invitation.create', { type: 'invitation', id: inv.id, role: inv.scope.role }, null);
    await publish(organization, 'invitation.created', inv.id, { invitation: view });
    return { invitation: view, secret };
  }

  async function listInvitations(principal: Principal, req: z.infer<typeof invitationListInput>) {
    authorize(principal, Permission.managePeople);
    const organization = principal.organization;
    const records = await Promise.all((await store.keys(`invitation.${organization}.*`)).map((k) => store.get(k)));
    const views = records
      .flatMap((e) => (e ? [invitationView(parseInvitation(e.value))] : []))
      .filter((v) => !req.status || v.status === req.status);
    const { items, nextCursor } = page(views, (v) => v.id, req.first ?? 50, req.after);
    return { invitations: items, nextCursor };
  }

  /** Moves a pending invitation to `status`; CONFLICT when it is no longer pending (or has expired). */
  async function decide(
    key: string,
    status: 'accepted' | 'declined' | 'cancelled',
    by: string,
    extra: Partial<InvitationRecord> = {},
  ): Promise<InvitationRecord> {
    let refusal: InfrafedError | null = null;
    const saved = await change(store, key, parseInvitation, (cur) => {
      refusal = null;
      if (!cur) {
        refusal = new InfrafedError(ErrorCode.NOT_FOUND, `invitation ${key.split('.').at(-1)} not found`);
        return undefined;
      }
      const state = invitationStatus(cur, now());
      if (state !== 'pending') {
        refusal = new InfrafedError(ErrorCode.CONFLICT, `the invitation is ${state}`, { invitationStatus: state });
        return undefined;
      }
      return { ...cur, ...extra, status, decidedBy: by, decidedAt: iso() };
    });
    if (refusal) throw refusal;
    return saved as InvitationRecord;
  }

  async function cancelInvitation(principal: Principal, id: string) {
    authorize(principal, Permission.managePeople);
    const saved = await decide(invitationKey(principal.organization, id), 'cancelled', principal.subject);
    const view = invitationView(saved);
    await record(principal, saved.organization, 'invitation.cancel', { type: 'invitation', id, role: saved.scope.role }, null);
    await publish(saved.organization, 'invitation.cancelled', id, { invitation: view });
    return { invitation: view };
  }

  /** The invitation an invitee names with its secret: NOT_FOUND for a wrong secret (nothing about it is told). */
  async function presented(caller: Principal, id: string, secret: string): Promise<{ key: string; inv: InvitationRecord }> {
    const [key] = await store.keys(`invitation.*.${id}`);
    const entry = key ? await store.get(key) : null;
    const inv = entry ? parseInvitation(entry.value) : null;
    const given = Buffer.from(hashOf(secret), 'hex');
    if (!key || !inv || !timingSafeEqual(given, Buffer.from(inv.secretHash, 'hex')))
      throw new InfrafedError(ErrorCode.NOT_FOUND, `invitation ${id} not found`);
    if (inv.invitee !== null && inv.invitee !== caller.subject)
      throw new InfrafedError(ErrorCode.FORBIDDEN, 'this invitation is for another principal');
    return { key, inv };
  }

  /**
   * Accepting binds the invitation to the caller's subject: an organisation invitation grants its role;
   * a project invitation adds its user to the project in every placement (an ADD_MEMBER operation in the
   * inviter's name, checked again now: a share revoked meanwhile grants nothing).
   */
  async function acceptInvitation(caller: Principal, id: string, secret: string) {
    const { key, inv } = await presented(caller, id, secret);
    let saved = await decide(key, 'accepted', caller.subject);
    if (saved.scope.type === 'organization') {
      const grant: Grant = { role: saved.scope.role, source: 'invitation', ref: id, by: saved.createdBy, since: iso() };
      await grantTo(saved.organization, caller.subject, grant, { email: saved.email, replace: (g) => g.ref === id });
      await publish(saved.organization, 'member.granted', caller.subject, {
        subject: caller.subject,
        role: saved.scope.role,
        source: 'invitation',
        by: saved.createdBy,
      });
    } else {
      const inviter: Principal = { subject: inv.createdBy, organization: inv.organization, orgRole: inv.inviterRole, platformAdmin: false };
      try {
        const op = await deps.submit(
          inviter,
          { kind: 'ADD_MEMBER', input: { projectId: saved.scope.projectId, user: saved.scope.user, role: saved.scope.role } },
          `invitation-${id}`,
        );
        saved = (await change(store, key, parseInvitation, (cur) => cur && { ...cur, operationId: op.id })) ?? saved;
      } catch (error) {
        // refused: nothing was granted, the invitation is pending again
        await change(store, key, parseInvitation, (cur) => cur && { ...cur, status: 'pending' as const, decidedBy: null, decidedAt: null });
        throw error;
      }
    }
    const view = invitationView(saved);
    await record(caller, saved.organization, 'invitation.accept', { type: 'invitation', id, role: saved.scope.role }, null);
    await publish(saved.organization, 'invitation.accepted', id, { invitation: view });
    return { invitation: view };
  }

  async function declineInvitation(caller: Principal, id: string, secret: string) {
    const { key } = await presented(caller, id, secret);
    const saved = await decide(key, 'declined', caller.subject);
    const view = invitationView(saved);
    await record(caller, saved.organization, 'invitation.decline', { type: 'invitation', id, role: saved.scope.role }, null);
    await publish(saved.organization, 'invitation.declined', id, { invitation: view });
    return { invitation: view };
  }

  /** Publishes `invitation.expired` once for each invitation that expired pending (a pass of the controller's timer). */
  async function publishExpired(): Promise<number> {
    let published = 0;
    for (const key of await store.keys('invitation.*.*')) {
      const entry = await store.get(key);
      if (!entry) continue;
      const inv = parseInvitation(entry.value);
      if (inv.expiryPublished || invitationStatus(inv, now()) !== 'expired') continue;
      // whoever marks it publishes it: two replicas never both do
      if (!(await store.put(key, { ...inv, expiryPublished: true }, entry.revision))) continue;
      await publish(inv.organization, 'invitation.expired', inv.id, { invitation: invitationView(inv) });
      published++;
    }
    return published;
  }

  // ---- identity-provider rules ----

  async function createRule(principal: Principal, input: z.infer<typeof createRuleInput>) {
    const organization = principal.organization;
    if (!principal.platformAdmin) authorize(principal, Permission.manageRules);
    if (!deps.providers.includes(input.identityProvider))
      throw badUserInput([
        {
          path: 'input.identityProvider',
          message: deps.providers.length ? `one of ${deps.providers.join(', ')}` : 'no identity provider is configured',
          value: input.identityProvider,
        },
      ]);
    await mayGrant(principal, organization, input.role, 'rule.create');
    const rule: RuleRecord = { id: `rul_${ulid().toLowerCase()}`, organization, ...input, createdBy: principal.subject, createdAt: iso() };
    await store.put(ruleKey(organization, rule.id), rule, 0);
    await record(
      principal,
      organization,
      'rule.create',
      { type: 'rule', id: rule.id, role: rule.role },
      `${rule.claim} matches ${rule.pattern}`,
    );
    await publish(organization, 'rule.created', rule.id, { rule });
    return { rule };
  }

  async function listRules(principal: Principal) {
    authorize(principal, Permission.managePeople);
    const records = await Promise.all((await store.keys(`rule.${principal.organization}.*`)).map((k) => store.get(k)));
    return { rules: records.flatMap((e) => (e ? [parseRule(e.value)] : [])).sort((a, b) => a.id.localeCompare(b.id)) };
  }

  /** Deletes a rule and, at once, every grant it made. */
  async function deleteRule(principal: Principal, id: string) {
    if (!principal.platformAdmin) authorize(principal, Permission.manageRules);
    const organization = principal.organization;
    const entry = await store.get(ruleKey(organization, id));
    if (!entry) throw new InfrafedError(ErrorCode.NOT_FOUND, `rule ${id} not found`);
    const rule = parseRule(entry.value);
    await store.remove(ruleKey(organization, id), entry.revision);
    for (const key of await store.keys(`member.${organization}.*`)) {
      await change(store, key, parseMember, (cur) => {
        if (!cur?.grants.some((g) => g.ref === id)) return undefined;
        const grants = cur.grants.filter((g) => g.ref !== id);
        return grants.length ? { ...cur, grants } : null;
      });
    }
    await record(principal, organization, 'rule.delete', { type: 'rule', id, role: rule.role }, null);
    await publish(organization, 'rule.deleted', id, { rule });
    return { rule };
  }

  /**
   * Applies every rule for the token's provider: a matching claim gets (or keeps) the rule's grant; a
   * grant of a rule whose claim no longer matches is removed. Grants by hand or by other rules are untouched.
   */
  async function applyRules(token: ProviderToken): Promise<void> {
    const keys = await store.keys('rule.*.*');
    const rules = (await Promise.all(keys.map((k) => store.get(k))))
      .flatMap((e) => (e ? [parseRule(e.value)] : []))
      .filter((r) => r.identityProvider === token.provider);
    for (const rule of rules) {
      const matches = claimMatches(token.claims[rule.claim], rule.pattern);
      const before = await memberOf(rule.organization, token.subject);
      const had = before?.grants.find((g) => g.ref === rule.id);
      if (matches && had?.role !== rule.role) {
        const grant: Grant = { role: rule.role, source: 'rule', ref: rule.id, by: rule.createdBy, since: iso() };
        const email = typeof token.claims.email === 'string' ? token.claims.email : null;
        await grantTo(rule.organization, token.subject, grant, { email, replace: (g) => g.ref === rule.id });
        await record(
          { subject: `rule:${rule.id}` },
          rule.organization,
          'member.grant',
          {
            type: 'subject',
            id: token.subject,
            role: rule.role,
          },
          `rule ${rule.id}: ${rule.claim} matches ${rule.pattern}`,
        );
        await publish(rule.organization, 'member.granted', token.subject, {
          subject: token.subject,
          role: rule.role,
          source: 'rule',
          rule: rule.id,
        });
      } else if (!matches && had) {
        await change(store, memberKey(rule.organization, token.subject), parseMember, (cur) => {
          if (!cur) return undefined;
          const grants = cur.grants.filter((g) => g.ref !== rule.id);
          return grants.length ? { ...cur, grants } : null;
        });
        await record(
          { subject: `rule:${rule.id}` },
          rule.organization,
          'member.revoke',
          {
            type: 'subject',
            id: token.subject,
            role: had.role,
          },
          `rule ${rule.id}: ${rule.claim} no longer matches ${rule.pattern}`,
        );
        await publish(rule.organization, 'member.revoked', token.subject, {
          subject: token.subject,
          role: had.role,
          source: 'rule',
          rule: rule.id,
        });
      }
    }
  }

  /**
   * Sign-in: an identity provider's verified token becomes an infrafed session in one organisation (the
   * one asked for, or the only one), with the highest role of the principal's grants there. Rules apply first.
   */
  async function session(token: ProviderToken, requested: string | null) {
    if (!deps.signSession) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'sign-in is not configured (auth.sessions)');
    await applyRules(token);
    const hash = hashOf(token.subject);
    const memberships = (await Promise.all((await store.keys(`member.*.${hash}`)).map((k) => store.get(k))))
      .flatMap((e) => (e ? [parseMember(e.value)] : []))
      .flatMap((m) => {
        const role = roleOfGrants(m.grants);
        return role && m.subject === token.subject ? [{ organization: m.organization, role }] : [];
      })
      .sort((a, b) => a.organization.localeCompare(b.organization));
    const organizations = memberships.map((m) => m.organization);
    let chosen = memberships.length === 1 ? memberships[0] : undefined;
    if (requested) {
      chosen = memberships.find((m) => m.organization === requested);
      if (!chosen) throw new InfrafedError(ErrorCode.FORBIDDEN, `you are not a member of ${requested}`);
    } else if (memberships.length > 1) {
      throw new InfrafedError(
        ErrorCode.BAD_USER_INPUT,
        `you are a member of ${organizations.join(', ')}: name one in the Infrafed-Organization header`,
        { organizations },
      );
    }
    const expiresAt = Math.min(token.expiresAt, Math.floor(now() / 1000) + deps.sessionTtlSeconds);
    const signed = await deps.signSession({
      subject: token.subject,
      provider: token.provider,
      organization: chosen?.organization ?? null,
      role: chosen?.role ?? null,
      expiresAt,
    });
    if (chosen)
      await record({ subject: token.subject }, chosen.organization, 'session.signin', null, `${token.provider}, role ${chosen.role}`);
    return { token: signed, organization: chosen?.organization ?? null, role: chosen?.role ?? null, expiresAt, organizations };
  }

  return {
    effective,
    listMembers,
    setMember,
    removeMember,
    createInvitation,
    listInvitations,
    cancelInvitation,
    acceptInvitation,
    declineInvitation,
    createRule,
    listRules,
    deleteRule,
    session,
    publishExpired,
  };
}
export type People = ReturnType<typeof createPeople>;
