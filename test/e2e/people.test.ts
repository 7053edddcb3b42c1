import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { cloudEventSchema } from '../../schema/events.ts';
import { EVENTS_STREAM } from '../../schema/subjects.ts';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient, onboard, type GraphQLResponse } from '../harness/graphql.ts';

/**
 * An organisation's people end to end: a platform operator onboards an organisation and invites its first
 * owner, who signs in with a token of a second issuer (the local stand-in for an institution's identity
 * provider, `campus`: its own keys, served as JWKS on loopback) and acts as owner; invitations accepted,
 * declined, expired and cancelled; identity-provider rules granting and revoking at sign-in, a grant made
 * by hand untouched; a project invitation carried out on the platforms.
 */
interface Invitation {
  id: string;
  status: string;
  organization: string;
  decidedBy: string | null;
  operationId: string | null;
}
const INVITATION = 'id status organization decidedBy operationId';

describe('people: onboarding, invitations, sign-in rules', () => {
  let system: SharedSystem;
  let nc: NatsConnection;
  let operator: string;
  let owner: string;
  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => owner,
  );
  /** GraphQL with extra request headers (e.g. Infrafed-Organization). */
  const gqlWith = async <T>(query: string, variables: Record<string, unknown>, token: string, headers: Record<string, string>) => {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as GraphQLResponse<T>) };
  };
  const invite = async (input: Record<string, unknown>, token = owner) => {
    const res = await gql<{ createInvitation: { invitation: Invitation; secret: string } }>(
      `mutation($i: InvitationInput!) { createInvitation(input: $i) { invitation { ${INVITATION} } secret } }`,
      { i: input },
      token,
    );
    expect(res.errors).toBeUndefined();
    return res.data?.createInvitation as { invitation: Invitation; secret: string };
  };
  const answer = (verb: 'accept' | 'decline', id: string, secret: string, token: string) =>
    gql<Record<string, Invitation>>(
      `mutation($id: ID!, $s: String!) { r: ${verb}Invitation(id: $id, secret: $s) { ${INVITATION} } }`,
      { id, s: secret },
      token,
    );
  const members = async (token = owner) =>
    (
      await gql<{
        organization: { members: { members: { subject: string; role: string; grants: { source: string; ref: string | null }[] }[] } };
      }>('{ organization { members { members { subject role grants { source ref } } } } }', {}, token)
    ).data?.organization.members.members ?? [];

  beforeAll(async () => {
    system = await sharedSystem();
    nc = await connect({ servers: system.natsUrl });
    operator = await system.token('infrafed', 'reader', 'people-operator', { platformAdmin: true });
    owner = await system.token('uni-people', 'owner', 'uni-people-owner');
    await onboard(system, 'uni-people');
  }, 180_000);

  afterAll(async () => {
    await nc?.close();
    await system?.stop();
  }, 60_000);

  it("onboarding: the operator invites a new organisation's first owner, who signs in with the identity provider's token and acts as owner", async () => {
    // one call: entitlements, the owner invited, a first project on OKD in lla
    const onboarded = await gql<{
      onboardOrganization: {
        onboarding: { state: string };
        invitationId: string;
        secret: string;
        operationStatus: string;
        projectId: string;
      };
    }>(
      `mutation { onboardOrganization(input: {organization: "newlab-people", entitlements: {total: {cores: 64}},
          owner: {email: "pi@newlab.example"}, project: {name: "first", placements: [{region: "lla", platform: "okd"}]}}) {
        onboarding { state } invitationId secret operationStatus projectId } }`,
      {},
      operator,
    );
    expect(onboarded.errors).toBeUndefined();
    const result = onboarded.data?.onboardOrganization;
    expect(result?.onboarding.state).toBe('succeeded');
    expect(result?.operationStatus).toBe('SUCCEEDED');
    const invitation = { id: result?.invitationId as string };
    const secret = result?.secret as string;
    // a second onboarding of a known organisation changes nothing
    const again0 = await gql(
      'mutation { onboardOrganization(input: {organization: "newlab-people", owner: {email: "x@y.example"}}) { secret } }',
      {},
      operator,
    );
    expect(again0.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    // only operators onboard
    const notOperator = await gql(
      'mutation { onboardOrganization(input: {organization: "newlab2-people", owner: {email: "x@y.example"}}) { secret } }',
    );
    expect(notOperator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const idpToken = await system.providerToken('pi-4711', { email: 'pi@newlab.example' });
    // signed in, but a member of nothing yet: only invitations may be answered
    const before = await gql('{ projects { id } }', {}, idpToken);
    expect(before.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(before.errors?.[0]?.message).toContain('accept an invitation first');
    // another principal of the same provider cannot use a wrong secret
    const wrong = await answer('accept', invitation.id, 'A'.repeat(43), await system.providerToken('someone-else'));
    expect(wrong.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const accepted = await answer('accept', invitation.id, secret, idpToken);
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data?.r).toMatchObject({ status: 'accepted', decidedBy: 'campus:pi-4711' });

    // the same token's next request signs in as newlab-people's owner
    const org = await gql<{ organization: { id: string; members: { members: { subject: string; role: string }[] } } }>(
      '{ organization { id members { members { subject role } } } }',
      {},
      idpToken,
    );
    expect(org.errors).toBeUndefined();
    expect(org.data?.organization).toEqual({ id: 'newlab-people', members: { members: [{ subject: 'campus:pi-4711', role: 'owner' }] } });
    const projects = await gql<{ projects: { id: string; name: string }[] }>('{ projects { id name } }', {}, idpToken);
    expect(projects.data?.projects.map((p) => [p.id, p.name])).toEqual([[result?.projectId, 'first']]);
    const created = await gql<{ createProject: { status: string; projectId: string } }>(
      'mutation { createProject(input: {name: "second", placements: [{region: "lla", platform: "okd"}]}) { status projectId } }',
      {},
      idpToken,
    );
    expect(created.data?.createProject.status).toBe('SUCCEEDED');
    const audit = await gql<{ auditEvents: { events: { action: string; principal: string }[] } }>(
      '{ auditEvents(first: 100) { events { action principal } } }',
      {},
      idpToken,
    );
    const actions = (audit.data?.auditEvents.events ?? []).map((e) => `${e.action} ${e.principal}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'organization.onboard people-operator',
        'invitation.create people-operator',
        'invitation.accept campus:pi-4711',
        'session.signin campus:pi-4711',
        'operation.submit campus:pi-4711',
      ]),
    );
    // the answered invitation cannot be used again
    const again = await answer('accept', invitation.id, secret, idpToken);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', invitationStatus: 'accepted' });
  }, 120_000);

  it('an onboarding that fails midway undoes every step: no entitlements, the invitation cancelled, and it may be run again', async () => {
    // defaults beyond the entitlements: the first project is refused when it is accepted (QUOTA_EXCEEDED)
    const input = `{organization: "badlab-people", entitlements: {total: {cores: 4}, projectDefaults: {cores: 8}},
        owner: {subject: "campus:pi-9"}, project: {name: "too-big", placements: [{region: "lla", platform: "okd"}]}}`;
    const failed = await gql(`mutation { onboardOrganization(input: ${input}) { secret } }`, {}, operator);
    expect(failed.errors?.[0]?.extensions?.code).toBe('QUOTA_EXCEEDED');
    const state = await gql<{
      onboarding: { state: string; invitationId: string; error: { code: string } };
      organization: { entitlementsVersion: number } | null;
    }>(
      '{ onboarding(organization: "badlab-people") { state invitationId error { code } } organization(id: "badlab-people") { entitlementsVersion } }',
      {},
      operator,
    );
    expect(state.data?.onboarding).toMatchObject({ state: 'failed', error: { code: 'QUOTA_EXCEEDED' } });
    expect(state.data?.organization?.entitlementsVersion ?? 0).toBe(0);
    // the invitation it had made was cancelled (the organisation's log says so), and grants nothing
    const log = await gql<{ auditEvents: { events: { action: string; result: string }[] } }>(
      '{ auditEvents(first: 100, filter: {organization: "badlab-people"}) { events { action result } } }',
      {},
      operator,
    );
    expect(log.data?.auditEvents.events.map((e) => `${e.action} ${e.result}`)).toEqual(
      expect.arrayContaining(['entitlement.set SUCCEEDED', 'invitation.create OK', 'invitation.cancel OK', 'organization.onboard FAILED']),
    );
    const pi = await system.providerToken('pi-9');
    expect((await gql('{ organization { id } }', {}, pi)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // run again with room for the defaults: it goes through
    const fixed = await gql<{ onboardOrganization: { onboarding: { state: string } } }>(
      `mutation { onboardOrganization(input: ${input.replace('cores: 4', 'cores: 16')}) { onboarding { state } } }`,
      {},
      operator,
    );
    expect(fixed.data?.onboardOrganization.onboarding.state).toBe('succeeded');
  }, 60_000);

  it('declined, cancelled and expired invitations grant nothing; the list shows each state', async () => {
    const stranger = await system.providerToken('stranger-1');
    const declined = await invite({ role: 'member', email: 'd@uni.example' });
    expect((await answer('decline', declined.invitation.id, declined.secret, stranger)).data?.r?.status).toBe('declined');
    const cancelled = await invite({ role: 'member', email: 'c@uni.example' });
    const cancel = await gql<{ cancelInvitation: Invitation }>(`mutation($id: ID!) { cancelInvitation(id: $id) { ${INVITATION} } }`, {
      id: cancelled.invitation.id,
    });
    expect(cancel.data?.cancelInvitation.status).toBe('cancelled');
    const refused = await answer('accept', cancelled.invitation.id, cancelled.secret, stranger);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', invitationStatus: 'cancelled' });
    // this system lets invitations be as short as a second (controller.invitations.minTtlSeconds: 1)
    const short = await invite({ role: 'member', email: 'e@uni.example', ttlSeconds: 1 });
    await sleep(1_500);
    const expired = await answer('accept', short.invitation.id, short.secret, stranger);
    expect(expired.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', invitationStatus: 'expired' });
    const list = await gql<{ invitations: { invitations: { id: string; status: string }[] } }>(
      '{ invitations { invitations { id status } } }',
    );
    const status = Object.fromEntries((list.data?.invitations.invitations ?? []).map((i) => [i.id, i.status]));
    expect([status[declined.invitation.id], status[cancelled.invitation.id], status[short.invitation.id]]).toEqual([
      'declined',
      'cancelled',
      'expired',
    ]);
    // the expiry is published (once) on the organisation's events: a subscriber or webhook hears of it
    const jsm = await jetstreamManager(nc);
    const expiredEvents = async () => {
      const found: string[] = [];
      for (let seq = 1; ;) {
        const msg = await jsm.direct
          .getMessage(EVENTS_STREAM, { seq, next_by_subj: 'infra.v1.events.uni-people.invitation.expired' })
          .catch(() => null);
        if (!msg) return found;
        found.push(String(cloudEventSchema.parse(msg.json()).subject));
        seq = msg.seq + 1;
      }
    };
    for (let i = 0; i < 40 && !(await expiredEvents()).includes(short.invitation.id); i++) await sleep(250);
    expect((await expiredEvents()).filter((id) => id === short.invitation.id)).toEqual([short.invitation.id]);
    const pendingOnly = await gql<{ invitations: { invitations: { status: string }[] } }>(
      '{ invitations(status: pending) { invitations { status } } }',
    );
    expect(new Set(pendingOnly.data?.invitations.invitations.map((i) => i.status))).toEqual(
      new Set(pendingOnly.data?.invitations.invitations.length ? ['pending'] : []),
    );
    // the stranger is still a member of nothing
    expect((await gql('{ organization { id } }', {}, stranger)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // too short for the configured minimum is the caller's mistake
    const zero = await gql('mutation { createInvitation(input: {role: "reader", email: "z@uni.example", ttlSeconds: 0}) { secret } }');
    expect(zero.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  }, 60_000);

  it("rules grant at sign-in while the claim matches, and take only that rule's grant away when it goes", async () => {
    const rule = await gql<{ createIdentityRule: { id: string } }>(
      'mutation { createIdentityRule(input: {identityProvider: "campus", claim: "eduperson_entitlement", pattern: "urn:mace:example.org:group:hpc-*", role: member}) { id } }',
    );
    expect(rule.errors).toBeUndefined();
    const ruleId = rule.data?.createIdentityRule.id as string;
    const hpc = { eduperson_entitlement: ['urn:mace:example.org:group:staff', 'urn:mace:example.org:group:hpc-users'] };
    const withClaim = await system.providerToken('kim-1', hpc);
    // a member may create networks but not projects
    const signedIn = await gql<{ organization: { id: string } }>('{ organization { id } }', {}, withClaim);
    expect(signedIn.data?.organization.id).toBe('uni-people');
    const denied = await gql(
      'mutation { createProject(input: {name: "nope", placements: [{region: "lla", platform: "okd"}]}) { status } }',
      {},
      withClaim,
    );
    expect(denied.errors?.[0]?.message).toContain('your organisation role member lacks the permission project.manage');
    expect((await members()).find((m) => m.subject === 'campus:kim-1')).toMatchObject({
      role: 'member',
      grants: [{ source: 'rule', ref: ruleId }],
    });

    // the owner also grants reader by hand; then the claim goes
    const hand = await gql('mutation { setMemberRole(subject: "campus:kim-1", role: reader) { role } }');
    expect(hand.errors).toBeUndefined();
    const withoutClaim = await system.providerToken('kim-1', { eduperson_entitlement: ['urn:mace:example.org:group:staff'] });
    const after = await gql<{ organization: { id: string } }>('{ organization { id } }', {}, withoutClaim);
    expect(after.data?.organization.id).toBe('uni-people');
    expect((await members()).find((m) => m.subject === 'campus:kim-1')).toMatchObject({
      role: 'reader',
      grants: [{ source: 'manual', ref: null }],
    });
    const audit = await gql<{
      auditEvents: { events: { action: string; principal: string; reason: string | null; target: { id: string } | null }[] };
    }>('{ auditEvents(first: 500, filter: {action: "member.revoke"}) { events { action principal reason target { id } } } }');
    expect(audit.data?.auditEvents.events).toEqual([
      {
        action: 'member.revoke',
        principal: `rule:${ruleId}`,
        reason: expect.stringContaining('no longer matches'),
        target: { id: 'campus:kim-1' },
      },
    ]);
    // deleting the rule takes nothing made by hand
    await gql('mutation($id: ID!) { deleteIdentityRule(id: $id) { id } }', { id: ruleId });
    expect((await members()).find((m) => m.subject === 'campus:kim-1')?.role).toBe('reader');
  }, 60_000);

  it('a principal of several organisations names one; another organisation is refused', async () => {
    const token = await system.providerToken('multi-1');
    for (const [org, tok] of [
      ['uni-people', owner],
      ['other-people', await system.token('other-people', 'owner', 'other-people-owner')],
    ] as const) {
      const res = await gql('mutation { setMemberRole(subject: "campus:multi-1", role: reader) { role } }', {}, tok);
      expect([org, res.errors]).toEqual([org, undefined]);
    }
    const ambiguous = await gql('{ organization { id } }', {}, token);
    expect(ambiguous.status).toBe(422);
    expect(ambiguous.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', organizations: ['other-people', 'uni-people'] });
    const chosen = await gqlWith<{ organization: { id: string } }>('{ organization { id } }', {}, token, {
      'infrafed-organization': 'other-people',
    });
    expect(chosen.data?.organization.id).toBe('other-people');
    const notMine = await gqlWith('{ organization { id } }', {}, token, { 'infrafed-organization': 'newlab-people' });
    expect([notMine.status, notMine.errors?.[0]?.extensions?.code]).toEqual([403, 'FORBIDDEN']);
    // a member of uni-people reads no other organisation's members
    const session = await gqlWith<{ organization: null }>(
      '{ organization(id: "newlab-people") { id members { members { subject } } } }',
      {},
      token,
      {
        'infrafed-organization': 'uni-people',
      },
    );
    expect(session.data?.organization ?? null).toBeNull();
  }, 60_000);

  it('a project invitation gives its user the role on every placement once accepted', async () => {
    const created = await gql<{ createProject: { projectId: string; status: string } }>(
      'mutation { createProject(input: {name: "invited", placements: [{region: "sto", platform: "openstack"}, {region: "lla", platform: "okd"}]}) { projectId status } }',
    );
    const projectId = created.data?.createProject.projectId as string;
    expect(created.data?.createProject.status).toBe('SUCCEEDED');
    const { invitation, secret } = await invite({ projectId, user: 'neo.guest', role: 'member', email: 'neo@guest.example' });
    const accepted = await answer('accept', invitation.id, secret, await system.providerToken('neo-77'));
    expect(accepted.errors).toBeUndefined();
    const operationId = accepted.data?.r?.operationId as string;
    expect(operationId).toMatch(/^op_/);
    let status = '';
    for (let i = 0; i < 60 && status !== 'SUCCEEDED' && status !== 'FAILED'; i++) {
      const op = await gql<{ operation: { status: string; kind: string } }>('query($id: ID!) { operation(id: $id) { status kind } }', {
        id: operationId,
      });
      status = op.data?.operation.status ?? '';
      if (status !== 'SUCCEEDED') await sleep(500);
    }
    expect(status).toBe('SUCCEEDED');
    const project = await gql<{ project: { members: { user: string | null; role: string; region: string }[] } }>(
      'query($p: ID!) { project(id: $p) { members { user role region } } }',
      { p: projectId },
    );
    const neo = (project.data?.project.members ?? []).filter((m) => m.user === 'neo.guest');
    expect(neo.map((m) => `${m.region}:${m.role}`).sort()).toEqual(['lla:member', 'sto:member']);
  }, 120_000);
});
