import { describe, expect, it } from '@jest/globals';
import { can, Permission, permissionForOperation, permissionsByRole, weakestRoleWith } from './access.ts';
import { OperationKind } from './operations.ts';

describe('organisation roles and permissions', () => {
  it('gives each role exactly the documented permissions, each role containing the weaker ones', () => {
    expect(permissionsByRole).toEqual({
      reader: ['project.read'],
      member: ['project.read', 'network.manage'],
      admin: ['project.read', 'network.manage', 'member.manage', 'quota.manage', 'project.manage', 'audit.read'],
      owner: ['project.read', 'network.manage', 'member.manage', 'quota.manage', 'project.manage', 'audit.read', 'partner.manage'],
    });
  });

  it('maps every operation kind to a permission, and names the weakest role that has it', () => {
    expect(Object.keys(permissionForOperation).sort()).toEqual(Object.values(OperationKind).sort());
    const table = Object.entries(permissionForOperation).map(([kind, p]) => [kind, weakestRoleWith(p)]);
    expect(Object.fromEntries(table)).toEqual({
      CREATE_PROJECT: 'admin',
      DELETE_PROJECT: 'admin',
      ADD_MEMBER: 'admin',
      REMOVE_MEMBER: 'admin',
      CREATE_NETWORK: 'member',
      DELETE_NETWORK: 'member',
      APPLY_ACCESS_RULE: 'member',
      REMOVE_ACCESS_RULE: 'member',
      SET_QUOTA: 'admin',
      SHARE_PROJECT: 'owner',
      REVOKE_SHARE: 'owner',
    });
    expect(can('reader', Permission.read)).toBe(true);
    expect(can('admin', Permission.managePartners)).toBe(false);
  });
});
