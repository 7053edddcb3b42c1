import { createHash } from 'node:crypto';
import type { ProjectPlacement } from '../../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { organizationIdSchema, projectIdSchema, type ProjectRole } from '../../schema/model.ts';
import { normalizeAccessRule, type AccessRule } from '../../schema/network.ts';
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

/**
 * Names of OpenShift objects that belong to an organisation use `:` as separator: no organisation id
 * (`[a-z0-9-]`) and no user or group name (`[A-Za-z0-9._@+-]`) can contain it, so `acme`'s group `ops`
 * (`ifd:acme:ops`) can never be organisation `acme-ops`'s own Group (`ifd:acme-ops`).
 */
const SEP = ':';

/** One OpenShift Group per organisation holds its users (the organisation's identity domain on OKD). */
export function groupName(organization: string): string {
  return `ifd${SEP}${organization}`;
}

/** A member's RoleBinding: one per user (or group) of an organisation in a namespace. */
export function roleBindingName(organization: string, name: string, kind: 'user' | 'group' = 'user'): string {
  return `ifd-${kind === 'user' ? 'member' : 'group'}-${createHash('sha256').update(`${organization}/${name}`).digest('hex').slice(0, 20)}`;
}

/** The OpenShift Group of an organisation's group (its users come from the identity provider's group sync). */
export function memberGroupName(organization: string, group: string): string {
  return `ifd${SEP}${organization}${SEP}${group}`;
}

/** The default of a region's `userNameTemplate`: OpenShift users named after the organisation's identity provider. */
export const DEFAULT_USER_NAME_TEMPLATE = '{organization}:{user}';

/**
 * The OpenShift user an organisation's user signs in as: the region's template (its identity providers'
 * mapping) with the organisation and the user filled in. Without the organisation in it, two
 * organisations' users of the same name would be one OpenShift user, so a template must name both.
 */
export function okdUserName(template: string, organization: string, user: string): string {
  return template.replaceAll('{organization}', organization).replaceAll('{user}', user);
}

/** Whether a user-name template keeps organisations apart (names both the organisation and the user). */
export function isUserNameTemplate(template: string): boolean {
  return template.includes('{organization}') && template.includes('{user}');
}

/**
 * An existing object infrafed would take over (adopt) must be labelled for the same organisation; one made
 * for another organisation, or by hand, is a CONFLICT and is left as it is.
 */
