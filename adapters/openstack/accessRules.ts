import { chunked, setBounded } from '../../runtime/bounded.ts';
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

/** Entries each of a replica's two memories below keeps at most (the oldest go first). */
const REMEMBERED = 10_000;

/**
 * Access rules as rules of the one security group infrafed owns in each project (`infrafed`, created with
 * the project; also on first use, for projects made before). A new group comes with Neutron's two allow-all egress rules (IPv4, IPv6); they stay, and
 * are listed like any other rule.
 *
 * A replica remembers what it has read or made (`remember: false` turns it off): each project's group id,
 * and each rule's Neutron id with what the rule allows. Neutron never changes either (a rule cannot be
 * updated, only removed; ids are never reused), so a remembered id names that object or nothing: an
 * apply posts the rule into the remembered group at once, a remove deletes the remembered rule at once,
 * and only when Neutron says the group or rule is gone (404), or that an equal rule is there (409), does
 * the replica read the group as it would have without the memory. A rule's apply or remove is then one
 * Neutron call, not a read and a change.
 */
export function createAccessRuleOps(deps: { neutron: NeutronClient; region: string; quotaErrors: QuotaErrors; remember?: boolean }) {
  const { neutron, region } = deps;
  const remembering = deps.remember ?? true;
  /** Native project id → its `infrafed` group's id. */
  const groups = new Map<string, string>();
  /** `<native project id> <rule id>` → the Neutron rule's id and the rule. */
  const knownRules = new Map<string, { nativeId: string; neutral: AccessRule }>();
  /** The group's rules infrafed can read (others, e.g. with a remote group, are left alone), each converted once; remembered with the group. */
  function rememberGroup(nativeProjectId: string, group: NeutronSecurityGroup): { rule: NeutronRule; neutral: AccessRule }[] {
    const readable: { rule: NeutronRule; neutral: AccessRule }[] = [];
    for (const rule of group.security_group_rules ?? []) {
      const neutral = fromNeutronRule(rule);
      if (neutral) readable.push({ rule, neutral });
    }
    if (remembering) {
      setBounded(groups, nativeProjectId, group.id, REMEMBERED);
      for (const { rule, neutral } of readable) rememberRule(nativeProjectId, rule.id, neutral);
    }
    return readable;
  }
  function rememberRule(nativeProjectId: string, nativeId: string, neutral: AccessRule): void {
    if (remembering) setBounded(knownRules, `${nativeProjectId} ${neutral.id}`, { nativeId, neutral }, REMEMBERED);
  }

  async function findGroup(nativeProjectId: string, options: CallOptions): Promise<NeutronSecurityGroup | null> {
    const found = await neutron.listWhere<NeutronSecurityGroup>(
      'security-groups',
      { project_id: nativeProjectId, name: ACCESS_RULES_GROUP },
      options,
    );
    if (found[0]) rememberGroup(nativeProjectId, found[0]);
    else groups.delete(nativeProjectId);
    return found[0] ?? null;
  }

  async function ensureGroup(nativeProjectId: string, options: CallOptions): Promise<NeutronSecurityGroup> {
    const found = await findGroup(nativeProjectId, options);
    if (found) return found;
    const made = await deps.quotaErrors.enrich(nativeProjectId, () =>
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
    rememberGroup(nativeProjectId, made);
    return made;
  }

  /** The rule's Neutron body in the project's group. */
  function ruleBody(groupId: string, nativeProjectId: string, rule: AccessRule): Record<string, unknown> {
    return {
      security_group_id: groupId,
      // without it Neutron gives the rule the caller's (the adapter's) project
      project_id: nativeProjectId,
      direction: rule.direction,
      ethertype: ipVersionOf(rule.remoteCidr) === 6 ? 'IPv6' : 'IPv4',
      protocol: rule.protocol === 'any' ? null : rule.protocol,
      port_range_min: rule.portFrom,
      port_range_max: rule.portTo,
      remote_ip_prefix: rule.remoteCidr,
      description: rule.description,
    };
  }

  const isVendor = (error: unknown, code: ErrorCode, ...types: string[]) =>
    error instanceof InfrafedError && error.code === code && (types.length === 0 || types.includes(String(error.extensions?.vendorType)));

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
      const groupId = groups.get(nativeProjectId);
      if (groupId) {
        try {
          const created = await deps.quotaErrors.enrich(nativeProjectId, () =>
            neutron.create<NeutronRule>('security-group-rules', 'security_group_rule', ruleBody(groupId, nativeProjectId, rule), options),
          );
          rememberRule(nativeProjectId, created.id, rule);
          return { rule: place(projectId, created, rule), created: true, previousDescription: null };
        } catch (error) {
          // an equal rule is there (perhaps with another description), or the group is gone: read the group
          if (isVendor(error, ErrorCode.NOT_FOUND)) groups.delete(nativeProjectId);
          else if (!isVendor(error, ErrorCode.CONFLICT, 'SecurityGroupRuleExists')) throw error;
        }
      }
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
            neutron.create<NeutronRule>('security-group-rules', 'security_group_rule', ruleBody(group.id, nativeProjectId, rule), options),
          );
          rememberRule(nativeProjectId, created.id, rule);
          return { rule: place(projectId, created, rule), created: true };
        } catch (error) {
          // created meanwhile (another replica, or Neutron's own spelling of an equal rule): report that one
          if (isVendor(error, ErrorCode.CONFLICT, 'SecurityGroupRuleExists')) {
            const again = findRule((await findGroup(nativeProjectId, options)) as NeutronSecurityGroup, rule.id);
            if (again) return { rule: place(projectId, again.rule, again.neutral), created: false };
          }
          throw error;
        }
      }
    },

    /** Removes the rule; `rule` is what was removed (null when it was not there). */
    async remove(nativeProjectId: string, ruleId: string, options: CallOptions): Promise<{ removed: boolean; rule: AccessRule | null }> {
      const key = `${nativeProjectId} ${ruleId}`;
      const known = knownRules.get(key);
      knownRules.delete(key);
      if (known) {
        // the remembered rule is that rule or gone (404): only then is the group read
        const res = await neutron.call('DELETE', `/security-group-rules/${encodeURIComponent(known.nativeId)}`, {
          ...options,
          accept: [204, 404],
        });
        if (res.status !== 404) return { removed: true, rule: known.neutral };
      }
      const group = await findGroup(nativeProjectId, options);
      const found = group ? findRule(group, ruleId) : null;
      if (!found) return { removed: false, rule: null };
      knownRules.delete(key);
      await neutron.remove('security-group-rules', found.rule.id, options);
      return { removed: true, rule: found.neutral };
    },

    /** The rules of a batch of projects: one Neutron call per {@link PROJECTS_PER_CALL} projects. */
    async listMany(projects: { projectId: string; nativeId: string }[], options: CallOptions): Promise<PlacedAccessRule[]> {
      const out: PlacedAccessRule[] = [];
      for (const chunk of chunked(projects, PROJECTS_PER_CALL)) {
        const found = await neutron.listWhere<NeutronSecurityGroup & { project_id?: string }>(
          'security-groups',
          { project_id: chunk.map((p) => p.nativeId), name: ACCESS_RULES_GROUP },
          options,
        );
        for (const { projectId, nativeId } of chunk) {
          const group = found.find((g) => g.project_id === nativeId);
          if (!group) continue;
          const rules = rememberGroup(nativeId, group).map(({ rule, neutral }) => place(projectId, rule, neutral));
          out.push(...rules.sort((a, b) => a.direction.localeCompare(b.direction) || a.id.localeCompare(b.id)));
        }
      }
      return out;
    },
  };
}
export type AccessRuleOps = ReturnType<typeof createAccessRuleOps>;
