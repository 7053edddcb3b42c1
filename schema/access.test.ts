import { describe, expect, it } from '@jest/globals';
import { can, Permission, permissionsByRole, weakestRoleWith } from './access.ts';

describe('organisation roles and permissions', () => {
  it('gives each role exactly the documented permissions, each role containing the weaker ones', () => {
    expect(permissionsByRole).toEqual({
      reader: ['project.read'],
      member: ['project.read', 'network.manage'],
      admin: [
        'project.read',
        'network.manage',
        'member.manage',
        'quota.manage',
        'project.manage',
        'audit.read',
        'people.manage',
        'webhook.manage',
      ],
      owner: [
        'project.read',
        'network.manage',
        'member.manage',
        'quota.manage',
        'project.manage',
        'audit.read',
        'people.manage',
        'webhook.manage',
        'partner.manage',
        'rule.manage',
      ],
    });
  });

  it('answers whether a role has a permission, and names the weakest role that has it', () => {
    expect(weakestRoleWith(Permission.manageNetworks)).toBe('member');
    expect(can('reader', Permission.read)).toBe(true);
    expect(can('admin', Permission.managePartners)).toBe(false);
  });
});
