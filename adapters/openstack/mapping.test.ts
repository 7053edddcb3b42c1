import { describe, expect, it } from '@jest/globals';
import type { KeystoneProject } from './client/keystoneClient.ts';
import { defaultKeystoneRoles, fromKeystoneProject, managedKeystoneRoles, projectRoleOf, toMembers, toProjectTags } from './mapping.ts';

const id = 'prj_01m89x2b58tqxgwz9zy04yd1wb';
// shape of a real Keystone 22 (Zed) POST /v3/projects response
const project: KeystoneProject = {
  id: '29308252de374a638b0f77c88e6ba3d9',
  name: 'web shop',
  domain_id: 'ed5a6c954d5b4215b4162a82d6c56cb0',
  description: 'd',
  enabled: true,
  tags: toProjectTags(id, 'acme'),
};

describe('Keystone mapping', () => {
  it('reads the global id and organisation back from the tags', () => {
    expect(fromKeystoneProject(project, 'sto')).toEqual({
      projectId: id,
      organization: 'acme',
      name: 'web shop',
      description: 'd',
      region: 'sto',
      platform: 'openstack',
      nativeId: project.id,
      enabled: true,
    });
  });

  it('ignores projects that are not infrafed’s or whose tags were edited into nonsense', () => {
    expect(fromKeystoneProject({ ...project, tags: [] }, 'sto')).toBeNull();
    expect(fromKeystoneProject({ ...project, tags: ['infrafed', 'ifd-project=prj_01abc', 'ifd-org=acme'] }, 'sto')).toBeNull();
  });

  it('turns role assignments into one member per user or group with its strongest infrafed role', () => {
    const domain = { id: 'd1', name: 'ifd-acme' };
    const members = toMembers(id, [
      { scope: { project: { id: 'p' } }, user: { id: 'u1', name: 'alice', domain }, role: { id: 'r1', name: 'reader' } },
      { scope: { project: { id: 'p' } }, user: { id: 'u1', name: 'alice', domain }, role: { id: 'r3', name: 'admin' } },
      { scope: { project: { id: 'p' } }, user: { id: 'u2', name: 'bob', domain }, role: { id: 'r2', name: 'member' } },
      // Keystone's own admin (default domain) and unknown roles are not members
      {
        scope: { project: { id: 'p' } },
        user: { id: 'u0', name: 'admin', domain: { id: 'default', name: 'Default' } },
        role: { id: 'r3', name: 'admin' },
      },
      { scope: { project: { id: 'p' } }, user: { id: 'u2', name: 'bob', domain }, role: { id: 'r9', name: 'load-balancer_member' } },
      // a group named like a user is another member
      { scope: { project: { id: 'p' } }, group: { id: 'g1', name: 'alice', domain }, role: { id: 'r1', name: 'reader' } },
    ]);
    // alice holds reader and Keystone's admin, which the default mapping never gives: she reads back as reader
    expect(members).toEqual([
      { projectId: id, kind: 'group', user: 'alice', organization: 'acme', role: 'reader' },
      { projectId: id, kind: 'user', user: 'alice', organization: 'acme', role: 'reader' },
      { projectId: id, kind: 'user', user: 'bob', organization: 'acme', role: 'member' },
    ]);
  });

  it('reads a member’s role back as the strongest infrafed role whose Keystone roles it holds all of', () => {
    expect(projectRoleOf(['member', 'manager'], defaultKeystoneRoles)).toBe('admin');
    expect(projectRoleOf(['member'], defaultKeystoneRoles)).toBe('member');
    expect(projectRoleOf(['manager'], defaultKeystoneRoles)).toBeNull();
    expect(projectRoleOf(['admin'], defaultKeystoneRoles)).toBeNull();
    expect(managedKeystoneRoles(defaultKeystoneRoles)).not.toContain('admin');
    // an operator who wants Keystone's admin says so
    expect(projectRoleOf(['admin'], { ...defaultKeystoneRoles, admin: ['admin'] })).toBe('admin');
  });
});
