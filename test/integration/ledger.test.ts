import { describe, expect, it } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import { openLedger, remainingOf } from '../../controller/ledger.ts';
import { natsForSuite } from '../harness/natsServer.ts';

const P = 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa';

/** The quota ledger on real JetStream KV: compare-and-set under contention, reservations that expire. */
describe('entitlement reservations on JetStream KV', () => {
  const nats = natsForSuite();

  it('100 parallel requests for 1 core against 10 remaining: exactly 10 succeed, 90 get QUOTA_EXCEEDED, usage ends at the limit', async () => {
    const ledger = await openLedger(nats.nc);
    await ledger.setEntitlements({
      organization: 'acme',
      total: { cores: 10 },
      regions: {},
      platforms: {},
      projectDefaults: {},
      updatedAt: null,
      updatedBy: null,
    });
    // a second connection: two "replicas" racing on the same KV entry
    const nc2 = await connect({ servers: nats.url });
    const ledger2 = await openLedger(nc2);
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 ? ledger : ledger2).reserve('acme', `op-${i}`, [{ key: `${P}|sto|openstack-${i}`, limits: { cores: 1 } }]),
      ),
    );
    await nc2.close();
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(90);
    expect(new Set(refused.map((r) => (r.reason as { code: string }).code))).toEqual(new Set(['QUOTA_EXCEEDED']));
    expect((refused[0]?.reason as { extensions: unknown }).extensions).toMatchObject({
      resource: 'cores',
      limit: 10,
      used: 10,
      requested: 1,
      scope: 'organization',
    });
    expect((await ledger.usage('acme')).total).toEqual({ cores: 10 });
  }, 60_000);

  it('commit turns a reservation into an allocation; a smaller limit frees the difference; release frees it all', async () => {
    const ledger = await openLedger(nats.nc);
    await ledger.setEntitlements({
      organization: 'globex',
      total: { cores: 8 },
      regions: { sto: { cores: 5 } },
      platforms: {},
      projectDefaults: {},
      updatedAt: null,
      updatedBy: null,
    });
    const key = `${P}|sto|openstack`;
    await ledger.reserve('globex', 'a', [{ key, limits: { cores: 5 } }]);
    await ledger.commit('globex', 'a', [{ key, limits: { cores: 5 } }]);
    await expect(ledger.reserve('globex', 'b', [{ key: `${P}|sto|okd`, limits: { cores: 1 } }])).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      extensions: expect.objectContaining({ region: 'sto', limit: 5, used: 5, requested: 1, scope: 'region' }),
    });
    // lowering the same placement's limit fits, and frees cores once committed
    await ledger.reserve('globex', 'c', [{ key, limits: { cores: 2 } }]);
    await ledger.commit('globex', 'c', [{ key, limits: { cores: 2 } }]);
    expect((await ledger.usage('globex')).regions).toEqual({ sto: { cores: 2 } });
    await ledger.reserve('globex', 'd', [{ key: `${P}|osl|openstack`, limits: { cores: 6 } }]);
    expect((await ledger.usage('globex')).total).toEqual({ cores: 8 });
    await ledger.release('globex', 'd');
    expect((await ledger.usage('globex')).total).toEqual({ cores: 2 });
    await ledger.forgetProject('globex', P);
    expect((await ledger.usage('globex')).total).toEqual({});
  });

  it('a reservation whose controller died (never committed nor released) expires and leaks nothing', async () => {
    const ledger = await openLedger(nats.nc, { reservationTtlMs: 300 });
    await ledger.setEntitlements({
      organization: 'initech',
      total: { cores: 4 },
      regions: {},
      platforms: {},
      projectDefaults: {},
      updatedAt: null,
      updatedBy: null,
    });
    await ledger.reserve('initech', 'crashed', [{ key: `${P}|sto|openstack`, limits: { cores: 4 } }]);
    await expect(ledger.reserve('initech', 'next', [{ key: `${P}|osl|openstack`, limits: { cores: 1 } }])).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
    });
    await new Promise((r) => setTimeout(r, 400));
    expect((await ledger.usage('initech')).total).toEqual({});
    await expect(ledger.reserve('initech', 'next', [{ key: `${P}|osl|openstack`, limits: { cores: 4 } }])).resolves.toBeUndefined();
  });

  it('a reservation is committed only while it lives: renewed it lasts, expired the commit is RESERVATION_EXPIRED and changes nothing; a repeated commit counts once', async () => {
    const ledger = await openLedger(nats.nc, { reservationTtlMs: 400 });
    const key = `${P}|osl|openstack`;
    // renewed twice past its first life: still committable
    await ledger.reserve('hooli', 'op-renewed', [{ key, limits: { cores: 2 } }]);
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await ledger.renew('hooli', 'op-renewed');
    }
    await ledger.commit('hooli', 'op-renewed', [{ key, limits: { cores: 2 } }], [], { reserved: true });
    // committed again (a replica that took the operation over): nothing more is counted
    await ledger.commit('hooli', 'op-renewed', [{ key, limits: { cores: 2 } }], [{ key, amounts: { networks: 1 } }], { reserved: true });
    expect((await ledger.usage('hooli')).total).toEqual({ cores: 2 });

    await ledger.reserve('hooli', 'op-late', [{ key, limits: { cores: 5 } }]);
    await new Promise((r) => setTimeout(r, 500));
    await expect(ledger.commit('hooli', 'op-late', [{ key, limits: { cores: 5 } }], [], { reserved: true })).rejects.toMatchObject({
      code: 'RESERVATION_EXPIRED',
    });
    await expect(ledger.renew('hooli', 'op-late')).rejects.toMatchObject({ code: 'RESERVATION_EXPIRED' });
    expect((await ledger.usage('hooli')).total).toEqual({ cores: 2 });
  });

  it('an overage is negative remaining, and the placements holding limits infrafed never set are drift (recorded: null)', async () => {
    const ledger = await openLedger(nats.nc);
    await ledger.setEntitlements({
      organization: 'umbrella',
      total: { cores: 64 },
      regions: {},
      platforms: {},
      projectDefaults: {},
      updatedAt: null,
      updatedBy: null,
    });
    const Q = 'prj_01bbbbbbbbbbbbbbbbbbbbbbbb';
    // two placements that got Nova's own default of 50 cores and 100 networks (not entitled: no drift for them)
    const sync = await ledger.reconcile('umbrella', {
      [`${P}|sto|openstack`]: { limits: { cores: 50, networks: 100 }, usage: {} },
      [`${Q}|sto|openstack`]: { limits: { cores: 48, networks: 100 }, usage: {} },
    });
    expect(sync.drift).toEqual([
      { key: `${P}|sto|openstack`, resource: 'cores', recorded: null, actual: 50 },
      { key: `${Q}|sto|openstack`, resource: 'cores', recorded: null, actual: 48 },
    ]);
    const usage = await ledger.usage('umbrella');
    expect(usage.total.cores).toBe(98);
    expect(remainingOf(await ledger.entitlementsOf('umbrella'), usage).total).toEqual({ cores: -34 });
  });

  it('replaces entitlements only at the version named (compare-and-set): a stale version is PRECONDITION_FAILED and changes nothing', async () => {
    const ledger = await openLedger(nats.nc);
    const base = {
      organization: 'vers',
      total: { cores: 1 },
      regions: {},
      platforms: {},
      projectDefaults: {},
      updatedAt: null,
      updatedBy: null,
    };
    expect((await ledger.entitlementsOf('vers')).version).toBe(0);
    const v1 = await ledger.setEntitlements(base, 0);
    await expect(ledger.setEntitlements({ ...base, total: { cores: 9 } }, 0)).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    const v2 = await ledger.setEntitlements({ ...base, total: { cores: 2 } }, v1);
    expect(v2).toBeGreaterThan(v1);
    await expect(ledger.setEntitlements({ ...base, total: { cores: 9 } }, v1)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      extensions: { version: v2 },
    });
    expect(await ledger.entitlementsOf('vers')).toMatchObject({ total: { cores: 2 }, version: v2 });
  });
});
