import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient, onboard, type GraphQLResponse } from '../harness/graphql.ts';

/**
 * Every GraphQL operation run by every kind of caller: acme's reader, member, admin and owner, another
 * organisation's owner (globex-authz), a partner organisation's owner (initech, project shared at level
 * member), no token and an expired token. Each cell expects one outcome; a denied cell must carry no
 * data, and reads by outsiders must not reveal the project.
 */
type Caller = 'reader' | 'member' | 'admin' | 'owner' | 'other' | 'partner' | 'none' | 'expired';
type Outcome = 'ALLOW' | 'FORBIDDEN' | 'NOT_FOUND' | 'UNAUTHENTICATED' | 'HIDDEN';
const CALLERS: Caller[] = ['reader', 'member', 'admin', 'owner', 'other', 'partner', 'none', 'expired'];

interface Row {
  name: string;
  query: string;
  /** Outcome per caller, in CALLERS order (none/expired are always UNAUTHENTICATED). */
  expect: [Outcome, Outcome, Outcome, Outcome, Outcome, Outcome];
  /** Fresh variables per call (e.g. a throwaway project to delete). */
  vars?: (caller: Caller) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** For ALLOW on a read: the project must be in the answer; for HIDDEN: it must not. */
  shows?: (data: Record<string, unknown>, projectId: string, caller: Caller) => boolean;
  /** Errors that an allowed call may still answer (past authorisation), with their message. */
  allowedError?: { code: string; message: RegExp };
}

