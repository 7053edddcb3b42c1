import type { NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import type { Logger } from 'pino';
import type { Member, ProjectPlacement } from '../../schema/contracts/identity.ts';
import type { PlacedAccessRule } from '../../schema/contracts/network.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { normalizeAccessRule, type AccessRule } from '../../schema/network.ts';
import type { QuotaLimits, QuotaResource, QuotaUsage } from '../../schema/quota.ts';
import { adapterQueue, adapterServiceName } from '../../schema/subjects.ts';
import { adapterEndpoint } from '../../runtime/nats/adapterEndpoint.ts';
import { startService, type EndpointSpec } from '../../runtime/nats/service.ts';
import { retryOnConflict, type KubeCallOptions, type KubeClient, type KubeObject } from './client/kubeClient.ts';
import {
  Annotation,
  clusterRoleOf,
  fromKubeQuantity,
  fromKubeQuotaName,
  fromNamespace,
  groupName,
  kubeQuotaNames,
  Label,
  memberGroupName,
  namespaceName,
  parseQuantity,
  policyName,
  roleBindingName,
  roleFromClusterRole,
  toKubeQuantity,
} from './mapping.ts';

export interface OkdAdapterDeps {
  nc: NatsConnection;
  region: string;
  kube: KubeClient;
  log: Logger;
  version: string;
}

export interface OkdAdapter {
  service: Service;
  stop(): Promise<void>;
}

const QUOTA_NAME = 'infrafed';
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const NETWORKING = '/apis/networking.k8s.io/v1';

interface PolicyPort {
  protocol?: string;
  port?: number;
  endPort?: number;
}
interface PolicyRule {
  from?: { ipBlock?: { cidr: string } }[];
  to?: { ipBlock?: { cidr: string } }[];
  ports?: PolicyPort[];
}
interface PolicySpec {
  spec: { podSelector: object; policyTypes: string[]; ingress?: PolicyRule[]; egress?: PolicyRule[] };
}
interface RoleBindingBody {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: { kind: string; apiGroup: string; name: string }[];
}
interface QuotaBody {
  spec: { hard: Record<string, string> };
  status?: { hard?: Record<string, string>; used?: Record<string, string> };
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
    throw new InfrafedError(ErrorCode.NOT_SUPPORTED, `ICMP rules cannot be expressed as a Kubernetes NetworkPolicy (TCP, UDP and SCTP only); the OKD placement in ${region} cannot take this rule`, {
      region,
      platform: 'okd',
    });
  }
  const ports: PolicyPort[] | undefined =
    rule.protocol === 'any'
      ? undefined
      : [{ protocol: rule.protocol.toUpperCase(), ...(rule.portFrom !== null ? { port: rule.portFrom } : {}), ...(rule.portTo !== null && rule.portTo !== rule.portFrom ? { endPort: rule.portTo } : {}) }];
  const peer = [{ ipBlock: { cidr: rule.remoteCidr } }];
  const body: PolicyRule = rule.direction === 'ingress' ? { from: peer, ...(ports ? { ports } : {}) } : { to: peer, ...(ports ? { ports } : {}) };
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

/**
 * The OKD adapter of one region: a NATS service on `infra.v1.<region>.okd.>` (queue group `okd-<region>`)
 * that maps the neutral contract to the Kubernetes and OpenShift APIs: projects (ProjectRequest, labelled
 * namespace), members (RoleBinding of a User or an OpenShift Group to view / edit / admin; a user joins its
 * organisation's Group),
 * access rules (NetworkPolicy), quotas (ResourceQuota). Networks are Neutron's: NOT_SUPPORTED here.
 */
export async function createOkdAdapter(deps: OkdAdapterDeps): Promise<OkdAdapter> {
  const { kube, region } = deps;
  const ctx = { region, platform: 'okd' };

  const notSupported = (what: string) =>
    new InfrafedError(ErrorCode.NOT_SUPPORTED, `${what} are OpenStack (Neutron) objects: an OKD placement has none (region ${region}); use access rules for its traffic`, ctx);

  async function findNamespace(projectId: string, o: KubeCallOptions): Promise<KubeObject | null> {
    const ns = await kube.find(`/api/v1/namespaces/${namespaceName(projectId)}`, o);
    return ns && fromNamespace(ns, region)?.projectId === projectId ? ns : null;
  }

  async function requireNamespace(projectId: string, o: KubeCallOptions): Promise<string> {
    const ns = await findNamespace(projectId, o);
    if (!ns) throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} has no placement in ${region}`, { ...ctx, projectId });
    return ns.metadata.name;
  }

  /** Puts the infrafed labels and annotations on the namespace (a ProjectRequest cannot carry them). */
  function label(name: string, req: { projectId: string; organization: string; name: string }, o: KubeCallOptions): Promise<KubeObject> {
    return retryOnConflict(async () => {
      const ns = await kube.get(`/api/v1/namespaces/${name}`, o);
      ns.metadata.labels = { ...ns.metadata.labels, [Label.managed]: 'true', [Label.project]: req.projectId, [Label.org]: req.organization };
      ns.metadata.annotations = { ...ns.metadata.annotations, [Annotation.name]: req.name };
      return kube.replace(`/api/v1/namespaces/${name}`, ns, o);
    });
  }

  function toMember(projectId: string, binding: KubeObject<RoleBindingBody>): Member | null {
    const role = roleFromClusterRole(binding.roleRef?.name);
    const organization = binding.metadata.labels?.[Label.memberOrg];
    const user = binding.metadata.annotations?.[Annotation.user];
    const kind = binding.metadata.labels?.[Label.memberKind] === 'group' ? 'group' : 'user';
    return role && organization && user ? { projectId, kind, user, organization, role } : null;
  }

  /** An organisation's group as an OpenShift Group (created empty when missing: the identity provider fills it). */
  async function ensureMemberGroup(organization: string, group: string, o: KubeCallOptions): Promise<string> {
    const name = memberGroupName(organization, group);
    if (await kube.find(`/apis/user.openshift.io/v1/groups/${name}`, o)) return name;
    try {
      await kube.create('/apis/user.openshift.io/v1/groups', { apiVersion: 'user.openshift.io/v1', kind: 'Group', metadata: { name, labels: { [Label.managed]: 'true', [Label.org]: organization } }, users: [] }, o);
    } catch (error) {
      if (!(error instanceof InfrafedError && error.code === ErrorCode.CONFLICT)) throw error;
    }
    return name;
  }

  /** The user joins its organisation's Group (created on first use); read-modify-write with resourceVersion. */
  function joinGroup(organization: string, user: string, o: KubeCallOptions): Promise<void> {
    const path = `/apis/user.openshift.io/v1/groups/${groupName(organization)}`;
    return retryOnConflict(async () => {
      const group = await kube.find<{ users: string[] }>(path, o);
      if (!group) {
        await kube.create('/apis/user.openshift.io/v1/groups', { apiVersion: 'user.openshift.io/v1', kind: 'Group', metadata: { name: groupName(organization), labels: { [Label.managed]: 'true', [Label.org]: organization } }, users: [user] }, o);
      } else if (!(group.users ?? []).includes(user)) {
        await kube.replace(path, { ...group, users: [...(group.users ?? []), user] }, o);
      }
    });
  }

  /** Runs `work` for every project of a batch that has a namespace here (the caller's native id, else a look-up), in parallel. */
  async function perProject<T>(refs: { projectId: string; nativeId?: string }[], signal: AbortSignal, work: (projectId: string, ns: string) => Promise<T[]>): Promise<T[]> {
    const lists = await Promise.all(
      refs.map(async ({ projectId, nativeId }) => {
        const ns = nativeId ?? (await findNamespace(projectId, { signal }))?.metadata.name;
        return ns ? work(projectId, ns) : [];
      }),
    );
    return lists.flat();
  }

  /**
   * What the namespace uses, counted from its objects: a ResourceQuota reports use only for the resources
   * it limits, and users expect to see use of the others too.
   */
  async function measureUsage(ns: string, o: KubeCallOptions): Promise<QuotaUsage> {
    const [pods, claims, policies] = await Promise.all([
      kube.list<{ spec?: { containers?: { resources?: { requests?: Record<string, string> } }[] } }>(`/api/v1/namespaces/${ns}/pods`, undefined, o),
      kube.list(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, undefined, o),
      kube.list(`${NETWORKING}/namespaces/${ns}/networkpolicies`, undefined, o),
    ]);
    const requests = (what: 'cpu' | 'memory') =>
      pods.reduce((sum, p) => sum + (p.spec?.containers ?? []).reduce((s, c) => s + (c.resources?.requests?.[what] ? parseQuantity(c.resources.requests[what]) : 0), 0), 0);
    return {
      cores: Math.ceil(requests('cpu')),
      ramMiB: Math.ceil(requests('memory') / 1024 ** 2),
      instances: pods.length,
      volumes: claims.length,
      securityGroupRules: policies.length,
    };
  }

  async function readQuota(ns: string, o: KubeCallOptions): Promise<{ object: KubeObject<QuotaBody> | null; limits: QuotaLimits; usage: QuotaUsage }> {
    const rq = await kube.find<QuotaBody>(`/api/v1/namespaces/${ns}/resourcequotas/${QUOTA_NAME}`, o);
    const limits: QuotaLimits = {};
    const usage: QuotaUsage = {};
    for (const [resource, kubeName] of Object.entries(kubeQuotaNames) as [QuotaResource, string][]) {
      const hard = rq?.spec.hard[kubeName];
      limits[resource] = hard === undefined ? null : fromKubeQuantity(resource, hard);
      const used = rq?.status?.used?.[kubeName];
      if (used !== undefined) usage[resource] = fromKubeQuantity(resource, used);
    }
    const known = Object.keys(usage).length;
    return { object: rq, limits, usage: known === Object.keys(kubeQuotaNames).length ? usage : { ...(await measureUsage(ns, o)), ...usage } };
  }

  /** Admission's "exceeded quota" with neutral names and units. */
  function quotaError(error: unknown): unknown {
    if (!(error instanceof InfrafedError) || error.code !== ErrorCode.QUOTA_EXCEEDED) return error;
    const exceeded = (error.extensions.exceeded as { resource: string; requested: string; used: string; limited: string }[] | null) ?? [];
    for (const e of exceeded) {
      const resource = fromKubeQuotaName(e.resource);
      if (!resource) continue;
      const [limit, used, requested] = [fromKubeQuantity(resource, e.limited), fromKubeQuantity(resource, e.used), fromKubeQuantity(resource, e.requested)];
      return new InfrafedError(ErrorCode.QUOTA_EXCEEDED, `${resource} quota exceeded in ${region}: limit ${limit}, in use ${used}, requested ${requested}`, { ...ctx, resource, limit, used, requested });
    }
    return error;
  }

  function place(projectId: string, policy: KubeObject<PolicySpec>, rule: AccessRule): PlacedAccessRule {
    return { ...rule, projectId, region, platform: 'okd', nativeId: policy.metadata.name, status: 'ACTIVE' };
  }

  const endpoints: EndpointSpec[] = [
    adapterEndpoint(region, 'okd', 'project', 'create', {
      async handle(req, { signal }) {
        const o = { signal };
        const name = namespaceName(req.projectId);
        const existing = await kube.find(`/api/v1/namespaces/${name}`, o);
        const placement = existing && fromNamespace(existing, region);
        if (placement) return { placement, created: false };
        if (!existing) {
          try {
            await kube.create(
              '/apis/project.openshift.io/v1/projectrequests',
              { apiVersion: 'project.openshift.io/v1', kind: 'ProjectRequest', metadata: { name }, displayName: req.name, description: req.description },
              o,
            );
          } catch (error) {
            // another replica made it at the same moment: label it like ours
            if (!(error instanceof InfrafedError && error.code === ErrorCode.CONFLICT)) throw error;
          }
        }
        // an earlier attempt may have made the project and stopped before labelling it
        const labelled = await label(name, req, o);
        return { placement: fromNamespace(labelled, region) as ProjectPlacement, created: !existing };
      },
    }),
    adapterEndpoint(region, 'okd', 'project', 'get', {
      async handle(req, { signal }) {
        const ns = await findNamespace(req.projectId, { signal });
        return { placement: ns ? fromNamespace(ns, region) : null };
      },
    }),
    adapterEndpoint(region, 'okd', 'project', 'list', {
      async handle(req, { signal }) {
        const namespaces = await kube.list('/api/v1/namespaces', `${Label.managed}=true,${Label.org}=${req.organization}`, { signal });
        const wanted = req.projectIds ? new Set(req.projectIds) : null;
        return {
          placements: namespaces
            .map((ns) => fromNamespace(ns, region))
            .filter((p): p is ProjectPlacement => p !== null && p.organization === req.organization && (!wanted || wanted.has(p.projectId))),
        };
      },
    }),
    adapterEndpoint(region, 'okd', 'project', 'delete', {
      async handle(req, { signal }) {
        const ns = await findNamespace(req.projectId, { signal });
        // deleting the project deletes its namespace and everything in it (RoleBindings, NetworkPolicies, ResourceQuota)
        return { deleted: ns ? await kube.remove(`/apis/project.openshift.io/v1/projects/${ns.metadata.name}`, { signal }) : false };
      },
    }),
    adapterEndpoint(region, 'okd', 'member', 'add', {
      async handle(req, { signal }) {
        const o = { signal };
        const ns = await requireNamespace(req.projectId, o);
        const subject =
          req.kind === 'group'
            ? { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: await ensureMemberGroup(req.organization, req.user, o) }
            : { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: req.user };
        if (req.kind === 'user') await joinGroup(req.organization, req.user, o);
        const name = roleBindingName(req.organization, req.user, req.kind);
        const path = `${RBAC}/namespaces/${ns}/rolebindings`;
        const existing = await kube.find<RoleBindingBody>(`${path}/${name}`, o);
        const previousRole = existing ? (toMember(req.projectId, existing)?.role ?? null) : null;
        if (previousRole !== req.role) {
          // a RoleBinding's roleRef cannot change: a new role is a new binding
          if (existing) await kube.remove(`${path}/${name}`, o);
          await kube.create(
            path,
            {
              apiVersion: 'rbac.authorization.k8s.io/v1',
              kind: 'RoleBinding',
              metadata: { name, labels: { [Label.managed]: 'true', [Label.memberOrg]: req.organization, [Label.memberKind]: req.kind }, annotations: { [Annotation.user]: req.user } },
              roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRoleOf[req.role] },
              subjects: [subject],
            },
            o,
          );
        }
        return { member: { projectId: req.projectId, kind: req.kind, user: req.user, organization: req.organization, role: req.role }, previousRole };
      },
    }),
    adapterEndpoint(region, 'okd', 'member', 'remove', {
      async handle(req, { signal }) {
        const o = { signal };
        const ns = await requireNamespace(req.projectId, o);
        const path = `${RBAC}/namespaces/${ns}/rolebindings/${roleBindingName(req.organization, req.user, req.kind)}`;
        const existing = await kube.find<RoleBindingBody>(path, o);
        if (!existing) return { removed: false, previousRole: null };
        await kube.remove(path, o);
        return { removed: true, previousRole: toMember(req.projectId, existing)?.role ?? null };
      },
    }),
    adapterEndpoint(region, 'okd', 'member', 'list', {
      async handle(req, { signal }) {
        const members = await perProject(req.projects, signal, async (projectId, ns) => {
          const bindings = await kube.list<RoleBindingBody>(`${RBAC}/namespaces/${ns}/rolebindings`, Label.memberOrg, { signal });
          return bindings.map((b) => toMember(projectId, b)).filter((m): m is Member => m !== null);
        });
        return { members: members.sort((a, b) => a.organization.localeCompare(b.organization) || a.kind.localeCompare(b.kind) || a.user.localeCompare(b.user)) };
      },
    }),
    adapterEndpoint(region, 'okd', 'rule', 'apply', {
      async handle(req, { signal }) {
        const o = { signal };
        const ns = await requireNamespace(req.projectId, o);
        const policy = toNetworkPolicy(req.rule, req.projectId, region);
        const path = `${NETWORKING}/namespaces/${ns}/networkpolicies`;
        const existing = await kube.find<PolicySpec>(`${path}/${policy.metadata.name}`, o);
        if (existing) return { rule: place(req.projectId, existing, fromNetworkPolicy(existing) ?? req.rule), created: false };
        try {
          const created = await kube.create<PolicySpec>(path, policy, o);
          return { rule: place(req.projectId, created, req.rule), created: true };
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.CONFLICT) {
            const now = await kube.get<PolicySpec>(`${path}/${policy.metadata.name}`, o);
            return { rule: place(req.projectId, now, fromNetworkPolicy(now) ?? req.rule), created: false };
          }
          throw quotaError(error);
        }
      },
    }),
    adapterEndpoint(region, 'okd', 'rule', 'remove', {
      async handle(req, { signal }) {
        const ns = await findNamespace(req.projectId, { signal });
        if (!ns) return { removed: false, rule: null };
        const path = `${NETWORKING}/namespaces/${ns.metadata.name}/networkpolicies/${policyName(req.ruleId)}`;
        const existing = await kube.find<PolicySpec>(path, { signal });
        if (!existing) return { removed: false, rule: null };
        await kube.remove(path, { signal });
        return { removed: true, rule: fromNetworkPolicy(existing) };
      },
    }),
    adapterEndpoint(region, 'okd', 'rule', 'list', {
      async handle(req, { signal }) {
        const rules = await perProject(req.projects, signal, async (projectId, ns) => {
          const policies = await kube.list<PolicySpec>(`${NETWORKING}/namespaces/${ns}/networkpolicies`, Label.rule, { signal });
          return policies.flatMap((p) => {
            const rule = fromNetworkPolicy(p);
            return rule ? [place(projectId, p, rule)] : [];
          });
        });
        return { rules: rules.sort((a, b) => a.direction.localeCompare(b.direction) || a.id.localeCompare(b.id)) };
      },
    }),
    adapterEndpoint(region, 'okd', 'quota', 'get', {
      async handle(req, { signal }) {
        const quotas = await perProject(req.projects, signal, async (projectId, ns) => {
          const { limits, usage } = await readQuota(ns, { signal });
          return [{ projectId, limits, usage }];
        });
        return { quotas };
      },
    }),
    adapterEndpoint(region, 'okd', 'quota', 'set', {
      async handle(req, { signal }) {
        const o = { signal };
        const given = (Object.keys(req.limits) as QuotaResource[]).filter((r) => req.limits[r] !== undefined);
        const unsupported = given.filter((r) => !kubeQuotaNames[r]);
        if (unsupported.length > 0) {
          throw new InfrafedError(ErrorCode.NOT_SUPPORTED, `OKD in ${region} has no quota for: ${unsupported.join(', ')} (a ResourceQuota covers cores, ramMiB, instances, volumes, securityGroupRules)`, {
            ...ctx,
            resources: unsupported,
          });
        }
        const ns = await requireNamespace(req.projectId, o);
        const path = `/api/v1/namespaces/${ns}/resourcequotas`;
        return retryOnConflict(async () => {
          const { object, limits, usage } = await readQuota(ns, o);
          const previous: QuotaLimits = {};
          for (const r of given) previous[r] = limits[r] ?? null;
          // the same contract as OpenStack: a limit below what is in use is refused (Kubernetes itself would accept it)
          const below = given.find((r) => req.limits[r] !== null && req.limits[r] !== undefined && (usage[r] ?? 0) > (req.limits[r] as number));
          if (below) {
            throw new InfrafedError(ErrorCode.CONFLICT, `the ${below} quota in ${region} cannot be set to ${req.limits[below]} while ${usage[below]} are in use`, {
              ...ctx,
              resource: below,
              limit: req.limits[below],
              used: usage[below],
            });
          }
          const hard = { ...(object?.spec.hard ?? {}) };
          for (const r of given) {
            const kubeName = kubeQuotaNames[r] as string;
            const value = req.limits[r];
            if (value === null || value === undefined) delete hard[kubeName];
            else hard[kubeName] = toKubeQuantity(r, value);
          }
          if (object) await kube.replace(`${path}/${QUOTA_NAME}`, { ...object, spec: { ...object.spec, hard } }, o);
          else await kube.create(path, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: QUOTA_NAME, labels: { [Label.managed]: 'true' } }, spec: { hard } }, o);
          return { limits: { ...limits, ...req.limits }, previous };
        });
      },
    }),
    ...(['create', 'get', 'delete', 'list'] as const).map((verb) =>
      adapterEndpoint(region, 'okd', 'network', verb, {
        async handle() {
          throw notSupported('Networks');
        },
      }),
    ),
    adapterEndpoint(region, 'okd', 'health', 'check', {
      async handle(_req, { signal }) {
        const started = performance.now();
        const version = await kube.request<{ gitVersion: string }>('GET', '/version', undefined, { signal });
        return { region, platform: 'okd' as const, vendorLatencyMs: Math.round((performance.now() - started) * 10) / 10, vendorVersion: `okd ${version.gitVersion}` };
      },
    }),
  ];

  const service = await startService(
    deps.nc,
    { name: adapterServiceName('okd'), version: deps.version, description: `OKD adapter for region ${region}`, queue: adapterQueue(region, 'okd'), metadata: ctx, log: deps.log, readinessEndpoint: 'health-check' },
    endpoints,
  );
  return {
    service,
    async stop() {
      await service.stop();
    },
  };
}