export function refuseForeign(
  object: { metadata: KubeObject['metadata'] },
  organization: string,
  what: string,
  where: Record<string, unknown>,
): void {
  const owner = object.metadata.labels?.[Label.org] ?? object.metadata.labels?.[Label.memberOrg];
  if (owner === organization) return;
  throw new InfrafedError(
    ErrorCode.CONFLICT,
    `${what} ${object.metadata.name} exists and belongs to ${owner ? 'another organisation' : 'no organisation of infrafed'}: it is not taken over`,
    { ...where, name: object.metadata.name },
  );
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
  // every form the API server may return: binary (Ki…Ei) and decimal (n…E) suffixes, exponents, a sign
  const m = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$/.exec(q.trim());
  if (!m) return Number.NaN;
  const [, sign, digits, binary, decimal, exponent] = m;
  const n = Number(digits) * (sign === '-' ? -1 : 1);
  if (binary) return n * 1024 ** (['Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'].indexOf(binary) + 1);
  const powers: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
  return n * 10 ** (exponent !== undefined ? Number(exponent) : (powers[decimal ?? ''] ?? 0));
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

/** A namespace being deleted: Kubernetes keeps it, labels and all, until its content is gone. */
export function isTerminating(ns: KubeObject): boolean {
  const status = (ns as { status?: { phase?: string } }).status;
  return Boolean((ns.metadata as { deletionTimestamp?: string }).deletionTimestamp) || status?.phase === 'Terminating';
}

/** The neutral placement a namespace stands for, or null when it is not one of infrafed's. */
export function fromNamespace(ns: KubeObject, region: string): ProjectPlacement | null {
  const labels = ns.metadata.labels ?? {};
  const annotations = ns.metadata.annotations ?? {};
  const projectId = labels[Label.project];
  const organization = labels[Label.org];
  if (
    labels[Label.managed] !== 'true' ||
    !projectIdSchema.safeParse(projectId).success ||
    !organizationIdSchema.safeParse(organization).success
  )
    return null;
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

/** The NetworkPolicy shape infrafed writes (one direction, one peer block, at most one port range). */
export interface PolicyPort {
  protocol?: string;
  port?: number;
  endPort?: number;
}
export interface PolicyRule {
  from?: { ipBlock?: { cidr: string } }[];
  to?: { ipBlock?: { cidr: string } }[];
  ports?: PolicyPort[];
}
export interface PolicySpec {
  spec: { podSelector: object; policyTypes: string[]; ingress?: PolicyRule[]; egress?: PolicyRule[] };
}

/** A NetworkPolicy as a neutral rule (null when it is not one infrafed could have written). */
export function fromNetworkPolicy(policy: KubeObject<PolicySpec>): AccessRule | null {
  const spec = policy.spec;
  const direction = spec.policyTypes.includes('Egress') ? 'egress' : 'ingress';
  const rules = (direction === 'ingress' ? spec.ingress : spec.egress) ?? [];
  if (rules.length !== 1) return null;
  const rule = rules[0] as PolicyRule;
  const peers = (direction === 'ingress' ? rule.from : rule.to) ?? [];
  const cidr = peers[0]?.ipBlock?.cidr;
  if (peers.length !== 1 || !cidr) return null;
  const port = rule.ports?.[0];
  if ((rule.ports?.length ?? 0) > 1) return null;
  const protocol = port ? (port.protocol === 'UDP' ? 'udp' : port.protocol === 'TCP' || port.protocol === undefined ? 'tcp' : null) : 'any';
  if (!protocol) return null;
  return normalizeAccessRule({
    direction,
    protocol,
    portFrom: port?.port ?? null,
    portTo: port?.endPort ?? port?.port ?? null,
    remoteCidr: cidr,
    description: policy.metadata.annotations?.[Annotation.ruleDescription] ?? '',
  });
}

/** The NetworkPolicy of a neutral rule: all pods of the namespace, one direction, one peer block, its ports. */
export function toNetworkPolicy(rule: AccessRule, projectId: string, region: string): KubeObject<PolicySpec> {
  if (rule.protocol === 'icmp') {
    throw new InfrafedError(
      ErrorCode.NOT_SUPPORTED,
      'ICMP rules cannot be expressed as a Kubernetes NetworkPolicy (TCP, UDP and SCTP only); ' +
        `the OKD placement in ${region} cannot take this rule`,
      {
        region,
        platform: 'okd',
      },
    );
  }
  const ports: PolicyPort[] | undefined =
    rule.protocol === 'any'
      ? undefined
      : [
          {
            protocol: rule.protocol.toUpperCase(),
            ...(rule.portFrom !== null ? { port: rule.portFrom } : {}),
            ...(rule.portTo !== null && rule.portTo !== rule.portFrom ? { endPort: rule.portTo } : {}),
          },
        ];
  const peer = [{ ipBlock: { cidr: rule.remoteCidr } }];
  const body: PolicyRule =
    rule.direction === 'ingress' ? { from: peer, ...(ports ? { ports } : {}) } : { to: peer, ...(ports ? { ports } : {}) };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: policyName(rule.id),
      labels: { [Label.managed]: 'true', [Label.rule]: rule.id.replace('_', '-'), [Label.project]: projectId },
      annotations: { [Annotation.ruleDescription]: rule.description },
    },
    spec: {
      podSelector: {},
      policyTypes: [rule.direction === 'ingress' ? 'Ingress' : 'Egress'],
      ...(rule.direction === 'ingress' ? { ingress: [body] } : { egress: [body] }),
    },
  };
}

/** Admission's "exceeded quota" with neutral names and units. */
export function fromAdmissionQuotaError(error: unknown, region: string): unknown {
  if (!(error instanceof InfrafedError) || error.code !== ErrorCode.QUOTA_EXCEEDED) return error;
  const exceeded = (error.extensions.exceeded as { resource: string; requested: string; used: string; limited: string }[] | null) ?? [];
  for (const e of exceeded) {
    const resource = fromKubeQuotaName(e.resource);
    if (!resource) continue;
    const [limit, used, requested] = [
      fromKubeQuantity(resource, e.limited),
      fromKubeQuantity(resource, e.used),
      fromKubeQuantity(resource, e.requested),
    ];
    return new InfrafedError(
      ErrorCode.QUOTA_EXCEEDED,
      `${resource} quota exceeded in ${region}: limit ${limit}, in use ${used}, requested ${requested}`,
      { region, platform: 'okd', resource, limit, used, requested },
    );
  }
  return error;
}
