import type { ProjectPlacement, Member } from '../../schema/contracts/identity.ts';
import { organizationIdSchema, ProjectRole, projectIdSchema } from '../../schema/model.ts';
import type { QuotaResource } from '../../schema/quota.ts';
import type { KeystoneProject, KeystoneRoleAssignment } from './client/keystoneClient.ts';

/** Every Keystone project infrafed made carries this tag, plus the two below. */
export const INFRAFED_TAG = 'infrafed';
const PROJECT_TAG = 'ifd-project=';
const ORG_TAG = 'ifd-org=';
const DOMAIN_PREFIX = 'ifd-';

/** Each organisation's users and projects live in a Keystone domain of its own. */
export function toDomainName(organization: string): string {
  return `${DOMAIN_PREFIX}${organization}`;
}
export function fromDomainName(domainName: string | undefined): string | null {
  return domainName?.startsWith(DOMAIN_PREFIX) ? domainName.slice(DOMAIN_PREFIX.length) : null;
}

export function projectTag(projectId: string): string {
  return `${PROJECT_TAG}${projectId}`;
}
export function orgTag(organization: string): string {
  return `${ORG_TAG}${organization}`;
}
export function toProjectTags(projectId: string, organization: string): string[] {
  return [INFRAFED_TAG, projectTag(projectId), orgTag(organization)];
}

/** The neutral placement a Keystone project stands for, or null when it is not one of infrafed's. */
export function fromKeystoneProject(project: KeystoneProject, region: string): ProjectPlacement | null {
  const tags = project.tags ?? [];
  const projectId = tags.find((t) => t.startsWith(PROJECT_TAG))?.slice(PROJECT_TAG.length);
  const organization = tags.find((t) => t.startsWith(ORG_TAG))?.slice(ORG_TAG.length);
  // a tag edited by hand must not break the whole listing: such a project is not one of ours
  if (
    !tags.includes(INFRAFED_TAG) ||
    !projectIdSchema.safeParse(projectId).success ||
    !organizationIdSchema.safeParse(organization).success
  )
    return null;
  return {
    projectId: projectId as string,
    organization: organization as string,
    name: project.name,
    description: project.description ?? '',
    region,
    platform: 'openstack',
    nativeId: project.id,
    enabled: project.enabled,
  };
}

/** The Keystone roles each infrafed role gives in a region (`roles` of its OpenStack configuration). */
export type KeystoneRoleMap = Readonly<Record<ProjectRole, readonly string[]>>;
/** The defaults: never Keystone's `admin` (cloud-wide admin under the legacy policies). */
export const defaultKeystoneRoles: KeystoneRoleMap = { reader: ['reader'], member: ['member'], admin: ['member', 'manager'] };

const strongestFirst: readonly ProjectRole[] = [ProjectRole.admin, ProjectRole.member, ProjectRole.reader];

/** Every Keystone role infrafed gives or takes away in the region (other roles on a project are left alone). */
export function managedKeystoneRoles(map: KeystoneRoleMap): string[] {
  return [...new Set(Object.values(map).flat())];
}

/** The infrafed role a member holds: the strongest whose Keystone roles it holds all of; null for none. */
export function projectRoleOf(keystoneRoles: readonly string[], map: KeystoneRoleMap): ProjectRole | null {
  return strongestFirst.find((role) => map[role].every((name) => keystoneRoles.includes(name))) ?? null;
}

/**
 * Members from a project's role assignments: one per user or group of an infrafed organisation domain,
 * with the strongest infrafed role it holds (Keystone's own admin and service users are not members).
 */
export function toMembers(
  projectId: string,
  assignments: readonly KeystoneRoleAssignment[],
  map: KeystoneRoleMap = defaultKeystoneRoles,
): Member[] {
  const managed = managedKeystoneRoles(map);
  const byActor = new Map<string, { kind: 'user' | 'group'; user: string; organization: string; roles: string[] }>();
  for (const a of assignments) {
    const actor = a.user ?? a.group;
    const kind = a.user ? 'user' : 'group';
    const organization = fromDomainName(actor?.domain?.name);
    const roleName = a.role.name;
    if (!actor?.name || !organization || roleName === undefined || !managed.includes(roleName)) continue;
    const key = `${kind}/${organization}/${actor.name}`;
    const entry = byActor.get(key) ?? { kind, user: actor.name, organization, roles: [] };
    entry.roles.push(roleName);
    byActor.set(key, entry);
  }
  return [...byActor.values()]
    .flatMap((e) => {
      const role = projectRoleOf(e.roles, map);
      return role ? [{ projectId, kind: e.kind, user: e.user, organization: e.organization, role }] : [];
    })
    .sort((a, b) => a.organization.localeCompare(b.organization) || a.kind.localeCompare(b.kind) || a.user.localeCompare(b.user));
}

/**
 * The Neutron objects (network, subnet, router) of one infrafed network carry its id in their description,
 * `infrafed net_…`: Neutron refuses tags in a POST (they take a second call, which a crash could skip), but
 * a description is written with the object and can be filtered on, so a retried create finds them.
 */
export function networkMarker(networkId: string): string {
  return `${INFRAFED_TAG} ${networkId}`;
}
export function networkIdFromMarker(description: string | undefined): string | null {
  const m = /^infrafed (net_[0-9a-z]{26})$/.exec(description ?? '');
  return m ? (m[1] as string) : null;
}

/** The security group infrafed owns in each project: every access rule lands in it. */
export const ACCESS_RULES_GROUP = 'infrafed';

/** Neutral quota resources and where they live in OpenStack. */
export const novaQuotaNames: Partial<Record<QuotaResource, string>> = { cores: 'cores', ramMiB: 'ram', instances: 'instances' };
export const neutronQuotaNames: Partial<Record<QuotaResource, string>> = {
  networks: 'network',
  subnets: 'subnet',
  ports: 'port',
  routers: 'router',
  floatingIps: 'floatingip',
  securityGroups: 'security_group',
  securityGroupRules: 'security_group_rule',
};
export function fromVendorQuotaName(name: string): QuotaResource | null {
  for (const table of [novaQuotaNames, neutronQuotaNames]) {
    const found = Object.entries(table).find(([, vendor]) => vendor === name);
    if (found) return found[0] as QuotaResource;
  }
  return null;
}
