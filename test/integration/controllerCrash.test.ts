import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { headers as natsHeaders, type Subscription } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { getOperationReply, submitOperationReply, type Operation } from '../../schema/operations.ts';
import { adapterSubject, Bucket, controllerSubject } from '../../schema/subjects.ts';
import { signLocalToken, createTokenVerifier, type AuthConfig } from '../../runtime/auth.ts';
import { decodeReply } from '../../runtime/nats/wire.ts';
import { createController, type Controller } from '../../controller/createController.ts';
import { openAudit } from '../../controller/audit.ts';
import { openLedger, type QuotaLedger } from '../../controller/ledger.ts';
import { openControllerStore } from '../../controller/store.ts';
import type { OkdAdapter } from '../../adapters/okd/createOkdAdapter.ts';
import { startOkdEmulator, type OkdEmulator } from '../../platforms/okd/emulator.ts';
import { spawnManaged, type ManagedProcess } from '../../platforms/processes.ts';
import { startOkdAdapter } from '../harness/adapter.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const auth: AuthConfig = { issuer: 'infrafed-test', audience: 'infrafed', hs256Secret: 'k'.repeat(40) };
const OKD_TOKEN = 'okd-crash-test-token';
const LEASE_MS = 2_000;

/**
 * A controller replica is a real process here, killed with SIGKILL while its operation is between
 * reserve and commit (the adapter holds the request unanswered). Another replica must take the operation
 * over and end it, committing or releasing what was reserved: nothing may stay held.
 */
