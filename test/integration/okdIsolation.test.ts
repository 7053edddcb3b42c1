import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  requestAdapter,
  type AdapterContractResource,
  type AdapterContractVerb,
  type AdapterRequest,
} from '../../runtime/nats/adapterClient.ts';
import { startOkdEmulator, type OkdEmulator } from '../../platforms/okd/emulator.ts';
import { accessRuleInput, fromAccessRuleInput } from '../../schema/network.ts';
import type { OkdAdapter } from '../../adapters/okd/createOkdAdapter.ts';
import { startOkdAdapter } from '../harness/adapter.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';

/**
 * Organisations stay apart on OKD: object names no organisation can make collide, nothing labelled for
 * another organisation is taken over, and two organisations' users of the same name are two OpenShift users.
 */
describe('OKD adapter: organisations apart on the cluster', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let api: OkdEmulator;
  let adapter: OkdAdapter;
  const ACME = 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa';
  const ACME_OPS = 'prj_01bbbbbbbbbbbbbbbbbbbbbbbb';

  const call = <R extends AdapterContractResource, V extends AdapterContractVerb<R>>(resource: R, verb: V, body: AdapterRequest<R, V>) =>
    requestAdapter(nc, { region: 'lla', platform: 'okd' }, resource, verb, body, { timeoutMs: 8_000 });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
    );
  const group = (name: string) =>
    api.objects('groups').find((g) => g.metadata.name === name) as
      { metadata: { labels?: Record<string, string> }; users: string[] } | undefined;
  const bindings = (ns: string) =>
    api.objects('rolebindings', ns) as unknown as {
      metadata: { labels: Record<string, string> };
      roleRef: { name: string };
      subjects: { kind: string; name: string }[];
    }[];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    api = await startOkdEmulator({ token: 'isolation-token' });
    adapter = await startOkdAdapter(nc, 'lla', api.url, 'isolation-token');
    await call('project', 'create', { projectId: ACME, organization: 'acme', name: 'genomics', description: '' });
    await call('project', 'create', { projectId: ACME_OPS, organization: 'acme-ops', name: 'ops', description: '' });
  }, 60_000);

  afterAll(async () => {
    await adapter?.stop();
    await api?.close();
    await nc?.close();
    await nats?.stop();
  });

  it("keeps acme's group ops and organisation acme-ops's own Group apart", async () => {
    await call('member', 'add', { projectId: ACME, owner: 'acme', kind: 'group', user: 'ops', organization: 'acme', role: 'admin' });
    await call('member', 'add', {
      projectId: ACME_OPS,
      owner: 'acme-ops',
      kind: 'user',
      user: 'mallory',
      organization: 'acme-ops',
      role: 'reader',
    });
    const acmeGroup = bindings(`ifd-${ACME.replace('_', '-')}`).find((b) => b.subjects[0]?.kind === 'Group')?.subjects[0]?.name as string;
    // acme's group is bound with admin in acme's project; mallory of acme-ops must not be in it
    expect(group(acmeGroup)?.users ?? []).not.toContain('mallory');
    expect(group(acmeGroup)?.users ?? []).not.toContain('acme-ops:mallory');
    expect(group(acmeGroup)?.metadata.labels?.['infrafed.io/org']).toBe('acme');
    const orgGroups = api.objects('groups').filter((g) => g.metadata.labels?.['infrafed.io/org'] === 'acme-ops');
    expect(orgGroups.map((g) => g.metadata.name)).not.toContain(acmeGroup);
  });

  it('refuses to take over a Group or a namespace labelled for another organisation (CONFLICT), and leaves it as it was', async () => {
    // globex's group "research" exists under the name acme's group "research" gets
    const acmeResearch = 'ifd:acme:research';
    await fetch(`${api.url}/apis/user.openshift.io/v1/groups`, {
      method: 'POST',
      headers: { authorization: 'Bearer isolation-token', 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'user.openshift.io/v1',
        kind: 'Group',
        metadata: { name: acmeResearch, labels: { 'infrafed.io/org': 'globex' } },
        users: ['eve'],
      }),
    });
    expect(
      await failure(
        call('member', 'add', { projectId: ACME, owner: 'acme', kind: 'group', user: 'research', organization: 'acme', role: 'member' }),
      ),
    ).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/belongs to another organisation/),
    });
    expect(group(acmeResearch)?.users).toEqual(['eve']);
    expect(bindings(`ifd-${ACME.replace('_', '-')}`).filter((b) => b.subjects[0]?.name === acmeResearch)).toEqual([]);
    // a project create whose namespace exists for another organisation
    expect(
      await failure(call('project', 'create', { projectId: ACME, organization: 'globex', name: 'genomics', description: '' })),
    ).toMatchObject({ code: 'CONFLICT' });
  });

  it("binds each organisation's user u42 as its own OpenShift user on a shared project", async () => {
    await call('member', 'add', { projectId: ACME, owner: 'acme', kind: 'user', user: 'u42', organization: 'acme', role: 'reader' });
    await call('member', 'add', { projectId: ACME, owner: 'acme', kind: 'user', user: 'u42', organization: 'uni-b', role: 'member' });
    const ns = `ifd-${ACME.replace('_', '-')}`;
    const userBindings = bindings(ns)
      .filter((b) => b.subjects[0]?.kind === 'User')
      .map((b) => [b.subjects[0]?.name, b.roleRef.name])
      .sort();
    expect(userBindings).toEqual([
      ['acme:u42', 'view'],
      ['uni-b:u42', 'edit'],
    ]);
    // the members read back as each organisation's own user
    const { members } = await call('member', 'list', { projects: [{ projectId: ACME, organization: 'acme' }] });
    expect(members.filter((m) => m.user === 'u42').map((m) => [m.organization, m.role])).toEqual([
      ['acme', 'reader'],
      ['uni-b', 'member'],
    ]);
  });

  it("cannot remove another organisation's ResourceQuota by setting its limits to none (the adapter may delete infrafed's quota)", async () => {
    await call('quota', 'set', { projectId: ACME, owner: 'acme', limits: { cores: 4 } });
    const quota = () => api.objects('resourcequotas', `ifd-${ACME.replace('_', '-')}`).find((q) => q.metadata.name === 'infrafed');
    expect(quota()).toBeDefined();
    // acme-ops names acme's project as its own: the namespace is not its, nothing is touched
    expect(await failure(call('quota', 'set', { projectId: ACME, owner: 'acme-ops', limits: { cores: null } }))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((quota()?.spec as { hard: Record<string, string> }).hard).toEqual({ 'requests.cpu': '4' });
    // its owner setting it to none removes it
    await call('quota', 'set', { projectId: ACME, owner: 'acme', limits: { cores: null } });
    expect(quota()).toBeUndefined();
  });

  it("cannot change the description of another organisation's rule (the adapter may now update NetworkPolicies)", async () => {
    const rule = fromAccessRuleInput(
      accessRuleInput.parse({
        direction: 'ingress',
        protocol: 'tcp',
        ports: { from: 443 },
        remoteCidr: '192.0.2.0/24',
        description: 'acme web',
      }),
    );
    await call('rule', 'apply', { projectId: ACME, owner: 'acme', rule });
    const annotation = () =>
      (api.objects('networkpolicies', `ifd-${ACME.replace('_', '-')}`) as { metadata: { annotations?: Record<string, string> } }[]).map(
        (p) => p.metadata.annotations?.['infrafed.io/description'],
      );
    expect(annotation()).toEqual(['acme web']);
    // acme-ops names acme's project as its own, with the same rule and another description: nothing changes
    expect(
      await failure(call('rule', 'apply', { projectId: ACME, owner: 'acme-ops', rule: { ...rule, description: 'taken' } })),
    ).toMatchObject({ code: 'NOT_FOUND' });
    expect(annotation()).toEqual(['acme web']);
  });
});
