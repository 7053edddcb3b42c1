import { createHash } from 'node:crypto';
import type { ProjectPlacement } from '../../schema/contracts/identity.ts';
import { organizationIdSchema, projectIdSchema, type ProjectRole } from '../../schema/model.ts';
import type { QuotaResource } from '../../schema/quota.ts';
import type { KubeObject } from './client/kubeClient.ts';

/** Labels and annotations infrafed puts on the objects it makes (the platform says what belongs to whom). */
export const Label = {
  managed: 'infrafed.io/managed',
  project: 'infrafed.io/project',
  org: 'infrafed.io/org',
  rule: 'infrafed.io/rule',
  memberOrg: 'infrafed.io/member-org',
  memberKind: 'infrafed.io/member-kind',
} as const;
export const Annotation = {
  name: 'infrafed.io/name',
  user: 'infrafed.io/user',
  ruleDescription: 'infrafed.io/description',
  displayName: 'openshift.io/display-name',
  description: 'openshift.io/description',
} as const;

/** The namespace (OpenShift project) of a placement: derived from the global id, so a retry finds it by name. */
export function namespaceName(projectId: string): string {
  return `ifd-${projectId.replace('_', '-')}`;
}

/** One OpenShift Group per organisation holds its users (the organisation's identity domain on OKD). */
export function groupName(organization: string): string {
  return `ifd-${organization}`;
}

/** A member's RoleBinding: one per user (or group) of an organisation in a namespace. */
export function roleBindingName(organization: string, name: string, kind: 'user' | 'group' = 'user'): string {
  return `ifd-${kind === 'user' ? 'member' : 'group'}-${createHash('sha256').update(`${organization}/${name}`).digest('hex').slice(0, 20)}`;
}

/** The OpenShift Group of an organisation's group (its users come from the identity provider's group sync). */
export function memberGroupName(organization: string, group: string): string {
  return `ifd-${organization}-${group}`;
}

/** A rule's NetworkPolicy is named by the rule id (`acr_…` → `acr-…`). */
export function policyName(ruleId: string): string {
  return ruleId.replace('_', '-');
}

export const clusterRoleOf: Record<ProjectRole, string> = { reader: 'view', member: 'edit', admin: 'admin' };
export function roleFromClusterRole(name: string | undefined): ProjectRole | null {
  const found = Object.entries(clusterRoleOf).find(([, v]) => v === name);
  return found ? (found[0] as ProjectRole) : null;
}

/** Neutral quota resources and their ResourceQuota names; the rest are not OKD's. */
export const kubeQuotaNames: Partial<Record<QuotaResource, string>> = {
  cores: 'requests.cpu',
  ramMiB: 'requests.memory',
  instances: 'pods',
  volumes: 'persistentvolumeclaims',
  securityGroupRules: 'count/networkpolicies.networking.k8s.io',
};
export function fromKubeQuotaName(name: string): QuotaResource | null {
  const found = Object.entries(kubeQuotaNames).find(([, v]) => v === name);
  return found ? (found[0] as QuotaResource) : null;
}

/** Kubernetes quantity → number (cpu cores, memory bytes, counts). */
export function parseQuantity(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) return Number.NaN;
  const factor: Record<string, number> = { '': 1, m: 0.001, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (factor[m[2] ?? ''] as number);
}

/** A neutral figure in the resource's Kubernetes quantity, and back (cores, MiB and counts are whole numbers). */
export function toKubeQuantity(resource: QuotaResource, value: number): string {
  return resource === 'ramMiB' ? `${value}Mi` : String(value);
}
export function fromKubeQuantity(resource: QuotaResource, quantity: string): number {
  const n = parseQuantity(quantity);
  if (resource === 'ramMiB') return Math.ceil(n / 1024 ** 2);
  return resource === 'cores' ? Math.ceil(n) : Math.round(n);
}

/** The neutral placement a namespace stands for, or null when it is not one of infrafed's. */
export function fromNamespace(ns: KubeObject, region: string): ProjectPlacement | null {
  const labels = ns.metadata.labels ?? {};
  const annotations = ns.metadata.annotations ?? {};
  const projectId = labels[Label.project];
  const organization = labels[Label.org];
  if (labels[Label.managed] !== 'true' || !projectIdSchema.safeParse(projectId).success || !organizationIdSchema.safeParse(organization).success) return null;
  return {
    projectId: projectId as string,
    organization: organization as string,
    name: annotations[Annotation.name] ?? annotations[Annotation.displayName] ?? ns.metadata.name,
    description: annotations[Annotation.description] ?? '',
    region,
    platform: 'okd',
    nativeId: ns.metadata.name,
    enabled: true,
  };
}
