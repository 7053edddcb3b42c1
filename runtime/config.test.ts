import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ConfigError, parseConfig, placementsOf, systemConfigSchema } from './config.ts';

describe('system configuration', () => {
  it('accepts the committed example (OpenStack and OKD regions)', () => {
    const raw = JSON.parse(readFileSync(new URL('../deploy/config.example.json', import.meta.url), 'utf8')) as unknown;
    const config = parseConfig(systemConfigSchema, raw, 'deploy/config.example.json');
    expect(placementsOf(config)).toEqual([
      { region: 'sto', platform: 'openstack' },
      { region: 'osl', platform: 'openstack' },
      { region: 'osl', platform: 'okd' },
      { region: 'lla', platform: 'okd' },
    ]);
  });

  it('lists every problem of a bad OKD platform', () => {
    const raw = {
      nats: { servers: ['nats://x:4222'] },
      auth: { issuer: 'i', audience: 'a', hs256Secret: 'x'.repeat(32) },
      regions: [{ name: 'lla', displayName: 'L', platforms: [{ platform: 'okd', apiUrl: 'not a url' }] }],
    };
    const error = (() => {
      try {
        parseConfig(systemConfigSchema, raw, 'test');
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems.map((p) => p.split(':')[0])).toEqual(['regions[0].platforms[0].apiUrl', 'regions[0].platforms[0].token']);
  });

  const withPlatform = (platform: Record<string, unknown>) => ({
    nats: { servers: ['nats://x:4222'] },
    auth: { issuer: 'i', audience: 'a', hs256Secret: 'x'.repeat(32) },
    regions: [{ name: 'sto', displayName: 'S', platforms: [platform] }],
  });
  const openstack = { platform: 'openstack', keystoneUrl: 'http://k/v3', username: 'u', password: 'p' };
  const problemsOf = (raw: unknown) => {
    try {
      parseConfig(systemConfigSchema, raw, 'test');
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };

  it("maps infrafed's roles to Keystone's reader, member and member + manager by default, never Keystone's admin", () => {
    const config = parseConfig(systemConfigSchema, withPlatform(openstack), 'test');
    const platform = config.regions[0]?.platforms[0];
    expect(platform?.platform === 'openstack' && platform.roles).toEqual({
      reader: ['reader'],
      member: ['member'],
      admin: ['member', 'manager'],
    });
    expect(problemsOf(withPlatform({ ...openstack, roles: { member: ['reader'] } }))).toEqual([
      expect.stringMatching(/roles: reader, member and admin must give different sets of Keystone roles/),
    ]);
  });

  it('refuses an OKD user-name template that does not keep organisations apart', () => {
    const okd = { platform: 'okd', apiUrl: 'https://api.okd:6443', token: 't' };
    expect(problemsOf(withPlatform({ ...okd, userNameTemplate: '{user}' }))).toEqual([
      expect.stringMatching(/must contain \{organization\} and \{user\}/),
    ]);
    expect(problemsOf(withPlatform({ ...okd, userNameTemplate: 'oidc-{organization}:{user}' }))).toEqual([]);
  });
});
