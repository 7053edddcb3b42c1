import { describe, expect, it } from '@jest/globals';
import { accessRuleInput, fromAccessRuleInput } from '../../schema/network.ts';
import { parseExceededQuota } from './client/kubeClient.ts';
import { fromNetworkPolicy, parseQuantity, toNetworkPolicy } from './mapping.ts';
import { fromKubeQuantity, namespaceName, policyName } from './mapping.ts';

const P = 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa';
const rule = (input: unknown) => fromAccessRuleInput(accessRuleInput.parse(input));

describe('OKD mapping', () => {
  it('names objects after the global ids, as valid Kubernetes names', () => {
    expect(namespaceName(P)).toBe('ifd-prj-01aaaaaaaaaaaaaaaaaaaaaaaa');
    expect(policyName('acr_0123456789abcdef0123456789')).toBe('acr-0123456789abcdef0123456789');
  });

  it('writes a rule as a NetworkPolicy and reads the same rule back', () => {
    for (const r of [
      rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 8000, to: 8080 }, remoteCidr: '10.0.0.0/8', description: 'app' }),
      rule({ direction: 'egress', protocol: 'udp', ports: { from: 53 }, remoteCidr: '2001:db8::/32' }),
      rule({ direction: 'ingress', protocol: 'any' }),
      rule({ direction: 'ingress', protocol: 'tcp' }),
    ]) {
      const policy = toNetworkPolicy(r, P, 'lla');
      expect(fromNetworkPolicy(policy)).toEqual(r);
    }
    const web = toNetworkPolicy(rule({ direction: 'ingress', protocol: 'tcp', ports: { from: 443 } }), P, 'lla');
    expect(web.spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'TCP', port: 443 }] }],
    });
  });

  it('refuses ICMP, which a NetworkPolicy cannot express', () => {
    expect(() => toNetworkPolicy(rule({ direction: 'ingress', protocol: 'icmp' }), P, 'lla')).toThrow(
      expect.objectContaining({ code: 'NOT_SUPPORTED' }),
    );
  });

  it('reads the API server’s exceeded-quota message and Kubernetes quantities', () => {
    expect(
      parseExceededQuota(
        'pods "p2" is forbidden: exceeded quota: q, requested: pods=1,requests.cpu=500m, used: pods=2,requests.cpu=1500m, limited: pods=2,requests.cpu=2',
      ),
    ).toEqual([
      { resource: 'pods', requested: '1', used: '2', limited: '2' },
      { resource: 'requests.cpu', requested: '500m', used: '1500m', limited: '2' },
    ]);
    expect(parseExceededQuota('forbidden: something else')).toBeNull();
    expect(fromKubeQuantity('ramMiB', '2Gi')).toBe(2048);
    expect(fromKubeQuantity('cores', '1500m')).toBe(2);
    expect(fromKubeQuantity('instances', '7')).toBe(7);
  });

  it('reads every canonical form the API server returns a quantity in', () => {
    // written as 4096Mi, 2000m, 1000, 1500m and 1e3, stored and returned as:
    expect(fromKubeQuantity('ramMiB', '4Gi')).toBe(4096);
    expect(fromKubeQuantity('cores', '2')).toBe(2);
    expect(fromKubeQuantity('instances', '1k')).toBe(1000);
    expect(fromKubeQuantity('volumes', '1e3')).toBe(1000);
    expect(parseQuantity('1500m')).toBe(1.5);
    expect(parseQuantity('2500e-6')).toBeCloseTo(0.0025);
    expect(parseQuantity('1.5Gi')).toBe(1.5 * 1024 ** 3);
    expect(parseQuantity('100u')).toBeCloseTo(0.0001);
    expect(parseQuantity('1Ei')).toBe(1024 ** 6);
    expect(parseQuantity('+5')).toBe(5);
    expect(Number.isNaN(parseQuantity('5 apples'))).toBe(true);
  });
});
