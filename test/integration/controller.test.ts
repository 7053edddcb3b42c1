import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { pino } from 'pino';
import { getOperationReply, submitOperationReply, type Operation } from '../../schema/operations.ts';
import { controllerSubject, EVENTS_STREAM } from '../../schema/subjects.ts';
import { createTokenVerifier, signLocalToken, type AuthConfig } from '../../runtime/auth.ts';
import { requestAdapter } from '../../runtime/nats/adapterClient.ts';
import { decodeReply } from '../../runtime/nats/wire.ts';
import type { OpenstackAdapter } from '../../adapters/openstack/createOpenstackAdapter.ts';
import { startOpenstackAdapter } from '../harness/adapter.ts';
import { createController, type Controller } from '../../controller/createController.ts';
import { openAudit } from '../../controller/audit.ts';
import { openEvents } from '../../controller/events.ts';
import { cloudEventSchema, operationEventDataSchema, type CloudEvent } from '../../schema/events.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { openLedger } from '../../controller/ledger.ts';
import { openControllerStore, type ControllerStore } from '../../controller/store.ts';
import { keystoneAdmin, startKeystone, type TestKeystone } from '../harness/keystone.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';

const auth: AuthConfig = { issuer: 'infrafed-test', audience: 'infrafed', hs256Secret: 'c'.repeat(40) };
const silent = pino({ level: 'silent' });

