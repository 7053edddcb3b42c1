import { describe, expect, it } from '@jest/globals';
import { adapterQueue, adapterServiceName, adapterSubject, adapterWildcard, broadcastSubject, subgraphSubject } from './subjects.ts';

describe('subjects', () => {
  it('builds targeted adapter subjects as infra.v1.<region>.<platform>.<resource>.<verb>', () => {
    expect(adapterSubject('sto', 'openstack', 'project', 'create')).toBe('infra.v1.sto.openstack.project.create');
    expect(adapterWildcard('osl', 'okd')).toBe('infra.v1.osl.okd.>');
  });

  it('builds broadcast subjects and one queue group per region adapter', () => {
    expect(broadcastSubject('project', 'get')).toBe('infra.v1.all.project.get');
    expect(adapterQueue('lla', 'okd')).toBe('okd-lla');
  });

  it('names services without dots, as the NATS services API requires', () => {
    expect(adapterServiceName('openstack')).toMatch(/^[-\w]+$/);
    expect(subgraphSubject('identity')).toBe('infra.v1.subgraph.identity.graphql');
  });

  it('refuses a region that would inject subject tokens or wildcards', () => {
    for (const bad of ['sto.x', 'sto*', '>', 'STO', '', 'a b']) {
      expect(() => adapterSubject(bad, 'openstack', 'project', 'list')).toThrow(/invalid region/);
    }
  });
});
