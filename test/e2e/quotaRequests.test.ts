import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { setTimeout as sleep } from 'node:timers/promises';
import { cloudEventSchema } from '../../schema/events.ts';
import { EVENTS_STREAM } from '../../schema/subjects.ts';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient, onboard } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';

/**
 * Quota tiers end to end: an operator defines small / medium / large; a project admin asks for them on a
 * project placed on OpenStack (sto) and OKD (lla). One step up is applied at once; a jump waits, a second
 * request meanwhile is 409, the operator approves and the tier lands on Nova and the OKD ResourceQuota;
 * a rejection changes nothing. The operators hear of what waits on their own events subject.
 */
interface Request {
  id: string;
  status: string;
  reasons: string[];
  operationId: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
}
const REQUEST = 'id status reasons operationId decidedBy decisionReason';

describe('quota tiers: requests approved at once, waiting, duplicate, approved and applied, rejected', () => {
  let system: SharedSystem;
  let nc: NatsConnection;
  let owner: string;
  let operator: string;
  let projectId: string;
  let stoProject: string;
  let namespace: string;
  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => owner,
  );
  const request = (tier: string, token = owner) =>
    gql<{ requestQuotaTier: Request }>(
      `mutation($p: ID!, $t: String!) { requestQuotaTier(projectId: $p, tier: $t, regions: ["sto", "lla"]) { ${REQUEST} } }`,
      { p: projectId, t: tier },
      token,
    );
  const settled = async (operationId: string) => {
    for (let i = 0; i < 60; i++) {
      const op = await gql<{ operation: { status: string; kind: string } }>('query($id: ID!) { operation(id: $id) { status kind } }', {
        id: operationId,
      });
      const status = op.data?.operation.status ?? '';
      if (status === 'SUCCEEDED' || status === 'FAILED') return op.data?.operation;
      await sleep(500);
    }
    throw new Error(`operation ${operationId} did not finish`);
  };
  const platforms = async () => {
    const nova = await keystoneAdmin(system.keystoneUrl('sto')).novaQuota(system.novaUrl('sto'), stoProject);
    const { url, token } = system.okd('lla');
    const rq = (await (
      await fetch(`${url}/api/v1/namespaces/${namespace}/resourcequotas/infrafed`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { spec: { hard: Record<string, string> } };
    return { novaCores: nova.cores, novaInstances: nova.instances, okdCpu: rq.spec.hard['requests.cpu'], okdPods: rq.spec.hard.pods };
  };

  beforeAll(async () => {
    system = await sharedSystem();
    nc = await connect({ servers: system.natsUrl });
    owner = await system.token('tiers-qr', 'owner', 'tiers-owner');
    operator = await system.token('infrafed', 'reader', 'tiers-operator', { platformAdmin: true });
    await onboard(system, 'tiers-qr');
    const tiers = await gql(
      `mutation { setQuotaTiers(tiers: [
        {name: "small", limits: {cores: 2, ramMiB: 4096, instances: 2}},
        {name: "medium", limits: {cores: 4, ramMiB: 8192, instances: 4}},
        {name: "large", limits: {cores: 8, ramMiB: 16384, instances: 8}}]) { version tiers { name } } }`,
      {},
      operator,
    );
    expect(tiers.errors).toBeUndefined();
    const created = await gql<{ createProject: { status: string; projectId: string; steps: { region: string; nativeId: string }[] } }>(
      'mutation { createProject(input: {name: "tiered", placements: [{region: "sto", platform: "openstack"}, {region: "lla", platform: "okd"}]}) { status projectId steps { region nativeId } } }',
    );
    expect(created.data?.createProject.status).toBe('SUCCEEDED');
    projectId = created.data?.createProject.projectId as string;
    stoProject = created.data?.createProject.steps.find((s) => s.region === 'sto')?.nativeId as string;
    namespace = created.data?.createProject.steps.find((s) => s.region === 'lla')?.nativeId as string;
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await system?.stop();
  }, 60_000);

  it('only operators define tiers; everyone reads them', async () => {
    const refused = await gql('mutation { setQuotaTiers(tiers: [{name: "huge", limits: {cores: 999}}]) { version } }');
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const read = await gql<{ quotaTiers: { tiers: { name: string; limits: { cores: number } }[] } }>(
      '{ quotaTiers { tiers { name limits { cores } } } }',
    );
    expect(read.data?.quotaTiers.tiers.map((t) => `${t.name}:${t.limits.cores}`)).toEqual(['small:2', 'medium:4', 'large:8']);
  });

  it('one tier up is approved at once and applied on Nova and the OKD ResourceQuota', async () => {
    const small = await request('small');
    expect(small.errors).toBeUndefined();
    expect(small.data?.requestQuotaTier).toMatchObject({ status: 'APPROVED', decidedBy: 'auto', reasons: [] });
    expect(await settled(small.data?.requestQuotaTier.operationId as string)).toEqual({ status: 'SUCCEEDED', kind: 'APPLY_QUOTA_TIER' });
    expect(await platforms()).toEqual({ novaCores: 2, novaInstances: 2, okdCpu: '2', okdPods: '2' });
  }, 60_000);

  it('a jump waits for an operator, a second request meanwhile is 409, approval applies it', async () => {
    const large = await request('large');
    const waiting = large.data?.requestQuotaTier as Request;
    expect(waiting.status).toBe('PENDING_APPROVAL');
    expect(waiting.reasons.join(' ')).toMatch(/jumps over medium/);
    expect(waiting.reasons.join(' ')).toMatch(/within the last 30 days/);
    expect(waiting.operationId).toBeNull();
    // the same project again while it waits: CONFLICT (REST 409)
    const again = await request('medium');
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const rest = await fetch(`${system.restUrl}/projects/${projectId}/quota-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'medium', regions: ['sto'] }),
    });
    expect([rest.status, rest.headers.get('content-type'), ((await rest.json()) as { code: string }).code]).toEqual([
      409,
      'application/problem+json',
      'CONFLICT',
    ]);
    // nothing changed on the platforms while it waits
    expect((await platforms()).novaCores).toBe(2);
    // the operators were told on their own subject
    const jsm = await jetstreamManager(nc);
    const told: string[] = [];
    for (let seq = 1; ;) {
      const msg = await jsm.direct.getMessage(EVENTS_STREAM, { seq, next_by_subj: 'infra.v1.events._operators.>' }).catch(() => null);
      if (!msg) break;
      const event = cloudEventSchema.parse(msg.json());
      told.push(`${msg.subject} ${event.subject} ${event.infrafedorganization}`);
      seq = msg.seq + 1;
    }
    expect(told).toContain(`infra.v1.events._operators.quota.request.pending ${waiting.id} tiers-qr`);
    // the owner cannot approve; the operator sees it waiting and approves it
    expect(
      (await gql('mutation($id: ID!) { approveQuotaRequest(id: $id) { status } }', { id: waiting.id })).errors?.[0]?.extensions?.code,
    ).toBe('FORBIDDEN');
    const pending = await gql<{ quotaRequests: { requests: { id: string; status: string }[] } }>(
      '{ quotaRequests(status: PENDING_APPROVAL) { requests { id status } } }',
      {},
      operator,
    );
    expect(pending.data?.quotaRequests.requests.map((r) => r.id)).toContain(waiting.id);
    const approved = await gql<{ approveQuotaRequest: Request }>(
      `mutation($id: ID!) { approveQuotaRequest(id: $id, reason: "spring campaign") { ${REQUEST} } }`,
      { id: waiting.id },
      operator,
    );
    expect(approved.errors).toBeUndefined();
    expect(approved.data?.approveQuotaRequest).toMatchObject({
      status: 'APPROVED',
      decidedBy: 'tiers-operator',
      decisionReason: 'spring campaign',
    });
    expect(await settled(approved.data?.approveQuotaRequest.operationId as string)).toEqual({
      status: 'SUCCEEDED',
      kind: 'APPLY_QUOTA_TIER',
    });
    expect(await platforms()).toEqual({ novaCores: 8, novaInstances: 8, okdCpu: '8', okdPods: '8' });
    // deciding again is a CONFLICT
    const twice = await gql('mutation($id: ID!) { rejectQuotaRequest(id: $id, reason: "late") { status } }', { id: waiting.id }, operator);
    expect(twice.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  }, 90_000);

  it('a step down is applied at once; a rejected request changes nothing', async () => {
    const down = await request('medium');
    expect(down.data?.requestQuotaTier).toMatchObject({ status: 'APPROVED', decidedBy: 'auto' });
    await settled(down.data?.requestQuotaTier.operationId as string);
    expect(await platforms()).toEqual({ novaCores: 4, novaInstances: 4, okdCpu: '4', okdPods: '4' });
    // one up, but the quota changed moments ago: it waits, and the operator rejects it
    const up = await request('large');
    expect(up.data?.requestQuotaTier.status).toBe('PENDING_APPROVAL');
    const noReason = await gql(
      'mutation($id: ID!) { rejectQuotaRequest(id: $id, reason: "") { status } }',
      { id: up.data?.requestQuotaTier.id },
      operator,
    );
    expect(noReason.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const rejected = await gql<{ rejectQuotaRequest: Request }>(
      `mutation($id: ID!) { rejectQuotaRequest(id: $id, reason: "the allocation round is closed") { ${REQUEST} } }`,
      { id: up.data?.requestQuotaTier.id },
      operator,
    );
    expect(rejected.data?.rejectQuotaRequest).toMatchObject({
      status: 'REJECTED',
      decisionReason: 'the allocation round is closed',
      operationId: null,
    });
    expect(await platforms()).toEqual({ novaCores: 4, novaInstances: 4, okdCpu: '4', okdPods: '4' });
    // the organisation's list holds its requests in order, with their outcomes
    const mine = await gql<{ quotaRequests: { requests: { status: string; decidedBy: string | null }[] } }>(
      '{ quotaRequests { requests { status decidedBy } } }',
    );
    expect(mine.data?.quotaRequests.requests.map((r) => `${r.status}:${r.decidedBy}`)).toEqual([
      'APPROVED:auto',
      'APPROVED:tiers-operator',
      'APPROVED:auto',
      'REJECTED:tiers-operator',
    ]);
    // another organisation sees none of them, and cannot ask for a tier on the project
    const other = await system.token('tiers-other', 'owner', 'tiers-other-owner');
    expect(
      (await gql<{ quotaRequests: { requests: unknown[] } }>('{ quotaRequests { requests { id } } }', {}, other)).data?.quotaRequests
        .requests,
    ).toEqual([]);
    expect((await request('small', other)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  }, 90_000);
});
