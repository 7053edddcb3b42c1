import { describe, expect, it } from '@jest/globals';
import type { Entitlements } from '../schema/entitlements.ts';
import { overEntitlement, remainingOf, usageOf } from './ledger.ts';

const P = 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa';
const entitlements: Entitlements = {
  organization: 'acme',
  total: { cores: 64, ramMiB: 262_144 },
  regions: { sto: { cores: 32 } },
  platforms: { okd: { cores: 16 } },
  projectDefaults: {},
  updatedAt: null,
  version: 1,
  updatedBy: null,
};

describe('reservation arithmetic', () => {
  const ledger = {
    allocations: { [`${P}|sto|openstack`]: { cores: 20, ramMiB: 8192 }, [`${P}|lla|okd`]: { cores: 10 } },
    counted: {},
    reservations: {
      live: {
        changes: [],
        delta: { [`${P}|osl|openstack`]: { cores: 4 }, [`${P}|sto|openstack`]: { cores: -5 } },
        expiresAt: Date.now() + 60_000,
      },
      expired: { changes: [], delta: { [`${P}|osl|openstack`]: { cores: 30 } }, expiresAt: Date.now() - 1 },
    },
    drift: [],
    syncedAt: null,
  };

  it('counts allocations and live reservations (what they add, not what they free), not expired ones', () => {
    expect(usageOf(ledger)).toEqual({
      total: { cores: 34, ramMiB: 8192 },
      regions: { sto: { cores: 20, ramMiB: 8192 }, lla: { cores: 10 }, osl: { cores: 4 } },
      platforms: { openstack: { cores: 24, ramMiB: 8192 }, okd: { cores: 10 } },
    });
    expect(remainingOf(entitlements, usageOf(ledger))).toEqual({
      total: { cores: 30, ramMiB: 253_952 },
      regions: { sto: { cores: 12 } },
      platforms: { okd: { cores: 6 } },
    });
  });

  it('finds the first scope a change would exceed: organisation, region, then platform', () => {
    const usage = usageOf(ledger);
    expect(overEntitlement(entitlements, usage, { [`${P}|osl|openstack`]: { cores: 30 } })).toBeNull();
    expect(overEntitlement(entitlements, usage, { [`${P}|osl|openstack`]: { cores: 31 } })).toEqual({
      resource: 'cores',
      limit: 64,
      used: 34,
      requested: 31,
      scope: 'organization',
      region: null,
      platform: null,
    });
    expect(overEntitlement(entitlements, usage, { [`${P}|sto|openstack`]: { cores: 13 } })).toMatchObject({
      scope: 'region',
      region: 'sto',
      limit: 32,
      used: 20,
      requested: 13,
    });
    expect(overEntitlement(entitlements, usage, { [`${P}|lla|okd`]: { cores: 7 } })).toMatchObject({
      scope: 'platform',
      platform: 'okd',
      limit: 16,
      used: 10,
      requested: 7,
    });
    // lowering a limit never exceeds anything; resources without an entitlement are not limited
    expect(overEntitlement(entitlements, usage, { [`${P}|lla|okd`]: { cores: -10, volumes: 1000 } })).toBeNull();
  });

  it('counts objects only where the placement has no limit for them', () => {
    const withObjects = {
      ...ledger,
      // sto has a cores limit: its 99 counted cores are inside that limit and do not count again
      counted: { [`${P}|sto|openstack`]: { cores: 99, networks: 2 }, [`${P}|osl|openstack`]: { networks: 3, routers: 1 } },
    };
    const usage = usageOf(withObjects);
    expect(usage.total).toEqual({ cores: 34, ramMiB: 8192, networks: 5, routers: 1 });
    expect(usage.regions.osl).toEqual({ cores: 4, networks: 3, routers: 1 });
    expect(overEntitlement({ ...entitlements, total: { networks: 6 } }, usage, { [`${P}|osl|openstack`]: { networks: 1 } })).toBeNull();
    expect(overEntitlement({ ...entitlements, total: { networks: 5 } }, usage, { [`${P}|osl|openstack`]: { networks: 1 } })).toMatchObject({
      resource: 'networks',
      limit: 5,
      used: 5,
      requested: 1,
    });
  });
});
