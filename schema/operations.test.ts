import { describe, expect, it } from '@jest/globals';
import { createProjectInput, placementProblems } from './operations.ts';

const known = [
  { region: 'sto', platform: 'openstack' },
  { region: 'osl', platform: 'openstack' },
  { region: 'osl', platform: 'okd' },
];

describe('placementProblems', () => {
  it('accepts configured placements', () => {
    expect(
      placementProblems(
        [
          { region: 'sto', platform: 'openstack' },
          { region: 'osl', platform: 'okd' },
        ],
        known,
      ),
    ).toEqual([]);
  });

  it('lists an unknown region, a platform the region lacks and a duplicate, each with its path and value', () => {
    const problems = placementProblems(
      [
        { region: 'mars', platform: 'openstack' },
        { region: 'sto', platform: 'okd' },
        { region: 'osl', platform: 'okd' },
        { region: 'osl', platform: 'okd' },
      ],
      known,
    );
    expect(problems).toEqual([
      { path: 'placements[0].region', message: 'unknown region; known regions: sto, osl', value: 'mars' },
      { path: 'placements[1].platform', message: 'region sto does not run okd; it runs openstack', value: 'okd' },
      { path: 'placements[3]', message: 'duplicate placement osl/okd', value: 'osl/okd' },
    ]);
  });
});

describe('createProjectInput', () => {
  it('refuses an empty name, an over-long name and no placements, all at once', () => {
    const empty = createProjectInput.safeParse({ name: '', placements: [] });
    expect(empty.success).toBe(false);
    expect(empty.error?.issues.map((i) => i.path.join('.'))).toEqual(['name', 'placements']);
    const long = createProjectInput.safeParse({ name: 'x'.repeat(65), placements: [{ region: 'sto', platform: 'openstack' }] });
    expect(long.error?.issues[0]?.message).toBe('the name must be at most 64 characters');
  });

  it('defaults the description to empty', () => {
    expect(createProjectInput.parse({ name: 'web', placements: [{ region: 'sto', platform: 'openstack' }] }).description).toBe('');
  });
});
