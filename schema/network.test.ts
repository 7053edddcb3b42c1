import { describe, expect, it } from '@jest/globals';
import { formatCidr, parseCidr, parseIp } from './ip.ts';
import { accessRuleInput, createNetworkInput, fromAccessRuleInput } from './network.ts';
import { quotaLimitsInput } from './quota.ts';

const P = 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa';
const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => [i.path.join('.'), i.message]);

describe('IP addresses and blocks', () => {
  it('parses and writes IPv4 and IPv6 canonically', () => {
    expect(formatCidr(parseCidr('2001:0DB8:0:0:0:0:0:0/32')!)).toBe('2001:db8::/32');
    expect(formatCidr(parseCidr('::/0')!)).toBe('::/0');
    expect(formatCidr(parseCidr('fe80:0:0:1:0:0:0:0/64')!)).toBe('fe80:0:0:1::/64');
    expect(formatCidr(parseCidr('10.1.2.3/8')!)).toBe('10.0.0.0/8');
    expect(parseIp('::ffff:192.0.2.1')?.value).toBe(0xffffc0000201n);
  });
  it('refuses what is not an address', () => {
    for (const bad of ['256.1.1.1', '1.2.3', '01.2.3.4', '1::2::3', '12345::', 'gg::1', '1:2:3:4:5:6:7:8:9', ''])
      expect([bad, parseIp(bad)]).toEqual([bad, null]);
    for (const bad of ['10.0.0.0/33', '10.0.0.0', '::/129', '10.0.0.0/08']) expect([bad, parseCidr(bad)]).toEqual([bad, null]);
  });
});

describe('network input', () => {
  const ok = { projectId: P, region: 'sto', name: 'backend', cidr: '10.0.0.0/24' };
  it('accepts a plain network and defaults the rest', () => {
    expect(createNetworkInput.parse(ok)).toEqual({ ...ok, dnsNameservers: [] });
  });
  it('lists every problem at once: bad CIDR, gateway outside, bad DNS', () => {
    expect(issues(createNetworkInput.safeParse({ ...ok, cidr: '10.0.0.5/24', gatewayIp: '10.0.1.1', dnsNameservers: ['nope'] }))).toEqual([
      ['cidr', 'host bits are set; the block is 10.0.0.0/24'],
      ['dnsNameservers.0', 'not an IPv4 or IPv6 address'],
      ['gatewayIp', 'the gateway is not inside 10.0.0.0/24'],
    ]);
    expect(issues(createNetworkInput.safeParse({ ...ok, gatewayIp: '10.0.1.1' }))).toEqual([
      ['gatewayIp', 'the gateway is not inside 10.0.0.0/24'],
    ]);
    expect(issues(createNetworkInput.safeParse({ ...ok, gatewayIp: '10.0.0.255' }))).toEqual([
      ['gatewayIp', 'the gateway cannot be the network or broadcast address of 10.0.0.0/24'],
    ]);
    expect(issues(createNetworkInput.safeParse({ ...ok, cidr: 'fd00::/64', gatewayIp: '10.0.0.1' }))).toEqual([
      ['gatewayIp', 'the gateway is not inside fd00::/64'],
    ]);
    expect(issues(createNetworkInput.safeParse({ ...ok, cidr: 'fd00::/64', gatewayIp: 'fd00::' }))).toEqual([]);
  });
});

describe('access rules', () => {
  it('has one id per meaning, however it is written', () => {
    const a = fromAccessRuleInput(
      accessRuleInput.parse({
        direction: 'ingress',
        protocol: 'tcp',
        ports: { from: 443 },
        remoteCidr: '2001:db8:0::/48',
        description: 'a',
      }),
    );
    const b = fromAccessRuleInput(
      accessRuleInput.parse({
        direction: 'ingress',
        protocol: 'tcp',
        ports: { from: 443, to: 443 },
        remoteCidr: '2001:0db8::/48',
        description: 'b',
      }),
    );
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^acr_[0-9a-f]{26}$/);
    const all = fromAccessRuleInput(accessRuleInput.parse({ direction: 'ingress', protocol: 'tcp', ports: { from: 1, to: 65535 } }));
    const none = fromAccessRuleInput(accessRuleInput.parse({ direction: 'ingress', protocol: 'tcp' }));
    expect(all.id).toBe(none.id);
    expect(none.remoteCidr).toBe('0.0.0.0/0');
    expect(fromAccessRuleInput(accessRuleInput.parse({ direction: 'egress', protocol: 'tcp' })).id).not.toBe(none.id);
  });
  it('lists every problem: port out of range, range backwards, ports on icmp, unknown protocol', () => {
    expect(issues(accessRuleInput.safeParse({ direction: 'ingress', protocol: 'tcp', ports: { from: 0, to: 70000 } }))).toEqual([
      ['ports.from', 'a port is 1-65535'],
      ['ports.to', 'a port is 1-65535'],
    ]);
    expect(issues(accessRuleInput.safeParse({ direction: 'ingress', protocol: 'icmp', ports: { from: 9, to: 8 } }))).toEqual([
      ['ports', 'ports apply to tcp and udp only, not icmp'],
      ['ports.to', 'the range ends (8) before it starts (9)'],
    ]);
    expect(issues(accessRuleInput.safeParse({ direction: 'sideways', protocol: 'gre' })).map(([path]) => path)).toEqual([
      'direction',
      'protocol',
    ]);
  });
});

describe('quota limits', () => {
  it('refuses negative, fractional and unknown limits, and an empty change', () => {
    expect(issues(quotaLimitsInput.safeParse({ cores: -1, ramMiB: 1.5, gpus: 2 })).map(([path, message]) => `${path}: ${message}`)).toEqual(
      ['cores: a quota cannot be negative', 'ramMiB: a quota is a whole number', ': Unrecognized key: "gpus"'],
    );
    expect(issues(quotaLimitsInput.safeParse({}))).toEqual([['', 'give at least one limit']]);
  });
});
