import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGateway } from '../../gateway/createGateway.ts';
import { createSignIn } from '../../gateway/signIn.ts';
import { createTokenVerifier } from '../../runtime/auth.ts';
import { createLogger } from '../../runtime/log.ts';
import { bindReadGeneration } from '../../runtime/nats/readGeneration.ts';
import { graphqlClient } from '../harness/graphql.ts';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';

type Body = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

const PROJECTS = '{ projects { id name } }';

/**
 * The gateway's response cache, seen from a second gateway replica beside the shared system's (this test's
 * own, on the same NATS): an answer is given again only to the same request of the same caller, never
 * after a write through any gateway or the end of an operation, never with an error, and each answer
 * given again is audited.
 */
describe('response cache: read-your-writes across gateway replicas, organisations apart, audited', () => {
  let system: SharedSystem;
  let nc: NatsConnection;
  let other: ReturnType<typeof createGateway>;
  let server: Server;
  let otherUrl: string;
  let acme: string;
  let acmeMember: string;
  let globex: string;

  const shared = (token: () => string) => graphqlClient(() => system.gatewayUrl, token);
  const asAcme = shared(() => acme);

  /** A request to the second gateway: its answer and what its cache did. */
  async function viaOther(token: string, query: string, variables: Record<string, unknown> = {}) {
    const res = await fetch(otherUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, cache: res.headers.get('cache-status'), body: (await res.json()) as Body };
  }
  const namesOf = (body: Body) => ((body.data?.projects ?? []) as { name: string }[]).map((p) => p.name).sort();

  async function createProject(name: string, region = 'lla', platform = 'okd', prefer?: string) {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${acme}`, ...(prefer ? { prefer } : {}) },
      body: JSON.stringify({
        query:
          'mutation($n: String!, $r: String!, $p: String!) { createProject(input: {name: $n, placements: [{region: $r, platform: $p}]}) { id status projectId } }',
        variables: { n: name, r: region, p: platform },
      }),
    });
    const body = (await res.json()) as { data?: { createProject: { id: string; status: string; projectId: string } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    return body.data?.createProject as { id: string; status: string; projectId: string };
  }

  beforeAll(async () => {
    system = await sharedSystem();
    nc = await connect({ servers: system.natsUrl });
    other = createGateway({
      nc,
      verifyToken: createTokenVerifier(system.config.auth, { allowUnaffiliated: true }),
      timeoutMs: 10_000,
      log: createLogger('second-gateway', 'warn'),
      readGeneration: bindReadGeneration(nc, 500),
      providerIssuers: new Set((system.config.auth.identityProviders ?? []).map((p) => p.issuer)),
      signIn: createSignIn(nc, { timeoutMs: 10_000 }),
      // long enough that only the generation can make an answer stale within the test
      responseCache: { seconds: 120, maxEntries: 100, maxBytes: 1 << 20 },
    });
    server = createServer(other);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    otherUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    acme = await system.token('acme-cache', 'owner', 'alice');
    acmeMember = await system.token('acme-cache', 'member', 'bob');
    globex = await system.token('globex-cache', 'owner', 'mallory');
    await createProject('first');
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await other?.dispose();
    await nc?.close();
    await system?.stop();
  }, 60_000);

  it('gives an answer again to the same caller, and the next read after a write through another gateway is fresh', async () => {
    const first = await viaOther(acme, PROJECTS);
    expect([first.status, first.body.errors, first.cache]).toEqual([200, undefined, 'infrafed; fwd=miss; stored']);
    expect(namesOf(first.body)).toEqual(['first']);
    const again = await viaOther(acme, PROJECTS);
    expect(again.cache).toMatch(/^infrafed; hit; ttl=\d+$/);
    expect(again.body).toEqual(first.body);

    // a write through the shared system's gateway (another replica): the next read here is not the kept one
    await createProject('second');
    const after = await viaOther(acme, PROJECTS);
    expect(after.cache).toBe('infrafed; fwd=miss; stored');
    expect(namesOf(after.body)).toEqual(['first', 'second']);
  });

  it('a write that is no operation (a member given a role) through another gateway: the next read here shows it', async () => {
    const MEMBERS = '{ organization { members(first: 100) { members { subject role } } } }';
    const subjects = (body: Body) =>
      ((body.data?.organization as { members: { members: { subject: string }[] } } | undefined)?.members.members ?? []).map(
        (m) => m.subject,
      );
    const first = await viaOther(acme, MEMBERS);
    expect([first.body.errors, first.cache]).toEqual([undefined, 'infrafed; fwd=miss; stored']);
    expect(subjects(first.body)).not.toContain('carol');
    expect((await viaOther(acme, MEMBERS)).cache).toMatch(/hit/);
    const given = await asAcme<{ setMemberRole: { role: string } }>('mutation { setMemberRole(subject: "carol", role: reader) { role } }');
    expect([given.errors, given.data?.setMemberRole.role]).toEqual([undefined, 'reader']);
    const after = await viaOther(acme, MEMBERS);
    expect(after.cache).toBe('infrafed; fwd=miss; stored');
    expect(subjects(after.body)).toContain('carol');
  });

  it('an operation answered while still running: once it has finished, the next read shows it (the controller moves the generation on)', async () => {
    // OpenStack takes a while: the read just after the answer is kept before the project is there
    const op = await createProject('async', 'sto', 'openstack', 'respond-async');
    expect(op.status).not.toBe('FAILED');
    const early = await viaOther(acme, PROJECTS);
    expect(early.body.errors).toBeUndefined();
    let status = op.status;
    for (let i = 0; i < 100 && status !== 'SUCCEEDED' && status !== 'FAILED'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const polled = await asAcme<{ operation: { status: string } }>('query($id: ID!) { operation(id: $id) { status } }', { id: op.id });
      status = polled.data?.operation.status ?? status;
    }
    expect(status).toBe('SUCCEEDED');
    const late = await viaOther(acme, PROJECTS);
    expect(namesOf(late.body)).toContain('async');
    // the kept answer, had it lacked the project, was not given again
    if (!namesOf(early.body).includes('async')) expect(late.cache).toBe('infrafed; fwd=miss; stored');
  }, 60_000);

  it("keeps organisations and tokens apart: another organisation's and another token's same query are answered for them", async () => {
    const mine = await viaOther(acme, PROJECTS);
    expect(namesOf(mine.body)).toContain('first');
    const theirs = await viaOther(globex, PROJECTS);
    expect([theirs.cache, theirs.body.errors, namesOf(theirs.body)]).toEqual(['infrafed; fwd=miss; stored', undefined, []]);
    // the same organisation, another principal's token: its own request, its own answer
    const member = await viaOther(acmeMember, PROJECTS);
    expect(member.cache).toBe('infrafed; fwd=miss; stored');
    // and what is kept for globex stays globex's
    expect(namesOf((await viaOther(globex, PROJECTS)).body)).toEqual([]);
  });

  it('never keeps an answer with an error, nor a field that changes on its own', async () => {
    const missing = '{ project(id: "not-a-project-id") { id name } }';
    const once = await viaOther(acme, missing);
    expect(once.body.errors?.length ?? 0).toBeGreaterThan(0);
    expect(once.cache).toBe('infrafed; fwd=miss');
    expect((await viaOther(acme, missing)).cache).toBe('infrafed; fwd=miss');
    const audit = '{ auditEvents(first: 1) { events { id } } }';
    expect((await viaOther(acme, audit)).cache).toBe('infrafed; fwd=bypass');
    expect((await viaOther(acme, audit)).cache).toBe('infrafed; fwd=bypass');
  });

  it("a principal signed in with an identity provider's token: its read is given again, audited in its session's name", async () => {
    const rule = await asAcme<{ createIdentityRule: { id: string } }>(
      'mutation { createIdentityRule(input: {identityProvider: "campus", claim: "groups", pattern: "acme-cache", role: reader}) { id } }',
    );
    expect(rule.errors).toBeUndefined();
    const campus = await system.providerToken('cache-reader', { groups: ['acme-cache'] });
    const query = '{ organization { id } }';
    const first = await viaOther(campus, query);
    expect([first.body.errors, first.cache]).toEqual([undefined, 'infrafed; fwd=miss; stored']);
    expect((await viaOther(campus, query)).cache).toMatch(/hit/);
    let events: { principal: string; action: string; result: string }[] = [];
    for (let i = 0; i < 50 && events.length === 0; i++) {
      const page = await asAcme<{ auditEvents: { events: { principal: string; action: string; result: string }[] } }>(
        '{ auditEvents(first: 500) { events { principal action result } } }',
      );
      events = (page.data?.auditEvents.events ?? []).filter((e) => e.principal === 'campus:cache-reader' && e.result === 'cached');
      if (events.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(events.map((e) => e.action)).toEqual(['read.quota']);
  });

  it('audits an answer given again as the reads it was made of (result "cached")', async () => {
    const cachedReads = async () => {
      const events = await asAcme<{ auditEvents: { events: { action: string; result: string }[] } }>(
        '{ auditEvents(first: 500) { events { action result } } }',
      );
      const counts: Record<string, number> = {};
      for (const e of events.data?.auditEvents.events ?? []) if (e.result === 'cached') counts[e.action] = (counts[e.action] ?? 0) + 1;
      return counts;
    };
    const query = '{ regions { name } projects { id } }';
    await viaOther(acme, query);
    const before = await cachedReads();
    expect((await viaOther(acme, query)).cache).toMatch(/hit/);
    let added: Record<string, number> = {};
    for (let i = 0; i < 50; i++) {
      const now = await cachedReads();
      added = Object.fromEntries(
        Object.entries(now)
          .map(([action, n]) => [action, n - (before[action] ?? 0)])
          .filter(([, n]) => n !== 0),
      );
      if (Object.keys(added).length >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // one event per subgraph read the answer was made of, as the subgraphs would have recorded
    expect(added).toEqual({ 'read.catalog': 1, 'read.identity': 1 });
  });
});
