import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Platform } from '../../schema/model.ts';
import { accessRuleInput, fromAccessRuleInput } from '../../schema/network.ts';
import {
  requestAdapter,
  type AdapterContractResource,
  type AdapterContractVerb,
  type AdapterRequest,
} from '../../runtime/nats/adapterClient.ts';
import { startOkdEmulator, type OkdEmulator } from '../../platforms/okd/emulator.ts';
import { adapterCallTimeoutMs, startOkdAdapter, startOpenstackAdapter } from '../harness/adapter.ts';
import { keystoneAdmin, startKeystone, type TestKeystone } from '../harness/keystone.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';
import { takeVendorTurns } from '../harness/vendorLock.ts';

/** How to run one platform's adapter, and how to look at the platform directly (not through the adapter). */
interface PlatformUnderTest {
  platform: Platform;
  region: string;
  start(nc: NatsConnection): Promise<{ stop(): Promise<void> }>;
  /** Native objects left for a project (after delete: must be none). */
  leftovers(projectId: string, nativeId: string): Promise<unknown[]>;
  /** A quota resource this platform does not have. */
  foreignQuota: string;
}

const okdUnderTest = (): PlatformUnderTest => {
  let api: OkdEmulator;
  return {
    platform: 'okd',
    region: 'lla',
    async start(nc) {
      // the adapter's own ClusterRole (deploy/okd/adapter-clusterrole.yaml) is all the emulator grants; deleted namespaces stay Terminating a while
      api = await startOkdEmulator({ token: 'contract-token', terminationMs: 300 });
      const adapter = await startOkdAdapter(nc, 'lla', api.url, 'contract-token');
      return {
        async stop() {
          await adapter.stop();
          await api.close();
        },
      };
    },
    async leftovers(_projectId, nativeId) {
      return [
        ...api.objects('namespaces').filter((n) => n.metadata.name === nativeId),
        ...api.objects('networkpolicies', nativeId),
        ...api.objects('rolebindings', nativeId),
        ...api.objects('resourcequotas', nativeId),
      ];
    },
    foreignQuota: 'networks',
  };
};

const openstackUnderTest = (): PlatformUnderTest => {
  let keystone: TestKeystone;
  return {
    platform: 'openstack',
    region: 'sto',
    async start(nc) {
      keystone = await startKeystone('contract', 'sto', { withNeutron: true, withNova: true });
      const adapter = await startOpenstackAdapter(nc, keystone);
      return {
        async stop() {
          await adapter.stop();
          await keystone.stop();
        },
      };
    },
    async leftovers(projectId, nativeId) {
      const admin = keystoneAdmin(keystone.url);
      const neutron = admin.neutron(keystone.neutronUrl as string);
      return [
        ...(await admin.projectsTagged(`ifd-project=${projectId}`)),
        ...(await neutron.list('security-groups', nativeId)),
        ...(await neutron.list('security-group-rules', nativeId)),
      ];
    },
    foreignQuota: 'volumes',
  };
};

const P = 'prj_01cccccccccccccccccccccccc';

/**
 * One contract, two platforms: the same requests over NATS and the same answers from the OpenStack adapter
 * (real Keystone, Neutron, nova-api) and the OKD adapter (the Kubernetes/OpenShift API emulator).
 */
// builds Neutron routers: takes turns with the other jest's such suites (npm test runs two side by side)
takeVendorTurns('adapterContract');

