import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient, onboard } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';
import { takeVendorTurns } from '../harness/vendorLock.ts';

interface Org {
  id: string;
  entitlements: { total: Record<string, number | null>; regions: { region: string; amounts: Record<string, number | null> }[] };
  usage: { total: Record<string, number | null>; regions: { region: string; amounts: Record<string, number | null> }[] };
  remaining: { total: Record<string, number | null>; regions: { region: string; amounts: Record<string, number | null> }[] };
}
const ORG =
  'id entitlements { total { cores ramMiB } regions { region amounts { cores } } } usage { total { cores } regions { region amounts { cores } } } remaining { total { cores } regions { region amounts { cores } } }';

// builds Neutron routers: takes turns with the other jest's such suites (npm test runs two side by side)
takeVendorTurns('e2e entitlements');

describe('entitlements end to end: operators set them, every setQuota is held against them first', () => {
  let system: SharedSystem;
  let owner: string;
  let operator: string;
  let projectId: string;
  let stoProject: string;

  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => owner,
  );
  const org = async (token = owner, id?: string) =>
    (await gql<{ organization: Org | null }>(`query($id: String) { organization(id: $id) { ${ORG} } }`, { id }, token)).data?.organization;
  const setQuota = (region: string, cores: number) =>
    gql<{ setQuota: { status: string } }>(
      'mutation($p: ID!, $r: String!, $c: Int!) { setQuota(projectId: $p, region: $r, limits: {cores: $c}) { status } }',
      { p: projectId, r: region, c: cores },
    );

  beforeAll(async () => {
    system = await sharedSystem();
    owner = await system.token('acme-ent', 'owner', 'alice');
    operator = await system.token('infrafed', 'reader', 'ops', { platformAdmin: true });
    const res = await gql<{ createProject: { projectId: string; steps: { nativeId: string }[] } }>(
      'mutation { createProject(input: {name: "entitled", placements: [{region: "sto", platform: "openstack"}, {region: "osl", platform: "openstack"}]}) { projectId steps { nativeId } } }',
    );
    projectId = res.data?.createProject.projectId as string;
    stoProject = res.data?.createProject.steps[0]?.nativeId as string;
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  const ENTITLE =
    'mutation($input: EntitlementsInput!) { setEntitlements(input: $input) { id entitlements { total { cores } regions { region amounts { cores } } } } }';

  it('only platform operators set entitlements; an organisation owner gets FORBIDDEN', async () => {
    const input = { organization: 'acme-ent', total: { cores: 8, ramMiB: 16384 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] };
    const denied = await gql(ENTITLE, { input }, owner);
    expect(denied.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'entitlement.manage' });
    const bad = await gql(
      ENTITLE,
      { input: { organization: 'acme-ent', total: { cores: -1 }, regions: [{ region: 'mars', amounts: {} }] } },
      operator,
    );
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const set = await gql<{ setEntitlements: Org }>(ENTITLE, { input }, operator);
    expect(set.errors).toBeUndefined();
    expect(set.data?.setEntitlements.entitlements).toEqual({ total: { cores: 8 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] });
  });

  it('shows the organisation its entitlements, usage and what remains; another organisation sees nothing of it', async () => {
    const mine = await org();
    expect(mine).toEqual({
      id: 'acme-ent',
      entitlements: { total: { cores: 8, ramMiB: 16384 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] },
      usage: { total: { cores: null }, regions: [] },
      remaining: { total: { cores: 8 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] },
    });
    const globex = await system.token('globex-ent', 'owner', 'mallory');
    expect(await org(globex, 'acme-ent')).toBeNull();
    expect((await org(operator, 'acme-ent'))?.id).toBe('acme-ent');
  });

  it('holds setQuota against the entitlements: within them it succeeds; beyond them QUOTA_EXCEEDED and no platform is touched', async () => {
    expect((await setQuota('sto', 4)).data?.setQuota.status).toBe('SUCCEEDED');
    expect((await org())?.usage).toEqual({ total: { cores: 4 }, regions: [{ region: 'sto', amounts: { cores: 4 } }] });
    expect((await org())?.remaining).toEqual({ total: { cores: 4 }, regions: [{ region: 'sto', amounts: { cores: 2 } }] });

    const region = await setQuota('sto', 7);
    expect(region.data ?? null).toBeNull();
    expect(region.errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      resource: 'cores',
      scope: 'region',
      region: 'sto',
      limit: 6,
      used: 4,
      requested: 3,
    });
    const total = await setQuota('osl', 5);
    expect(total.errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      resource: 'cores',
      scope: 'organization',
      limit: 8,
      used: 4,
      requested: 5,
    });
    // nothing reached Nova: the limit is still the one that was allowed
    expect(await keystoneAdmin(system.keystoneUrl('sto')).novaQuota(system.novaUrl('sto'), stoProject)).toMatchObject({ cores: 4 });
    expect((await org())?.usage.total).toEqual({ cores: 4 });
    // lowering a limit frees entitlement
    expect((await setQuota('sto', 1)).data?.setQuota.status).toBe('SUCCEEDED');
    expect((await setQuota('osl', 5)).data?.setQuota.status).toBe('SUCCEEDED');
    expect((await org())?.usage.total).toEqual({ cores: 6 });
  });

  it('keeps every decision and outcome in the audit log, paged, for admins only, with no credential in it', async () => {
    type Page = {
      auditEvents: {
        events: { action: string; kind: string | null; decision: string; result: string; principal: string; placements: string[] }[];
        nextCursor: string | null;
      };
    };
    const AUDIT =
      'query($f: AuditFilter, $first: Int, $after: String) { auditEvents(filter: $f, first: $first, after: $after) { events { action kind decision result principal placements reason } nextCursor } }';
    const all = await gql<Page>(AUDIT, { f: { projectId }, first: 100 });
    expect(all.errors).toBeUndefined();
    const summary = all.data?.auditEvents.events.map((e) => `${e.action} ${e.kind} ${e.decision} ${e.result}`);
    expect(summary).toEqual([
      'operation.submit CREATE_PROJECT allowed accepted',
      'operation.finished CREATE_PROJECT allowed SUCCEEDED',
      'project.create CREATE_PROJECT allowed SUCCEEDED',
      'operation.submit SET_QUOTA allowed accepted',
      'operation.finished SET_QUOTA allowed SUCCEEDED',
      'quota.set SET_QUOTA allowed SUCCEEDED',
      'operation.submit SET_QUOTA denied QUOTA_EXCEEDED',
      'operation.submit SET_QUOTA denied QUOTA_EXCEEDED',
      'operation.submit SET_QUOTA allowed accepted',
      'operation.finished SET_QUOTA allowed SUCCEEDED',
      'quota.set SET_QUOTA allowed SUCCEEDED',
      'operation.submit SET_QUOTA allowed accepted',
      'operation.finished SET_QUOTA allowed SUCCEEDED',
      'quota.set SET_QUOTA allowed SUCCEEDED',
    ]);
    expect(all.data?.auditEvents.events[0]).toMatchObject({ principal: 'alice', placements: ['sto/openstack', 'osl/openstack'] });
    // reads are decisions too: a reader's read of the project is in the log, per subgraph that answered it
    const reader = await system.token('acme-ent', 'reader', 'rita');
    expect(
      (await gql('query($id: ID!) { project(id: $id) { name quotas { region } } }', { id: projectId }, reader)).errors,
    ).toBeUndefined();
    let reads: Page['auditEvents']['events'] = [];
    for (let i = 0; i < 40 && reads.length < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      const page = await gql<Page>(AUDIT, { f: { decision: 'allowed' }, first: 500 });
      reads = page.data?.auditEvents.events.filter((e) => e.principal === 'rita') ?? [];
    }
    expect(reads.map((e) => `${e.action} ${e.kind} ${e.decision} ${e.result}`).sort()).toEqual([
      'read.identity project allowed ok',
      'read.quota _entities allowed ok',
    ]);
    // the read of one project names it (the entity fetch of its quotas does not: it carries representations)
    const named = await gql<{ auditEvents: { events: { kind: string; projectId: string | null }[] } }>(
      'query($f: AuditFilter) { auditEvents(filter: $f, first: 500) { events { kind projectId } } }',
      {
        f: { action: 'read.identity', projectId },
      },
    );
    expect(named.data?.auditEvents.events.map((e) => [e.kind, e.projectId])).toContainEqual(['project', projectId]);
    // the owner's refused attempt and the operator's change of acme's entitlements are in acme-ent's log
    const entitlements = await gql<Page>(AUDIT, { f: { action: 'entitlement.set' } });
    expect(entitlements.data?.auditEvents.events.map((e) => [e.principal, e.decision, e.result])).toEqual([
      ['alice', 'denied', 'FORBIDDEN'],
      ['ops', 'allowed', 'SUCCEEDED'],
    ]);
    // paging: two pages of 3 continue each other
    const first = await gql<Page>(AUDIT, { f: { projectId }, first: 3 });
    const second = await gql<Page>(AUDIT, { f: { projectId }, first: 3, after: first.data?.auditEvents.nextCursor });
    expect([...(first.data?.auditEvents.events ?? []), ...(second.data?.auditEvents.events ?? [])]).toEqual(
      all.data?.auditEvents.events.slice(0, 6),
    );
    // cursors are opaque and checked: one this system did not make is BAD_USER_INPUT, never INTERNAL
    for (const after of ['99999999999999999999', '12', 'YXVkaXQ6MA', 'x'.repeat(41)]) {
      const bad = await gql<Page>(AUDIT, { f: { projectId }, first: 3, after });
      expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [expect.objectContaining({ path: 'after' })] });
    }
    // an organisation id that is not one is the caller's input, not a contract the controller breaks
    const empty = await gql(`query { organization(id: "") { id } }`, {}, operator);
    expect(empty.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [expect.objectContaining({ path: 'id' })] });
    // readers and members may not read it; other organisations do not see it
    const member = await system.token('acme-ent', 'member', 'mike');
    expect((await gql(AUDIT, {}, member)).errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'audit.read' });
    const globex = await system.token('globex-ent', 'owner', 'mallory');
    expect((await gql(AUDIT, { f: { organization: 'acme-ent' } }, globex)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(
      (await gql<Page>(AUDIT, { f: { organization: 'acme-ent', action: 'entitlement.set' } }, operator)).data?.auditEvents.events,
    ).toHaveLength(2);

    // the stream itself: every event of every organisation, and no token or password anywhere
    const nc = await connect({ servers: system.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info('INFRAFED_AUDIT');
      const raw: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++)
        raw.push((await jsm.streams.getMessage('INFRAFED_AUDIT', { seq }))?.string() ?? '');
      expect(raw.length).toBeGreaterThan(10);
      for (const secret of [owner, operator, owner.split('.')[2] as string, 'admin-secret', 'Bearer'])
        expect(raw.filter((r) => r.includes(secret))).toEqual([]);
    } finally {
      await nc.close();
    }
  });

  it('federation: an owner shares the project with a partner, who works within its level and loses everything on revoke', async () => {
    const osl = keystoneAdmin(system.keystoneUrl('osl'));
    const sto = keystoneAdmin(system.keystoneUrl('sto'));
    const [oslNative] = await osl.projectsTagged(`ifd-project=${projectId}`);
    const globex = await system.token('globex-ent', 'owner', 'mallory');
    const globexMember = await system.token('globex-ent', 'member', 'gina');
    const op = (query: string, token: string, vars: Record<string, unknown> = {}) =>
      gql<Record<string, { status: string; kind: string }>>(query, { p: projectId, ...vars }, token);

    // a project is shared only with an organisation the system knows (onboarded, or owning a project)
    const unknown = await op('mutation($p: ID!) { shareProject(projectId: $p, partner: "nosuch-ent", level: "reader") { status } }', owner);
    expect(unknown.errors?.[0]).toMatchObject({ message: 'organisation nosuch-ent not found', extensions: { code: 'NOT_FOUND' } });
    await onboard(system, 'globex-ent');

    // only the owner organisation's owner shares
    expect(
      (await op('mutation($p: ID!) { shareProject(projectId: $p, partner: "globex-ent", level: "admin") { status } }', globex)).errors?.[0]
        ?.extensions?.code,
    ).toBe('NOT_FOUND');
    const shared = await op(
      'mutation($p: ID!) { shareProject(projectId: $p, partner: "globex-ent", level: "admin") { status kind } }',
      owner,
    );
    expect(shared.data?.shareProject).toEqual({ status: 'SUCCEEDED', kind: 'SHARE_PROJECT' });
    const shares = await gql<{ project: { shares: { organization: string; level: string }[] } }>(
      'query($id: ID!) { project(id: $id) { shares { organization level } } }',
      { id: projectId },
    );
    expect(shares.data?.project.shares).toEqual([{ organization: 'globex-ent', level: 'admin' }]);

    // the partner sees it and adds its own user
    const seen = await gql<{ projects: { id: string; organization: string }[] }>('{ projects { id organization } }', {}, globex);
    expect(seen.data?.projects).toEqual([{ id: projectId, organization: 'acme-ent' }]);
    const added = await gql<{ addMember: { id: string; status: string; steps: { changed: boolean | null }[] } }>(
      'mutation($p: ID!) { addMember(projectId: $p, user: "gary", role: "member") { id status steps { changed } } }',
      { p: projectId },
      globex,
    );
    expect(added.data?.addMember?.status).toBe('SUCCEEDED');
    // every step says whether it changed something (never null)
    expect(added.data?.addMember.steps.map((s) => s.changed)).toEqual([true, true]);
    // the owner's log holds the partner's change: who, from which organisation, added whom with which role
    type Trail = {
      auditEvents: {
        events: { action: string; principal: string; principalOrganization: string | null; result: string; target: unknown }[];
      };
    };
    const TRAIL =
      'query($f: AuditFilter) { auditEvents(filter: $f, first: 500) { events { action principal principalOrganization result target { type id role } } } }';
    const ownerLog = await gql<Trail>(TRAIL, { f: { projectId, action: 'member.add' } }, owner);
    expect(ownerLog.data?.auditEvents.events).toEqual([
      {
        action: 'member.add',
        principal: 'mallory',
        principalOrganization: 'globex-ent',
        result: 'SUCCEEDED',
        target: { type: 'user', id: 'gary', role: 'member' },
      },
    ]);
    const partnerLog = await gql<Trail>(TRAIL, { f: { projectId, action: 'member.add' } }, globex);
    expect(partnerLog.data?.auditEvents.events).toEqual([
      {
        action: 'member.add',
        principal: 'mallory',
        principalOrganization: null,
        result: 'SUCCEEDED',
        target: { type: 'user', id: 'gary', role: 'member' },
      },
    ]);
    expect(await sto.roleAssignments(stoProject)).toContainEqual({ user: 'gary', domain: 'ifd-globex-ent', role: 'member' });
    expect(await osl.roleAssignments(oslNative?.id as string)).toContainEqual({ user: 'gary', domain: 'ifd-globex-ent', role: 'member' });

    // … but not what only the owner may do, nor more than its own role allows
    const refused = async (query: string, token: string) => (await op(query, token)).errors?.[0]?.extensions;
    expect(
      await refused('mutation($p: ID!) { setQuota(projectId: $p, region: "sto", limits: {cores: 1}) { status } }', globex),
    ).toMatchObject({ code: 'FORBIDDEN', permission: 'quota.manage' });
    expect(await refused('mutation($p: ID!) { deleteProject(id: $p) { status } }', globex)).toMatchObject({
      code: 'FORBIDDEN',
      permission: 'project.manage',
    });
    expect(
      await refused('mutation($p: ID!) { shareProject(projectId: $p, partner: "initech-ent", level: "reader") { status } }', globex),
    ).toMatchObject({ code: 'FORBIDDEN', permission: 'partner.manage' });
    expect(
      await refused('mutation($p: ID!) { addMember(projectId: $p, user: "gus", role: "admin") { status } }', globexMember),
    ).toMatchObject({ code: 'FORBIDDEN', permission: 'member.manage' });
    // the partner does not see who else the project is shared with
    expect(
      (
        await gql<{ project: { shares: unknown[] } }>(
          'query($id: ID!) { project(id: $id) { shares { organization } } }',
          { id: projectId },
          globex,
        )
      ).data?.project.shares,
    ).toEqual([]);

    // revoking ends access at once and removes the partner's members from every placement
    const revoked = await op('mutation($p: ID!) { revokeShare(projectId: $p, partner: "globex-ent") { status kind } }', owner);
    expect(revoked.data?.revokeShare).toEqual({ status: 'SUCCEEDED', kind: 'REVOKE_SHARE' });
    expect((await sto.roleAssignments(stoProject)).filter((a) => a.user === 'gary')).toEqual([]);
    expect((await osl.roleAssignments(oslNative?.id as string)).filter((a) => a.user === 'gary')).toEqual([]);
    expect((await gql<{ projects: unknown[] }>('{ projects { id } }', {}, globex)).data?.projects).toEqual([]);
    expect(await refused('mutation($p: ID!) { addMember(projectId: $p, user: "gary", role: "member") { status } }', globex)).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('usage sync takes the platforms as the truth and reports a quota raised behind infrafed’s back as drift', async () => {
    const sto = keystoneAdmin(system.keystoneUrl('sto'));
    // the sto placement's limit is 1 core through infrafed; an operator raises it in Nova directly
    const token = await sto.token();
    const put = await fetch(`${system.novaUrl('sto')}/os-quota-sets/${stoProject}`, {
      method: 'PUT',
      headers: { 'x-auth-token': token, 'content-type': 'application/json', 'OpenStack-API-Version': 'compute 2.79' },
      body: JSON.stringify({ quota_set: { cores: 9 } }),
    });
    expect(put.status).toBe(200);
    expect(await sto.novaQuota(system.novaUrl('sto'), stoProject)).toMatchObject({ cores: 9 });
    const member = await system.token('acme-ent', 'member', 'mike');
    expect((await gql('mutation { syncUsage { id } }', {}, member)).errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      permission: 'quota.manage',
    });

    const synced = await gql<{
      syncUsage: {
        drift: Record<string, unknown>[];
        usageSyncedAt: string;
        syncUnreachable: string[];
        usage: { regions: { region: string; amounts: { cores: number } }[] };
      };
    }>(
      'mutation { syncUsage { drift { projectId region platform resource recorded actual } usageSyncedAt syncUnreachable usage { regions { region amounts { cores } } } } }',
    );
    expect(synced.errors).toBeUndefined();
    expect(synced.data?.syncUsage.drift).toContainEqual({
      projectId,
      region: 'sto',
      platform: 'openstack',
      resource: 'cores',
      recorded: 1,
      actual: 9,
    });
    expect(synced.data?.syncUsage.syncUnreachable).toEqual([]);
    expect(synced.data?.syncUsage.usageSyncedAt).toEqual(expect.any(String));
    // the truth is now recorded: sto holds 9 cores, 14 with osl's 5 (over the 8 acme is entitled to: nothing more fits)
    expect(synced.data?.syncUsage.usage.regions.find((r) => r.region === 'sto')?.amounts.cores).toBe(9);
    expect((await setQuota('sto', 10)).errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      scope: 'organization',
      limit: 8,
      used: 14,
      requested: 1,
    });
    const again = await gql<{ organization: { drift: unknown[]; remaining: { total: { cores: number | null } } } }>(
      '{ organization { drift { resource } remaining { total { cores } } } }',
    );
    expect(again.data?.organization.drift.length).toBeGreaterThan(0);
    // the overage is said: 8 entitled, 14 held
    expect(again.data?.organization.remaining.total.cores).toBe(-6);
  });

  it('createNetwork and access rules are held against the entitlements where a placement has no limit for them', async () => {
    // a new project: infrafed knows no network or rule limit of its placements (the synced ones have Neutron's)
    const created = await gql<{ createProject: { projectId: string; steps: { nativeId: string }[] } }>(
      'mutation { createProject(input: {name: "counted", placements: [{region: "sto", platform: "openstack"}, {region: "osl", platform: "openstack"}]}) { projectId steps { nativeId } } }',
    );
    const counted = created.data?.createProject.projectId as string;
    // its placements got explicit limits: zero for what acme-ent's entitlements cover (no project defaults
    // are set), never Nova's own default of 20 cores that would count unaccounted
    const sto = keystoneAdmin(system.keystoneUrl('sto'));
    expect(await sto.novaQuota(system.novaUrl('sto'), created.data?.createProject.steps[0]?.nativeId as string)).toMatchObject({
      cores: 0,
      ram: 0,
    });
    type Totals = { networks: number | null; subnets: number | null; routers: number | null; securityGroupRules: number | null };
    const usage = async () =>
      (
        await gql<{ organization: { usage: { total: Totals } } }>(
          '{ organization { usage { total { networks subnets routers securityGroupRules } } } }',
        )
      ).data?.organization.usage.total as Totals;
    const before = await usage();
    const [nets, rules] = [before.networks ?? 0, before.securityGroupRules ?? 0];
    const input = { organization: 'acme-ent', total: { cores: 100, networks: nets + 1, securityGroupRules: rules + 2 }, regions: [] };
    expect((await gql(ENTITLE, { input }, operator)).errors).toBeUndefined();
    const NETWORK = 'mutation($input: CreateNetworkInput!) { createNetwork(input: $input) { status resourceId } }';
    const made = await gql<{ createNetwork: { status: string; resourceId: string } }>(NETWORK, {
      input: { projectId: counted, region: 'sto', name: 'counted', cidr: '10.9.0.0/24', router: {} },
    });
    expect(made.data?.createNetwork.status).toBe('SUCCEEDED');
    expect(await usage()).toMatchObject({ networks: nets + 1, subnets: (before.subnets ?? 0) + 1, routers: (before.routers ?? 0) + 1 });

    const refused = await gql(NETWORK, { input: { projectId: counted, region: 'sto', name: 'one-too-many', cidr: '10.10.0.0/24' } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      resource: 'networks',
      scope: 'organization',
      limit: nets + 1,
      used: nets + 1,
      requested: 1,
    });
    // Neutron never heard of it
    const neutron = keystoneAdmin(system.keystoneUrl('sto')).neutron(system.neutronUrl('sto'));
    expect((await neutron.list('networks', created.data?.createProject.steps[0]?.nativeId as string)).length).toBe(1);

    // a rule in both placements takes the 2 rules left; the same rule again changes nothing and is not refused
    const RULE =
      'mutation($p: ID!, $port: Int!) { applyAccessRule(projectId: $p, rule: {direction: "ingress", protocol: "tcp", ports: {from: $port}}) { status steps { changed } } }';
    const rule = await gql<{ applyAccessRule: { status: string } }>(RULE, { p: counted, port: 443 });
    expect(rule.data?.applyAccessRule.status).toBe('SUCCEEDED');
    expect((await usage()).securityGroupRules).toBe(rules + 2);
    const again = await gql<{ applyAccessRule: { status: string; steps: { changed: boolean }[] } }>(RULE, { p: counted, port: 443 });
    expect(again.data?.applyAccessRule).toEqual({ status: 'SUCCEEDED', steps: [{ changed: false }, { changed: false }] });
    expect((await gql(RULE, { p: counted, port: 22 })).errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      resource: 'securityGroupRules',
      requested: 2,
    });
    expect((await usage()).securityGroupRules).toBe(rules + 2);

    // removing frees: the network and the rule count no more, and the refused network now fits
    const deleted = await gql<{ deleteNetwork: { status: string } }>(
      'mutation($p: ID!, $n: ID!) { deleteNetwork(projectId: $p, id: $n) { status } }',
      { p: counted, n: made.data?.createNetwork.resourceId },
    );
    expect(deleted.data?.deleteNetwork.status).toBe('SUCCEEDED');
    const removed = await gql<{ removeAccessRule: { status: string } }>(
      'mutation($p: ID!, $r: ID!) { removeAccessRule(projectId: $p, ruleId: $r) { status } }',
      {
        p: counted,
        r: (
          await gql<{ project: { accessRules: { id: string; portFrom: number | null }[] } }>(
            'query($id: ID!) { project(id: $id) { accessRules { id portFrom } } }',
            { id: counted },
          )
        ).data?.project.accessRules.find((r) => r.portFrom === 443)?.id,
      },
    );
    expect(removed.data?.removeAccessRule.status).toBe('SUCCEEDED');
    expect(await usage()).toMatchObject({ networks: nets, routers: before.routers ?? 0, securityGroupRules: rules });
    expect(
      (await gql<{ deleteProject: { status: string } }>('mutation($p: ID!) { deleteProject(id: $p) { status } }', { p: counted })).data
        ?.deleteProject.status,
    ).toBe('SUCCEEDED');
  });

  it('project defaults: a new project gets them on every placement, held against the entitlements (refused when they do not fit)', async () => {
    const input = { organization: 'acme-ent', total: { cores: 8 }, regions: [], projectDefaults: { cores: 2, instances: 3 } };
    expect((await gql(ENTITLE, { input }, operator)).errors).toBeUndefined();
    const CREATE =
      'mutation($n: String!) { createProject(input: {name: $n, placements: [{region: "sto", platform: "openstack"}, {region: "lla", platform: "okd"}]}) { status projectId steps { nativeId } } }';
    // acme holds 14 cores since the sync: no room for 2 more
    const refused = await gql(CREATE, { n: 'no-room' });
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      resource: 'cores',
      scope: 'organization',
      limit: 8,
      used: 14,
      requested: 4,
    });
    expect(
      await keystoneAdmin(system.keystoneUrl('sto'))
        .projectsTagged('infrafed')
        .then((ps) => ps.filter((p) => p.name === 'no-room')),
    ).toEqual([]);
    // with room, the project is created with the defaults on both platforms
    expect((await gql(ENTITLE, { input: { ...input, total: { cores: 100 } } }, operator)).errors).toBeUndefined();
    const made = await gql<{ createProject: { status: string; projectId: string; steps: { nativeId: string }[] } }>(CREATE, {
      n: 'no-room',
    });
    expect(made.data?.createProject.status).toBe('SUCCEEDED');
    const stoNative = made.data?.createProject.steps[0]?.nativeId as string;
    expect(await keystoneAdmin(system.keystoneUrl('sto')).novaQuota(system.novaUrl('sto'), stoNative)).toMatchObject({
      cores: 2,
      instances: 3,
    });
    const quotas = await gql<{ project: { quotas: { platform: string; quota: { cores: number; instances: number } }[] } }>(
      'query($id: ID!) { project(id: $id) { quotas { platform quota { cores instances } } } }',
      { id: made.data?.createProject.projectId },
    );
    expect(quotas.data?.project.quotas.map((q) => [q.platform, q.quota.cores, q.quota.instances]).sort()).toEqual([
      ['okd', 2, 3],
      ['openstack', 2, 3],
    ]);
    expect((await org())?.usage.total.cores).toBe(18);
    await gql('mutation($p: ID!) { deleteProject(id: $p) { status } }', { p: made.data?.createProject.projectId });
    expect((await org())?.usage.total.cores).toBe(14);
  });

  it('100 parallel createProject requests, each asking for 1 core, against 10 cores left on OKD: exactly 10 succeed, 90 get QUOTA_EXCEEDED', async () => {
    const okdCores = async () =>
      (
        await gql<{ organization: { usage: { platforms: { platform: string; amounts: { cores: number | null } }[] } } }>(
          '{ organization { usage { platforms { platform amounts { cores } } } } }',
        )
      ).data?.organization.usage.platforms.find((p) => p.platform === 'okd')?.amounts.cores ?? 0;
    const used = await okdCores();
    const input = {
      organization: 'acme-ent',
      total: { cores: 1000 },
      regions: [],
      platforms: [{ platform: 'okd', amounts: { cores: used + 10 } }],
      projectDefaults: { cores: 1 },
    };
    expect((await gql(ENTITLE, { input }, operator)).errors).toBeUndefined();
    const CREATE =
      'mutation($n: String!) { createProject(input: {name: $n, placements: [{region: "lla", platform: "okd"}]}) { status projectId } }';
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => gql<{ createProject: { status: string; projectId: string } }>(CREATE, { n: `burst-${i}` })),
    );
    const made = results.filter((r) => r.data?.createProject.status === 'SUCCEEDED');
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === 'QUOTA_EXCEEDED');
    expect([made.length, refused.length]).toEqual([10, 90]);
    for (const r of refused)
      expect(r.errors?.[0]?.extensions).toMatchObject({
        resource: 'cores',
        scope: 'platform',
        platform: 'okd',
        limit: used + 10,
        requested: 1,
      });
    expect(await okdCores()).toBe(used + 10);
    // only the 10 exist: no refused request left a project behind
    const listed = await gql<{ projects: { name: string }[] }>('{ projects { name } }');
    expect(listed.data?.projects.filter((p) => p.name.startsWith('burst-')).length).toBe(10);
    for (const r of made) await gql('mutation($p: ID!) { deleteProject(id: $p) { status } }', { p: r.data?.createProject.projectId });
    expect(await okdCores()).toBe(used);
  }, 120_000);

  it('deleting the project frees what its quotas held', async () => {
    const res = await gql<{ deleteProject: { status: string } }>('mutation($p: ID!) { deleteProject(id: $p) { status } }', {
      p: projectId,
    });
    expect(res.data?.deleteProject.status).toBe('SUCCEEDED');
    expect((await org())?.usage).toEqual({ total: { cores: null }, regions: [] });
  });
});
