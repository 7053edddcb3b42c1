import { z } from 'zod';

/** Organisation roles, weakest first (the token's `org_role`). */
export const orgRoleSchema = z.enum(['reader', 'member', 'admin', 'owner']);
export type OrgRole = z.infer<typeof orgRoleSchema>;

/** What a principal may do inside its organisation. */
export const Permission = {
  /** See projects, placements, members, networks, rules, quotas, operations. */
  read: 'project.read',
  /** Networks and access rules. */
  manageNetworks: 'network.manage',
  /** Members (users and groups) of projects. */
  manageMembers: 'member.manage',
  /** Project quotas. */
  manageQuotas: 'quota.manage',
  /** Create and delete projects. */
  manageProjects: 'project.manage',
  /** Share projects with partner organisations. */
  managePartners: 'partner.manage',
  /** Read the organisation's audit log. */
  readAudit: 'audit.read',
  /** Grant and remove organisation roles (at most one's own), invite people, cancel invitations. */
  managePeople: 'people.manage',
  /** Define the identity-provider rules that grant roles at sign-in. */
  manageRules: 'rule.manage',
  /** Register, test and remove the organisation's webhooks, and read their delivery logs. */
  manageWebhooks: 'webhook.manage',
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

/**
 * Readers read; members also manage networks and access rules; admins also manage members, quotas,
 * projects and the organisation's people (invitations, roles up to their own) and read the audit log;
 * owners also manage partners and the identity-provider rules. Each role has everything the weaker ones have.
 */
export const permissionsByRole: Record<OrgRole, readonly Permission[]> = (() => {
  const reader: Permission[] = [Permission.read];
  const member = [...reader, Permission.manageNetworks];
  const admin = [
    ...member,
    Permission.manageMembers,
    Permission.manageQuotas,
    Permission.manageProjects,
    Permission.readAudit,
    Permission.managePeople,
    Permission.manageWebhooks,
  ];
  const owner = [...admin, Permission.managePartners, Permission.manageRules];
  return { reader, member, admin, owner };
})();

/** What a partner organisation may never do on a project shared with it, whatever the level. */
export const ownerOnlyPermissions: readonly Permission[] = [
  Permission.manageQuotas,
  Permission.manageProjects,
  Permission.managePartners,
  Permission.readAudit,
  Permission.managePeople,
  Permission.manageRules,
  Permission.manageWebhooks,
];

/** The weaker of two roles. */
export function weaker(a: OrgRole, b: OrgRole): OrgRole {
  const order = orgRoleSchema.options;
  return order.indexOf(a) <= order.indexOf(b) ? a : b;
}

export function can(role: OrgRole, permission: Permission): boolean {
  return permissionsByRole[role].includes(permission);
}

/** The weakest role that has the permission (for messages). */
export function weakestRoleWith(permission: Permission): OrgRole {
  return orgRoleSchema.options.find((r) => can(r, permission)) as OrgRole;
}

/** The platform operators' role (a `roles` claim in the token), outside any organisation's roles. */
export const PLATFORM_ADMIN = 'platform-admin';
