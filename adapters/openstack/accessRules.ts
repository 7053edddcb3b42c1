import type { PlacedAccessRule } from '../../schema/contracts/network.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { ipVersionOf, normalizeAccessRule, type AccessRule } from '../../schema/network.ts';
import type { CallOptions } from './client/http.ts';
import type { NeutronClient } from './client/neutronClient.ts';
import { ACCESS_RULES_GROUP } from './mapping.ts';
import { PROJECTS_PER_CALL } from './networks.ts';
import type { QuotaErrors } from './quotas.ts';

interface NeutronRule {
  id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  remote_address_group_id?: string | null;
  description: string | null;
}
interface NeutronSecurityGroup {
  id: string;
  name: string;
  security_group_rules: NeutronRule[];
}

const protocolByNumber: Record<string, AccessRule['protocol']> = { '1': 'icmp', '6': 'tcp', '17': 'udp' };

/**
 * A Neutron rule as a neutral access rule, or null when it cannot be one (a remote group instead of a
 * CIDR, another protocol): such rules were not made by infrafed and are left alone.
 */
export function fromNeutronRule(rule: NeutronRule): AccessRule | null {
  if (rule.remote_group_id || rule.remote_address_group_id) return null;
  const protocol = rule.protocol === null ? 'any' : (protocolByNumber[rule.protocol] ?? rule.protocol);
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'icmp' && protocol !== 'any') return null;
  const ported = protocol === 'tcp' || protocol === 'udp';
  return normalizeAccessRule({
    direction: rule.direction,
    protocol,
    portFrom: ported ? rule.port_range_min : null,
    portTo: ported ? rule.port_range_max : null,
    remoteCidr: rule.remote_ip_prefix ?? (rule.ethertype === 'IPv6' ? '::/0' : '0.0.0.0/0'),
    description: rule.description ?? '',
  });
}

/**
 * Access rules as rules of the one security group infrafed owns in each project (`infrafed`, created with
 * the project; also on first use, for projects made before). A new group comes with Neutron's two allow-all egress rules (IPv4, IPv6); they stay, and
 * are listed like any other rule.
 */
