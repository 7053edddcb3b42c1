import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { graphqlReplySchema } from '../../schema/contracts/graphql.ts';
import { projectResolveReply } from '../../schema/operations.ts';
import { cachedReadsAuditReply, readAuditReply } from '../../schema/audit.ts';
import {
  controllerAuditSubject,
  controllerProjectSubject,
  EVENTS_STREAM,
  subgraphSubject,
  type SubgraphName,
} from '../../schema/subjects.ts';
import { cloudEventSchema } from '../../schema/events.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { requestJson } from '../../runtime/nats/request.ts';
import { graphqlClient, onboard } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';

type GraphqlBody = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

/**
 * Organisations apart when a caller bypasses the gateway: a subgraph reached directly (its NATS subject)
 * resolves a project entity by id against the projects the caller may see, never by the placements or
 * native ids in the representation it is sent.
 */
describe('isolation: another organisation reaches nothing, by REST, by entity representations sent straight to a subgraph', () => {
  let system: SharedSystem;
  let nc: NatsConnection;
  let owner: string;
  let stranger: string;
  let partner: string;
  let projectId: string;
  let stoNative: string;
  let networkOperation: string;

  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => owner,
  );

  /** A GraphQL request on a subgraph's own NATS subject, as anyone with NATS access could send it. */
  async function direct(subgraph: SubgraphName, token: string, query: string, variables: Record<string, unknown>): Promise<GraphqlBody> {
    const reply = await requestJson(nc, subgraphSubject(subgraph), { query, variables }, graphqlReplySchema, {
      timeoutMs: 8_000,
      headers: { Authorization: `Bearer ${token}` },
      target: { kind: 'service', name: subgraph },
    });
    return reply.body as GraphqlBody;
  }
  const ENTITIES =
    'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id networks { id name } accessRules { id } } } }';
  const QUOTAS = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id quotas { region quota { cores } } } } }';
  const representation = () => [
    { __typename: 'Project', id: projectId, placements: [{ region: 'sto', platform: 'openstack', nativeId: stoNative }] },
  ];

  beforeAll(async () => {
    system = await sharedSystem();
    nc = await connect({ servers: system.natsUrl });
    owner = await system.token('acme-iso', 'owner', 'alice');
    stranger = await system.token('globex-iso', 'owner', 'mallory');
    partner = await system.token('initech-iso', 'admin', 'ivan');
    await onboard(system, 'initech-iso', 'initech2-iso');
    const created = await gql<{ createProject: { status: string; projectId: string; steps: { region: string; nativeId: string }[] } }>(
      'mutation { createProject(input: {name: "secret", placements: [{region: "sto", platform: "openstack"}]}) { status projectId steps { region nativeId } } }',
    );
    expect(created.data?.createProject.status).toBe('SUCCEEDED');
    projectId = created.data?.createProject.projectId as string;
    stoNative = created.data?.createProject.steps[0]?.nativeId as string;
    const net = await gql<{ createNetwork: { id: string; status: string } }>(
      'mutation($p: ID!) { createNetwork(input: {projectId: $p, region: "sto", name: "private", cidr: "10.9.0.0/24"}) { id status } }',
      { p: projectId },
    );
    expect(net.data?.createNetwork.status).toBe('SUCCEEDED');
    networkOperation = net.data?.createNetwork.id as string;
  }, 180_000);

  afterAll(async () => {
    await nc?.close();
    await system?.stop();
  });

  it("refuses another organisation's _entities on the network and quota subgraphs (NOT_FOUND, no data), whatever placements it names", async () => {
    const networks = await direct('network', stranger, ENTITIES, { r: representation() });
    expect(networks.errors?.map((e) => e.extensions?.code)).toContain('NOT_FOUND');
    expect(JSON.stringify(networks.data ?? {})).not.toContain('private');
    const quotas = await direct('quota', stranger, QUOTAS, { r: representation() });
    expect(quotas.errors?.map((e) => e.extensions?.code)).toContain('NOT_FOUND');
    expect(JSON.stringify(quotas.data ?? {})).not.toContain('"cores"');
    // the stranger's own project id with the victim's native id reaches nothing either
    const own = await gql<{ createProject: { projectId: string } }>(
      'mutation { createProject(input: {name: "decoy", placements: [{region: "sto", platform: "openstack"}]}) { projectId } }',
      {},
      stranger,
    );
    const decoy = own.data?.createProject.projectId as string;
    const aimed = await direct('network', stranger, ENTITIES, {
      r: [{ __typename: 'Project', id: decoy, placements: [{ region: 'sto', platform: 'openstack', nativeId: stoNative }] }],
    });
    expect(aimed.errors ?? []).toEqual([]);
    // the decoy's own (its security group's two default egress rules, made with the project), never the victim's network
    const mine = await gql<{ project: { accessRules: { id: string }[] } }>(
      'query($p: ID!) { project(id: $p) { accessRules { id } } }',
      { p: decoy },
      stranger,
    );
    expect(mine.data?.project.accessRules).toHaveLength(2);
    expect(aimed.data?._entities).toEqual([{ id: decoy, networks: [], accessRules: mine.data?.project.accessRules }]);
  });

  it('resolves an Operation entity on every subgraph that answers writes only for its own organisation', async () => {
    const OPERATION = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Operation { id kind status projectId } } }';
    const r = [{ __typename: 'Operation', id: networkOperation }];
    for (const subgraph of ['identity', 'network', 'quota'] as const) {
      const theirs = await direct(subgraph, stranger, OPERATION, { r });
      expect(JSON.stringify(theirs.data ?? {})).not.toMatch(/CREATE_NETWORK|SUCCEEDED|prj_/);
      const mine = await direct(subgraph, owner, OPERATION, { r });
      expect(mine.data?._entities).toEqual([{ id: networkOperation, kind: 'CREATE_NETWORK', status: 'SUCCEEDED', projectId }]);
    }
  });

  it("answers the owner, and a partner the project is shared with, from the controller's index (the representation's placements are not needed)", async () => {
    const mine = await direct('network', owner, ENTITIES, { r: [{ __typename: 'Project', id: projectId }] });
    expect((mine.data?._entities as { networks: { name: string }[] }[])[0]?.networks.map((n) => n.name)).toEqual(['private']);
    const shared = await gql<{ shareProject: { status: string } }>(
      'mutation($p: ID!) { shareProject(projectId: $p, partner: "initech-iso", level: "reader") { status } }',
      { p: projectId },
    );
    expect(shared.data?.shareProject.status).toBe('SUCCEEDED');
    const theirs = await direct('network', partner, ENTITIES, { r: [{ __typename: 'Project', id: projectId }] });
    expect((theirs.data?._entities as { networks: { name: string }[] }[])[0]?.networks.map((n) => n.name)).toEqual(['private']);
  });

  it("tells another organisation nothing of the victim's project when it asks the controller directly (project.resolve, audit.read)", async () => {
    const resolve = (token: string) =>
      requestJson(nc, controllerProjectSubject(), { projectIds: [projectId] }, projectResolveReply, {
        timeoutMs: 5_000,
        headers: { Authorization: `Bearer ${token}` },
        target: { kind: 'service', name: 'controller' },
      });
    expect((await resolve(stranger)).projects).toEqual([]);
    expect((await resolve(owner)).projects.map((p) => [p.projectId, p.organization])).toEqual([[projectId, 'acme-iso']]);
    // a read reported to the controller lands in the reporter's own log, never in the victim's
    await requestJson(
      nc,
      controllerAuditSubject('read'),
      { subgraph: 'network', fields: 'forged', projectId, decision: 'allowed', result: 'ok', reason: null },
      readAuditReply,
      { timeoutMs: 5_000, headers: { Authorization: `Bearer ${stranger}` }, target: { kind: 'service', name: 'controller' } },
    );
    const page = await gql<{ auditEvents: { events: { kind: string | null; principal: string; organization: string }[] } }>(
      'query($f: AuditFilter) { auditEvents(filter: $f, first: 500) { events { kind principal organization } } }',
      { f: { projectId } },
    );
    expect(page.errors).toBeUndefined();
    expect(page.data?.auditEvents.events.filter((e) => e.kind === 'forged' || e.principal === 'mallory')).toEqual([]);
    // a batch of reads a gateway's cache answered (any NATS client may send one): each lands in the log of
    // its own token's organisation, the stranger's beside the owner's never in the victim's
    const batch = await requestJson(
      nc,
      controllerAuditSubject('reads'),
      {
        reads: [
          {
            authorization: `Bearer ${stranger}`,
            read: { subgraph: 'identity', fields: 'forged-batch', projectId, decision: 'allowed', result: 'cached', reason: null },
          },
          {
            authorization: `Bearer ${owner}`,
            read: { subgraph: 'identity', fields: 'own-batch', projectId, decision: 'allowed', result: 'cached', reason: null },
          },
          {
            authorization: 'Bearer not-a-token',
            read: { subgraph: 'identity', fields: 'forged-batch', projectId, decision: 'allowed', result: 'cached', reason: null },
          },
        ],
      },
      cachedReadsAuditReply,
      { timeoutMs: 5_000, target: { kind: 'service', name: 'controller' } },
    );
    expect(batch).toEqual({ recorded: 2 });
    const victimLog = await gql<{ auditEvents: { events: { kind: string | null; principal: string }[] } }>(
      'query($f: AuditFilter) { auditEvents(filter: $f, first: 500) { events { kind principal } } }',
      { f: { projectId } },
    );
    const batchEvents = (victimLog.data?.auditEvents.events ?? []).filter((e) => e.kind?.endsWith('-batch'));
    expect(batchEvents).toEqual([{ kind: 'own-batch', principal: 'alice' }]);
    const strangerLog = await gql<{ auditEvents: { events: { kind: string | null; principal: string }[] } }>(
      'query($f: AuditFilter) { auditEvents(filter: $f, first: 500) { events { kind principal } } }',
      { f: { projectId } },
      stranger,
    );
    expect((strangerLog.data?.auditEvents.events ?? []).filter((e) => e.kind?.endsWith('-batch'))).toEqual([
      { kind: 'forged-batch', principal: 'mallory' },
    ]);
  });

  it('merges identical reads in flight only for the same caller: concurrent identical queries of two organisations each get their own', async () => {
    // the gateway sends identical subgraph queries in flight once, and the adapters identical vendor GETs:
    // the key holds the token (or session) and organisation, so the stranger's answer is never the owner's
    const query = '{ projects { id name organization networks { id name } } }';
    const ask = (token: string) =>
      fetch(system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
      }).then(async (r) => (await r.json()) as { data?: { projects: { id: string; organization: string }[] }; errors?: unknown[] });
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => ask(i % 2 === 0 ? owner : stranger).then((a) => ({ i, a }))));
    for (const { i, a } of answers) {
      expect(a.errors).toBeUndefined();
      const projects = a.data?.projects ?? [];
      if (i % 2 === 0) expect(projects.map((p) => p.id)).toContain(projectId);
      else expect(projects.filter((p) => p.id === projectId || p.organization !== 'globex-iso')).toEqual([]);
    }
  });

  it("pages projects among the caller's own only: another organisation's pages, from the start or after the victim's id, hold none of the victim's", async () => {
    const strangerGql = graphqlClient(
      () => system.gatewayUrl,
      () => stranger,
    );
    await strangerGql('mutation { createProject(input: {name: "own", placements: [{region: "lla", platform: "okd"}]}) { status } }');
    const own = ((await strangerGql<{ projects: { id: string }[] }>('{ projects { id } }')).data?.projects ?? []).map((p) => p.id).sort();
    expect(own.length).toBeGreaterThan(0);
    const PAGE = 'query($after: ID) { projects(first: 500, after: $after) { id organization } }';
    for (const after of [undefined, `prj_${'0'.repeat(26)}`, projectId]) {
      const viaGateway = await strangerGql<{ projects: { id: string; organization: string }[] }>(PAGE, { after });
      const viaSubgraph = await direct('identity', stranger, PAGE, { after });
      for (const page of [
        viaGateway.data?.projects,
        (viaSubgraph.data as { projects?: { id: string; organization: string }[] })?.projects,
      ]) {
        // exactly its own projects after that id: the victim's id only places the page among the caller's own
        expect(page?.map((p) => p.id)).toEqual(own.filter((id) => after === undefined || id > after));
        expect(page?.filter((p) => p.organization !== 'globex-iso')).toEqual([]);
      }
    }
  });

  it("gives a kept answer only to the same credentials: the response cache never answers another organisation, a partner or an organisation's header with the victim's read", async () => {
    const query = '{ projects { id name organization } project(id: "' + projectId + '") { id name } }';
    const ask = async (token: string, headers: Record<string, string> = {}) => {
      const res = await fetch(system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        body: JSON.stringify({ query }),
      });
      const body = (await res.json()) as {
        data?: { projects: { id: string }[]; project: unknown } | null;
        errors?: { extensions?: { code?: string } }[];
      };
      return { cache: res.headers.get('cache-status'), body };
    };
    // the owner's read is kept and given again
    expect((await ask(owner)).cache).toMatch(/^infrafed; fwd=(miss|request); stored$/);
    const kept = await ask(owner);
    expect(kept.cache).toMatch(/^infrafed; hit/);
    expect(kept.body.data?.projects.map((p) => p.id)).toContain(projectId);
    // the same document from another organisation (two of its principals, one naming the victim's
    // organisation in the header): each answered for itself, the victim's project not there (null)
    const strangerReader = await system.token('globex-iso', 'reader', 'eve');
    for (const [who, token, headers] of [
      ['stranger', stranger, {}],
      ['stranger naming acme-iso', stranger, { 'infrafed-organization': 'acme-iso' }],
      ["stranger's reader", strangerReader, {}],
    ] as const) {
      const theirs = await ask(token, headers);
      expect([who, theirs.cache]).toEqual([who, expect.stringMatching(/^infrafed; fwd=miss/)]);
      expect({ who, ids: theirs.body.data?.projects?.map((p) => p.id) }).toEqual({ who, ids: expect.not.arrayContaining([projectId]) });
      expect([who, theirs.body.data?.project]).toEqual([who, null]);
      expect(JSON.stringify(theirs.body)).not.toContain('"secret"');
    }
    // the partner the project is shared with sees it, through a read of its own
    const shared = await ask(partner);
    expect(shared.cache).not.toMatch(/hit/);
    expect(shared.body.data?.projects.map((p) => p.id)).toContain(projectId);
  });

  it("keeps each organisation's events under its own subjects: nothing of the victim's under another organisation's", async () => {
    const jsm = await jetstreamManager(nc);
    const under = async (organization: string) => {
      const found: { subject: string; organization: string; data: Record<string, unknown> }[] = [];
      for (let seq = 1; ;) {
        const msg = await jsm.direct
          .getMessage(EVENTS_STREAM, { seq, next_by_subj: `infra.v1.events.${organization}.>` })
          .catch(() => null);
        if (!msg) return found;
        const event = cloudEventSchema.parse(msg.json());
        found.push({ subject: msg.subject, organization: event.infrafedorganization, data: event.data });
        seq = msg.seq + 1;
      }
    };
    const victims = await under('acme-iso');
    // the victim's project creation is among its own events
    expect(victims.some((e) => e.data.projectId === projectId && e.data.kind === 'CREATE_PROJECT')).toBe(true);
    for (const other of ['globex-iso', 'initech-iso']) {
      const theirs = await under(other);
      expect(theirs.every((e) => e.organization === other)).toBe(true);
      // (alice is the victim's owner: none of her operations is told to another organisation)
      expect(theirs.filter((e) => e.data.principal === 'alice')).toEqual([]);
    }
  });

  it("keeps each organisation's people apart: members, invitations, rules and sign-in reach no other organisation", async () => {
    // the victim's people: a member by hand, a pending invitation, a rule
    expect((await gql('mutation { setMemberRole(subject: "campus:iso-vic", role: admin) { role } }')).errors).toBeUndefined();
    const inv = await gql<{ createInvitation: { invitation: { id: string }; secret: string } }>(
      'mutation { createInvitation(input: {role: "owner", email: "boss@acme-iso.example"}) { invitation { id } secret } }',
    );
    const invitationId = inv.data?.createInvitation.invitation.id as string;
    const rule = await gql<{ createIdentityRule: { id: string } }>(
      'mutation { createIdentityRule(input: {identityProvider: "campus", claim: "groups", pattern: "acme-iso", role: admin}) { id } }',
    );
    const ruleId = rule.data?.createIdentityRule.id as string;
    const asStranger = (query: string, variables: Record<string, unknown> = {}) => gql(query, variables, stranger);
    // reads: nothing of the victim's, each caller its own organisation only
    const reads = await asStranger(
      '{ organization { id members { members { subject } } } invitations { invitations { id } } identityRules { id } }',
    );
    expect(JSON.stringify(reads.data)).not.toMatch(/acme-iso|iso-vic|inv_|rul_/);
    expect(
      (await asStranger('{ organization(id: "acme-iso") { id members { members { subject } } } }')).data?.organization ?? null,
    ).toBeNull();
    // writes on the victim's people by id or by naming the organisation: NOT_FOUND, nothing changed
    const cancel = await asStranger('mutation($id: ID!) { cancelInvitation(id: $id) { status } }', { id: invitationId });
    expect(cancel.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const del = await asStranger('mutation($id: ID!) { deleteIdentityRule(id: $id) { id } }', { id: ruleId });
    expect(del.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    for (const q of [
      'mutation { setMemberRole(organization: "acme-iso", subject: "campus:evil", role: owner) { role } }',
      'mutation { removeOrganizationMember(organization: "acme-iso", subject: "campus:iso-vic") { role } }',
      'mutation { createInvitation(input: {organization: "acme-iso", role: "owner", email: "evil@globex.example"}) { secret } }',
    ])
      expect((await asStranger(q)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // the stranger's own rule granting on the victim's claim value grants only in the stranger's organisation
    await asStranger(
      'mutation { createIdentityRule(input: {identityProvider: "campus", claim: "groups", pattern: "acme-iso", role: owner}) { id } }',
    );
    const member = await system.providerToken('iso-joiner', { groups: ['acme-iso'] });
    const choose = async (org: string) => {
      const res = await fetch(system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${member}`, 'infrafed-organization': org },
        body: JSON.stringify({ query: '{ organization { id members { members { subject role } } } }' }),
      });
      return (await res.json()) as { data?: { organization: { id: string; members: { members: { subject: string; role: string }[] } } } };
    };
    expect((await choose('acme-iso')).data?.organization.members.members).toContainEqual({ subject: 'campus:iso-joiner', role: 'admin' });
    expect((await choose('globex-iso')).data?.organization.members.members).toContainEqual({ subject: 'campus:iso-joiner', role: 'owner' });
    // the victim's list still has its own grants only (the stranger's rule added nothing there)
    const victimMembers = await gql<{ organization: { members: { members: { subject: string; grants: { ref: string | null }[] }[] } } }>(
      '{ organization { members { members { subject grants { ref } } } } }',
    );
    const joiner = victimMembers.data?.organization.members.members.find((m) => m.subject === 'campus:iso-joiner');
    expect(joiner?.grants.map((g) => g.ref)).toEqual([ruleId]);
    // the primary issuer cannot pose as an identity provider's principal
    const posing = await system.token('acme-iso', 'reader', 'campus:iso-vic');
    expect((await gql('{ organization { id } }', {}, posing)).status).toBe(401);
    // the invitation is still pending, the rule still there
    const still = await gql<{ invitations: { invitations: { id: string; status: string }[] }; identityRules: { id: string }[] }>(
      '{ invitations { invitations { id status } } identityRules { id } }',
    );
    expect(still.data?.invitations.invitations.find((i) => i.id === invitationId)?.status).toBe('pending');
    expect(still.data?.identityRules.map((r) => r.id)).toContain(ruleId);
  });

  it("keeps resources as code apart: another organisation's and a partner's export, plan and their REST twins see none of the victim's projects", async () => {
    const naming = `apiVersion: infrafed.io/v1\nkind: Project\nname: secret\nplacements:\n  - { region: sto, platform: openstack }\nnetworks:\n  - { name: private, region: sto, cidr: 10.9.0.0/24 }\n`;
    // the partner (the project is shared with it) describes only its own organisation's projects
    for (const [who, token] of [
      ['stranger', stranger],
      ['partner', partner],
    ] as const) {
      const exported = await gql<{ resourcesDocument: string }>('{ resourcesDocument }', {}, token);
      expect([who, exported.errors]).toEqual([who, undefined]);
      // a document was answered (a missing one would pass the next check)
      expect([who, typeof exported.data?.resourcesDocument]).toEqual([who, 'string']);
      expect([who, exported.data?.resourcesDocument]).toEqual([who, expect.not.stringContaining('secret')]);
      const named = await gql<{ resourcesDocument: string }>('{ resourcesDocument(project: "secret") }', {}, token);
      expect([who, named.errors?.[0]?.extensions?.code]).toEqual([who, 'NOT_FOUND']);
      // a file naming the victim's project is a new project of the caller's own: nothing of the victim's is planned
      const planned = await gql<{
        plan: {
          projects: { name: string; projectId: string | null; action: string }[];
          actions: { projectId: string | null; variables: string }[];
        };
      }>(
        'query($d: String!) { plan(document: $d, prune: true) { projects { name projectId action } actions { projectId variables } } }',
        { d: naming },
        token,
      );
      // (its own projects, which the file leaves out, it would prune: its business)
      expect([who, planned.data?.plan.projects.filter((p) => p.name === 'secret')]).toEqual([
        who,
        [{ name: 'secret', projectId: null, action: 'create' }],
      ]);
      expect(JSON.stringify(planned.data?.plan.actions)).not.toContain(projectId);
      // the same through the REST bridge
      const rest = await fetch(`${system.restUrl}/resources`, { headers: { authorization: `Bearer ${token}` } });
      expect([who, rest.status]).toEqual([who, 200]);
      const restDocument = ((await rest.json()) as { document?: string }).document;
      expect([who, typeof restDocument]).toEqual([who, 'string']);
      expect(restDocument).not.toContain('secret');
      const restPlan = await fetch(`${system.restUrl}/plans`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ document: naming, prune: true }),
      });
      expect([who, restPlan.status]).toEqual([who, 200]);
      expect(JSON.stringify(await restPlan.json())).not.toContain(projectId);
      // and sent straight to the identity subgraph on NATS
      const straight = await direct('identity', token, '{ resourcesDocument }', {});
      expect([who, typeof straight.data?.resourcesDocument]).toEqual([who, 'string']);
      expect(JSON.stringify(straight)).not.toContain('secret');
    }
    // the owner sees it (the check above can fail)
    const own = await gql<{ resourcesDocument: string }>('{ resourcesDocument(project: "secret") }');
    expect(own.data?.resourcesDocument).toContain('name: secret');
    expect(own.data?.resourcesDocument).toContain('cidr: 10.9.0.0/24');
  }, 60_000);

  it("keeps live progress apart: another organisation's subscriptions (SSE, REST) hear nothing of the victim's operations", async () => {
    const sse = async (token: string, query: string, ms: number) => {
      const res = await fetch(system.gatewayUrl, {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(ms),
      });
      let text = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString();
      } catch {
        // the listening time is over
      }
      return text;
    };
    // the stranger listens to everything it may while the victim works
    const listening = sse(stranger, 'subscription { operationsUpdated { id projectId } }', 4_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const rule = await gql<{ applyAccessRule: { id: string; status: string } }>(
      'mutation($p: ID!) { applyAccessRule(projectId: $p, rule: {direction: "ingress", protocol: "tcp", ports: {from: 8443}}) { id status } }',
      { p: projectId },
    );
    const opId = rule.data?.applyAccessRule.id as string;
    expect(rule.data?.applyAccessRule.status).toBe('SUCCEEDED');
    // the stranger's own operation meanwhile: its stream works, so the silence below means something
    const ownOp = await gql<{ createProject: { id: string } }>(
      'mutation { createProject(input: {name: "listener", placements: [{region: "sto", platform: "openstack"}]}) { id } }',
      {},
      stranger,
    );
    const heard = await listening;
    expect(heard).toContain(ownOp.data?.createProject.id as string);
    expect(heard).not.toContain(opId);
    expect(heard).not.toContain(projectId);
    // asking for the victim's operation by id: NOT_FOUND, over GraphQL and REST
    const asked = await sse(stranger, `subscription { operationUpdated(id: "${opId}") { id status } }`, 4_000);
    expect(asked).toContain('"code":"NOT_FOUND"');
    expect(asked).not.toContain('"status"');
    const rest = await fetch(`${system.restUrl}/operations/${opId}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${stranger}` },
    });
    const restText = await rest.text();
    expect(restText).toMatch(/^event: problem\n/);
    expect(restText).not.toContain(projectId);
    // the owner's own subscription does hear it (the checks above can fail)
    const own = await sse(owner, `subscription { operationUpdated(id: "${opId}") { id status } }`, 4_000);
    expect(own).toContain('"status":"SUCCEEDED"');
  }, 60_000);

  it("leaves the victim's objects as they were on Keystone and Neutron", async () => {
    const admin = keystoneAdmin(system.keystoneUrl('sto'));
    const [native] = await admin.projectsTagged(`ifd-project=${projectId}`);
    expect(native?.id).toBe(stoNative);
    const networks = await admin.neutron(system.neutronUrl('sto')).list('networks', stoNative);
    expect(networks.map((n) => (n as unknown as { name: string }).name)).toEqual(['private']);
  });

  it("refuses every REST route on the organisation's objects to every role of another organisation and to a partner of another of its projects", async () => {
    // more for the victim to lose: a member, an access rule, a quota; a second project shared with a partner
    const A = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await gql<Record<string, { status: string; id: string; resourceId: string | null; projectId: string }>>(query, variables);
      expect(res.errors).toBeUndefined();
      return Object.values(res.data ?? {})[0] as { status: string; id: string; resourceId: string | null; projectId: string };
    };
    await A('mutation($p: ID!) { addMember(projectId: $p, user: "bob", role: "member") { status id } }', { p: projectId });
    const rule = await A(
      'mutation($p: ID!) { applyAccessRule(projectId: $p, rule: {direction: "ingress", protocol: "tcp", ports: {from: 443}, remoteCidr: "192.0.2.0/24"}) { status id resourceId } }',
      { p: projectId },
    );
    await A('mutation($p: ID!) { setQuota(projectId: $p, region: "sto", limits: {cores: 3}) { status id } }', { p: projectId });
    const other = await A(
      'mutation { createProject(input: {name: "other", placements: [{region: "sto", platform: "openstack"}]}) { status id projectId } }',
    );
    await A('mutation($p: ID!) { shareProject(projectId: $p, partner: "initech2-iso", level: "admin") { status id } }', {
      p: other.projectId,
    });
    const networkId = (
      (await gql<{ project: { networks: { id: string }[] } }>('query($p: ID!) { project(id: $p) { networks { id } } }', { p: projectId }))
        .data?.project.networks[0] as { id: string }
    ).id;
    const operationId = rule.id;
    const snapshot = async () =>
      JSON.stringify(
        (
          await gql(
            'query($p: ID!) { project(id: $p) { id name members { user role region } networks { id name cidr } accessRules { id region } quotas { region quota { cores } } shares { organization level } } }',
            { p: projectId },
          )
        ).data,
      );
    const before = await snapshot();

    const document = (await (await fetch(`${system.restUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const params: Record<string, string> = {
      organization: 'acme-iso',
      projectId,
      user: 'bob',
      group: 'ops',
      networkId,
      ruleId: rule.resourceId as string,
      region: 'sto',
      partner: 'initech-iso',
      operationId,
      subject: 'campus:iso-vic',
    };
    const bodies: Record<string, unknown> = {
      'post /projects/{projectId}/members': { user: 'mallory', role: 'admin' },
      'post /projects/{projectId}/networks': { region: 'sto', name: 'evil', cidr: '10.66.0.0/24' },
      'post /projects/{projectId}/access-rules': { direction: 'ingress', protocol: 'tcp', ports: { from: 22 }, remoteCidr: '0.0.0.0/0' },
      'patch /projects/{projectId}/quotas/{region}': { cores: 1 },
      'put /projects/{projectId}/partners/{partner}': { level: 'admin' },
      'put /organizations/{organization}/entitlements': { total: { cores: 1000 } },
      'post /organizations/{organization}/usage-sync': {},
      'put /organizations/{organization}/members/{subject}': { role: 'owner' },
      'post /projects/{projectId}/quota-requests': { tier: 'small', regions: ['sto'] },
      'post /organizations/{organization}/onboarding': { owner: { email: 'evil@globex.example' } },
    };
    // routes that name one of the victim's objects (the caller's own lists are checked below)
    const routes = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .filter(() => /\{(organization|projectId|operationId)\}/.test(path))
        .map((method) => ({ method, path })),
    );
    const callers: Record<string, string> = {
      'other reader': await system.token('globex-iso', 'reader', 'g-reader'),
      'other member': await system.token('globex-iso', 'member', 'g-member'),
      'other admin': await system.token('globex-iso', 'admin', 'g-admin'),
      'other owner': stranger,
      'partner of another project': await system.token('initech2-iso', 'owner', 'i2-owner'),
    };
    const outcomes: string[] = [];
    for (const [caller, token] of Object.entries(callers)) {
      for (const { method, path } of routes) {
        const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name] as string));
        const body = bodies[`${method} ${path}`];
        const res = await fetch(`${system.restUrl}${url}`, {
          method: method.toUpperCase(),
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
        const text = await res.text();
        outcomes.push(`${res.status}`);
        // refused as not found (or, for what needs a role nobody here has, forbidden); never a leak of content
        expect([caller, method, path, [403, 404].includes(res.status) || `${res.status} ${text}`]).toEqual([caller, method, path, true]);
        expect(text).not.toContain('private');
      }
      // the caller's own lists hold nothing of the victim's
      const list = await (await fetch(`${system.restUrl}/projects`, { headers: { authorization: `Bearer ${token}` } })).json();
      expect(JSON.stringify(list)).not.toContain(projectId);
    }
    // eslint-disable-next-line no-console
    console.log(
      `isolation: ${outcomes.length} REST attempts on another organisation's objects, all refused (${routes.length} routes × ${Object.keys(callers).length} callers)`,
    );
    // nothing of the victim's changed, as its owner and Keystone/Neutron see it
    expect(await snapshot()).toBe(before);
    const neutron = keystoneAdmin(system.keystoneUrl('sto')).neutron(system.neutronUrl('sto'));
    expect((await neutron.list('networks', stoNative)).map((n) => (n as unknown as { name: string }).name)).toEqual(['private']);
  }, 120_000);
});
