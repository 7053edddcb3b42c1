import type { PlacedAccessRule } from '../../../schema/contracts/network.ts';
import { ErrorCode, InfrafedError } from '../../../schema/errors.ts';
import type { AccessRule } from '../../../schema/network.ts';
import { adapterEndpoint } from '../../../runtime/nats/adapterEndpoint.ts';
import type { EndpointSpec } from '../../../runtime/nats/service.ts';
import type { KubeObject } from '../client/kubeClient.ts';
import { Annotation, fromAdmissionQuotaError, fromNetworkPolicy, Label, policyName, toNetworkPolicy, type PolicySpec } from '../mapping.ts';
import { NETWORKING, type OkdContext } from '../okdContext.ts';

/** Access rules: one NetworkPolicy each (all pods of the namespace, one direction, one peer block). */
export function accessRuleEndpoints(okd: OkdContext): EndpointSpec[] {
  const { region } = okd;
  function place(projectId: string, policy: KubeObject<PolicySpec>, rule: AccessRule): PlacedAccessRule {
    return { ...rule, projectId, region, platform: 'okd', nativeId: policy.metadata.name, status: 'ACTIVE' };
  }

  return [
    adapterEndpoint(okd.region, 'okd', 'rule', 'apply', {
      async handle(req, { signal }) {
        const o = { signal };
        const ns = await okd.requireNamespace(req.projectId, req.owner, o);
        const policy = toNetworkPolicy(req.rule, req.projectId, region);
        const path = `${NETWORKING}/namespaces/${ns}/networkpolicies`;
        const existing = await okd.kube.find<PolicySpec>(`${path}/${policy.metadata.name}`, o);
        if (existing) {
          const was = fromNetworkPolicy(existing);
          const previous = was?.description ?? '';
          if (previous === (req.rule.description ?? ''))
            return { rule: place(req.projectId, existing, was ?? req.rule), created: false, previousDescription: null };
          // the same rule with another description: the description is replaced (resourceVersion-checked)
          const annotations = { ...existing.metadata.annotations, [Annotation.ruleDescription]: req.rule.description ?? '' };
          const updated = await okd.kube.replace<PolicySpec>(
            `${path}/${policy.metadata.name}`,
            { ...existing, metadata: { ...existing.metadata, annotations } },
            o,
          );
          return { rule: place(req.projectId, updated, req.rule), created: false, previousDescription: previous };
        }
        try {
          const created = await okd.kube.create<PolicySpec>(path, policy, o);
          return { rule: place(req.projectId, created, req.rule), created: true, previousDescription: null };
        } catch (error) {
          if (error instanceof InfrafedError && error.code === ErrorCode.CONFLICT) {
            const now = await okd.kube.get<PolicySpec>(`${path}/${policy.metadata.name}`, o);
            return { rule: place(req.projectId, now, fromNetworkPolicy(now) ?? req.rule), created: false, previousDescription: null };
          }
          throw fromAdmissionQuotaError(error, region);
        }
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'rule', 'remove', {
      async handle(req, { signal }) {
        const ns = await okd.findNamespace(req.projectId, req.owner, { signal });
        if (!ns) return { removed: false, rule: null };
        const path = `${NETWORKING}/namespaces/${ns.metadata.name}/networkpolicies/${policyName(req.ruleId)}`;
        const existing = await okd.kube.find<PolicySpec>(path, { signal });
        if (!existing) return { removed: false, rule: null };
        await okd.kube.remove(path, { signal });
        return { removed: true, rule: fromNetworkPolicy(existing) };
      },
    }),
    adapterEndpoint(okd.region, 'okd', 'rule', 'list', {
      async handle(req, { signal }) {
        const rules = await okd.perProject(req.projects, signal, async (projectId, ns) => {
          const policies = await okd.kube.list<PolicySpec>(`${NETWORKING}/namespaces/${ns}/networkpolicies`, Label.rule, { signal });
          return policies.flatMap((p) => {
            const rule = fromNetworkPolicy(p);
            return rule ? [place(projectId, p, rule)] : [];
          });
        });
        return { rules: rules.sort((a, b) => a.direction.localeCompare(b.direction) || a.id.localeCompare(b.id)) };
      },
    }),
  ];
}
