import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';
import { takeVendorTurns } from '../harness/vendorLock.ts';

interface Op {
  id: string;
  kind: string;
  status: string;
  resourceId: string | null;
  error: {
    code: string;
    region: string | null;
    resource: string | null;
    limit: number | null;
    used: number | null;
    requested: number | null;
  } | null;
  steps: { region: string; status: string; nativeId: string | null; changed: boolean | null; error: { code: string } | null }[];
}
const OP =
  'id kind status resourceId error { code message region resource limit used requested } steps { region status nativeId changed error { code message } }';

interface NeutronRule {
  id: string;
  direction: string;
  protocol: string | null;
  port_range_min: number | null;
  remote_ip_prefix: string | null;
}

// builds Neutron routers: takes turns with the other jest's such suites (npm test runs two side by side)
takeVendorTurns('e2e network');

describe('networks, access rules and quotas end to end: gateway → subgraphs → controller → adapters → Neutron/Nova (two regions)', () => {
  let system: SharedSystem;
  let acme: string;
  let globex: string;
  let admins: Record<'sto' | 'osl', ReturnType<typeof keystoneAdmin>>;
  let projectId: string;
  const native: Record<string, string> = {};

  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => acme,
  );
  const neutron = (region: 'sto' | 'osl') => admins[region].neutron(system.neutronUrl(region));
  /** The rules of the project's `infrafed` security group, as Neutron holds them. */
  const groupRules = async (region: 'sto' | 'osl') => {
    const groups = (await neutron(region).list('security-groups', native[region] as string)) as unknown as {
      name: string;
      security_group_rules: NeutronRule[];
    }[];
    return groups.find((g) => g.name === 'infrafed')?.security_group_rules ?? [];
  };

  beforeAll(async () => {
    // the same state dir as the identity suite (they run one after the other): regions are restored, not bootstrapped again
    system = await sharedSystem();
    acme = await system.token('acme-net', 'owner', 'alice');
    globex = await system.token('globex-net', 'owner', 'mallory');
    admins = { sto: keystoneAdmin(system.keystoneUrl('sto')), osl: keystoneAdmin(system.keystoneUrl('osl')) };
    const res = await gql<{ createProject: { status: string; projectId: string; steps: { region: string; nativeId: string }[] } }>(
      'mutation($input: CreateProjectInput!) { createProject(input: $input) { status projectId steps { region nativeId } } }',
      {
        input: {
          name: 'net-lab',
          placements: [
            { region: 'sto', platform: 'openstack' },
            { region: 'osl', platform: 'openstack' },
          ],
        },
      },
    );
    expect(res.data?.createProject.status).toBe('SUCCEEDED');
    projectId = res.data?.createProject.projectId as string;
    for (const s of res.data?.createProject.steps ?? []) native[s.region] = s.nativeId;
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  const createNetwork = (input: Record<string, unknown>, token?: string) =>
    gql<{ createNetwork: Op }>(
      `mutation($input: CreateNetworkInput!) { createNetwork(input: $input) { ${OP} } }`,
      { input: { projectId, ...input } },
      token,
    );
  const applyRule = (rule: Record<string, unknown>) =>
    gql<{ applyAccessRule: Op }>(`mutation($p: ID!, $rule: AccessRuleInput!) { applyAccessRule(projectId: $p, rule: $rule) { ${OP} } }`, {
      p: projectId,
      rule,
    });
  const setQuota = (region: string, limits: Record<string, unknown>) =>
    gql<{ setQuota: Op }>(
      `mutation($p: ID!, $r: String!, $l: QuotaLimitsInput!) { setQuota(projectId: $p, region: $r, limits: $l) { ${OP} } }`,
      { p: projectId, r: region, l: limits },
    );
  const project = <T>(fields: string) => gql<{ project: T }>(`query($id: ID!) { project(id: $id) { ${fields} } }`, { id: projectId });

  it('creates a network with subnet and router (gateway on the external network) in sto, and a plain one in osl; lists both', async () => {
    // the operator's external network in sto
    const { network: ext } = await neutron('sto').create<{ network: { id: string } }>('/networks', {
      network: { name: 'public', 'router:external': true },
    });
    await neutron('sto').create('/subnets', { subnet: { network_id: ext.id, cidr: '203.0.113.0/24', ip_version: 4 } });

    const sto = await createNetwork({
      region: 'sto',
      name: 'backend',
      cidr: '10.0.0.0/24',
      gatewayIp: '10.0.0.254',
      dnsNameservers: ['192.0.2.53'],
      router: { external: true },
    });
    expect(sto.errors).toBeUndefined();
    // (a step's error, if any, is in the diff: the vendor's cause is then in the components' logs)
    expect(sto.data?.createNetwork).toMatchObject({
      kind: 'CREATE_NETWORK',
      status: 'SUCCEEDED',
      steps: [{ region: 'sto', status: 'SUCCEEDED', changed: true, error: null }],
    });
    expect(sto.data?.createNetwork.resourceId).toMatch(/^net_[0-9a-z]{26}$/);
    // IPv6, gateway left to Neutron (which takes the block's first address, the subnet-router anycast one)
    const osl = await createNetwork({ region: 'osl', name: 'backend', cidr: 'fd00:10::/64' });
    expect(osl.data?.createNetwork.status).toBe('SUCCEEDED');

    const listed = await project<{ networks: Record<string, unknown>[] }>(
      'networks { id name region platform nativeId status cidr gatewayIp dnsNameservers router { nativeId status external externalIp } }',
    );
    expect(listed.errors).toBeUndefined();
    const [inOsl, inSto] = [...(listed.data?.project.networks ?? [])].sort((a, b) => String(a.region).localeCompare(String(b.region)));
    expect(inSto).toMatchObject({
      id: sto.data?.createNetwork.resourceId,
      name: 'backend',
      region: 'sto',
      platform: 'openstack',
      status: 'ACTIVE',
      cidr: '10.0.0.0/24',
      gatewayIp: '10.0.0.254',
      dnsNameservers: ['192.0.2.53'],
    });
    expect(inSto?.router).toMatchObject({ status: 'ACTIVE', external: true, externalIp: expect.stringMatching(/^203\.0\.113\./) });
    expect(inOsl).toMatchObject({
      id: osl.data?.createNetwork.resourceId,
      region: 'osl',
      cidr: 'fd00:10::/64',
      gatewayIp: 'fd00:10::',
      router: null,
    });
    // and Neutron agrees
    expect((await neutron('sto').list('networks', native.sto as string)).map((n) => n.id)).toEqual([inSto?.nativeId]);
    expect((await neutron('sto').list('routers', native.sto as string)).map((r) => r.id)).toEqual([
      (inSto?.router as { nativeId: string }).nativeId,
    ]);
    expect((await neutron('osl').list('networks', native.osl as string)).map((n) => n.id)).toEqual([inOsl?.nativeId]);
  });

  it('applies an access rule in every placement; again with another description updates it; again as it is is a no-op', async () => {
    const first = await applyRule({
      direction: 'ingress',
      protocol: 'tcp',
      ports: { from: 8000, to: 8080 },
      remoteCidr: '198.51.100.0/24',
      description: 'web',
    });
    expect(first.errors).toBeUndefined();
    expect(first.data?.applyAccessRule).toMatchObject({ status: 'SUCCEEDED', steps: [{ changed: true }, { changed: true }] });
    const ruleId = first.data?.applyAccessRule.resourceId;
    expect(ruleId).toMatch(/^acr_[0-9a-f]{26}$/);
    for (const region of ['sto', 'osl'] as const) {
      expect(
        (await groupRules(region)).filter((r) => r.direction === 'ingress').map((r) => [r.protocol, r.port_range_min, r.remote_ip_prefix]),
      ).toEqual([['tcp', 8000, '198.51.100.0/24']]);
    }
    const again = await applyRule({
      direction: 'ingress',
      protocol: 'tcp',
      ports: { from: 8000, to: 8080 },
      remoteCidr: '198.51.100.0/24',
      description: 'web, again',
    });
    expect(again.errors).toBeUndefined();
    // the same rule (same id) with another description: the description is updated, a change
    expect(again.data?.applyAccessRule).toMatchObject({
      status: 'SUCCEEDED',
      resourceId: ruleId,
      steps: [{ changed: true }, { changed: true }],
    });
    for (const region of ['sto', 'osl'] as const) {
      const ingress = (await groupRules(region)).filter((r) => r.direction === 'ingress') as { description?: string }[];
      expect(ingress.map((r) => r.description)).toEqual(['web, again']);
    }
    // applied as it now is: nothing changes, and the steps name the rule that is there
    const same = await applyRule({
      direction: 'ingress',
      protocol: 'tcp',
      ports: { from: 8000, to: 8080 },
      remoteCidr: '198.51.100.0/24',
      description: 'web, again',
    });
    expect(same.data?.applyAccessRule).toMatchObject({
      status: 'SUCCEEDED',
      resourceId: ruleId,
      steps: [{ changed: false }, { changed: false }],
    });
    expect(same.data?.applyAccessRule.steps.map((s) => s.nativeId)).toEqual(again.data?.applyAccessRule.steps.map((s) => s.nativeId));
    for (const region of ['sto', 'osl'] as const)
      expect((await groupRules(region)).filter((r) => r.direction === 'ingress')).toHaveLength(1);

    const listed = await project<{
      accessRules: { id: string; region: string; nativeId: string; status: string; portFrom: number; portTo: number }[];
    }>('accessRules { id region platform nativeId status direction protocol portFrom portTo remoteCidr description }');
    const mine = listed.data?.project.accessRules.filter((r) => r.id === ruleId) ?? [];
    expect(mine.map((r) => [r.region, r.portFrom, r.portTo, r.status]).sort()).toEqual([
      ['osl', 8000, 8080, 'ACTIVE'],
      ['sto', 8000, 8080, 'ACTIVE'],
    ]);
  });

  it('removes an access rule from every placement', async () => {
    const applied = await applyRule({ direction: 'egress', protocol: 'udp', ports: { from: 53 }, remoteCidr: '192.0.2.53/32' });
    const ruleId = applied.data?.applyAccessRule.resourceId;
    const removed = await gql<{ removeAccessRule: Op }>(
      `mutation($p: ID!, $r: ID!) { removeAccessRule(projectId: $p, ruleId: $r) { ${OP} } }`,
      { p: projectId, r: ruleId },
    );
    expect(removed.data?.removeAccessRule).toMatchObject({
      kind: 'REMOVE_ACCESS_RULE',
      status: 'SUCCEEDED',
      steps: [{ changed: true }, { changed: true }],
    });
    for (const region of ['sto', 'osl'] as const) expect((await groupRules(region)).filter((r) => r.protocol === 'udp')).toEqual([]);
  });

  it('sets only the given quota limits (Nova and Neutron), reads them back with usage', async () => {
    const res = await setQuota('sto', { cores: 6, ramMiB: 8192, networks: 4, securityGroupRules: 40 });
    expect(res.errors).toBeUndefined();
    expect(res.data?.setQuota).toMatchObject({ kind: 'SET_QUOTA', status: 'SUCCEEDED', steps: [{ region: 'sto', changed: true }] });
    expect(await admins.sto.novaQuota(system.novaUrl('sto'), native.sto as string)).toMatchObject({ cores: 6, ram: 8192, instances: 10 });
    expect((await neutron('sto').get<{ quota: Record<string, number> }>(`/quotas/${native.sto}`)).quota).toMatchObject({
      network: 4,
      security_group_rule: 40,
      subnet: 100,
      router: 10,
    });

    const read = await project<{
      quotas: { region: string; platform: string; quota: Record<string, number>; usage: Record<string, number> }[];
    }>(
      'quotas { region platform quota { cores ramMiB instances networks subnets routers securityGroupRules } usage { cores networks subnets routers securityGroups } }',
    );
    const sto = read.data?.project.quotas.find((q) => q.region === 'sto');
    const osl = read.data?.project.quotas.find((q) => q.region === 'osl');
    expect(sto).toEqual({
      region: 'sto',
      platform: 'openstack',
      quota: { cores: 6, ramMiB: 8192, instances: 10, networks: 4, subnets: 100, routers: 10, securityGroupRules: 40 },
      usage: { cores: 0, networks: 1, subnets: 1, routers: 1, securityGroups: 2 },
    });
    // osl untouched
    expect(osl?.quota).toMatchObject({ cores: 20, networks: 100 });
  });

  it('going over a quota fails with QUOTA_EXCEEDED and the figures, and leaves nothing in Neutron', async () => {
    await setQuota('sto', { networks: 1 });
    const res = await createNetwork({ region: 'sto', name: 'one-too-many', cidr: '10.9.0.0/24' });
    expect(res.data?.createNetwork).toMatchObject({
      status: 'FAILED',
      error: { code: 'QUOTA_EXCEEDED', region: 'sto', resource: 'networks', limit: 1, used: 1, requested: 1 },
    });
    expect(res.errors).toEqual([
      expect.objectContaining({
        path: ['createNetwork'],
        extensions: expect.objectContaining({
          code: 'QUOTA_EXCEEDED',
          region: 'sto',
          resource: 'networks',
          limit: 1,
          used: 1,
          requested: 1,
          operationId: res.data?.createNetwork.id,
        }),
      }),
    ]);
    expect(await neutron('sto').list('networks', native.sto as string)).toHaveLength(1);
    // a limit below what is in use is refused too, and nothing changes
    const below = await setQuota('sto', { networks: 0, cores: 2 });
    expect(below.data?.setQuota).toMatchObject({ status: 'FAILED', error: { code: 'CONFLICT', resource: 'networks', used: 1 } });
    expect(await admins.sto.novaQuota(system.novaUrl('sto'), native.sto as string)).toMatchObject({ cores: 6 });
  });

  it('refuses bad input with BAD_USER_INPUT listing every problem, changing nothing', async () => {
    const before = await neutron('sto').list('networks', native.sto as string);
    const net = await createNetwork({
      region: 'sto',
      name: 'bad',
      cidr: '10.0.0.300/24',
      gatewayIp: '10.1.0.1',
      dnsNameservers: ['1.2.3.4', 'dns.example'],
    });
    expect(net.data ?? null).toBeNull();
    expect(net.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((net.errors?.[0]?.extensions?.problems as { path: string }[]).map((p) => p.path)).toEqual([
      'input.cidr',
      'input.dnsNameservers[1]',
    ]);
    const outside = await createNetwork({ region: 'sto', name: 'bad', cidr: '10.0.0.0/24', gatewayIp: '10.1.0.1' });
    expect(outside.errors?.[0]?.extensions?.problems).toEqual([
      { path: 'input.gatewayIp', message: 'the gateway is not inside 10.0.0.0/24', value: '10.1.0.1' },
    ]);

    const rule = await applyRule({ direction: 'inbound', protocol: 'sctp', ports: { from: 70000, to: 22 }, remoteCidr: 'anywhere' });
    expect((rule.errors?.[0]?.extensions?.problems as { path: string }[]).map((p) => p.path)).toEqual([
      'rule.direction',
      'rule.protocol',
      'rule.ports.from',
      'rule.remoteCidr',
    ]);
    const range = await applyRule({ direction: 'ingress', protocol: 'tcp', ports: { from: 443, to: 80 } });
    expect(range.errors?.[0]?.extensions?.problems).toEqual([
      { path: 'rule.ports.to', message: 'the range ends (80) before it starts (443)', value: 80 },
    ]);

    const quota = await setQuota('sto', { cores: -1, networks: -5 });
    expect(quota.errors?.[0]?.extensions?.problems).toEqual([
      { path: 'limits.cores', message: 'a quota cannot be negative', value: -1 },
      { path: 'limits.networks', message: 'a quota cannot be negative', value: -5 },
    ]);
    // not a whole number: GraphQL's Int refuses it before any resolver runs
    const fraction = await setQuota('sto', { instances: 2.5 });
    expect(fraction.errors?.[0]).toMatchObject({ message: expect.stringContaining('Int cannot represent non-integer value: 2.5') });
    const nowhere = await setQuota('lla', { cores: 1 });
    expect(nowhere.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [expect.objectContaining({ path: 'region', value: 'lla' })],
    });

    expect(await neutron('sto').list('networks', native.sto as string)).toEqual(before);
    expect(await admins.sto.novaQuota(system.novaUrl('sto'), native.sto as string)).toMatchObject({ cores: 6, instances: 10 });
  });

  it('lets the organisation role decide: readers read, members manage rules, admins manage quotas and members', async () => {
    const reader = await system.token('acme-net', 'reader', 'rita');
    const member = await system.token('acme-net', 'member', 'mike');
    const read = await gql<{ project: { networks: unknown[] } }>(
      'query($id: ID!) { project(id: $id) { networks { id } accessRules { id } quotas { region } } }',
      { id: projectId },
      reader,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data?.project.networks.length).toBeGreaterThan(0);
    const denied = async (query: string, token: string) => (await gql(query, { p: projectId }, token)).errors?.[0]?.extensions;
    expect(
      await denied(
        'mutation($p: ID!) { applyAccessRule(projectId: $p, rule: {direction: "ingress", protocol: "tcp", ports: {from: 7}}) { status } }',
        reader,
      ),
    ).toMatchObject({
      code: 'FORBIDDEN',
      permission: 'network.manage',
      role: 'reader',
    });
    expect(
      await denied('mutation($p: ID!) { setQuota(projectId: $p, region: "sto", limits: {cores: 1}) { status } }', member),
    ).toMatchObject({ code: 'FORBIDDEN', permission: 'quota.manage' });
    expect(await denied('mutation($p: ID!) { addMember(projectId: $p, user: "eve", role: "admin") { status } }', member)).toMatchObject({
      code: 'FORBIDDEN',
      permission: 'member.manage',
    });
    expect(await denied('mutation($p: ID!) { deleteProject(id: $p) { status } }', member)).toMatchObject({
      code: 'FORBIDDEN',
      permission: 'project.manage',
    });
    const allowed = await gql<{ applyAccessRule: { status: string } }>(
      'mutation($p: ID!) { applyAccessRule(projectId: $p, rule: {direction: "ingress", protocol: "tcp", ports: {from: 7}}) { status } }',
      { p: projectId },
      member,
    );
    expect(allowed.data?.applyAccessRule.status).toBe('SUCCEEDED');
    // nothing the refused requests asked for happened
    expect(await admins.sto.novaQuota(system.novaUrl('sto'), native.sto as string)).toMatchObject({ cores: 6 });
    expect(await admins.sto.roleAssignments(native.sto as string)).not.toContainEqual(expect.objectContaining({ user: 'eve' }));
  });

  it('keeps organisations apart: another organisation neither sees nor changes networks, rules or quotas', async () => {
    const ask = (query: string, variables: Record<string, unknown>) => gql(query, variables, globex);
    const seen = await ask('query($id: ID!) { project(id: $id) { networks { id } accessRules { id } quotas { region } } }', {
      id: projectId,
    });
    expect(seen.data?.project).toBeNull();
    const tries = [
      await createNetwork({ region: 'sto', name: 'intruder', cidr: '10.66.0.0/24' }, globex),
      await ask('mutation($p: ID!) { applyAccessRule(projectId: $p, rule: { direction: "ingress", protocol: "any" }) { status } }', {
        p: projectId,
      }),
      await ask('mutation($p: ID!) { setQuota(projectId: $p, region: "sto", limits: { cores: 999 }) { status } }', { p: projectId }),
    ];
    for (const res of tries) expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await groupRules('sto')).filter((r) => r.direction === 'ingress' && r.protocol === null)).toEqual([]);
  });

  it('with osl’s adapter stopped: reads give sto plus REGION_UNAVAILABLE; a rule applied then is undone in sto', async () => {
    await system.stopAdapter('osl');
    try {
      const read = await project<{ networks: { region: string }[]; accessRules: { region: string }[] }>(
        'networks { region } accessRules { region }',
      );
      expect([...new Set(read.data?.project.networks.map((n) => n.region))]).toEqual(['sto']);
      expect([...new Set(read.data?.project.accessRules.map((r) => r.region))]).toEqual(['sto']);
      // each field that lacks the region says so at its own path (one error per region and code per place)
      expect(read.errors?.map((e) => [e.path?.join('.'), e.extensions?.code, e.extensions?.region])).toEqual([
        ['project', 'REGION_UNAVAILABLE', 'osl'],
        ['project.networks', 'REGION_UNAVAILABLE', 'osl'],
        ['project.accessRules', 'REGION_UNAVAILABLE', 'osl'],
      ]);
      const res = await applyRule({ direction: 'ingress', protocol: 'tcp', ports: { from: 5432 }, remoteCidr: '10.0.0.0/8' });
      expect(res.data?.applyAccessRule).toMatchObject({
        status: 'FAILED',
        error: { code: 'REGION_UNAVAILABLE', region: 'osl' },
        steps: [
          { region: 'sto', status: 'COMPENSATED' },
          { region: 'osl', status: 'FAILED' },
        ],
      });
      expect((await groupRules('sto')).filter((r) => r.port_range_min === 5432)).toEqual([]);
    } finally {
      await system.startAdapter('osl');
    }
  });

  it('deletes a network, then the project with what remains: nothing is left in Neutron in either region', async () => {
    const listed = await project<{ networks: { id: string; region: string }[] }>('networks { id region }');
    const inSto = listed.data?.project.networks.find((n) => n.region === 'sto');
    const del = await gql<{ deleteNetwork: Op }>(`mutation($p: ID!, $id: ID!) { deleteNetwork(projectId: $p, id: $id) { ${OP} } }`, {
      p: projectId,
      id: inSto?.id,
    });
    expect(del.data?.deleteNetwork).toMatchObject({
      kind: 'DELETE_NETWORK',
      status: 'SUCCEEDED',
      resourceId: inSto?.id,
      steps: [{ region: 'sto', changed: true }],
    });
    expect(await neutron('sto').list('routers', native.sto as string)).toEqual([]);
    expect(await neutron('sto').list('networks', native.sto as string)).toEqual([]);
    const again = await gql(`mutation($p: ID!, $id: ID!) { deleteNetwork(projectId: $p, id: $id) { status } }`, {
      p: projectId,
      id: inSto?.id,
    });
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    // osl still has its network and the access rules: deleting the project removes them with it
    expect(await neutron('osl').list('networks', native.osl as string)).toHaveLength(1);
    const gone = await gql<{ deleteProject: Op }>(`mutation($p: ID!) { deleteProject(id: $p) { ${OP} } }`, { p: projectId });
    expect(gone.data?.deleteProject.status).toBe('SUCCEEDED');
    for (const region of ['sto', 'osl'] as const) {
      for (const collection of ['routers', 'ports', 'subnets', 'networks', 'security-groups', 'security-group-rules']) {
        expect([region, collection, await neutron(region).list(collection, native[region] as string)]).toEqual([region, collection, []]);
      }
    }
  });
});
