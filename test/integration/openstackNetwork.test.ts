import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fromAccessRuleInput, accessRuleInput } from '../../schema/network.ts';
import {
  requestAdapter,
  type AdapterContractResource,
  type AdapterContractVerb,
  type AdapterRequest,
} from '../../runtime/nats/adapterClient.ts';
import type { OpenstackAdapter } from '../../adapters/openstack/createOpenstackAdapter.ts';
import { adapterCallTimeoutMs, startOpenstackAdapter } from '../harness/adapter.ts';
import { keystoneAdmin, startKeystone, type TestKeystone } from '../harness/keystone.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';
import { takeVendorTurns } from '../harness/vendorLock.ts';

const P = 'prj_01nnnnnnnnnnnnnnnnnnnnnnnn';
const NET_A = 'net_01aaaaaaaaaaaaaaaaaaaaaaaa';
const NET_B = 'net_01bbbbbbbbbbbbbbbbbbbbbbbb';
const NET_C = 'net_01cccccccccccccccccccccccc';

// builds Neutron routers: takes turns with the other jest's such suites (npm test runs two side by side)
takeVendorTurns('openstackNetwork');

describe('OpenStack adapter: networks, access rules and quotas on real Neutron and nova-api', () => {
  let nats: TestNatsServer;
  let keystone: TestKeystone;
  let nc: NatsConnection;
  let adapter: OpenstackAdapter;
  let admin: ReturnType<typeof keystoneAdmin>;
  let neutron: ReturnType<ReturnType<typeof keystoneAdmin>['neutron']>;
  let nativeId: string;
  /** The Neutron and Nova calls the adapter made (`METHOD /path`). */
  const vendorCalls: string[] = [];

  const call = <R extends AdapterContractResource, V extends AdapterContractVerb<R>>(resource: R, verb: V, body: AdapterRequest<R, V>) =>
    requestAdapter(nc, { region: 'sto', platform: 'openstack' }, resource, verb, body, { timeoutMs: adapterCallTimeoutMs(resource, verb) });
  const rule = (input: unknown) => fromAccessRuleInput(accessRuleInput.parse(input));

  beforeAll(async () => {
    [nats, keystone] = await Promise.all([startNatsServer(), startKeystone('network-it', 'sto', { withNeutron: true, withNova: true })]);
    nc = await connect({ servers: nats.url });
    adapter = await startOpenstackAdapter(nc, keystone, { onVendorCall: (c) => vendorCalls.push(`${c.method} ${c.path}`) });
    admin = keystoneAdmin(keystone.url);
    neutron = admin.neutron(keystone.neutronUrl as string);
    nativeId = (await call('project', 'create', { projectId: P, organization: 'acme', name: 'net-lab', description: '' })).placement
      .nativeId;
  }, 120_000);

  afterAll(async () => {
    await adapter?.stop();
    await nc?.close();
    await Promise.all([nats?.stop(), keystone?.stop()]);
  });

  it('creates a network with its subnet, finds it instead of creating it twice, gets and lists it', async () => {
    const body = {
      id: NET_A,
      projectId: P,
      owner: 'acme',
      name: 'backend',
      cidr: '10.10.0.0/24',
      gatewayIp: '10.10.0.254',
      dnsNameservers: ['192.0.2.53'],
      router: null,
    };
    const first = await call('network', 'create', body);
    const again = await call('network', 'create', body);
    expect(first.created).toBe(true);
    expect(again).toEqual({ network: first.network, created: false });
    expect(first.network).toMatchObject({
      id: NET_A,
      projectId: P,
      name: 'backend',
      region: 'sto',
      platform: 'openstack',
      status: 'ACTIVE',
      cidr: '10.10.0.0/24',
      gatewayIp: '10.10.0.254',
      dnsNameservers: ['192.0.2.53'],
      router: null,
    });
    // what Neutron itself holds, in the customer's project
    const nets = await neutron.list('networks', nativeId);
    expect(nets.map((n) => n.id)).toEqual([first.network.nativeId]);
    const subnets = (await neutron.list('subnets', nativeId)) as unknown as { cidr: string; gateway_ip: string; network_id: string }[];
    expect(subnets.map((s) => [s.cidr, s.gateway_ip, s.network_id])).toEqual([['10.10.0.0/24', '10.10.0.254', first.network.nativeId]]);

    expect((await call('network', 'get', { projectId: P, owner: 'acme', networkId: NET_A })).network).toEqual(first.network);
    expect((await call('network', 'get', { projectId: P, owner: 'acme', networkId: NET_B })).network).toBeNull();
    const listed = await call('network', 'list', {
      projects: [
        { projectId: P, organization: 'acme' },
        { projectId: 'prj_01zzzzzzzzzzzzzzzzzzzzzzzz', organization: 'acme' },
      ],
    });
    expect(listed.networks).toEqual([first.network]);
  });

  it('creates a router with an interface on the subnet and a gateway on the external network', async () => {
    // the operator's external network (provider side), as a region would have one
    const { network: ext } = await neutron.create<{ network: { id: string } }>('/networks', {
      network: { name: 'public', 'router:external': true },
    });
    await neutron.create('/subnets', { subnet: { network_id: ext.id, cidr: '203.0.113.0/24', ip_version: 4 } });
    const res = await call('network', 'create', {
      id: NET_B,
      projectId: P,
      owner: 'acme',
      name: 'dmz',
      cidr: '10.11.0.0/24',
      gatewayIp: null,
      dnsNameservers: [],
      router: { external: true },
    });
    expect(res.network).toMatchObject({ cidr: '10.11.0.0/24', gatewayIp: '10.11.0.1', router: { external: true, status: 'ACTIVE' } });
    expect(res.network.router?.externalIp).toMatch(/^203\.0\.113\./);
    const ports = (await neutron.list('ports', nativeId)) as unknown as { device_owner: string; device_id: string }[];
    expect(ports.filter((p) => p.device_owner === 'network:router_interface').map((p) => p.device_id)).toEqual([
      res.network.router?.nativeId,
    ]);
  });

  it('deletes a network with its router and interface, idempotently', async () => {
    await expect(call('network', 'delete', { projectId: P, owner: 'acme', networkId: NET_B })).resolves.toEqual({ deleted: true });
    await expect(call('network', 'delete', { projectId: P, owner: 'acme', networkId: NET_B })).resolves.toEqual({ deleted: false });
    expect(await neutron.list('routers', nativeId)).toEqual([]);
    expect(await neutron.list('ports', nativeId)).toEqual([]);
    expect((await neutron.list('networks', nativeId)).length).toBe(1);
  });

  it('applies a rule in the infrafed security group; applying it again reports the existing rule (never a 409)', async () => {
    const ssh = rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 22 }, remoteCidr: '192.0.2.0/24', description: 'ssh' });
    const first = await call('rule', 'apply', { projectId: P, owner: 'acme', rule: ssh });
    // (the same rule with another description is replaced: the adapter contract test covers it)
    const again = await call('rule', 'apply', { projectId: P, owner: 'acme', rule: ssh });
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.previousDescription).toBeNull();
    expect(again.rule).toEqual(first.rule);
    expect(first.rule).toMatchObject({
      id: ssh.id,
      direction: 'ingress',
      protocol: 'tcp',
      portFrom: 22,
      portTo: 22,
      remoteCidr: '192.0.2.0/24',
      region: 'sto',
    });
    // the same rule written differently (a range of one port, IPv6 spelled long) has the same id
    expect(rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 22, to: 22 }, remoteCidr: '192.0.2.0/24' }).id).toBe(ssh.id);
    const groups = (await neutron.list('security-groups', nativeId)) as unknown as {
      name: string;
      security_group_rules: { id: string; project_id: string }[];
    }[];
    const owned = groups.filter((g) => g.name === 'infrafed');
    expect(owned).toHaveLength(1);
    const landed = owned[0]?.security_group_rules.find((r) => r.id === first.rule.nativeId);
    // created by the adapter's admin, but owned by the customer's project
    expect(landed?.project_id).toBe(nativeId);

    const v6 = rule({ direction: 'ingress', protocol: 'udp', ports: { from: 5000, to: 5010 }, remoteCidr: '2001:0db8:0000:0000::/64' });
    expect(v6.remoteCidr).toBe('2001:db8::/64');
    await call('rule', 'apply', { projectId: P, owner: 'acme', rule: v6 });
    const listed = await call('rule', 'list', { projects: [{ projectId: P, organization: 'acme' }] });
    // Neutron's two default egress rules of a new group are listed as what they are: any egress
    expect(listed.rules.map((r) => [r.direction, r.protocol, r.portFrom, r.portTo, r.remoteCidr]).sort()).toEqual(
      [
        ['egress', 'any', null, null, '0.0.0.0/0'],
        ['egress', 'any', null, null, '::/0'],
        ['ingress', 'tcp', 22, 22, '192.0.2.0/24'],
        ['ingress', 'udp', 5000, 5010, '2001:db8::/64'],
      ].sort(),
    );
  });

  it('removes a rule by id and reports what it removed; removing again changes nothing', async () => {
    const ssh = rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 22 }, remoteCidr: '192.0.2.0/24', description: 'ssh' });
    const removed = await call('rule', 'remove', { projectId: P, owner: 'acme', ruleId: ssh.id });
    expect(removed).toEqual({ removed: true, rule: ssh });
    expect(await call('rule', 'remove', { projectId: P, owner: 'acme', ruleId: ssh.id })).toEqual({ removed: false, rule: null });
    const listed = await call('rule', 'list', { projects: [{ projectId: P, organization: 'acme' }] });
    expect(listed.rules.map((r) => r.id)).not.toContain(ssh.id);
  });

  it('applies and removes a rule with one Neutron call each once it knows the group, and stays right when Neutron changed behind it', async () => {
    const Q = 'prj_01qqqqqqqqqqqqqqqqqqqqqqqq';
    const q = (await call('project', 'create', { projectId: Q, organization: 'acme', name: 'rules-memory', description: '' })).placement
      .nativeId;
    const groupOf = async () =>
      (
        (await neutron.list('security-groups', q)) as unknown as {
          id: string;
          name: string;
          security_group_rules: { id: string; port_range_min: number | null }[];
        }[]
      ).find((g) => g.name === 'infrafed');
    const web = rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 443 }, remoteCidr: '198.51.100.0/24', description: 'web' });
    const bodyOf = (r: ReturnType<typeof rule>, group: string) => ({
      security_group_rule: {
        security_group_id: group,
        project_id: q,
        direction: r.direction,
        ethertype: 'IPv4',
        protocol: r.protocol,
        port_range_min: r.portFrom,
        port_range_max: r.portTo,
        remote_ip_prefix: r.remoteCidr,
        description: r.description,
      },
    });

    // the project's create made the group: the apply posts the rule, the remove deletes it, nothing read
    vendorCalls.length = 0;
    const applied = await call('rule', 'apply', { projectId: Q, owner: 'acme', rule: web });
    expect(applied).toMatchObject({ created: true, previousDescription: null, rule: { id: web.id, description: 'web' } });
    expect(vendorCalls).toEqual(['POST /v2.0/security-group-rules']);
    vendorCalls.length = 0;
    expect(await call('rule', 'remove', { projectId: Q, owner: 'acme', ruleId: web.id })).toEqual({ removed: true, rule: web });
    expect(vendorCalls).toEqual([`DELETE /v2.0/security-group-rules/${applied.rule.nativeId}`]);
    expect((await groupOf())?.security_group_rules.some((r) => r.port_range_min === 443)).toBe(false);

    // the same rule with another description: Neutron says it is there (409), so the group is read and the rule replaced
    await call('rule', 'apply', { projectId: Q, owner: 'acme', rule: web });
    const renamed = await call('rule', 'apply', { projectId: Q, owner: 'acme', rule: { ...web, description: 'https' } });
    expect(renamed).toMatchObject({ created: false, previousDescription: 'web', rule: { description: 'https' } });

    // the rule removed and made again behind infrafed's back (a new Neutron id): the remembered id is gone
    // (404), so the group is read and the rule found there is removed
    const group = (await groupOf()) as { id: string; security_group_rules: { id: string; port_range_min: number | null }[] };
    const behind = group.security_group_rules.find((r) => r.port_range_min === 443) as { id: string };
    await neutron.remove(`/security-group-rules/${behind.id}`);
    await neutron.create('/security-group-rules', bodyOf(web, group.id));
    expect(await call('rule', 'remove', { projectId: Q, owner: 'acme', ruleId: web.id })).toEqual({ removed: true, rule: web });
    expect((await groupOf())?.security_group_rules.some((r) => r.port_range_min === 443)).toBe(false);

    // the group removed behind infrafed's back: the post meets 404, and the apply makes the group again
    await neutron.remove(`/security-groups/${group.id}`);
    vendorCalls.length = 0;
    const again = await call('rule', 'apply', { projectId: Q, owner: 'acme', rule: web });
    expect(again.created).toBe(true);
    expect(vendorCalls).toEqual([
      'POST /v2.0/security-group-rules',
      'GET /v2.0/security-groups',
      'POST /v2.0/security-groups',
      'POST /v2.0/security-group-rules',
    ]);
    const remade = await groupOf();
    expect(remade?.id).not.toBe(group.id);
    expect(remade?.security_group_rules.map((r) => r.id)).toContain(again.rule.nativeId);

    await call('project', 'delete', { projectId: Q, owner: 'acme' });
  });

  it('reads quotas and usage from Nova and Neutron, and sets only the limits given', async () => {
    const before = (await call('quota', 'get', { projects: [{ projectId: P, organization: 'acme' }] })).quotas[0];
    expect(before?.usage).toMatchObject({ networks: 1, subnets: 1, cores: 0, securityGroups: 2 });
    expect(before?.limits).toMatchObject({ cores: 20, ramMiB: 51_200, instances: 10, networks: 100 });
    const set = await call('quota', 'set', { projectId: P, owner: 'acme', limits: { cores: 8, networks: 3, securityGroupRules: 50 } });
    expect(set.previous).toEqual({ cores: 20, networks: 100, securityGroupRules: 100 });
    expect(set.limits).toMatchObject({ cores: 8, networks: 3, securityGroupRules: 50, instances: 10, ramMiB: 51_200, subnets: 100 });
    // the vendors hold exactly that; what was not given is unchanged
    expect(await admin.novaQuota(keystone.novaUrl as string, nativeId)).toMatchObject({ cores: 8, instances: 10, ram: 51_200 });
    const neutronQuota = await neutron.get<{ quota: Record<string, number> }>(`/quotas/${nativeId}`);
    expect(neutronQuota.quota).toMatchObject({ network: 3, subnet: 100, security_group_rule: 50 });
  });

  it('refuses a limit below what is in use as CONFLICT, changing nothing (Nova untouched too)', async () => {
    const e = await call('quota', 'set', { projectId: P, owner: 'acme', limits: { cores: 4, networks: 0 } }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CONFLICT', extensions: expect.objectContaining({ resource: 'networks', used: 1, limit: 0 }) });
    expect(await admin.novaQuota(keystone.novaUrl as string, nativeId)).toMatchObject({ cores: 8 });
  });

  it('writes Nova and Neutron side by side without reading again the limits the caller read (a saga step), and puts Nova back when Neutron refuses', async () => {
    vendorCalls.length = 0;
    const set = await call('quota', 'set', {
      projectId: P,
      owner: 'acme',
      limits: { cores: 9, networks: 4 },
      previous: { cores: 8, networks: 3 },
    });
    expect(set.previous).toEqual({ cores: 8, networks: 3 });
    expect([...vendorCalls].sort()).toEqual([`PUT /v2.0/quotas/${nativeId}`, `PUT /v2.1/os-quota-sets/${nativeId}`]);
    expect(await admin.novaQuota(keystone.novaUrl as string, nativeId)).toMatchObject({ cores: 9 });
    expect((await neutron.get<{ quota: Record<string, number> }>(`/quotas/${nativeId}`)).quota).toMatchObject({ network: 4 });

    // a previous that lacks a given limit is not trusted: the limits are read first
    vendorCalls.length = 0;
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { cores: 8, networks: 3 }, previous: { cores: 9 } });
    expect(vendorCalls.filter((c) => c.startsWith('GET')).length).toBeGreaterThan(0);

    // Neutron refuses (below use) while Nova accepted: Nova is put back to the caller's previous value
    const e = await call('quota', 'set', {
      projectId: P,
      owner: 'acme',
      limits: { cores: 5, networks: 0 },
      previous: { cores: 8, networks: 3 },
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CONFLICT', extensions: expect.objectContaining({ resource: 'networks', used: 1, limit: 0 }) });
    expect(await admin.novaQuota(keystone.novaUrl as string, nativeId)).toMatchObject({ cores: 8 });
    expect((await neutron.get<{ quota: Record<string, number> }>(`/quotas/${nativeId}`)).quota).toMatchObject({ network: 3 });
  });

  it('maps going over a Neutron quota to QUOTA_EXCEEDED with resource, limit, used and requested, leaving nothing behind', async () => {
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { networks: 1 } });
    const body = {
      id: NET_C,
      projectId: P,
      owner: 'acme',
      name: 'one-too-many',
      cidr: '10.12.0.0/24',
      gatewayIp: null,
      dnsNameservers: [],
      router: null,
    };
    const e = await call('network', 'create', body).catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      extensions: expect.objectContaining({ region: 'sto', resource: 'networks', limit: 1, used: 1, requested: 1 }),
    });

    // over the subnet quota after the network was made: the network goes too
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { networks: 5, subnets: 1 } });
    const e2 = await call('network', 'create', body).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'QUOTA_EXCEEDED', extensions: expect.objectContaining({ resource: 'subnets', limit: 1, used: 1 }) });
    expect((await neutron.list('networks', nativeId)).length).toBe(1);

    // rules count in every group of the project (Neutron's `default` group has four of its own)
    const inUse = (await call('quota', 'get', { projects: [{ projectId: P, organization: 'acme' }] })).quotas[0]?.usage
      .securityGroupRules as number;
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { securityGroupRules: inUse } });
    const e3 = await call('rule', 'apply', { projectId: P, owner: 'acme', rule: rule({ direction: 'ingress', protocol: 'icmp' }) }).catch(
      (x: unknown) => x,
    );
    expect(e3).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      extensions: expect.objectContaining({ resource: 'securityGroupRules', limit: inUse, used: inUse, requested: 1 }),
    });
  });

  it('reads a batch of projects with a bounded number of Neutron calls, each project with exactly what reading it alone gives', async () => {
    // more projects than Neutron's quota details are read one by one for: limits from the quota list and
    // the defaults, use counted with list calls filtered by many project ids
    const others = Array.from({ length: 9 }, (_, i) => `prj_01batch${String(i).padStart(19, '0')}`);
    for (const [i, projectId] of others.entries()) {
      await call('project', 'create', { projectId, organization: 'acme', name: `batch-${i}`, description: '' });
    }
    await call('quota', 'set', { projectId: others[0] as string, owner: 'acme', limits: { networks: 7, ports: 77, cores: 3 } });
    await call('network', 'create', {
      id: 'net_01batchbatchbatchbatchbatc',
      projectId: others[1] as string,
      owner: 'acme',
      name: 'batch-net',
      cidr: '10.44.0.0/24',
      gatewayIp: null,
      dnsNameservers: [],
      router: null,
    });
    const refs = [P, ...others].map((projectId) => ({ projectId, organization: 'acme' }));
    const alone = await Promise.all(refs.map(async (r) => (await call('quota', 'get', { projects: [r] })).quotas[0]));
    const batch = (await call('quota', 'get', { projects: refs })).quotas;
    expect(batch).toHaveLength(refs.length);
    for (const one of alone) expect(batch.find((q) => q.projectId === one?.projectId)).toEqual(one);
    // the figures are the projects' own: the limits set on one, the network of another counted there only
    const first = batch.find((q) => q.projectId === others[0]);
    expect(first?.limits).toMatchObject({ networks: 7, ports: 77, cores: 3 });
    expect(batch.find((q) => q.projectId === others[1])?.usage.networks).toBe(1);
    expect(first?.usage.networks).toBe(0);
    // networks and rules of the batch in list calls naming many projects: each project gets its own
    const networks = (await call('network', 'list', { projects: refs })).networks;
    expect(networks.filter((n) => n.projectId === others[1]).map((n) => n.name)).toEqual(['batch-net']);
    expect(networks.filter((n) => n.projectId === others[0])).toEqual([]);
    const rules = (await call('rule', 'list', { projects: refs })).rules;
    for (const r of refs) {
      const own = (await call('rule', 'list', { projects: [r] })).rules;
      expect(rules.filter((x) => x.projectId === r.projectId)).toEqual(own);
    }
    for (const projectId of others) await call('project', 'delete', { projectId, owner: 'acme' });
  }, 120_000);

  it('deleting the project removes its networks, routers, rules and groups from Neutron: nothing is orphaned', async () => {
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { subnets: 10, securityGroupRules: 100 } });
    await call('network', 'create', {
      id: NET_C,
      projectId: P,
      owner: 'acme',
      name: 'edge',
      cidr: '10.12.0.0/24',
      gatewayIp: null,
      dnsNameservers: [],
      router: { external: false },
    });
    await expect(call('project', 'delete', { projectId: P, owner: 'acme' })).resolves.toEqual({ deleted: true });
    for (const collection of ['routers', 'ports', 'subnets', 'networks', 'security-groups', 'security-group-rules', 'floatingips']) {
      expect([collection, await neutron.list(collection, nativeId)]).toEqual([collection, []]);
    }
  });
});
