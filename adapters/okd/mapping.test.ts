import { describe, expect, it } from '@jest/globals';
import { accessRuleInput, fromAccessRuleInput } from '../../schema/network.ts';
import { parseExceededQuota } from './client/kubeClient.ts';
import { fromNetworkPolicy, toNetworkPolicy } from './mapping.ts';
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
});
