import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { InfrafedError } from '../../schema/errors.ts';
import {
  requestAdapter,
  type AdapterContractResource,
  type AdapterContractVerb,
  type AdapterRequest,
} from '../../runtime/nats/adapterClient.ts';
import { createKeystoneClient } from '../../adapters/openstack/client/keystoneClient.ts';
import type { OpenstackAdapter } from '../../adapters/openstack/createOpenstackAdapter.ts';
import { adapterCallTimeoutMs, startOpenstackAdapter } from '../harness/adapter.ts';
import { keystoneAdmin, startKeystone, type TestKeystone } from '../harness/keystone.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';
import { takeVendorTurns } from '../harness/vendorLock.ts';

const P1 = 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa';
const P2 = 'prj_01bbbbbbbbbbbbbbbbbbbbbbbb';

// builds Neutron routers: takes turns with the other jest's such suites (npm test runs two side by side)
takeVendorTurns('openstackAdapter');

describe('OpenStack adapter against real Keystone over real NATS', () => {
  let nats: TestNatsServer;
  let keystone: TestKeystone;
  let nc: NatsConnection;
  let adapter: OpenstackAdapter;
  let admin: ReturnType<typeof keystoneAdmin>;
  let projectLookups = 0;

  const call = <R extends AdapterContractResource, V extends AdapterContractVerb<R>>(resource: R, verb: V, body: AdapterRequest<R, V>) =>
    requestAdapter(nc, { region: 'sto', platform: 'openstack' }, resource, verb, body, { timeoutMs: adapterCallTimeoutMs(resource, verb) });

  beforeAll(async () => {
    [nats, keystone] = await Promise.all([startNatsServer(), startKeystone('adapter-it', 'sto', { withNeutron: true })]);
    nc = await connect({ servers: nats.url });
    adapter = await startOpenstackAdapter(nc, keystone, { onProjectLookup: () => projectLookups++ });
    admin = keystoneAdmin(keystone.url);
  }, 60_000);

  afterAll(async () => {
    await adapter?.stop();
    await nc?.close();
    await Promise.all([nats?.stop(), keystone?.stop()]);
  });

  it('creates a tagged Keystone project in the organisation’s domain, and finds it instead of creating it twice', async () => {
    const first = await call('project', 'create', { projectId: P1, organization: 'acme', name: 'web shop', description: 'shop' });
    const again = await call('project', 'create', { projectId: P1, organization: 'acme', name: 'web shop', description: 'shop' });
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.placement.nativeId).toBe(first.placement.nativeId);
    const inKeystone = await admin.projectsTagged(`ifd-project=${P1}`);
    expect(inKeystone).toHaveLength(1);
    expect(inKeystone[0]?.tags.sort()).toEqual(['ifd-org=acme', `ifd-project=${P1}`, 'infrafed']);
    expect(inKeystone[0]?.name).toBe('web shop');
  });

  it('refuses a second project with the same name in the same organisation as CONFLICT', async () => {
    await expect(
      call('project', 'create', { projectId: P2, organization: 'acme', name: 'web shop', description: '' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      extensions: expect.objectContaining({ region: 'sto' }),
    });
    // another organisation has its own domain, so the name is free there
    const other = await call('project', 'create', { projectId: P2, organization: 'globex', name: 'web shop', description: '' });
    expect(other.created).toBe(true);
  });

  it('lists only the asking organisation’s projects and gets one by global id', async () => {
    const acme = await call('project', 'list', { organization: 'acme' });
    expect(acme.placements.map((p) => p.projectId)).toEqual([P1]);
    const globex = await call('project', 'list', { organization: 'globex', projectIds: [P1, P2] });
    expect(globex.placements.map((p) => p.projectId)).toEqual([P2]);
    const none = await call('project', 'list', { organization: 'initech' });
    expect(none.placements).toEqual([]);
    const got = await call('project', 'get', { projectId: P1, owner: 'acme' });
    expect(got.placement?.organization).toBe('acme');
  });

  it('adds a member with a role, changes the role, lists and removes it, reporting the previous role each time', async () => {
    const added = await call('member', 'add', {
      projectId: P1,
      owner: 'acme',
      user: 'alice@acme.example',
      organization: 'acme',
      role: 'reader',
    });
    expect(added.previousRole).toBeNull();
    const changed = await call('member', 'add', {
      projectId: P1,
      owner: 'acme',
      user: 'alice@acme.example',
      organization: 'acme',
      role: 'admin',
    });
    expect(changed.previousRole).toBe('reader');
    const [native] = await admin.projectsTagged(`ifd-project=${P1}`);
    const roles = (await admin.roleAssignments(native?.id as string)).filter((a) => a.user === 'alice@acme.example');
    // infrafed's admin is Keystone's member + manager, never Keystone's admin (cloud-wide admin under the legacy policies)
    expect(roles.map((r) => r.role).sort()).toEqual(['manager', 'member']);
    expect(roles.every((r) => r.domain === 'ifd-acme')).toBe(true);
    const listed = await call('member', 'list', {
      projects: [
        { projectId: P1, organization: 'acme' },
        { projectId: P2, organization: 'globex' },
      ],
    });
    // globex's project P2 with acme's Keystone project id: never P1's members (natives are found by tag only)
    const aimed = await call('member', 'list', { projects: [{ projectId: P2, organization: 'globex', nativeId: native?.id } as never] });
    expect(aimed.members).toEqual([]);
    // acme's project named as globex's: the native is tagged for acme, so the adapter answers nothing
    const misnamed = await call('member', 'list', { projects: [{ projectId: P1, organization: 'globex' }] });
    expect(misnamed.members).toEqual([]);
    expect(listed.members).toEqual([{ projectId: P1, kind: 'user', user: 'alice@acme.example', organization: 'acme', role: 'admin' }]);
    const removed = await call('member', 'remove', { projectId: P1, owner: 'acme', user: 'alice@acme.example', organization: 'acme' });
    expect(removed).toEqual({ removed: true, previousRole: 'admin' });
    expect((await admin.roleAssignments(native?.id as string)).filter((a) => a.user === 'alice@acme.example')).toEqual([]);
    const again = await call('member', 'remove', { projectId: P1, owner: 'acme', user: 'alice@acme.example', organization: 'acme' });
    expect(again).toEqual({ removed: false, previousRole: null });
  });

  it('refuses to start with a role mapping that names a role this Keystone lacks, saying what to configure', async () => {
    const started = startOpenstackAdapter(nc, keystone, {
      roles: { reader: ['reader'], member: ['member'], admin: ['member', 'project-owner'] },
    });
    await expect(started).rejects.toThrow(/Keystone of region sto[\s\S]*has no role project-owner/);
  });

  it('answers NOT_FOUND for members of a project that has no placement here', async () => {
    const e = await call('member', 'add', {
      projectId: 'prj_01cccccccccccccccccccccccc',
      owner: 'acme',
      user: 'bob',
      organization: 'acme',
      role: 'member',
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InfrafedError);
    expect((e as InfrafedError).code).toBe('NOT_FOUND');
  });

  it('looks a project up by its tag once, keeps its owner with it, and forgets it when the project is deleted', async () => {
    const P4 = 'prj_01ffffffffffffffffffffffff';
    await call('project', 'create', { projectId: P4, organization: 'acme', name: 'remembered', description: '' });
    const before = projectLookups;
    const add = (owner: string) => call('member', 'add', { projectId: P4, owner, user: 'carol', organization: owner, role: 'member' });
    await add('acme');
    await add('acme');
    await call('member', 'remove', { projectId: P4, owner: 'acme', user: 'carol', organization: 'acme' });
    // the create told the replica the project's native id and owner: no lookup by tag for these steps
    expect(projectLookups - before).toBe(0);
    // another organisation is refused from what the replica knows, as from Keystone
    await expect(add('globex')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(call('project', 'delete', { projectId: P4, owner: 'globex' })).resolves.toEqual({ deleted: false });
    expect(await admin.projectsTagged(`ifd-project=${P4}`)).toHaveLength(1);
    await expect(call('project', 'delete', { projectId: P4, owner: 'acme' })).resolves.toEqual({ deleted: true });
    // forgotten with the delete: the next step asks Keystone, which has no such project any more
    await expect(add('acme')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(projectLookups - before).toBe(1);
  });

  it('deletes idempotently and leaves nothing in Keystone', async () => {
    await expect(call('project', 'delete', { projectId: P1, owner: 'acme' })).resolves.toEqual({ deleted: true });
    await expect(call('project', 'delete', { projectId: P1, owner: 'acme' })).resolves.toEqual({ deleted: false });
    await call('project', 'delete', { projectId: P2, owner: 'globex' });
    expect(await admin.allInfrafedProjects()).toEqual([]);
  });

  it('deleting a project first removes what it owns in Neutron (router with interface, subnet, network, security groups)', async () => {
    const P3 = 'prj_01eeeeeeeeeeeeeeeeeeeeeeee';
    const created = await call('project', 'create', { projectId: P3, organization: 'acme', name: 'with-network', description: '' });
    const project_id = created.placement.nativeId;
    const neutron = admin.neutron(keystone.neutronUrl as string);
    const { network } = await neutron.create<{ network: { id: string } }>('/networks', { network: { name: 'net', project_id } });
    const { subnet } = await neutron.create<{ subnet: { id: string } }>('/subnets', {
      subnet: { network_id: network.id, cidr: '10.20.0.0/24', ip_version: 4, project_id },
    });
    const { router } = await neutron.create<{ router: { id: string } }>('/routers', { router: { name: 'rtr', project_id } });
    await neutron.put(`/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id });
    await neutron.create('/security-groups', { security_group: { name: 'web', project_id } });
    expect((await neutron.list('security-groups', project_id)).length).toBeGreaterThanOrEqual(1);
    expect(await neutron.list('ports', project_id)).toHaveLength(1);

    await expect(call('project', 'delete', { projectId: P3, owner: 'acme' })).resolves.toEqual({ deleted: true });
    for (const collection of ['routers', 'ports', 'subnets', 'networks', 'security-groups', 'floatingips']) {
      expect([collection, await neutron.list(collection, project_id)]).toEqual([collection, []]);
    }
    expect(await admin.projectsTagged(`ifd-project=${P3}`)).toEqual([]);
  });

  it('reports its health with the Keystone version and round trip', async () => {
    const health = await call('health', 'check', {});
    expect(health).toMatchObject({ region: 'sto', platform: 'openstack', vendorVersion: 'keystone v3.14' });
  });

  it('maps Keystone being down to REGION_UNAVAILABLE', async () => {
    const client = createKeystoneClient({
      url: 'http://127.0.0.1:9/v3',
      username: 'admin',
      password: 'x',
      projectName: 'admin',
      userDomainId: 'default',
      projectDomainId: 'default',
      timeoutMs: 1_000,
      service: 'Keystone nowhere',
      context: { region: 'nowhere' },
    });
    await expect(client.version()).rejects.toMatchObject({ code: 'REGION_UNAVAILABLE', message: 'Keystone nowhere is unreachable' });
  });
});
