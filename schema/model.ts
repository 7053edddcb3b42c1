import { z } from 'zod';

/** Platforms a region may run. */
export const Platform = { openstack: 'openstack', okd: 'okd' } as const;
export type Platform = (typeof Platform)[keyof typeof Platform];
export const platformSchema = z.enum(['openstack', 'okd']);

/** Region names are subject tokens: lower-case letters, digits and dashes. */
export const regionNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,15}$/, 'a region name is 2-16 lower-case letters, digits or dashes, starting with a letter');

/** Organisation ids: DNS-label-like, so they fit Keystone domain names, tags and Kubernetes labels. */
export const organizationIdSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, 'an organization id is 1-32 lower-case letters, digits or dashes');

/** Global project id chosen by infrafed: `prj_` + a ULID (lower-cased, so it is also a valid label value). */
export const projectIdSchema = z.string().regex(/^prj_[0-9a-z]{26}$/, 'a project id looks like prj_ followed by 26 letters or digits');

/** Operation id: `op_` + a ULID (lower-cased). */
export const operationIdSchema = z.string().regex(/^op_[0-9a-z]{26}$/, 'an operation id looks like op_ followed by 26 letters or digits');

/** Human project names: shown to customers and used as the native name (Keystone project, OKD display name). */
export const projectNameSchema = z
  .string()
  .min(1, 'the name must not be empty')
  .max(64, 'the name must be at most 64 characters')
  .regex(
    /^([A-Za-z0-9][A-Za-z0-9 ._-]*)?$/,
    'the name may contain letters, digits, spaces, dots, dashes and underscores, and starts with a letter or digit',
  );

export const descriptionSchema = z.string().max(255, 'the description must be at most 255 characters');

/**
 * A member's user name inside its organisation: the OIDC `preferred_username` or an e-mail address.
 * No `/`, `,` or `:` (Keystone and Kubernetes names), at most 64 characters.
 */
export const userNameSchema = z
  .string()
  .min(1, 'the user must not be empty')
  .max(64, 'the user must be at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]*$/, 'the user may contain letters, digits and . _ @ + -, and starts with a letter or digit');

/** A member of a project is a user or a group of the organisation (groups come from the identity provider). */
export const memberKindSchema = z.enum(['user', 'group']);
export type MemberKind = z.infer<typeof memberKindSchema>;

/** A group's name inside its organisation: the same characters as a user name. */
export const groupNameSchema = z
  .string()
  .min(1, 'the group must not be empty')
  .max(64, 'the group must be at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]*$/, 'the group may contain letters, digits and . _ @ + -, and starts with a letter or digit');

/** Project roles, weakest first. OpenStack: Keystone roles of the same name; OKD: view / edit / admin. */
export const ProjectRole = { reader: 'reader', member: 'member', admin: 'admin' } as const;
export type ProjectRole = (typeof ProjectRole)[keyof typeof ProjectRole];
export const projectRoleSchema = z.enum(['reader', 'member', 'admin']);

export const placementSchema = z.object({ region: regionNameSchema, platform: platformSchema });
export type Placement = z.infer<typeof placementSchema>;

export function placementKey(p: Placement): string {
  return `${p.region}/${p.platform}`;
}

/** The key of one project's placement (`project|region|platform`), as the entitlements ledger keeps it. */
export function projectPlacementKey(projectId: string, p: Placement): string {
  return `${projectId}|${p.region}|${p.platform}`;
}

/** The parts of a `projectPlacementKey`. */
export function parseProjectPlacementKey(key: string): { projectId: string; region: string; platform: string } {
  const [projectId = '', region = '', platform = ''] = key.split('|');
  return { projectId, region, platform };
}