describe('controller replica killed between reserve and commit', () => {
  let nats: TestNatsServer;
  let okd: OkdEmulator;
  let nc: NatsConnection;
  let adapter: OkdAdapter | undefined;
  let replicaA: ManagedProcess | undefined;
  let replicaB: Controller | undefined;
  let ledger: QuotaLedger;
  let token: string;

  const headers = () => {
    const h = natsHeaders();
    h.set('Authorization', `Bearer ${token}`);
    return h;
  };
  const submit = async (request: unknown, waitMs: number) =>
    decodeReply(
      await nc.request(controllerSubject('submit'), JSON.stringify({ request, waitMs }), { timeout: 15_000, headers: headers() }),
      submitOperationReply,
      'controller',
    );
  const operation = async (id: string) =>
    decodeReply(
      await nc.request(controllerSubject('get'), JSON.stringify({ id }), { timeout: 5_000, headers: headers() }),
      getOperationReply,
      'controller',
    );
  const reservations = async () => {
    const entry = await (await new Kvm(nc).open(Bucket.ledger)).get('acme');
    return Object.keys((entry?.json() as { reservations: Record<string, unknown> }).reservations);
  };

  beforeAll(async () => {
    [nats, okd] = await Promise.all([startNatsServer(), startOkdEmulator({ token: OKD_TOKEN })]);
    nc = await connect({ servers: nats.url });
    adapter = await startOkdAdapter(nc, 'lla', okd.url, OKD_TOKEN);
    ledger = await openLedger(nc);
    token = await signLocalToken(auth, { subject: 'alice', organization: 'acme', orgRole: 'owner' });

    const dir = mkdtempSync(join(tmpdir(), 'infrafed-crash-'));
    const config = {
      nats: { servers: [nats.url] },
      auth,
      regions: [{ name: 'lla', displayName: 'Luleå', platforms: [{ platform: 'okd', apiUrl: okd.url, token: { env: 'OKD_TOKEN' } }] }],
      timeouts: { adapterMs: 30_000, operationLeaseMs: LEASE_MS },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    replicaA = await spawnManaged({
      name: 'controller-a',
      command: process.execPath,
      args: [join(ROOT, 'controller/main.ts')],
      env: { ...process.env, INFRAFED_CONFIG: join(dir, 'config.json'), OKD_TOKEN, LOG_LEVEL: 'info' },
      readyWhen: /controller ready/,
    });
  }, 60_000);

  afterAll(async () => {
    await replicaA?.stop('SIGKILL');
    await replicaB?.stop();
    await adapter?.stop();
    await nc?.close();
    await Promise.all([nats?.stop(), okd?.close()]);
  });

  it('the other replica takes the operation over, ends it and frees its reservation: nothing is left held', async () => {
    await ledger.setEntitlements({
      organization: 'acme',
      total: { cores: 10 },
      regions: {},
      platforms: {},
      projectDefaults: {},
      updatedAt: null,
      updatedBy: null,
    });
    const created = await submit(
      { kind: 'CREATE_PROJECT', input: { name: 'crash', description: '', placements: [{ region: 'lla', platform: 'okd' }] } },
      10_000,
    );
    expect(created.operation.status).toBe('SUCCEEDED');
    const projectId = created.operation.projectId as string;

    // the adapter stops answering quota requests: they arrive and hang
    await adapter?.stop();
    adapter = undefined;
    const arrived: string[] = [];
    const stalls: Subscription[] = (['get', 'set'] as const).map((verb) =>
      nc.subscribe(adapterSubject('lla', 'okd', 'quota', verb), { callback: (_e, m) => void arrived.push(m.subject) }),
    );
    await nc.flush();

    const started = await submit({ kind: 'SET_QUOTA', input: { projectId, region: 'lla', limits: { cores: 4 } } }, 0);
    expect(started.operation.status).not.toBe('SUCCEEDED');
    for (let i = 0; i < 100 && arrived.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(arrived.length).toBeGreaterThan(0);
    // reserved: the 4 cores are held, nothing is committed yet
    expect(await reservations()).toEqual([started.operation.id]);
    expect((await ledger.usage('acme')).total).toEqual({ cores: 4 });

    await replicaA?.stop('SIGKILL');
    expect(replicaA?.child.signalCode).toBe('SIGKILL');
    replicaA = undefined;
    for (const s of stalls) s.unsubscribe();
    adapter = await startOkdAdapter(nc, 'lla', okd.url, OKD_TOKEN);

    // replica B: nothing of A's in memory, only what is in KV
    replicaB = await createController({
      nc,
      store: await openControllerStore(nc),
      ledger,
      audit: await openAudit(nc, { log: pino({ level: 'silent' }) }),
      verifyToken: createTokenVerifier(auth),
      placements: [{ region: 'lla', platform: 'okd' }],
      log: pino({ level: 'silent' }),
      version: '0.0.0',
      replicaId: 'replica-b',
      adapterTimeoutMs: 5_000,
      leaseMs: LEASE_MS,
      sweepIntervalMs: 0,
    });
    // B sees A's record unchanged for a whole lease (its own clock), then takes the operation over
    expect(await replicaB.sweep()).toBe(0);
    await new Promise((r) => setTimeout(r, LEASE_MS + 200));
    expect(await replicaB.sweep()).toBe(1);
    let final: Operation | undefined;
    for (let i = 0; i < 100 && final?.status !== 'SUCCEEDED' && final?.status !== 'FAILED'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      final = (await operation(started.operation.id)).operation ?? undefined;
    }
    // the step's outcome is unknown (its reply was lost with A): B ends the operation as failed, undoes
    // what the step had checkpointed (nothing: A died before the quota was read) and frees the reservation
    expect(final?.status).toBe('FAILED');
    // the operation says infrafed lost a component under it (503: retry); its step, that its outcome was unknown
    expect(final?.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('interrupted') });
    expect(final?.steps.map((s) => [s.status, s.error?.code])).toEqual([['FAILED', 'REGION_TIMEOUT']]);
    expect(final?.owner).toBeNull();
    expect(await reservations()).toEqual([]);
    // what is left is the project's own explicit limit from its creation (zero cores: no project defaults)
    expect((await ledger.usage('acme')).total).toEqual({ cores: 0 });
    const quota = okd.objects('resourcequotas').find((q) => q.metadata.name === 'infrafed');
    expect((quota?.spec as { hard?: Record<string, string> } | undefined)?.hard?.['requests.cpu']).toBe('0');
    // and the 10 cores are there to take again, through B
    const retried = await submit({ kind: 'SET_QUOTA', input: { projectId, region: 'lla', limits: { cores: 10 } } }, 10_000);
    expect(retried.operation.status).toBe('SUCCEEDED');
    expect((await ledger.usage('acme')).total).toEqual({ cores: 10 });
    expect(await reservations()).toEqual([]);
  }, 60_000);
});
