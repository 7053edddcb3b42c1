import { ErrorCode, InfrafedError } from '../../../schema/errors.ts';
import type { QuotaLimits, QuotaResource, QuotaUsage } from '../../../schema/quota.ts';
import { adapterEndpoint } from '../../../runtime/nats/adapterEndpoint.ts';
import type { EndpointSpec } from '../../../runtime/nats/service.ts';
import { retryOnConflict, type KubeCallOptions, type KubeObject } from '../client/kubeClient.ts';
import { fromKubeQuantity, kubeQuotaNames, Label, parseQuantity, toKubeQuantity } from '../mapping.ts';
import { NETWORKING, type OkdContext } from '../okdContext.ts';

const QUOTA_NAME = 'infrafed';

interface QuotaBody {
  spec: { hard: Record<string, string> };
  status?: { hard?: Record<string, string>; used?: Record<string, string> };
}

/** Quotas: the ResourceQuota `infrafed` of the namespace (cores, RAM, pods, volume claims, network policies). */
export function quotaEndpoints(okd: OkdContext): EndpointSpec[] {
  const { kube, region, where: ctx } = okd;
  /**
   * What the namespace uses, counted from its objects: a ResourceQuota reports use only for the resources
   * it limits, and users expect to see use of the others too.
   */
  async function measureUsage(ns: string, o: KubeCallOptions): Promise<QuotaUsage> {
    const [pods, claims, policies] = await Promise.all([
      kube.list<{ spec?: { containers?: { resources?: { requests?: Record<string, string> } }[] } }>(
        `/api/v1/namespaces/${ns}/pods`,
        undefined,
        o,
      ),
      kube.list(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, undefined, o),
      kube.list(`${NETWORKING}/namespaces/${ns}/networkpolicies`, undefined, o),
    ]);
    const requests = (what: 'cpu' | 'memory') =>
      pods.reduce(
        (sum, p) =>
          sum +
          (p.spec?.containers ?? []).reduce(
            (s, c) => s + (c.resources?.requests?.[what] ? parseQuantity(c.resources.requests[what]) : 0),
            0,
          ),
        0,
      );
    return {
      cores: Math.ceil(requests('cpu')),
      ramMiB: Math.ceil(requests('memory') / 1024 ** 2),
      instances: pods.length,
      volumes: claims.length,
      securityGroupRules: policies.length,
    };
  }

  async function readQuota(
    ns: string,
    o: KubeCallOptions,
  ): Promise<{ object: KubeObject<QuotaBody> | null; limits: QuotaLimits; usage: QuotaUsage }> {
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
    return {
      object: rq,
      limits,
      usage: known === Object.keys(kubeQuotaNames).length ? usage : { ...(await measureUsage(ns, o)), ...usage },
    };
  }

  return [
    adapterEndpoint(okd.region, 'okd', 'quota', 'get', {
      async handle(req, { signal }) {
        const quotas = await okd.perProject(req.projects, signal, async (projectId, ns) => {
          const { limits, usage } = await readQuota(ns, { signal });
          return [{ projectId, limits, usage }];
        });
        return { quotas };
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'quota', 'set', {
      async handle(req, { signal }) {
        const o = { signal };
        const given = (Object.keys(req.limits) as QuotaResource[]).filter((r) => req.limits[r] !== undefined);
        const unsupported = given.filter((r) => !kubeQuotaNames[r]);
        if (unsupported.length > 0) {
          throw new InfrafedError(
            ErrorCode.NOT_SUPPORTED,
            `OKD in ${region} has no quota for: ${unsupported.join(', ')} ` +
              '(a ResourceQuota covers cores, ramMiB, instances, volumes, securityGroupRules)',
            {
              ...ctx,
              resources: unsupported,
            },
          );
        }
        const ns = await okd.requireNamespace(req.projectId, req.owner, o);
        const path = `/api/v1/namespaces/${ns}/resourcequotas`;
        return retryOnConflict(async () => {
          const { object, limits, usage } = await readQuota(ns, o);
          const previous: QuotaLimits = {};
          for (const r of given) previous[r] = limits[r] ?? null;
          // the same contract as OpenStack: a limit below what is in use is refused (Kubernetes itself would accept it)
          const below = given.find(
            (r) => req.limits[r] !== null && req.limits[r] !== undefined && (usage[r] ?? 0) > (req.limits[r] as number),
          );
          if (below) {
            throw new InfrafedError(
              ErrorCode.CONFLICT,
              `the ${below} quota in ${region} cannot be set to ${req.limits[below]} while ${usage[below]} are in use`,
              {
                ...ctx,
                resource: below,
                limit: req.limits[below],
                used: usage[below],
              },
            );
          }
          const hard = { ...(object?.spec.hard ?? {}) };
          for (const r of given) {
            const kubeName = kubeQuotaNames[r] as string;
            const value = req.limits[r];
            if (value === null || value === undefined) delete hard[kubeName];
            else hard[kubeName] = toKubeQuantity(r, value);
          }
          // no limit left: infrafed's ResourceQuota goes (setting limits back to none leaves the namespace as it was)
          if (Object.keys(hard).length === 0) {
            if (object) await okd.kube.remove(`${path}/${QUOTA_NAME}`, o);
          } else if (object) await okd.kube.replace(`${path}/${QUOTA_NAME}`, { ...object, spec: { ...object.spec, hard } }, o);
          else
            await okd.kube.create(
              path,
              {
                apiVersion: 'v1',
                kind: 'ResourceQuota',
                metadata: { name: QUOTA_NAME, labels: { [Label.managed]: 'true' } },
                spec: { hard },
              },
              o,
            );
          return { limits: { ...limits, ...req.limits }, previous };
        });
      },
    }),
  ];
}