describe.each([openstackUnderTest(), okdUnderTest()])('adapter contract on $platform', (target) => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let running: { stop(): Promise<void> };
  let nativeId: string;

  const call = <R extends AdapterContractResource, V extends AdapterContractVerb<R>>(resource: R, verb: V, body: AdapterRequest<R, V>) =>
    requestAdapter(nc, { region: target.region, platform: target.platform }, resource, verb, body, {
      timeoutMs: adapterCallTimeoutMs(resource, verb),
    });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e,
    );
  const rule = (input: unknown) => fromAccessRuleInput(accessRuleInput.parse(input));

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    running = await target.start(nc);
  }, 120_000);

  afterAll(async () => {
    await running?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('reports its health with the vendor version', async () => {
    const health = await call('health', 'check', {});
    expect(health).toMatchObject({ region: target.region, platform: target.platform, vendorVersion: expect.any(String) });
  });

  it('creates a project, finds it instead of creating it twice, gets and lists it for its organisation only', async () => {
    const body = { projectId: P, organization: 'acme', name: 'contract', description: 'one contract' };
    const first = await call('project', 'create', body);
    const again = await call('project', 'create', body);
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.placement).toEqual(first.placement);
    expect(first.placement).toMatchObject({
      projectId: P,
      organization: 'acme',
      name: 'contract',
      description: 'one contract',
      region: target.region,
      platform: target.platform,
      enabled: true,
    });
    nativeId = first.placement.nativeId;
    expect((await call('project', 'get', { projectId: P, owner: 'acme' })).placement).toEqual(first.placement);
    expect((await call('project', 'list', { organization: 'acme' })).placements).toEqual([first.placement]);
    expect((await call('project', 'list', { organization: 'globex' })).placements).toEqual([]);
  });

  it('adds a member, changes its role, lists and removes it, reporting the previous role each time', async () => {
    const m = { projectId: P, user: 'alice@acme.example', organization: 'acme' };
    expect((await call('member', 'add', { ...m, owner: 'acme', role: 'reader' })).previousRole).toBeNull();
    expect((await call('member', 'add', { ...m, owner: 'acme', role: 'admin' })).previousRole).toBe('reader');
    const listed = await call('member', 'list', { projects: [{ projectId: P, organization: 'acme' }] });
    expect(listed.members).toEqual([{ ...m, kind: 'user', role: 'admin' }]);
    // another project's id with this project's native id: the adapter finds natives by tag/label, never by a caller's id
    const OTHER = 'prj_01dddddddddddddddddddddddd';
    const aimed = await call('member', 'list', { projects: [{ projectId: OTHER, organization: 'acme', nativeId } as never] });
    expect(aimed.members).toEqual([]);
    // this project named as another organisation's: its native is tagged for acme, so nothing
    expect((await call('member', 'list', { projects: [{ projectId: P, organization: 'globex' }] })).members).toEqual([]);
    expect((await call('quota', 'get', { projects: [{ projectId: P, organization: 'globex' }] })).quotas).toEqual([]);
    expect((await call('quota', 'get', { projects: [{ projectId: P, organization: 'globex' }], limitsOnly: true })).quotas).toEqual([]);
    expect((await call('rule', 'list', { projects: [{ projectId: P, organization: 'globex' }] })).rules).toEqual([]);
    expect(await call('member', 'remove', { ...m, owner: 'acme' })).toEqual({ removed: true, previousRole: 'admin' });
    expect(await call('member', 'remove', { ...m, owner: 'acme' })).toEqual({ removed: false, previousRole: null });
    expect((await call('member', 'list', { projects: [{ projectId: P, organization: 'acme' }] })).members).toEqual([]);
  });

  it('gives a group a role (a group named like a user is another member), lists and removes it', async () => {
    const g = { projectId: P, kind: 'group' as const, user: 'alice@acme.example', organization: 'acme' };
    const u = { projectId: P, kind: 'user' as const, user: 'alice@acme.example', organization: 'acme' };
    expect((await call('member', 'add', { ...g, owner: 'acme', role: 'member' })).previousRole).toBeNull();
    expect((await call('member', 'add', { ...u, owner: 'acme', role: 'reader' })).previousRole).toBeNull();
    const listed = await call('member', 'list', { projects: [{ projectId: P, organization: 'acme' }] });
    expect(listed.members).toEqual([
      { ...g, role: 'member' },
      { ...u, role: 'reader' },
    ]);
    expect(await call('member', 'remove', { ...g, owner: 'acme' })).toEqual({ removed: true, previousRole: 'member' });
    expect((await call('member', 'list', { projects: [{ projectId: P, organization: 'acme' }] })).members).toEqual([
      { ...u, role: 'reader' },
    ]);
    await call('member', 'remove', { ...u, owner: 'acme' });
  });

  it('applies a rule once (re-applying reports the existing one), lists it, removes it', async () => {
    const web = rule({
      direction: 'ingress',
      protocol: 'tcp',
      ports: { from: 8080, to: 8090 },
      remoteCidr: '198.51.100.0/24',
      description: 'web',
    });
    const first = await call('rule', 'apply', { projectId: P, owner: 'acme', rule: web });
    const again = await call('rule', 'apply', { projectId: P, owner: 'acme', rule: web });
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.rule).toEqual(first.rule);
    expect(first.rule).toMatchObject({
      id: web.id,
      projectId: P,
      region: target.region,
      platform: target.platform,
      portFrom: 8080,
      portTo: 8090,
      remoteCidr: '198.51.100.0/24',
      status: 'ACTIVE',
    });
    expect([first.previousDescription, again.previousDescription]).toEqual([null, null]);
    const listed = await call('rule', 'list', { projects: [{ projectId: P, organization: 'acme' }] });
    expect(listed.rules.filter((r) => r.id === web.id)).toEqual([first.rule]);

    // the same rule with another description: the description is replaced, and the reply says what it was
    const renamed = await call('rule', 'apply', { projectId: P, owner: 'acme', rule: { ...web, description: 'web, renamed' } });
    expect(renamed).toMatchObject({ created: false, previousDescription: 'web', rule: { id: web.id, description: 'web, renamed' } });
    const relisted = await call('rule', 'list', { projects: [{ projectId: P, organization: 'acme' }] });
    expect(relisted.rules.filter((r) => r.id === web.id).map((r) => r.description)).toEqual(['web, renamed']);
    const back = await call('rule', 'apply', { projectId: P, owner: 'acme', rule: web });
    expect(back).toMatchObject({ created: false, previousDescription: 'web, renamed', rule: { description: 'web' } });

    expect(await call('rule', 'remove', { projectId: P, owner: 'acme', ruleId: web.id })).toEqual({ removed: true, rule: web });
    expect(await call('rule', 'remove', { projectId: P, owner: 'acme', ruleId: web.id })).toEqual({ removed: false, rule: null });
  });

  it('sets only the quota limits given, reads them back, and refuses a limit below use (CONFLICT)', async () => {
    const set = await call('quota', 'set', { projectId: P, owner: 'acme', limits: { cores: 4, ramMiB: 4096 } });
    expect(set.limits).toMatchObject({ cores: 4, ramMiB: 4096 });
    const read = (await call('quota', 'get', { projects: [{ projectId: P, organization: 'acme' }] })).quotas[0];
    expect(read?.limits).toMatchObject({ cores: 4, ramMiB: 4096 });
    // the limits alone (a write's undo reads these): the same limits; the use may be left out
    const limitsOnly = (await call('quota', 'get', { projects: [{ projectId: P, organization: 'acme' }], limitsOnly: true })).quotas[0];
    expect(limitsOnly?.limits).toEqual(read?.limits);
    const again = await call('quota', 'set', { projectId: P, owner: 'acme', limits: { instances: 3 } });
    expect(again.previous).toEqual({ instances: target.platform === 'okd' ? null : 10 });
    expect(again.limits).toMatchObject({ cores: 4, ramMiB: 4096, instances: 3 });

    await call('rule', 'apply', {
      projectId: P,
      owner: 'acme',
      rule: rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 22 } }),
    });
    const below = await failure(call('quota', 'set', { projectId: P, owner: 'acme', limits: { securityGroupRules: 0 } }));
    expect(below).toMatchObject({ code: 'CONFLICT', extensions: expect.objectContaining({ resource: 'securityGroupRules', limit: 0 }) });
  });

  it('refuses a rule over the quota with QUOTA_EXCEEDED and the figures', async () => {
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { securityGroupRules: 1_000 } });
    const inUse = (await call('quota', 'get', { projects: [{ projectId: P, organization: 'acme' }] })).quotas[0]?.usage
      .securityGroupRules as number;
    expect(inUse).toBeGreaterThanOrEqual(1);
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { securityGroupRules: inUse } });
    const over = await failure(
      call('rule', 'apply', { projectId: P, owner: 'acme', rule: rule({ direction: 'egress', protocol: 'udp', ports: { from: 53 } }) }),
    );
    expect(over).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      extensions: expect.objectContaining({
        region: target.region,
        platform: target.platform,
        resource: 'securityGroupRules',
        limit: inUse,
        used: inUse,
        requested: 1,
      }),
    });
  });

  it('says NOT_FOUND for a project it does not have, BAD_REQUEST for a malformed message, NOT_SUPPORTED for what the platform lacks', async () => {
    const missing = 'prj_01dddddddddddddddddddddddd';
    expect(
      await failure(call('member', 'add', { projectId: missing, owner: 'acme', user: 'bob', organization: 'acme', role: 'member' })),
    ).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(
      await failure(call('rule', 'apply', { projectId: missing, owner: 'acme', rule: rule({ direction: 'ingress', protocol: 'any' }) })),
    ).toMatchObject({ code: 'NOT_FOUND' });
    // a request that breaks the contract on purpose (callers' bodies are typed, so it takes a cast)
    expect(await failure(call('project', 'create', { projectId: 'nope' } as never))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await failure(call('quota', 'set', { projectId: P, owner: 'acme', limits: { [target.foreignQuota]: 1 } }))).toMatchObject({
      code: 'NOT_SUPPORTED',
    });
    if (target.platform === 'okd') {
      const net = {
        id: 'net_01aaaaaaaaaaaaaaaaaaaaaaaa',
        projectId: P,
        owner: 'acme',
        name: 'n',
        cidr: '10.0.0.0/24',
        gatewayIp: null,
        dnsNameservers: [],
        router: null,
      };
      expect(await failure(call('network', 'create', net))).toMatchObject({
        code: 'NOT_SUPPORTED',
        message: expect.stringContaining('OKD placement has none'),
      });
      expect(
        await failure(call('rule', 'apply', { projectId: P, owner: 'acme', rule: rule({ direction: 'ingress', protocol: 'icmp' }) })),
      ).toMatchObject({
        code: 'NOT_SUPPORTED',
      });
    }
  });

  it("changes nothing of a project named as another organisation's: NOT_FOUND, and the delete finds nothing", async () => {
    const foreign = { projectId: P, owner: 'globex' };
    expect(await failure(call('member', 'add', { ...foreign, user: 'mallory', organization: 'globex', role: 'admin' }))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await failure(call('quota', 'set', { ...foreign, limits: { instances: 1 } }))).toMatchObject({ code: 'NOT_FOUND' });
    // the limits a caller says it read (`previous`) are no way in either
    expect(await failure(call('quota', 'set', { ...foreign, limits: { instances: 1 }, previous: { instances: 10 } }))).toMatchObject({
      code: 'NOT_FOUND',
    });
    // a rule the replica knows (it made it just now, so an OpenStack adapter remembers its Neutron id) is not
    // removed for another organisation
    const kept = rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 2222 } });
    // (the quota test before left no room for a rule)
    await call('quota', 'set', { projectId: P, owner: 'acme', limits: { securityGroupRules: 1_000 } });
    await call('rule', 'apply', { projectId: P, owner: 'acme', rule: kept });
    expect(await call('rule', 'remove', { ...foreign, ruleId: kept.id })).toEqual({ removed: false, rule: null });
    expect((await call('rule', 'list', { projects: [{ projectId: P, organization: 'acme' }] })).rules.map((r) => r.id)).toContain(kept.id);
    expect(await call('rule', 'remove', { projectId: P, owner: 'acme', ruleId: kept.id })).toMatchObject({ removed: true });
    expect(
      await failure(call('rule', 'apply', { ...foreign, rule: rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 1 } }) })),
    ).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await call('project', 'delete', foreign)).toEqual({ deleted: false });
    expect((await call('project', 'get', foreign)).placement).toBeNull();
    expect((await call('project', 'get', { projectId: P, owner: 'acme' })).placement?.projectId).toBe(P);
    expect((await call('member', 'list', { projects: [{ projectId: P, organization: 'acme' }] })).members.map((m) => m.user)).not.toContain(
      'mallory',
    );
  });

  it('deletes the project with everything in it, idempotently', async () => {
    expect(await call('project', 'delete', { projectId: P, owner: 'acme' })).toEqual({ deleted: true });
    expect(await call('project', 'delete', { projectId: P, owner: 'acme' })).toEqual({ deleted: false });
    expect((await call('project', 'get', { projectId: P, owner: 'acme' })).placement).toBeNull();
    expect((await call('project', 'list', { organization: 'acme' })).placements.map((p) => p.projectId)).not.toContain(P);
    // a platform may take a moment to remove what was in the project (OKD: the namespace is Terminating)
    let left = await target.leftovers(P, nativeId);
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await target.leftovers(P, nativeId);
    }
    expect(left).toEqual([]);
  });
});
