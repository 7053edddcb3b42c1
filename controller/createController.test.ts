import { describe, expect, it } from '@jest/globals';
import { adapterContracts } from '../schema/contracts/adapter.ts';
import { stepCallTimeoutMs } from './createController.ts';

describe('how long a saga step waits for its adapter', () => {
  const t = { readMs: 5_000, writeMs: 15_000 };
  const every = Object.entries(adapterContracts).flatMap(([resource, verbs]) => Object.keys(verbs).map((verb) => `${resource} ${verb}`));

  it('gives every read of the contract the read time and every change the write time', () => {
    const waits = Object.fromEntries(every.map((rv) => [rv, stepCallTimeoutMs(rv.split(' ')[0] as string, rv.split(' ')[1] as string, t)]));
    expect(waits).toEqual({
      'project create': 15_000,
      'project get': 5_000,
      'project list': 5_000,
      'project delete': 20_000,
      'member add': 15_000,
      'member remove': 15_000,
      'member list': 5_000,
      'network create': 15_000,
      'network get': 5_000,
      'network list': 5_000,
      'network delete': 15_000,
      'rule apply': 15_000,
      'rule remove': 15_000,
      'rule list': 5_000,
      'quota get': 5_000,
      'quota set': 15_000,
      'health check': 5_000,
    });
  });

  it("gives a project's delete (with its purge) four reads' worth, or the write time when that is longer", () => {
    expect(stepCallTimeoutMs('project', 'delete', { readMs: 5_000, writeMs: 30_000 })).toBe(30_000);
    expect(stepCallTimeoutMs('project', 'delete', { readMs: 2_000, writeMs: 2_000 })).toBe(8_000);
  });
});
