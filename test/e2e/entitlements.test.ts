import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { startLocalSystem, type LocalSystem } from '../../platforms/localSystem.ts';
import { graphqlClient } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';

interface Org {
  id: string;
  entitlements: { total: Record<string, number | null>; regions: { region: string; amounts: Record<string, number | null> }[] };
  usage: { total: Record<string, number | null>; regions: { region: string; amounts: Record<string, number | null> }[] };
  remaining: { total: Record<string, number | null>; regions: { region: string; amounts: Record<string, number | null> }[] };
}
const ORG = 'id entitlements { total { cores ramMiB } regions { region amounts { cores } } } usage { total { cores } regions { region amounts { cores } } } remaining { total { cores } regions { region amounts { cores } } }';

describe('entitlements end to end: operators set them, every setQuota is held against them first', () => {
  let system: LocalSystem;
  let owner: string;
  let operator: string;
  let projectId: string;
  let stoProject: string;

  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => owner,
  );
  const org = async (token = owner, id?: string) => (await gql<{ organization: Org | null }>(`query($id: String) { organization(id: $id) { ${ORG} } }`, { id }, token)).data?.organization;
  const setQuota = (region: string, cores: number) =>
    gql<{ setQuota: { status: string } }>('mutation($p: ID!, $r: String!, $c: Int!) { setQuota(projectId: $p, region: $r, limits: {cores: $c}) { status } }', { p: projectId, r: region, c: cores });

  beforeAll(async () => {
    system = await startLocalSystem({ stateDir: fileURLToPath(new URL('../../.local/test/e2e', import.meta.url)), freshOpenstack: true });
    owner = await system.token('acme', 'owner', 'alice');
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

  const ENTITLE = 'mutation($input: EntitlementsInput!) { setEntitlements(input: $input) { id entitlements { total { cores } regions { region amounts { cores } } } } }';

  it('only platform operators set entitlements; an organisation owner gets FORBIDDEN', async () => {
    const input = { organization: 'acme', total: { cores: 8, ramMiB: 16384 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] };
    const denied = await gql(ENTITLE, { input }, owner);
    expect(denied.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', permission: 'entitlement.manage' });
    const bad = await gql(ENTITLE, { input: { organization: 'acme', total: { cores: -1 }, regions: [{ region: 'mars', amounts: {} }] } }, operator);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const set = await gql<{ setEntitlements: Org }>(ENTITLE, { input }, operator);
    expect(set.errors).toBeUndefined();
    expect(set.data?.setEntitlements.entitlements).toEqual({ total: { cores: 8 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] });
  });

  it('shows the organisation its entitlements, usage and what remains; another organisation sees nothing of it', async () => {
    const mine = await org();
    expect(mine).toEqual({
      id: 'acme',
      entitlements: { total: { cores: 8, ramMiB: 16384 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] },
      usage: { total: { cores: null }, regions: [] },
      remaining: { total: { cores: 8 }, regions: [{ region: 'sto', amounts: { cores: 6 } }] },
    });
    const globex = await system.token('globex', 'owner', 'mallory');
    expect(await org(globex, 'acme')).toBeNull();
    expect((await org(operator, 'acme'))?.id).toBe('acme');
  });

  it('holds setQuota against the entitlements: within them it succeeds; beyond them QUOTA_EXCEEDED and no platform is touched', async () => {
    expect((await setQuota('sto', 4)).data?.setQuota.status).toBe('SUCCEEDED');
    expect((await org())?.usage).toEqual({ total: { cores: 4 }, regions: [{ region: 'sto', amounts: { cores: 4 } }] });
    expect((await org())?.remaining).toEqual({ total: { cores: 4 }, regions: [{ region: 'sto', amounts: { cores: 2 } }] });

    const region = await setQuota('sto', 7);
    expect(region.data ?? null).toBeNull();
    expect(region.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', resource: 'cores', scope: 'region', region: 'sto', limit: 6, used: 4, requested: 3 });
    const total = await setQuota('osl', 5);
    expect(total.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', resource: 'cores', scope: 'organization', limit: 8, used: 4, requested: 5 });
    // nothing reached Nova: the limit is still the one that was allowed
    expect(await keystoneAdmin(system.keystoneUrl('sto')).novaQuota(system.novaUrl('sto'), stoProject)).toMatchObject({ cores: 4 });
    expect((await org())?.usage.total).toEqual({ cores: 4 });
    // lowering a limit frees entitlement
    expect((await setQuota('sto', 1)).data?.setQuota.status).toBe('SUCCEEDED');
    expect((await setQuota('osl', 5)).data?.setQuota.status).toBe('SUCCEEDED');
    expect((await org())?.usage.total).toEqual({ cores: 6 });
  });

  it('deleting the project frees what its quotas held', async () => {
    const res = await gql<{ deleteProject: { status: string } }>('mutation($p: ID!) { deleteProject(id: $p) { status } }', { p: projectId });
    expect(res.data?.deleteProject.status).toBe('SUCCEEDED');
    expect((await org())?.usage).toEqual({ total: { cores: null }, regions: [] });
  });
});