export function createAccessRuleOps(deps: { neutron: NeutronClient; region: string; quotaErrors: QuotaErrors }) {
  const { neutron, region } = deps;

  async function findGroup(nativeProjectId: string, options: CallOptions): Promise<NeutronSecurityGroup | null> {
    const groups = await neutron.listWhere<NeutronSecurityGroup>(
      'security-groups',
      { project_id: nativeProjectId, name: ACCESS_RULES_GROUP },
      options,
    );
    return groups[0] ?? null;
  }

  async function ensureGroup(nativeProjectId: string, options: CallOptions): Promise<NeutronSecurityGroup> {
    const found = await findGroup(nativeProjectId, options);
    if (found) return found;
    return deps.quotaErrors.enrich(nativeProjectId, () =>
      neutron.create<NeutronSecurityGroup>(
        'security-groups',
        'security_group',
        {
          name: ACCESS_RULES_GROUP,
          project_id: nativeProjectId,
          description: 'infrafed access rules (managed by infrafed: change them through infrafed)',
        },
        options,
      ),
    );
  }

  function place(projectId: string, rule: NeutronRule, neutral: AccessRule): PlacedAccessRule {
    return { ...neutral, projectId, region, platform: 'openstack', nativeId: rule.id, status: 'ACTIVE' };
  }

  function findRule(group: NeutronSecurityGroup, ruleId: string): { rule: NeutronRule; neutral: AccessRule } | null {
    for (const rule of group.security_group_rules) {
      const neutral = fromNeutronRule(rule);
      if (neutral?.id === ruleId) return { rule, neutral };
    }
    return null;
  }

  return {
    /**
     * The project's `infrafed` security group, made with the project: it lives as long as the project (users
     * attach it to their ports from the start), so applying a rule and undoing it leaves Neutron as it was.
     */
    ensureGroup,
    /**
     * Applies the rule; when an equal rule exists already, nothing changes and that rule is reported. An
     * equal rule with another description is replaced (Neutron's rules cannot be updated): removed, then
     * made again with the description asked for; `previousDescription` says what it was.
     */
    async apply(
      projectId: string,
      nativeProjectId: string,
      rule: AccessRule,
      options: CallOptions,
    ): Promise<{ rule: PlacedAccessRule; created: boolean; previousDescription: string | null }> {
      const group = await ensureGroup(nativeProjectId, options);
      const existing = findRule(group, rule.id);
      if (existing) {
        const previous = existing.neutral.description ?? '';
        if (previous === (rule.description ?? ''))
          return { rule: place(projectId, existing.rule, existing.neutral), created: false, previousDescription: null };
        await neutron.remove('security-group-rules', existing.rule.id, options);
        const made = await createRule();
        return { ...made, created: false, previousDescription: previous };
      }
      return { ...(await createRule()), previousDescription: null };

      /** Makes the rule (with the description asked for); one made meanwhile by another is reported instead. */
      async function createRule(): Promise<{ rule: PlacedAccessRule; created: boolean }> {
        try {
          const created = await deps.quotaErrors.enrich(nativeProjectId, () =>
            neutron.create<NeutronRule>(
              'security-group-rules',
              'security_group_rule',
              {
                security_group_id: group.id,
                // without it Neutron gives the rule the caller's (the adapter's) project
                project_id: nativeProjectId,
                direction: rule.direction,
                ethertype: ipVersionOf(rule.remoteCidr) === 6 ? 'IPv6' : 'IPv4',
                protocol: rule.protocol === 'any' ? null : rule.protocol,
                port_range_min: rule.portFrom,
                port_range_max: rule.portTo,
                remote_ip_prefix: rule.remoteCidr,
                description: rule.description,
              },
              options,
            ),
          );
          return { rule: place(projectId, created, rule), created: true };
        } catch (error) {
          // created meanwhile (another replica, or Neutron's own spelling of an equal rule): report that one
          if (
            error instanceof InfrafedError &&
            error.code === ErrorCode.CONFLICT &&
            error.extensions?.vendorType === 'SecurityGroupRuleExists'
          ) {
            const again = findRule((await findGroup(nativeProjectId, options)) as NeutronSecurityGroup, rule.id);
            if (again) return { rule: place(projectId, again.rule, again.neutral), created: false };
          }
          throw error;
        }
      }
    },

    /** Removes the rule; `rule` is what was removed (null when it was not there). */
    async remove(nativeProjectId: string, ruleId: string, options: CallOptions): Promise<{ removed: boolean; rule: AccessRule | null }> {
      const group = await findGroup(nativeProjectId, options);
      const found = group ? findRule(group, ruleId) : null;
      if (!found) return { removed: false, rule: null };
      await neutron.remove('security-group-rules', found.rule.id, options);
      return { removed: true, rule: found.neutral };
    },

    /** The rules of a batch of projects: one Neutron call per {@link PROJECTS_PER_CALL} projects. */
    async listMany(projects: { projectId: string; nativeId: string }[], options: CallOptions): Promise<PlacedAccessRule[]> {
      const out: PlacedAccessRule[] = [];
      for (let i = 0; i < projects.length; i += PROJECTS_PER_CALL) {
        const chunk = projects.slice(i, i + PROJECTS_PER_CALL);
        const groups = await neutron.listWhere<NeutronSecurityGroup & { project_id?: string }>(
          'security-groups',
          { project_id: chunk.map((p) => p.nativeId), name: ACCESS_RULES_GROUP },
          options,
        );
        for (const { projectId, nativeId } of chunk) {
          const group = groups.find((g) => g.project_id === nativeId);
          if (!group) continue;
          const rules: PlacedAccessRule[] = [];
          for (const rule of group.security_group_rules) {
            const neutral = fromNeutronRule(rule);
            if (neutral) rules.push(place(projectId, rule, neutral));
          }
          out.push(...rules.sort((a, b) => a.direction.localeCompare(b.direction) || a.id.localeCompare(b.id)));
        }
      }
      return out;
    },
  };
}
export type AccessRuleOps = ReturnType<typeof createAccessRuleOps>;
