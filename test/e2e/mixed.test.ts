import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';

interface Op {
  status: string;
  error: { code: string; message: string; region: string | null; resource: string | null; limit: number | null } | null;
  steps: { region: string; platform: string; status: string; nativeId: string | null; changed: boolean | null }[];
}
const OP = 'status error { code message region resource limit used requested } steps { region platform status nativeId changed }';
interface Kube {
  metadata: { name: string; labels?: Record<string, string> };
  roleRef?: { name: string };
  users?: string[];
  spec?: { hard?: Record<string, string>; ingress?: { ports?: { port?: number }[] }[] };
}

describe('a project on OpenStack (sto) and OKD (lla) end to end: members, access rules and quotas land as each platform’s own objects', () => {
  let system: SharedSystem;
  let acme: string;
  let projectId: string;
  let namespace: string;
  let stoProject: string;
  let sto: ReturnType<typeof keystoneAdmin>;

  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => acme,
  );
  /** The OKD API as an operator reads it (the emulator, with the token the adapter uses). */
  async function kube<T = Kube>(path: string): Promise<{ status: number; body: T }> {
    const { url, token } = system.okd('lla');
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as T };
  }
  const stoRules = async () => {
    const groups = (await sto.neutron(system.neutronUrl('sto')).list('security-groups', stoProject)) as unknown as {
      name: string;
      security_group_rules: { protocol: string | null; port_range_min: number | null }[];
    }[];
    return groups.find((g) => g.name === 'infrafed')?.security_group_rules ?? [];
  };
  const mutate = (name: string, args: string, variables: Record<string, unknown> = {}) =>
    gql<Record<string, Op>>(`mutation($p: ID!) { ${name}(projectId: $p, ${args}) { ${OP} } }`, { p: projectId, ...variables });

  beforeAll(async () => {
    system = await sharedSystem();
    acme = await system.token('acme-mix', 'owner', 'alice');
    sto = keystoneAdmin(system.keystoneUrl('sto'));
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it('creates the project on both platforms: a Keystone project in sto, an OpenShift project (labelled namespace) in lla', async () => {
    const res = await gql<{ createProject: Op & { projectId: string } }>(
      `mutation { createProject(input: {name: "mixed", description: "both platforms", placements: [{region: "sto", platform: "openstack"}, {region: "lla", platform: "okd"}]}) { projectId ${OP} } }`,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.createProject.steps.map((s) => [s.region, s.platform, s.status])).toEqual([
      ['sto', 'openstack', 'SUCCEEDED'],
      ['lla', 'okd', 'SUCCEEDED'],
    ]);
    projectId = res.data?.createProject.projectId as string;
    namespace = res.data?.createProject.steps[1]?.nativeId as string;
    stoProject = res.data?.createProject.steps[0]?.nativeId as string;
    const ns = await kube(`/api/v1/namespaces/${namespace}`);
    expect(ns.body.metadata.labels).toMatchObject({
      'infrafed.io/project': projectId,
      'infrafed.io/org': 'acme-mix',
      'infrafed.io/managed': 'true',
    });
    const listed = await gql<{ project: { placements: { region: string; platform: string }[] } }>(
      'query($id: ID!) { project(id: $id) { placements { region platform } } }',
      { id: projectId },
    );
    expect(listed.data?.project.placements).toEqual([
      { region: 'lla', platform: 'okd' },
      { region: 'sto', platform: 'openstack' },
    ]);
  });

  it('adds a member: a Keystone role in sto, a RoleBinding to the matching ClusterRole in lla (and the organisation’s Group)', async () => {
    expect((await mutate('addMember', 'user: "bob", role: "admin"')).data?.addMember?.status).toBe('SUCCEEDED');
    const bindings = await kube<{ items: Kube[] }>(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`);
    expect(bindings.body.items.map((b) => b.roleRef?.name)).toEqual(['admin']);
    expect((await kube('/apis/user.openshift.io/v1/groups/ifd:acme-mix')).body.users).toEqual(['acme-mix:bob']);
    const bobsRoles = (await sto.roleAssignments(stoProject)).filter((a) => a.user === 'bob');
    expect(bobsRoles.map((a) => [a.domain, a.role]).sort()).toEqual([
      ['ifd-acme-mix', 'manager'],
      ['ifd-acme-mix', 'member'],
    ]);
    // a role change: the binding's roleRef cannot change, so it is replaced
    await mutate('addMember', 'user: "bob", role: "reader"');
    const after = await kube<{ items: Kube[] }>(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`);
    expect(after.body.items.map((b) => b.roleRef?.name)).toEqual(['view']);
    const members = await gql<{ project: { members: { user: string; role: string; platform: string }[] } }>(
      'query($id: ID!) { project(id: $id) { members { user role platform } } }',
      { id: projectId },
    );
    expect(members.data?.project.members).toEqual([
      { user: 'bob', role: 'reader', platform: 'okd' },
      { user: 'bob', role: 'reader', platform: 'openstack' },
    ]);
  });

  it('gives a group a role: a Keystone group assignment in sto, a RoleBinding of the OpenShift Group in lla', async () => {
    const res = await gql<{ addMember: Op }>(
      `mutation($p: ID!) { addMember(projectId: $p, group: "researchers", role: "member") { ${OP} } }`,
      { p: projectId },
    );
    expect(res.data?.addMember.status).toBe('SUCCEEDED');
    expect(await sto.groupRoleAssignments(stoProject)).toEqual([{ group: 'researchers', domain: 'ifd-acme-mix', role: 'member' }]);
    const bindings = await kube<{ items: (Kube & { subjects: { kind: string; name: string }[] })[] }>(
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
    );
    expect(bindings.body.items.filter((b) => b.subjects[0]?.kind === 'Group').map((b) => [b.subjects[0]?.name, b.roleRef?.name])).toEqual([
      ['ifd:acme-mix:researchers', 'edit'],
    ]);
    expect((await kube('/apis/user.openshift.io/v1/groups/ifd:acme-mix:researchers')).status).toBe(200);
    const members = await gql<{ project: { members: { user: string | null; group: string | null; role: string; platform: string }[] } }>(
      'query($id: ID!) { project(id: $id) { members { user group role platform } } }',
      { id: projectId },
    );
    expect(members.data?.project.members.filter((m) => m.group)).toEqual([
      { user: null, group: 'researchers', role: 'member', platform: 'okd' },
      { user: null, group: 'researchers', role: 'member', platform: 'openstack' },
    ]);
    const both = await gql('mutation($p: ID!) { addMember(projectId: $p, user: "bob", group: "researchers", role: "member") { status } }', {
      p: projectId,
    });
    expect(both.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [{ path: 'user', message: 'give a user or a group, not both' }],
    });
    const removed = await gql<{ removeMember: Op }>(`mutation($p: ID!) { removeMember(projectId: $p, group: "researchers") { ${OP} } }`, {
      p: projectId,
    });
    expect(removed.data?.removeMember.status).toBe('SUCCEEDED');
    expect(await sto.groupRoleAssignments(stoProject)).toEqual([]);
  });

  it('applies an access rule: a security group rule in sto, a NetworkPolicy in lla; again: a no-op on both', async () => {
    const rule = '{direction: "ingress", protocol: "tcp", ports: {from: 443}, remoteCidr: "0.0.0.0/0", description: "https"}';
    const first = await mutate('applyAccessRule', `rule: ${rule}`);
    expect(first.data?.applyAccessRule?.steps.map((s) => [s.platform, s.status, s.changed])).toEqual([
      ['openstack', 'SUCCEEDED', true],
      ['okd', 'SUCCEEDED', true],
    ]);
    const policies = await kube<{ items: Kube[] }>(`/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`);
    expect(policies.body.items.map((p) => p.spec?.ingress?.[0]?.ports?.[0]?.port)).toEqual([443]);
    expect((await stoRules()).filter((r) => r.port_range_min === 443)).toHaveLength(1);
    const again = await mutate('applyAccessRule', `rule: ${rule}`);
    expect(again.errors).toBeUndefined();
    expect(again.data?.applyAccessRule?.steps.map((s) => s.changed)).toEqual([false, false]);
    expect((await kube<{ items: Kube[] }>(`/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`)).body.items).toHaveLength(
      1,
    );
  });

  it('a rule one platform cannot express (ICMP on OKD) fails as NOT_SUPPORTED and is undone in sto', async () => {
    const res = await mutate('applyAccessRule', 'rule: {direction: "ingress", protocol: "icmp"}');
    expect(res.data?.applyAccessRule).toMatchObject({ status: 'FAILED', error: { code: 'NOT_SUPPORTED', region: 'lla' } });
    expect(res.data?.applyAccessRule?.steps.map((s) => [s.region, s.status])).toEqual([
      ['sto', 'COMPENSATED'],
      ['lla', 'FAILED'],
    ]);
    expect((await stoRules()).filter((r) => r.protocol === 'icmp')).toEqual([]);
  });

  it('sets a quota on OKD as a ResourceQuota, reads it back with usage; refuses what OKD has no quota for', async () => {
    const res = await mutate('setQuota', 'region: "lla", limits: {cores: 2, ramMiB: 4096, instances: 5, volumes: 3}');
    expect(res.data?.setQuota?.status).toBe('SUCCEEDED');
    const rq = await kube(`/api/v1/namespaces/${namespace}/resourcequotas/infrafed`);
    // written as 4096Mi, stored (and read back by the adapter) in canonical form
    expect(rq.body.spec?.hard).toEqual({ 'requests.cpu': '2', 'requests.memory': '4Gi', pods: '5', persistentvolumeclaims: '3' });
    const read = await gql<{
      project: {
        quotas: { region: string; platform: string; quota: Record<string, number | null>; usage: Record<string, number | null> }[];
      };
    }>(
      'query($id: ID!) { project(id: $id) { quotas { region platform quota { cores ramMiB instances volumes networks } usage { cores instances securityGroupRules } } } }',
      { id: projectId },
    );
    expect(read.data?.project.quotas.find((q) => q.platform === 'okd')).toEqual({
      region: 'lla',
      platform: 'okd',
      quota: { cores: 2, ramMiB: 4096, instances: 5, volumes: 3, networks: null },
      usage: { cores: 0, instances: 0, securityGroupRules: 1 },
    });
    const foreign = await mutate('setQuota', 'region: "lla", limits: {networks: 3}');
    expect(foreign.data?.setQuota).toMatchObject({ status: 'FAILED', error: { code: 'NOT_SUPPORTED', region: 'lla' } });
  });

  it('an entitlement per platform (at most 2 cores on OKD) holds setQuota on the OKD placement', async () => {
    const operator = await system.token('infrafed', 'reader', 'ops', { platformAdmin: true });
    const set = await gql(
      'mutation { setEntitlements(input: {organization: "acme-mix", platforms: [{platform: "okd", amounts: {cores: 2}}]}) { id } }',
      {},
      operator,
    );
    expect(set.errors).toBeUndefined();
    const over = await mutate('setQuota', 'region: "lla", limits: {cores: 3}');
    expect(over.errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      scope: 'platform',
      platform: 'okd',
      resource: 'cores',
      limit: 2,
      used: 2,
      requested: 1,
    });
    // OpenStack is not bound by it
    expect((await mutate('setQuota', 'region: "sto", limits: {cores: 3}')).data?.setQuota?.status).toBe('SUCCEEDED');
    const org = await gql<{ organization: { remaining: { platforms: { platform: string; amounts: { cores: number } }[] } } }>(
      '{ organization { remaining { platforms { platform amounts { cores } } } } }',
    );
    expect(org.data?.organization.remaining.platforms).toEqual([{ platform: 'okd', amounts: { cores: 0 } }]);
  });

  it('going over the OKD quota (NetworkPolicies) is QUOTA_EXCEEDED with the figures, and sto is undone', async () => {
    await mutate('setQuota', 'region: "lla", limits: {securityGroupRules: 1}');
    const res = await mutate(
      'applyAccessRule',
      'rule: {direction: "egress", protocol: "udp", ports: {from: 53}, remoteCidr: "192.0.2.53/32"}',
    );
    expect(res.data?.applyAccessRule).toMatchObject({
      status: 'FAILED',
      error: { code: 'QUOTA_EXCEEDED', region: 'lla', resource: 'securityGroupRules', limit: 1 },
    });
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      region: 'lla',
      platform: 'okd',
      resource: 'securityGroupRules',
      limit: 1,
      used: 1,
      requested: 1,
    });
    expect((await stoRules()).filter((r) => r.port_range_min === 53)).toEqual([]);
  });

  it('network operations on the OKD placement are NOT_SUPPORTED, saying why', async () => {
    const res = await gql(
      'mutation($p: ID!) { createNetwork(input: {projectId: $p, region: "lla", name: "n", cidr: "10.0.0.0/24"}) { status } }',
      { p: projectId },
    );
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_SUPPORTED');
    expect(res.errors?.[0]?.message).toContain('networks are an OpenStack (Neutron) feature');
  });

  it('deletes the project on both platforms: the namespace goes with everything in it', async () => {
    const res = await gql<{ deleteProject: Op }>(`mutation($p: ID!) { deleteProject(id: $p) { ${OP} } }`, { p: projectId });
    expect(res.data?.deleteProject.status).toBe('SUCCEEDED');
    // the namespace is Terminating for a while (as on a real cluster), then gone; infrafed lists it no more at once
    const listed = await gql<{ projects: { id: string }[] }>('{ projects { id } }');
    expect(listed.data?.projects.map((p) => p.id)).not.toContain(projectId);
    let gone = (await kube(`/api/v1/namespaces/${namespace}`)).status;
    for (let i = 0; i < 30 && gone !== 404; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = (await kube(`/api/v1/namespaces/${namespace}`)).status;
    }
    expect(gone).toBe(404);
    expect((await kube<{ items: Kube[] }>(`/apis/networking.k8s.io/v1/namespaces/${namespace}/networkpolicies`)).body.items).toEqual([]);
    expect(await sto.projectsTagged(`ifd-project=${projectId}`)).toEqual([]);
  });
});