describe('controller: operations in JetStream KV, idempotency and take-over of abandoned operations', () => {
  let nats: TestNatsServer;
  let keystone: TestKeystone;
  let nc: NatsConnection;
  let adapter: OpenstackAdapter;
  let store: ControllerStore;
  let controller: Controller;
  let token: string;

  function authHeaders(idempotencyKey?: string) {
    const h = natsHeaders();
    h.set('Authorization', `Bearer ${token}`);
    if (idempotencyKey) h.set('Idempotency-Key', idempotencyKey);
    return h;
  }

  async function submit(request: unknown, idempotencyKey?: string, waitMs = 8_000) {
    const msg = await nc.request(controllerSubject('submit'), JSON.stringify({ request, waitMs }), {
      timeout: 10_000,
      headers: authHeaders(idempotencyKey),
    });
    return decodeReply(msg, submitOperationReply, 'controller');
  }

  beforeAll(async () => {
    [nats, keystone] = await Promise.all([startNatsServer(), startKeystone('controller-it', 'sto')]);
    nc = await connect({ servers: nats.url });
    adapter = await startOpenstackAdapter(nc, keystone);
    store = await openControllerStore(nc);
    controller = await createController({
      nc,
      store,
      ledger: await openLedger(nc),
      audit: await openAudit(nc, { log: silent }),
      events: await openEvents(nc, { log: silent }),
      verifyToken: createTokenVerifier(auth),
      placements: [
        { region: 'sto', platform: 'openstack' },
        { region: 'osl', platform: 'openstack' },
      ],
      log: silent,
      version: '0.0.0',
      replicaId: 'replica-b',
      adapterTimeoutMs: 2_000,
      sweepIntervalMs: 0,
    });
    token = await signLocalToken(auth, { subject: 'alice', organization: 'acme', orgRole: 'owner' });
  }, 60_000);

  afterAll(async () => {
    await controller?.stop();
    await adapter?.stop();
    await nc?.close();
    await Promise.all([nats?.stop(), keystone?.stop()]);
  });

  it('returns the same operation for a replayed Idempotency-Key and refuses the key with another body', async () => {
    const request = {
      kind: 'CREATE_PROJECT',
      input: { name: 'replayed', description: '', placements: [{ region: 'sto', platform: 'openstack' }] },
    };
    const first = await submit(request, 'key-1');
    const again = await submit(request, 'key-1');
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.operation.id).toBe(first.operation.id);
    expect(again.operation.status).toBe('SUCCEEDED');
    await expect(submit({ ...request, input: { ...request.input, name: 'other' } }, 'key-1')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(await keystoneAdmin(keystone.url).projectsTagged(`ifd-project=${first.operation.projectId}`)).toHaveLength(1);
  });

  it('publishes each operation outcome once as a CloudEvent on infra.v1.events.<org>.operation.<outcome>, replayable', async () => {
    const jsm = await jetstreamManager(nc);
    const first = await submit({
      kind: 'CREATE_PROJECT',
      input: { name: 'evented', description: '', placements: [{ region: 'sto', platform: 'openstack' }] },
    });
    expect(first.operation.status).toBe('SUCCEEDED');
    // a subscriber of acme's events replays them from the stream (a direct get by subject)
    const events: CloudEvent[] = [];
    for (let seq = 1; ;) {
      const msg = await jsm.direct.getMessage(EVENTS_STREAM, { seq, next_by_subj: 'infra.v1.events.acme.>' }).catch(() => null);
      if (!msg) break;
      events.push(cloudEventSchema.parse(msg.json()));
      seq = msg.seq + 1;
    }
    const mine = events.filter((e) => e.subject === first.operation.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      specversion: '1.0',
      type: 'io.infrafed.operation.succeeded',
      source: 'infrafed/controller',
      infrafedorganization: 'acme',
      datacontenttype: 'application/json',
    });
    expect(operationEventDataSchema.parse(mine[0]?.data)).toMatchObject({
      operationId: first.operation.id,
      kind: 'CREATE_PROJECT',
      status: 'SUCCEEDED',
      principal: 'alice',
      principalOrganization: null,
      target: { type: 'project', id: first.operation.projectId },
      placements: ['sto/openstack'],
      error: null,
    });
    // nothing of acme's under another organisation's subjects
    const others = await jsm.direct.getMessage(EVENTS_STREAM, { seq: 1, next_by_subj: 'infra.v1.events.globex.>' }).catch(() => null);
    expect(others).toBeNull();
  });

  it('returns the first operation for a replayed delete too, though the project is gone by then', async () => {
    const created = await submit({
      kind: 'CREATE_PROJECT',
      input: { name: 'to-delete', description: '', placements: [{ region: 'sto', platform: 'openstack' }] },
    });
    const request = { kind: 'DELETE_PROJECT', input: { projectId: created.operation.projectId } };
    const first = await submit(request, 'del-1');
    expect(first.operation.status).toBe('SUCCEEDED');
    const again = await submit(request, 'del-1');
    expect([again.replayed, again.operation.id, again.operation.status]).toEqual([true, first.operation.id, 'SUCCEEDED']);
    // without the key the same delete is NOT_FOUND: the project is gone
    await expect(submit(request)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers with the operation still running when the wait bound passes, and records its outcome', async () => {
    const started = await submit(
      { kind: 'CREATE_PROJECT', input: { name: 'no-wait', description: '', placements: [{ region: 'sto', platform: 'openstack' }] } },
      undefined,
      0,
    );
    expect(['PENDING', 'RUNNING']).toContain(started.operation.status);
    let status: string = started.operation.status;
    for (let i = 0; i < 100 && status !== 'SUCCEEDED'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const msg = await nc.request(controllerSubject('get'), JSON.stringify({ id: started.operation.id }), {
        timeout: 2_000,
        headers: authHeaders(),
      });
      status = decodeReply(msg, getOperationReply, 'controller').operation?.status ?? 'missing';
    }
    expect(status).toBe('SUCCEEDED');
  });

  it('does not keep a key for a refused request: the corrected retry with the same key runs', async () => {
    const bad = {
      kind: 'CREATE_PROJECT',
      input: { name: 'later', description: '', placements: [{ region: 'mars', platform: 'openstack' }] },
    };
    await expect(submit(bad, 'key-2')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    const good = await submit({ ...bad, input: { ...bad.input, placements: [{ region: 'sto', platform: 'openstack' }] } }, 'key-2');
    expect(good.operation.status).toBe('SUCCEEDED');
  });

  it('takes over a create whose replica died mid-way and undoes the placement it had made', async () => {
    // replica A recorded the operation, created the sto placement, was creating osl, and died
    const projectId = 'prj_01dddddddddddddddddddddddd';
    const made = await requestAdapter(
      nc,
      { region: 'sto', platform: 'openstack' },
      'project',
      'create',
      { projectId, organization: 'acme', name: 'orphan-risk', description: '' },
      {
        timeoutMs: 5_000,
      },
    );
    const at = new Date(Date.now() - 60_000).toISOString();
    const step = { action: 'project.create', changed: null, error: null, undo: null, startedAt: at, finishedAt: null };
    const op: Operation = {
      id: 'op_01dddddddddddddddddddddddd',
      kind: 'CREATE_PROJECT',
      status: 'RUNNING',
      organization: 'acme',
      principal: 'alice',
      projectId,
      resourceId: null,
      projectOwner: 'acme',
      quotaDefaults: null,
      objects: null,
      request: {
        kind: 'CREATE_PROJECT',
        input: {
          name: 'orphan-risk',
          description: '',
          placements: [
            { region: 'sto', platform: 'openstack' },
            { region: 'osl', platform: 'openstack' },
          ],
        },
      },
      requestHash: 'x',
      idempotencyKey: null,
      steps: [
        { ...step, region: 'sto', platform: 'openstack', status: 'SUCCEEDED', nativeId: made.placement.nativeId, finishedAt: at },
        { ...step, region: 'osl', platform: 'openstack', status: 'RUNNING', nativeId: null },
      ],
      error: null,
      createdAt: at,
      updatedAt: at,
      owner: 'replica-a',
      leaseMs: 1_000,
      reserved: false,
      undoAttempts: 0,
      accepted: true,
    };
    await store.claimName('acme', 'orphan-risk', projectId);
    await store.changeProject(projectId, () => ({
      projectId,
      organization: 'acme',
      name: 'orphan-risk',
      placements: [
        { region: 'sto', platform: 'openstack' },
        { region: 'osl', platform: 'openstack' },
      ],
      state: 'CREATING',
      shares: [],
      quotaVersions: {},
      quotaChangedAt: {},
      quotaTiers: {},
      operationId: op.id,
    }));
    await store.createOperation(op);

    // a sweeper takes an operation over once it has seen its record unchanged for the lease the record names (1 s)
    expect(await controller.sweep()).toBe(0);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await controller.sweep()).toBe(1);
    let final: Operation | undefined;
    for (let i = 0; i < 100 && final?.status !== 'FAILED'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      final = (await store.getOperation(op.id))?.operation;
    }
    expect(final?.status).toBe('FAILED');
    expect(final?.steps.map((s) => [s.region, s.status])).toEqual([
      ['sto', 'COMPENSATED'],
      // osl has no adapter here: its undo cannot run yet, so the controller keeps retrying it
      ['osl', 'COMPENSATION_FAILED'],
    ]);
    expect(await keystoneAdmin(keystone.url).projectsTagged(`ifd-project=${projectId}`)).toEqual([]);
    // the index keeps the project (and its name) until every placement is known to be gone
    expect((await store.getProject(projectId))?.state).toBe('CREATING');
    // its undo is still to be retried: it stays among the operations the sweeper reads
    expect(await store.listActiveOperationIds()).toContain(op.id);
  });

  it('keeps finished operations out of what the sweeper reads (the history stays readable)', async () => {
    const done = await submit({
      kind: 'CREATE_PROJECT',
      input: { name: 'finished', description: '', placements: [{ region: 'sto', platform: 'openstack' }] },
    });
    expect(done.operation.status).toBe('SUCCEEDED');
    const active = await store.listActiveOperationIds();
    const all = await store.listOperationIds();
    expect(all).toContain(done.operation.id);
    expect(active).not.toContain(done.operation.id);
    // every marker left is an operation still in work
    for (const id of active) {
      const found = await store.getOperation(id);
      expect([id, found === null || found.operation.status !== 'SUCCEEDED']).toEqual([id, true]);
    }
    expect((await store.getOperation(done.operation.id))?.operation.status).toBe('SUCCEEDED');
  });
});
