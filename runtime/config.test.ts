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
});
