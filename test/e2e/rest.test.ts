import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OpenAPIObject } from 'openapi3-ts/oas31';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { keystoneAdmin } from '../harness/keystone.ts';
import { restClient, type RestResponse } from '../harness/restClient.ts';

type Op = {
  id: string;
  status: string;
  projectId: string | null;
  resourceId: string | null;
  steps: { region: string; status: string; nativeId: string | null; changed: boolean | null }[];
};
type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  problems?: { location: string; message: string; value?: unknown }[];
} & Record<string, unknown>;
type Page<T> = { items: T[]; nextCursor: string | null; incompleteRegions: { region: string; code: string }[] };

/** The REST bridge end to end: every response is checked against the OpenAPI document the bridge serves. */
describe('REST bridge end to end', () => {
  let system: SharedSystem;
  let document: OpenAPIObject;
  let owner: string;
  let projectId: string;
  let document30: Record<string, unknown>;
  const rest = restClient(
    () => system.restUrl,
    () => document,
    () => document30,
  );
  const call = <T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; token?: string | null } = {},
  ) => rest.call<T>(method, path, { token: owner, ...options });

  beforeAll(async () => {
    system = await sharedSystem();
    owner = await system.token('restco', 'owner', 'rosa');
    document = (await (await fetch(`${system.restUrl}/openapi.json`)).json()) as OpenAPIObject;
    document30 = (await (await fetch(`${system.restUrl}/openapi-3.0.json`)).json()) as Record<string, unknown>;
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it('serves its OpenAPI 3.1 document, its 3.0 twin and a docs page generated from them', async () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document30.openapi).toBe('3.0.3');
    // the deployed documents name the configured regions
    const quota = document.paths?.['/projects/{projectId}/quotas/{region}']?.get?.parameters?.find(
      (p) => 'name' in p && p.name === 'region',
    );
    expect((quota as { schema: { enum: string[] } }).schema.enum.sort()).toEqual(['lla', 'osl', 'sto']);
    const docs = await fetch(`${system.restUrl}/docs`);
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    const html = await docs.text();
    for (const id of ['createProject', 'setQuota', 'listAuditEvents']) expect(html).toContain(`id="op-${id}"`);
    expect(html).toContain('id="problem-quota-exceeded"');
  });

  it('creates a project in two regions: 201 with Location; the same Idempotency-Key replays it; another body with it is 422', async () => {
    const body = {
      name: 'rest-demo',
      placements: [
        { region: 'sto', platform: 'openstack' },
        { region: 'osl', platform: 'openstack' },
      ],
    };
    const created = await call<Op>('post', '/projects', { body, headers: { 'idempotency-key': 'rest-create-1' } });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('SUCCEEDED');
    expect(created.headers.get('location')).toBe(`/operations/${created.body.id}`);
    projectId = created.body.projectId as string;
    const native = Object.fromEntries(created.body.steps.map((s) => [s.region, s.nativeId]));
    expect((await keystoneAdmin(system.keystoneUrl('osl')).projectsTagged(`ifd-project=${projectId}`)).map((p) => p.id)).toEqual([
      native.osl,
    ]);

    const replay = await call<Op>('post', '/projects', { body, headers: { 'idempotency-key': 'rest-create-1' } });
    expect([replay.status, replay.body.id]).toEqual([201, created.body.id]);
    const reused = await call<Problem>('post', '/projects', {
      body: { ...body, name: 'rest-other' },
      headers: { 'idempotency-key': 'rest-create-1' },
    });
    expect(reused.status).toBe(422);
    expect(reused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(reused.body).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      status: 422,
      type: '/docs#problem-idempotency-key-reused',
      operationId: created.body.id,
    });
    // only one project of that name exists
    const listed = await call<Page<{ name: string }>>('get', '/projects?name=rest-demo');
    expect(listed.body.items).toHaveLength(1);
    const other = await call<Page<{ name: string }>>('get', '/projects?name=rest-other');
    expect(other.body.items).toHaveLength(0);

    const op = await call<Op>('get', `/operations/${created.body.id}`);
    expect(op.status).toBe(200);
    expect(op.body.steps.map((s) => [s.region, s.status])).toEqual([
      ['sto', 'SUCCEEDED'],
      ['osl', 'SUCCEEDED'],
    ]);
    expect(op.headers.get('etag')).toMatch(/^"[\w-]+"$/);
    const unchanged = await call('get', `/operations/${created.body.id}`, {
      headers: { 'if-none-match': op.headers.get('etag') as string },
    });
    expect(unchanged.status).toBe(304);
  });

  it('adds a member and applies access rules in every placement (one with Prefer: respond-async: 202, then followed)', async () => {
    const member = await call<Op>('post', `/projects/${projectId}/members`, { body: { user: 'bob', role: 'member' } });
    expect([member.status, member.body.status]).toEqual([201, 'SUCCEEDED']);
    const members = await call<Page<{ user: string | null; role: string; region: string }>>('get', `/projects/${projectId}/members`);
    expect(
      members.body.items
        .filter((m) => m.user === 'bob')
        .map((m) => [m.region, m.role])
        .sort(),
    ).toEqual([
      ['osl', 'member'],
      ['sto', 'member'],
    ]);

    const rule = await call<Op>('post', `/projects/${projectId}/access-rules`, {
      body: { direction: 'ingress', protocol: 'tcp', ports: { from: 443 }, remoteCidr: '10.0.0.0/8' },
    });
    expect([rule.status, rule.body.status]).toEqual([201, 'SUCCEEDED']);
    const rules = await call<Page<{ id: string; portFrom: number | null; region: string }>>(
      'get',
      `/projects/${projectId}/access-rules?limit=500`,
    );
    expect(
      rules.body.items
        .filter((r) => r.id === rule.body.resourceId)
        .map((r) => r.region)
        .sort(),
    ).toEqual(['osl', 'sto']);

    // Prefer: respond-async: 202 at once, and the operation is followed through its Location
    const async = await call<Op>('post', `/projects/${projectId}/access-rules`, {
      body: { direction: 'ingress', protocol: 'tcp', ports: { from: 8443 } },
      headers: { prefer: 'respond-async' },
    });
    expect(async.status).toBe(202);
    expect(['PENDING', 'RUNNING']).toContain(async.body.status);
    let followed = async.body;
    for (let i = 0; i < 100 && followed.status !== 'SUCCEEDED' && followed.status !== 'FAILED'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      followed = (await call<Op>('get', async.headers.get('location') as string)).body;
    }
    expect(followed.status).toBe('SUCCEEDED');
  });

  it('sets a quota with If-Match atomically: of two writes with one tag one wins (with the new ETag), the other gets 412; tags never repeat', async () => {
    type Quota = { placements: { version: number; quota: { cores: number | null; ramMiB: number | null } }[] };
    const before = await call<Quota>('get', `/projects/${projectId}/quotas/sto`);
    expect(before.status).toBe(200);
    const tag = before.headers.get('etag') as string;
    expect(tag).toBe(`"v${before.body.placements[0]?.version}"`);
    // two writes sent at the same moment with the same tag
    const [a, b] = (await Promise.all(
      [4, 6].map((cores) =>
        call<Op & Problem>('patch', `/projects/${projectId}/quotas/sto`, { body: { cores, ramMiB: 8192 }, headers: { 'if-match': tag } }),
      ),
    )) as [RestResponse<Op & Problem>, RestResponse<Op & Problem>];
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 412]);
    const [won, lost] = a.status === 200 ? [a, b] : [b, a];
    const wonCores = a.status === 200 ? 4 : 6;
    expect(won.body.status).toBe('SUCCEEDED');
    const newTag = won.headers.get('etag') as string;
    expect(newTag).not.toBe(tag);
    expect(lost.body).toMatchObject({ code: 'PRECONDITION_FAILED', region: 'sto' });
    const after = await call<Quota>('get', `/projects/${projectId}/quotas/sto`);
    expect(after.body.placements[0]?.quota).toMatchObject({ cores: wonCores, ramMiB: 8192 });
    expect(after.headers.get('etag')).toBe(newTag);

    // a tag is a version: values that come back do not bring the old tag back
    const back = await call<Op>('patch', `/projects/${projectId}/quotas/sto`, {
      body: { cores: before.body.placements[0]?.quota.cores ?? 20 },
      headers: { 'if-match': newTag },
    });
    expect([back.status, back.body.status]).toEqual([200, 'SUCCEEDED']);
    const backTag = back.headers.get('etag') as string;
    expect([tag, newTag]).not.toContain(backTag);
    const set = await call<Op>('patch', `/projects/${projectId}/quotas/sto`, {
      body: { cores: 4, ramMiB: 8192 },
      headers: { 'if-match': backTag },
    });
    expect([set.status, set.body.status]).toEqual([200, 'SUCCEEDED']);

    // a stale tag, and a tag that is not one of this resource: 412, nothing changed
    for (const stale of [tag, '"something-else"']) {
      const refused = await call<Problem>('patch', `/projects/${projectId}/quotas/sto`, {
        body: { cores: 2 },
        headers: { 'if-match': stale },
      });
      expect([refused.status, refused.body.code]).toEqual([412, 'PRECONDITION_FAILED']);
    }
    const still = await call<Quota>('get', `/projects/${projectId}/quotas/sto`);
    expect(still.body.placements[0]?.quota.cores).toBe(4);
    expect(still.headers.get('etag')).toBe(set.headers.get('etag'));
  });

  it('refuses a body with three problems at once: 422 with each location and value, and nothing is created', async () => {
    const bad = await call<Problem>('post', '/projects', {
      body: { name: '', description: 'x'.repeat(300), placements: [{ region: 'sto', platform: 'vmware' }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('BAD_USER_INPUT');
    expect(bad.body.problems?.map((p) => p.location).sort()).toEqual(['body.description', 'body.name', 'body.placements[0].platform']);
    expect(bad.body.problems?.find((p) => p.location === 'body.placements[0].platform')?.value).toBe('vmware');
    expect(bad.body.problems?.find((p) => p.location === 'body.name')?.value).toBe('');
    // the path and the query are checked the same way
    const path = await call<Problem>('get', '/projects/not-a-project/members?limit=0');
    expect(path.status).toBe(422);
    expect(path.body.problems?.map((p) => p.location).sort()).toEqual(['path.projectId', 'query.limit']);
    // an unknown region is found by the controller; still located in the body
    const region = await call<Problem>('post', '/projects', {
      body: { name: 'nowhere', placements: [{ region: 'mars', platform: 'openstack' }] },
    });
    expect(region.status).toBe(422);
    expect(region.body.problems?.[0]?.location).toBe('body.placements[0].region');
    const none = await call<Page<unknown>>('get', '/projects?name=nowhere');
    expect(none.body.items).toEqual([]);
  });

  it('pages lists with limit, cursor and Link; lists what a missing region could not answer in incompleteRegions', async () => {
    await call('post', '/projects', { body: { name: 'rest-second', placements: [{ region: 'lla', platform: 'okd' }] } });
    const first = await call<Page<{ id: string }>>('get', '/projects?limit=1');
    expect(first.body.items).toHaveLength(1);
    const link = first.headers.get('link') as string;
    expect(link).toMatch(/^<\/projects\?limit=1&cursor=[\w-]+>; rel="next"$/);
    const second = await call<Page<{ id: string }>>('get', (/<([^>]+)>/.exec(link) as RegExpExecArray)[1] as string);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.items[0]?.id).not.toBe(first.body.items[0]?.id);
    expect(second.body.nextCursor).toBeNull();
    expect(second.headers.get('link')).toBeNull();

    await system.stopAdapter('osl');
    try {
      // a fresh answer (the gateway may give the read before the stop again for a few seconds)
      const fresh = { headers: { 'cache-control': 'no-cache' } };
      const partial = await call<Page<{ id: string; placements: { region: string }[] }>>('get', '/projects', fresh);
      expect(partial.status).toBe(200);
      expect(partial.body.incompleteRegions).toEqual([expect.objectContaining({ region: 'osl', code: 'REGION_UNAVAILABLE' })]);
      expect(partial.body.items.map((p) => p.id)).toContain(projectId);
      // a single read says so too, and carries no ETag over partial data
      const one = await call<{ id: string; incompleteRegions: { region: string; code: string }[] }>('get', `/projects/${projectId}`, fresh);
      expect(one.status).toBe(200);
      expect(one.body.incompleteRegions).toEqual([expect.objectContaining({ region: 'osl', code: 'REGION_UNAVAILABLE' })]);
      expect(one.headers.get('etag')).toBeNull();
      const quota = await call<Problem>('get', `/projects/${projectId}/quotas/osl`, fresh);
      expect([quota.status, quota.body.code]).toEqual([503, 'REGION_UNAVAILABLE']);
      const sto = await call<{ incompleteRegions: unknown[] }>('get', `/projects/${projectId}/quotas/sto`);
      expect([sto.status, sto.body.incompleteRegions]).toEqual([200, []]);
      expect(sto.headers.get('etag')).toMatch(/^"/);
    } finally {
      await system.startAdapter('osl');
    }
  }, 60_000);

  it("passes the gateway's Cache-Status on: a read made now with Cache-Control: no-cache, then given again", async () => {
    const fresh = await call<{ id: string }>('get', `/projects/${projectId}`, { headers: { 'cache-control': 'no-cache' } });
    expect([fresh.status, fresh.body.id]).toEqual([200, projectId]);
    expect(fresh.headers.get('cache-status')).toMatch(/^infrafed; fwd=request; stored(, infrafed; fwd=request; stored)*$/);
    const again = await call<{ id: string }>('get', `/projects/${projectId}`);
    expect(again.headers.get('cache-status')).toMatch(/^infrafed; hit; ttl=\d+(, infrafed; hit; ttl=\d+)*$/);
    expect(again.body).toEqual(fresh.body);
    // a write answers with no Cache-Status
    const write = await call('post', `/projects/${projectId}/access-rules`, {
      body: { direction: 'ingress', protocol: 'tcp', ports: { from: 2222 }, remoteCidr: '10.66.0.0/16' },
    });
    expect(write.status).toBe(201);
    expect(write.headers.get('cache-status')).toBeNull();
    // and the next read is made after it
    expect((await call('get', `/projects/${projectId}`)).headers.get('cache-status')).not.toMatch(/hit/);
  });

  it('passes the bearer token through: none is 401 with WWW-Authenticate; another organisation sees nothing', async () => {
    const anonymous = await rest.call<Problem>('get', '/projects', { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(anonymous.body.code).toBe('UNAUTHENTICATED');
    const globex = await system.token('globex-rest', 'owner', 'mallory');
    expect((await rest.call<Problem>('get', `/projects/${projectId}`, { token: globex })).status).toBe(404);
    const reader = await system.token('restco', 'reader', 'rita');
    const denied = await rest.call<Problem>('delete', `/projects/${projectId}`, { token: reader });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'FORBIDDEN', permission: 'project.manage' });
  });

  it('reads every other resource in the shape the document gives', async () => {
    const regions = await call<Page<{ name: string }>>('get', '/regions');
    expect(regions.body.items.map((r) => r.name)).toEqual(['lla', 'osl', 'sto']);
    expect((await call('get', `/projects/${projectId}`)).status).toBe(200);
    expect((await call<Page<unknown>>('get', `/projects/${projectId}/placements`)).body.items).toHaveLength(2);
    expect((await call<Page<unknown>>('get', `/projects/${projectId}/networks`)).status).toBe(200);
    expect((await call<Page<unknown>>('get', `/projects/${projectId}/quotas`)).body.items).toHaveLength(2);
    expect((await call<Page<unknown>>('get', `/projects/${projectId}/partners`)).status).toBe(200);
    expect((await call<{ id: string }>('get', '/organizations/restco')).body.id).toBe('restco');
    const audit = await call<Page<{ action: string }>>('get', '/audit-events?limit=5');
    expect(audit.body.items).toHaveLength(5);
    expect(audit.headers.get('link')).toMatch(/rel="next"/);
    // outside the document: still problem+json
    const nothing = await fetch(`${system.restUrl}/nothing-here`, { headers: { authorization: `Bearer ${owner}` } });
    expect([nothing.status, nothing.headers.get('content-type'), ((await nothing.json()) as Problem).code]).toEqual([
      404,
      'application/problem+json',
      'NOT_FOUND',
    ]);
    const method = await fetch(`${system.restUrl}/projects`, { method: 'PUT', headers: { authorization: `Bearer ${owner}` } });
    expect([method.status, method.headers.get('allow')]).toEqual([405, 'GET, POST']);
  });

  it('entitlements: operators replace them with If-Match atomically (versions): of two writes with one tag one wins, the other gets 412', async () => {
    const operator = await system.token('infrafed', 'reader', 'ops', { platformAdmin: true });
    type Ent = { total: { cores: number | null }; version: number };
    const current = await rest.call<Ent>('get', '/organizations/restco/entitlements', { token: operator });
    const tag = current.headers.get('etag') as string;
    expect(tag).toBe(`"v${current.body.version}"`);
    const [a, b] = (await Promise.all(
      [64, 48].map((cores) =>
        rest.call<Ent & Problem>('put', '/organizations/restco/entitlements', {
          token: operator,
          body: { total: { cores } },
          headers: { 'if-match': tag },
        }),
      ),
    )) as [RestResponse<Ent & Problem>, RestResponse<Ent & Problem>];
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const [won, lost] = a.status === 200 ? [a, b] : [b, a];
    expect(lost.body).toMatchObject({ code: 'PRECONDITION_FAILED' });
    const after = await rest.call<Ent>('get', '/organizations/restco/entitlements', { token: operator });
    expect(after.body.total.cores).toBe(won.body.total.cores);
    expect(after.headers.get('etag')).toBe(won.headers.get('etag'));
    expect(after.headers.get('etag')).not.toBe(tag);

    // the stale tag changes nothing; values that come back do not bring the old tag back
    const stale = await rest.call<Problem>('put', '/organizations/restco/entitlements', {
      token: operator,
      body: { total: { cores: 1 } },
      headers: { 'if-match': tag },
    });
    expect(stale.status).toBe(412);
    const again = await rest.call<Ent>('put', '/organizations/restco/entitlements', {
      token: operator,
      body: { total: { cores: won.body.total.cores as number } },
      headers: { 'if-match': after.headers.get('etag') as string },
    });
    expect(again.status).toBe(200);
    expect([tag, after.headers.get('etag')]).not.toContain(again.headers.get('etag'));
    expect((await rest.call<Ent>('get', '/organizations/restco/entitlements', { token: operator })).body.total.cores).toBe(
      won.body.total.cores,
    );
  });

  it('people over REST: an invitation made (201), accepted with an identity provider token, listed; members, rules; 409 and 404 as problems', async () => {
    const created = await call<{ invitation: { id: string; status: string }; secret: string }>('post', '/invitations', {
      body: { role: 'member', email: 'kim@restco.example' },
    });
    expect([created.status, created.headers.get('location'), created.body.invitation.status]).toEqual([
      201,
      '/invitations?status=pending',
      'pending',
    ]);
    const { id } = created.body.invitation;
    const kim = await system.providerToken('rest-kim');
    const wrong = await call<Problem>('post', `/invitations/${id}/accept`, { body: { secret: 'B'.repeat(43) }, token: kim });
    expect([wrong.status, wrong.body.code]).toEqual([404, 'NOT_FOUND']);
    const accepted = await call<{ status: string; decidedBy: string }>('post', `/invitations/${id}/accept`, {
      body: { secret: created.body.secret },
      token: kim,
    });
    expect([accepted.status, accepted.body.status, accepted.body.decidedBy]).toEqual([200, 'accepted', 'campus:rest-kim']);
    const again = await call<Problem & { invitationStatus: string }>('post', `/invitations/${id}/decline`, {
      body: { secret: created.body.secret },
      token: kim,
    });
    expect([again.status, again.body.code, again.body.invitationStatus]).toEqual([409, 'CONFLICT', 'accepted']);
    // the invitee signs in through the bridge too: its organisation's members, itself among them
    const members = await call<Page<{ subject: string; role: string }>>('get', '/organizations/restco/members', { token: kim });
    expect(members.status).toBe(200);
    expect(members.body.items).toEqual([expect.objectContaining({ subject: 'campus:rest-kim', role: 'member' })]);
    // a member of two organisations names one (Infrafed-Organization, passed on to the gateway's sign-in)
    const second = await system.token('restco-second', 'owner', 'rs-owner');
    expect(
      (await call('put', '/organizations/restco-second/members/campus:rest-kim', { body: { role: 'reader' }, token: second })).status,
    ).toBe(200);
    // (a new token signs in again: the gateway keeps the session of the first one for up to 60 s)
    const kimAgain = await system.providerToken('rest-kim', { sid: 'second-sign-in' });
    const ambiguous = await call<Problem>('get', '/organizations/restco/members', { token: kimAgain });
    expect([ambiguous.status, ambiguous.body.code]).toEqual([422, 'BAD_USER_INPUT']);
    const named = await call<Page<{ subject: string }>>('get', '/organizations/restco-second/members', {
      token: kimAgain,
      headers: { 'infrafed-organization': 'restco-second' },
    });
    expect([named.status, named.body.items.map((m) => m.subject)]).toEqual([200, ['campus:rest-kim']]);
    const listed = await call<Page<{ id: string; status: string }>>('get', '/invitations?status=accepted');
    expect(listed.body.items.map((i) => i.id)).toContain(id);
    const badStatus = await call<Problem>('get', '/invitations?status=maybe');
    expect([badStatus.status, badStatus.body.problems?.map((p) => p.location)]).toEqual([422, ['query.status']]);
    // a role by hand, then removed: the member is gone
    const set = await call<{ role: string }>('put', '/organizations/restco/members/campus:rest-kim', { body: { role: 'admin' } });
    expect([set.status, set.body.role]).toEqual([200, 'admin']);
    const removed = await call<{ subject: string }>('delete', '/organizations/restco/members/campus:rest-kim');
    expect([removed.status, removed.body]).toEqual([200, { subject: 'campus:rest-kim' }]);
    // rules: made (201), listed, deleted
    const rule = await call<{ id: string }>('post', '/identity-rules', {
      body: { identityProvider: 'campus', claim: 'groups', pattern: 'restco-*', role: 'reader' },
    });
    expect(rule.status).toBe(201);
    expect((await call<Page<{ id: string }>>('get', '/identity-rules')).body.items.map((r) => r.id)).toEqual([rule.body.id]);
    const unknownProvider = await call<Problem>('post', '/identity-rules', {
      body: { identityProvider: 'elsewhere', claim: 'groups', pattern: 'x', role: 'reader' },
    });
    expect([unknownProvider.status, unknownProvider.body.code]).toEqual([422, 'BAD_USER_INPUT']);
    expect((await call('delete', `/identity-rules/${rule.body.id}`)).status).toBe(200);
    // another organisation cannot cancel restco's invitation
    const other = await system.token('restco-other', 'owner', 'oscar');
    const pending = await call<{ invitation: { id: string } }>('post', '/invitations', {
      body: { role: 'reader', email: 'x@restco.example' },
    });
    const foreign = await call<Problem>('post', `/invitations/${pending.body.invitation.id}/cancel`, { token: other });
    expect([foreign.status, foreign.body.code]).toEqual([404, 'NOT_FOUND']);
    const cancelled = await call<{ status: string }>('post', `/invitations/${pending.body.invitation.id}/cancel`);
    expect([cancelled.status, cancelled.body.status]).toEqual([200, 'cancelled']);
    // onboarding over REST (platform operators): 201 with Location, then readable there
    const operator = await system.token('infrafed', 'reader', 'rest-operator', { platformAdmin: true });
    const onboarded = await call<{ onboarding: { state: string }; secret: string }>('post', '/organizations/restco-onb/onboarding', {
      body: { entitlements: { total: { cores: 8 } }, owner: { email: 'pi@restco-onb.example' } },
      token: operator,
    });
    expect([onboarded.status, onboarded.headers.get('location'), onboarded.body.onboarding.state]).toEqual([
      201,
      '/organizations/restco-onb/onboarding',
      'succeeded',
    ]);
    expect(onboarded.body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await call<{ state: string }>('get', '/organizations/restco-onb/onboarding', { token: operator })).body.state).toBe(
      'succeeded',
    );
    const notOperator = await call<Problem>('post', '/organizations/restco-onb2/onboarding', { body: { owner: { email: 'x@y.example' } } });
    expect([notOperator.status, notOperator.body.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('deletes the project: the operation answers with Location', async () => {
    const deleted = await call<Op>('delete', `/projects/${projectId}`);
    expect([deleted.status, deleted.body.status]).toEqual([200, 'SUCCEEDED']);
    expect(deleted.headers.get('location')).toBe(`/operations/${deleted.body.id}`);
    expect((await call('get', `/projects/${projectId}`)).status).toBe(404);
    // every response of this suite was checked against the document
    expect(rest.counts().validated).toBe(rest.counts().calls);
    expect(rest.counts().calls).toBeGreaterThan(35);
  });
});