describe('authorization matrix: every operation × every kind of caller, no leak', () => {
  let system: SharedSystem;
  const tokens = {} as Record<Caller, string | null>;
  let projectId: string;
  let operationId: string;
  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => null,
  );
  const cells: { row: string; caller: Caller; expected: Outcome; got: string }[] = [];

  beforeAll(async () => {
    system = await sharedSystem();
    for (const role of ['reader', 'member', 'admin', 'owner'] as const)
      tokens[role] = await system.token('acme-authz', role, `acme-authz-${role}`);
    tokens.other = await system.token('globex-authz', 'owner', 'globex-authz-owner');
    tokens.partner = await system.token('initech-authz', 'owner', 'initech-authz-owner');
    tokens.none = null;
    await onboard(system, 'initech-authz');
    tokens.expired = await new SignJWT({ org: 'acme-authz', org_role: 'owner' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('acme-authz-owner')
      .setIssuer('infrafed-local')
      .setAudience('infrafed')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(system.config.auth.hs256Secret as string));
    const created = await gql<{ createProject: { id: string; projectId: string } }>(
      'mutation { createProject(input: {name: "matrix", placements: [{region: "sto", platform: "openstack"}, {region: "lla", platform: "okd"}]}) { id projectId } }',
      {},
      tokens.owner,
    );
    projectId = created.data?.createProject.projectId as string;
    operationId = created.data?.createProject.id as string;
    const share = await gql<{ shareProject: { status: string } }>(
      'mutation($p: ID!) { shareProject(projectId: $p, partner: "initech-authz", level: "member") { status } }',
      { p: projectId },
      tokens.owner,
    );
    expect(share.data?.shareProject.status).toBe('SUCCEEDED');
    // a webhook, an invitation and a sign-in rule of acme's, for the rows that read them
    await gql('mutation { createWebhook(input: {url: "http://127.0.0.1:9/matrix"}) { secret } }', {}, tokens.owner);
    await gql('mutation { createInvitation(input: {role: "reader", email: "matrix@acme-authz.example"}) { secret } }', {}, tokens.owner);
    await gql(
      'mutation { createIdentityRule(input: {identityProvider: "campus", claim: "groups", pattern: "acme-authz-*", role: reader}) { id } }',
      {},
      tokens.owner,
    );
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  let throwaway = 0;
  const newProject = async () => {
    const res = await gql<{ createProject: { projectId: string } }>(
      'mutation($n: String!) { createProject(input: {name: $n, placements: [{region: "sto", platform: "openstack"}]}) { projectId } }',
      { n: `throwaway-${++throwaway}` },
      tokens.owner,
    );
    const id = res.data?.createProject.projectId as string;
    await gql(
      'mutation($p: ID!) { shareProject(projectId: $p, partner: "initech-authz", level: "member") { status } }',
      { p: id },
      tokens.owner,
    );
    return id;
  };
  const newInvitation = async () => {
    const res = await gql<{ createInvitation: { invitation: { id: string } } }>(
      'mutation { createInvitation(input: {role: "reader", email: "throwaway@acme-authz.example"}) { invitation { id } } }',
      {},
      tokens.owner,
    );
    return res.data?.createInvitation.invitation.id as string;
  };
  const newRule = async () => {
    const res = await gql<{ createIdentityRule: { id: string } }>(
      'mutation { createIdentityRule(input: {identityProvider: "campus", claim: "groups", pattern: "throwaway", role: reader}) { id } }',
      {},
      tokens.owner,
    );
    return res.data?.createIdentityRule.id as string;
  };
  const mentionsAcme = (data: Record<string, unknown>) => JSON.stringify(data).includes('acme-authz');
  const inProjects = (data: Record<string, unknown>, id: string) =>
    ((data.projects as { id: string }[] | undefined) ?? []).some((p) => p.id === id);
  const isProject = (data: Record<string, unknown>, id: string) => (data.project as { id?: string } | null)?.id === id;

  const rows: Row[] = [
    { name: 'regions', query: '{ regions { name } }', expect: ['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW'] },
    { name: 'projects', query: '{ projects { id } }', expect: ['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'HIDDEN', 'ALLOW'], shows: inProjects },
    {
      name: 'project with members, networks, rules, quotas',
      query: 'query($p: ID!) { project(id: $p) { id members { user } networks { id } accessRules { id } quotas { region } } }',
      expect: ['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'HIDDEN', 'ALLOW'],
      shows: isProject,
    },
    {
      name: 'project shares',
      query: 'query($p: ID!) { project(id: $p) { id shares { organization } } }',
      expect: ['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'HIDDEN', 'ALLOW'],
      shows: isProject,
    },
    {
      name: 'operation',
      query: 'query($o: ID!) { operation(id: $o) { id } }',
      expect: ['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'HIDDEN', 'HIDDEN'],
      shows: (d) => (d.operation as { id?: string } | null)?.id === operationId,
    },
    {
      name: 'organization (each caller sees its own)',
      query: '{ organization { id } }',
      expect: ['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW'],
      shows: (d, _p, caller) =>
        (d.organization as { id?: string } | null)?.id ===
        (caller === 'other' ? 'globex-authz' : caller === 'partner' ? 'initech-authz' : 'acme-authz'),
    },
    {
      name: 'auditEvents',
      query: '{ auditEvents(first: 200) { events { projectId } } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'HIDDEN', 'HIDDEN'],
      shows: (d, id) => JSON.stringify(d).includes(id),
    },
    {
      name: 'createProject',
      query: 'mutation($n: String!) { createProject(input: {name: $n, placements: [{region: "sto", platform: "openstack"}]}) { status } }',
      vars: (c) => ({ n: `new-by-${c}` }),
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW'],
    },
    {
      name: 'addMember',
      query: 'mutation($p: ID!) { addMember(projectId: $p, user: "matrix-user", role: "reader") { status } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
    },
    {
      name: 'removeMember',
      query: 'mutation($p: ID!) { removeMember(projectId: $p, user: "nobody") { status } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
    },
    {
      name: 'createNetwork',
      query:
        'mutation($p: ID!, $n: String!) { createNetwork(input: {projectId: $p, region: "sto", name: $n, cidr: "10.5.0.0/24"}) { status } }',
      vars: (c) => ({ n: `net-${c}` }),
      expect: ['FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'ALLOW'],
    },
    {
      name: 'deleteNetwork (unknown network: past authorisation it is NOT_FOUND for the network)',
      query: 'mutation($p: ID!) { deleteNetwork(projectId: $p, id: "net_01zzzzzzzzzzzzzzzzzzzzzzzz") { status } }',
      expect: ['FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'ALLOW'],
      allowedError: { code: 'NOT_FOUND', message: /^network net_01z+ not found in project/ },
    },
    {
      name: 'applyAccessRule',
      query:
        'mutation($p: ID!) { applyAccessRule(projectId: $p, rule: {direction: "ingress", protocol: "tcp", ports: {from: 443}}) { status } }',
      expect: ['FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'ALLOW'],
    },
    {
      name: 'removeAccessRule',
      query: 'mutation($p: ID!) { removeAccessRule(projectId: $p, ruleId: "acr_00000000000000000000000000") { status } }',
      expect: ['FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'ALLOW'],
    },
    {
      name: 'setQuota',
      query: 'mutation($p: ID!) { setQuota(projectId: $p, region: "sto", limits: {cores: 10}) { status } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
    },
    {
      name: 'setEntitlements (platform operators only)',
      query: 'mutation { setEntitlements(input: {organization: "acme-authz", total: {cores: 1000}}) { id } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
    },
    {
      name: 'shareProject',
      query: 'mutation($p: ID!) { shareProject(projectId: $p, partner: "initech-authz", level: "member") { status } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
    },
    {
      name: 'deleteProject (a throwaway project each time)',
      query: 'mutation($p: ID!) { deleteProject(id: $p) { status } }',
      vars: async () => ({ p: await newProject() }),
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
    },
    {
      name: 'revokeShare (a throwaway project each time)',
      query: 'mutation($p: ID!) { revokeShare(projectId: $p, partner: "initech-authz") { status } }',
      vars: async () => ({ p: await newProject() }),
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
    },
    {
      name: 'organization members (each caller its own)',
      query: '{ organization { id members { members { subject role } } } }',
      expect: ['ALLOW', 'ALLOW', 'ALLOW', 'ALLOW', 'HIDDEN', 'HIDDEN'],
      shows: mentionsAcme,
    },
    {
      name: 'invitations',
      query: '{ invitations { invitations { id organization email } } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'HIDDEN', 'HIDDEN'],
      shows: mentionsAcme,
    },
    {
      name: 'identityRules',
      query: '{ identityRules { id organization pattern } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'HIDDEN', 'HIDDEN'],
      shows: mentionsAcme,
    },
    {
      name: 'createInvitation to the organisation (each caller its own)',
      query: 'mutation { createInvitation(input: {role: "reader", email: "new@example.org"}) { invitation { organization } } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW'],
    },
    {
      name: 'createInvitation to the project (partner at level member: no)',
      query:
        'mutation($p: ID!) { createInvitation(input: {role: "reader", projectId: $p, user: "neo", email: "neo@example.org"}) { invitation { id } } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
    },
    {
      name: 'cancelInvitation (a throwaway invitation of acme each time)',
      query: 'mutation($i: ID!) { cancelInvitation(id: $i) { status } }',
      vars: async () => ({ i: await newInvitation() }),
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'NOT_FOUND'],
    },
    {
      name: 'setMemberRole (each caller in its own organisation)',
      query: 'mutation { setMemberRole(subject: "matrix-person", role: reader) { role } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW'],
    },
    {
      name: 'setMemberRole of another organisation (platform operators only)',
      query: 'mutation { setMemberRole(subject: "matrix-person", role: reader, organization: "acme-authz") { role } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'NOT_FOUND'],
    },
    {
      name: 'createIdentityRule (owners)',
      query: 'mutation { createIdentityRule(input: {identityProvider: "campus", claim: "groups", pattern: "x-*", role: reader}) { id } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW'],
    },
    {
      name: 'deleteIdentityRule (a throwaway rule of acme each time)',
      query: 'mutation($r: ID!) { deleteIdentityRule(id: $r) { id } }',
      vars: async () => ({ r: await newRule() }),
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'NOT_FOUND', 'NOT_FOUND'],
    },
    {
      name: 'webhooks',
      query: '{ webhooks { id organization } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'HIDDEN', 'HIDDEN'],
      shows: mentionsAcme,
    },
    {
      name: 'createWebhook (each caller its own organisation)',
      query: 'mutation { createWebhook(input: {url: "http://127.0.0.1:9/matrix-new"}) { webhook { organization } } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW'],
    },
    {
      name: 'requestQuotaTier (an unknown tier: past authorisation it is BAD_USER_INPUT)',
      query: 'mutation($p: ID!) { requestQuotaTier(projectId: $p, tier: "matrix-none", regions: ["sto"]) { status } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'NOT_FOUND', 'FORBIDDEN'],
      allowedError: { code: 'BAD_USER_INPUT', message: /^invalid input: tier: / },
    },
    {
      name: 'quotaRequests',
      query: '{ quotaRequests { requests { id } } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'ALLOW', 'ALLOW', 'ALLOW', 'ALLOW'],
    },
    {
      name: 'approveQuotaRequest (platform operators only)',
      query: 'mutation { approveQuotaRequest(id: "qrq_00000000000000000000000000") { status } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
    },
    {
      name: 'setQuotaTiers (platform operators only)',
      query: 'mutation { setQuotaTiers(tiers: [{name: "matrix", limits: {cores: 1}}]) { version } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
    },
    {
      name: 'onboardOrganization (platform operators only)',
      query: 'mutation { onboardOrganization(input: {organization: "matrix-onb", owner: {email: "x@matrix.example"}}) { secret } }',
      expect: ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
    },
  ];

  function outcomeOf(res: GraphQLResponse & { status: number }, row: Row, caller: Caller): string {
    const error = res.errors?.[0];
    const code = error?.extensions?.code as string | undefined;
    if (res.status === 401 || code === 'UNAUTHENTICATED') return res.data == null ? 'UNAUTHENTICATED' : 'UNAUTHENTICATED-WITH-DATA';
    if (
      code === 'FORBIDDEN' ||
      (code === 'NOT_FOUND' && /^(project|invitation|rule|organization) \S+ not found$/.test(error?.message ?? ''))
    ) {
      return res.data == null ? code : `${code}-WITH-DATA`;
    }
    // anything else: allowed only when it answered cleanly (or with the error the row expects past authorisation)
    if (error && !(row.allowedError && code === row.allowedError.code && row.allowedError.message.test(error.message)))
      return `UNEXPECTED ${code}: ${error.message}`;
    if (row.shows) return row.shows(res.data ?? {}, projectId, caller) ? 'ALLOW' : 'HIDDEN';
    return 'ALLOW';
  }

  it('gives each cell the expected outcome (and no data with a refusal)', async () => {
    for (const row of rows) {
      for (const caller of CALLERS) {
        const expected: Outcome =
          caller === 'none' || caller === 'expired' ? 'UNAUTHENTICATED' : (row.expect[CALLERS.indexOf(caller)] as Outcome);
        const vars = { p: projectId, o: operationId, ...(row.vars ? await row.vars(caller) : {}) };
        const res = await gql(row.query, vars, tokens[caller]);
        cells.push({ row: row.name, caller, expected, got: outcomeOf(res, row, caller) });
      }
    }
    const wrong = cells.filter((c) => c.got !== c.expected);
    expect(wrong).toEqual([]);
    expect(cells).toHaveLength(rows.length * CALLERS.length);
  }, 240_000);

  it('left the other organisation knowing nothing of the project: not in its projects, not in its audit log', async () => {
    const projects = await gql<{ projects: { id: string }[] }>('{ projects { id } }', {}, tokens.other);
    expect(projects.data?.projects.map((p) => p.id)).not.toContain(projectId);
    const audit = await gql<{ auditEvents: { events: { principal: string; decision: string; projectId: string | null }[] } }>(
      '{ auditEvents(first: 500) { events { principal decision projectId } } }',
      {},
      tokens.other,
    );
    const events = audit.data?.auditEvents.events ?? [];
    // its own refused attempts (it named the project) are there, as denied; nothing of what acme did
    expect(events.filter((e) => e.projectId === projectId).length).toBeGreaterThan(0);
    expect(events.filter((e) => e.projectId === projectId && !(e.decision === 'denied' && e.principal === 'globex-authz-owner'))).toEqual(
      [],
    );
    expect(events.filter((e) => e.principal.startsWith('acme-authz-'))).toEqual([]);
  });
});
