import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';

describe('identity end to end: gateway → subgraphs → controller → adapters → Keystone (two regions)', () => {
  let system: SharedSystem;
  let acme: string;
  let globex: string;
  let sto: ReturnType<typeof keystoneAdmin>;
  let osl: ReturnType<typeof keystoneAdmin>;

  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => acme,
  );

  const CREATE = `mutation($input: CreateProjectInput!) { createProject(input: $input) { id status projectId error { code message region } steps { region platform status nativeId error { code } } } }`;
  const both = [
    { region: 'sto', platform: 'openstack' },
    { region: 'osl', platform: 'openstack' },
  ];

  beforeAll(async () => {
    // a stable state dir: the first run bootstraps the regions, later runs restore their snapshots
    system = await sharedSystem();
    acme = await system.token('acme-id', 'owner', 'alice');
    globex = await system.token('globex-id', 'owner', 'mallory');
    sto = keystoneAdmin(system.keystoneUrl('sto'));
    osl = keystoneAdmin(system.keystoneUrl('osl'));
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  /** `regions` until `done` says its answer is the one awaited (the status is looked at every 2 s in the background). */
  async function regionsUntil<T>(query: string, done: (data: T | undefined) => boolean): Promise<T | undefined> {
    const until = Date.now() + 10_000;
    for (;;) {
      const res = await gql<T>(query);
      expect(res.errors).toBeUndefined();
      if (done(res.data ?? undefined) || Date.now() > until) return res.data ?? undefined;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('lists the configured regions with live health from service discovery', async () => {
    type Regions = {
      regions: {
        name: string;
        platforms: { platform: string; status: string; adapters: number; vendorVersion: string; checkedAt: string }[];
      }[];
    };
    const data = await regionsUntil<Regions>('{ regions { name platforms { platform status adapters vendorVersion checkedAt } } }', (d) =>
      (d?.regions ?? []).every((r) => r.platforms.every((p) => p.status === 'UP')),
    );
    // looked at in the background, at most a refresh (2 s) and a look ago
    for (const p of data?.regions.flatMap((r) => r.platforms) ?? []) expect(Date.now() - Date.parse(p.checkedAt)).toBeLessThan(5_000);
    const withoutTime = data?.regions.map((r) => ({ ...r, platforms: r.platforms.map(({ checkedAt: _c, ...p }) => p) }));
    expect(withoutTime).toEqual([
      { name: 'sto', platforms: [{ platform: 'openstack', status: 'UP', adapters: 1, vendorVersion: 'keystone v3.14' }] },
      { name: 'osl', platforms: [{ platform: 'openstack', status: 'UP', adapters: 1, vendorVersion: 'keystone v3.14' }] },
      { name: 'lla', platforms: [{ platform: 'okd', status: 'UP', adapters: 1, vendorVersion: 'okd v1.29.0+okd-emulator' }] },
    ]);
  });

  let projectId: string;

  it('creates a project in both regions, tagged with its global id and organisation', async () => {
    const res = await gql<{
      createProject: { status: string; projectId: string; steps: { region: string; status: string; nativeId: string }[] };
    }>(CREATE, {
      input: { organization: 'acme-id', name: 'research-cluster', description: 'genomics', placements: both },
    });
    expect(res.errors).toBeUndefined();
    const op = res.data?.createProject;
    expect(op?.status).toBe('SUCCEEDED');
    expect(op?.steps.map((s) => [s.region, s.status])).toEqual([
      ['sto', 'SUCCEEDED'],
      ['osl', 'SUCCEEDED'],
    ]);
    projectId = op?.projectId as string;
    for (const [admin, step] of [
      [sto, op?.steps[0]],
      [osl, op?.steps[1]],
    ] as const) {
      const found = await admin.projectsTagged(`ifd-project=${projectId}`);
      expect(found.map((p) => [p.id, p.name])).toEqual([[step?.nativeId, 'research-cluster']]);
      expect(found[0]?.tags).toContain('ifd-org=acme-id');
    }
  });

  it('lists the organisation’s projects across regions, merged by global id, and gets one by id', async () => {
    const list = await gql<{ projects: { id: string; name: string; placements: { region: string }[] }[] }>(
      '{ projects { id name placements { region platform nativeId } } }',
    );
    expect(list.errors).toBeUndefined();
    expect(list.data?.projects.map((p) => [p.id, p.name, p.placements.map((x) => x.region)])).toEqual([
      [projectId, 'research-cluster', ['osl', 'sto']],
    ]);
    const one = await gql<{ project: { id: string; description: string } }>('query($id: ID!) { project(id: $id) { id description } }', {
      id: projectId,
    });
    expect(one.data?.project).toEqual({ id: projectId, description: 'genomics' });
  });

  it('adds a member in every placement, shows it, changes its role and removes it', async () => {
    const add = await gql<{ addMember: { status: string; target: unknown } }>(
      'mutation($p: ID!) { addMember(projectId: $p, user: "bob@acme-id.example", role: "member") { status target { type id role } } }',
      { p: projectId },
    );
    expect(add.data?.addMember.status).toBe('SUCCEEDED');
    // the operation says whom it is about, and with which role
    expect(add.data?.addMember.target).toEqual({ type: 'user', id: 'bob@acme-id.example', role: 'member' });
    const [nativeSto] = await sto.projectsTagged(`ifd-project=${projectId}`);
    const [nativeOsl] = await osl.projectsTagged(`ifd-project=${projectId}`);
    expect(await sto.roleAssignments(nativeSto?.id as string)).toContainEqual({
      user: 'bob@acme-id.example',
      domain: 'ifd-acme-id',
      role: 'member',
    });
    expect(await osl.roleAssignments(nativeOsl?.id as string)).toContainEqual({
      user: 'bob@acme-id.example',
      domain: 'ifd-acme-id',
      role: 'member',
    });

    await gql('mutation($p: ID!) { addMember(projectId: $p, user: "bob@acme-id.example", role: "admin") { status } }', { p: projectId });
    const members = await gql<{ project: { members: { user: string; role: string; region: string }[] } }>(
      'query($id: ID!) { project(id: $id) { members { user organization role region platform } } }',
      { id: projectId },
    );
    expect(members.data?.project.members.map((m) => [m.user, m.role, m.region])).toEqual([
      ['bob@acme-id.example', 'admin', 'osl'],
      ['bob@acme-id.example', 'admin', 'sto'],
    ]);

    const REMOVE = 'mutation($p: ID!) { removeMember(projectId: $p, user: "bob@acme-id.example") { status steps { changed } } }';
    const removed = await gql<{ removeMember: { status: string; steps: { changed: boolean | null }[] } }>(REMOVE, { p: projectId });
    expect(removed.data?.removeMember.status).toBe('SUCCEEDED');
    expect(removed.data?.removeMember.steps.map((s) => s.changed)).toEqual([true, true]);
    expect((await sto.roleAssignments(nativeSto?.id as string)).filter((a) => a.user === 'bob@acme-id.example')).toEqual([]);
    expect((await osl.roleAssignments(nativeOsl?.id as string)).filter((a) => a.user === 'bob@acme-id.example')).toEqual([]);
    // removing again changes nothing, and says so
    const again = await gql<{ removeMember: { steps: { changed: boolean | null }[] } }>(REMOVE, { p: projectId });
    expect(again.data?.removeMember.steps.map((s) => s.changed)).toEqual([false, false]);

    // the audit trail names whom each change was about, with the role given or held before the removal
    const trail = await gql<{ auditEvents: { events: { action: string; result: string; target: unknown }[] } }>(
      'query($f: AuditFilter) { auditEvents(filter: $f, first: 500) { events { action result target { type id role } } } }',
      { f: { projectId } },
    );
    const memberEvents = (trail.data?.auditEvents.events ?? []).filter((e) => e.action.startsWith('member.'));
    expect(memberEvents).toEqual([
      { action: 'member.add', result: 'SUCCEEDED', target: { type: 'user', id: 'bob@acme-id.example', role: 'member' } },
      { action: 'member.add', result: 'SUCCEEDED', target: { type: 'user', id: 'bob@acme-id.example', role: 'admin' } },
      { action: 'member.remove', result: 'SUCCEEDED', target: { type: 'user', id: 'bob@acme-id.example', role: 'admin' } },
      { action: 'member.remove', result: 'SUCCEEDED', target: { type: 'user', id: 'bob@acme-id.example', role: null } },
    ]);
  });

  it('shows an operation with its per-placement steps', async () => {
    const created = await gql<{ createProject: { id: string } }>(CREATE, { input: { name: 'ops-check', placements: [both[0]] } });
    const id = created.data?.createProject.id;
    const op = await gql<{
      operation: { id: string; kind: string; status: string; steps: { region: string; action: string; status: string }[] };
    }>('query($id: ID!) { operation(id: $id) { id kind status steps { region action status } } }', { id });
    expect(op.data?.operation).toEqual({
      id,
      kind: 'CREATE_PROJECT',
      status: 'SUCCEEDED',
      steps: [{ region: 'sto', action: 'project.create', status: 'SUCCEEDED' }],
    });
  });

  it('refuses bad input with BAD_USER_INPUT listing every problem, and creates nothing', async () => {
    const before = (await sto.allInfrafedProjects()).length + (await osl.allInfrafedProjects()).length;
    const res = await gql(CREATE, {
      input: {
        name: 'x'.repeat(65),
        placements: [
          { region: 'mars', platform: 'openstack' },
          { region: 'sto', platform: 'vmware' },
          { region: 'osl', platform: 'openstack' },
          { region: 'osl', platform: 'openstack' },
        ],
      },
    });
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const problems = res.errors?.[0]?.extensions?.problems as { path: string }[];
    expect(problems.map((p) => p.path).sort()).toEqual([
      'input.name',
      'input.placements[0].region',
      'input.placements[1].platform',
      'input.placements[3]',
    ]);
    const empty = await gql(CREATE, { input: { name: '', placements: [both[0]] } });
    expect((empty.errors?.[0]?.extensions?.problems as { path: string; message: string }[]).map((p) => p.message)).toEqual([
      'the name must not be empty',
    ]);
    const role = await gql('mutation($p: ID!) { addMember(projectId: $p, user: "carol", role: "superuser") { status } }', { p: projectId });
    expect(role.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [expect.objectContaining({ path: 'role', value: 'superuser' })],
    });
    expect((await sto.allInfrafedProjects()).length + (await osl.allInfrafedProjects()).length).toBe(before);
  });

  it('keeps organisations apart: another organisation neither sees nor changes the project', async () => {
    const list = await gql<{ projects: unknown[] }>('{ projects { id } }', {}, globex);
    expect(list.data?.projects).toEqual([]);
    const one = await gql<{ project: unknown }>('query($id: ID!) { project(id: $id) { id } }', { id: projectId }, globex);
    expect(one.data?.project).toBeNull();
    for (const mutation of [
      'mutation($p: ID!) { deleteProject(id: $p) { status } }',
      'mutation($p: ID!) { addMember(projectId: $p, user: "mallory", role: "admin") { status } }',
      'mutation($p: ID!) { removeMember(projectId: $p, user: "alice") { status } }',
    ]) {
      const res = await gql(mutation, { p: projectId }, globex);
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const forOther = await gql(CREATE, { input: { organization: 'acme-id', name: 'intrusion', placements: [both[0]] } }, globex);
    expect(forOther.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await sto.projectsTagged(`ifd-project=${projectId}`)).toHaveLength(1);
    const [native] = await sto.projectsTagged(`ifd-project=${projectId}`);
    expect((await sto.roleAssignments(native?.id as string)).filter((a) => a.user === 'mallory')).toEqual([]);
  });

  it('answers UNAUTHENTICATED to no token, a forged token and an expired token', async () => {
    const forged = await new SignJWT({ org: 'acme-id', org_role: 'owner' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('eve')
      .setIssuer('infrafed-local')
      .setAudience('infrafed')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-key-not-the-key-not-the-key-00'));
    const expired = await new SignJWT({ org: 'acme-id', org_role: 'owner' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer('infrafed-local')
      .setAudience('infrafed')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(system.config.auth.hs256Secret as string));
    for (const token of [null, forged, expired]) {
      const res = await gql('{ projects { id } }', {}, token);
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.data ?? null).toBeNull();
    }
  });

  it('serves a bundled GraphiQL to a browser on GET /graphql (nothing fetched from the internet); introspection without a token says a token is needed', async () => {
    const page = await fetch(system.gatewayUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('infrafed GraphQL explorer');
    expect(html).toContain('YogaGraphiQL.renderYogaGraphiQL');
    expect(html).toContain('paste your token here');
    // everything is inline: no script, style or worker loaded from elsewhere
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
    expect(html).not.toMatch(/unpkg\.com|cdn\.jsdelivr/);

    const introspection = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    expect(introspection.status).toBe(401);
    const body = (await introspection.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(body.errors[0]?.message).toMatch(/bearer token is required/);
    // a GraphQL request over GET is not the page: it needs the token too
    const overGet = await fetch(`${system.gatewayUrl}?query=${encodeURIComponent('{ regions { name } }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(overGet.status).toBe(401);
  });

  it('with one region’s adapter stopped: reads return the other region plus REGION_UNAVAILABLE, and a create there leaves nothing behind', async () => {
    await system.stopAdapter('osl');
    try {
      const list = await gql<{ projects: { id: string; placements: { region: string }[] }[] }>('{ projects { id placements { region } } }');
      const mine = list.data?.projects.find((p) => p.id === projectId);
      expect(mine?.placements.map((p) => p.region)).toEqual(['sto']);
      expect(list.errors).toEqual([
        expect.objectContaining({ path: ['projects'], extensions: expect.objectContaining({ code: 'REGION_UNAVAILABLE', region: 'osl' }) }),
      ]);

      // errors carry the client's own paths: its aliases, and the position of the entity in its answer
      // (not the gateway's `_v<n>_` field names or a position in a subgraph's `_entities` batch)
      const aliased = await gql<{ a110: { id: string }[]; mine: { id: string; quotas: { region: string }[] }[] }>(
        '{ a110: projects { id } mine: projects { id quotas { region } } }',
      );
      const at = aliased.data?.mine.findIndex((p) => p.id === projectId) as number;
      expect(at).toBeGreaterThanOrEqual(0);
      expect(aliased.data?.mine[at]?.quotas.map((q) => q.region)).toEqual(['sto']);
      const paths = (aliased.errors ?? []).map((e) => [JSON.stringify(e.path), e.extensions?.region, e.extensions?.code]);
      expect(paths).toEqual(
        expect.arrayContaining([
          ['["a110"]', 'osl', 'REGION_UNAVAILABLE'],
          ['["mine"]', 'osl', 'REGION_UNAVAILABLE'],
          [JSON.stringify(['mine', at, 'quotas']), 'osl', 'REGION_UNAVAILABLE'],
        ]),
      );
      expect(JSON.stringify(aliased.errors)).not.toMatch(/_entities|"_v\d+_/);
      // the same project under the alias that did not ask for quotas gets no quota error
      expect(paths.filter(([path]) => String(path).startsWith('["a110",'))).toEqual([]);

      const create = await gql<{
        createProject: {
          status: string;
          projectId: string;
          error: { code: string; region: string };
          steps: { region: string; status: string }[];
        };
      }>(CREATE, {
        input: { name: 'half-done', placements: both },
      });
      const op = create.data?.createProject;
      expect(op?.status).toBe('FAILED');
      expect(op?.error).toMatchObject({ code: 'REGION_UNAVAILABLE', region: 'osl' });
      expect(op?.steps).toEqual([
        { region: 'sto', platform: 'openstack', status: 'COMPENSATED', nativeId: expect.any(String), error: null },
        { region: 'osl', platform: 'openstack', status: 'FAILED', nativeId: null, error: { code: 'REGION_UNAVAILABLE' } },
      ]);
      expect(await sto.projectsTagged(`ifd-project=${op?.projectId}`)).toEqual([]);

      type Regions = { regions: { name: string; platforms: { status: string; adapters: number }[] }[] };
      const osl = (d: Regions | undefined) => d?.regions.find((r) => r.name === 'osl')?.platforms;
      const regions = await regionsUntil<Regions>(
        '{ regions { name platforms { status adapters } } }',
        (d) => osl(d)?.[0]?.status === 'DOWN',
      );
      expect(osl(regions)).toEqual([{ status: 'DOWN', adapters: 0 }]);
    } finally {
      await system.startAdapter('osl');
    }
    // the name of the failed project is free again
    const retry = await gql<{ createProject: { status: string } }>(CREATE, { input: { name: 'half-done', placements: both } });
    expect(retry.data?.createProject.status).toBe('SUCCEEDED');
  });

  it('deletes the project in every placement, with what it owned in Neutron', async () => {
    const [native] = await sto.projectsTagged(`ifd-project=${projectId}`);
    const neutron = sto.neutron(system.neutronUrl('sto'));
    const { network } = await neutron.create<{ network: { id: string } }>('/networks', {
      network: { name: 'left-behind?', project_id: native?.id },
    });
    expect((await neutron.list('networks', native?.id as string)).map((n) => n.id)).toEqual([network.id]);
    const res = await gql<{ deleteProject: { status: string } }>('mutation($p: ID!) { deleteProject(id: $p) { status } }', {
      p: projectId,
    });
    expect(res.data?.deleteProject.status).toBe('SUCCEEDED');
    expect(await sto.projectsTagged(`ifd-project=${projectId}`)).toEqual([]);
    expect(await osl.projectsTagged(`ifd-project=${projectId}`)).toEqual([]);
    expect(await neutron.list('networks', native?.id as string)).toEqual([]);
    const gone = await gql<{ project: unknown }>('query($id: ID!) { project(id: $id) { id } }', { id: projectId });
    expect(gone.data?.project).toBeNull();
  });
});
