import { createHash } from 'node:crypto';
import type { Network } from '../schema/contracts/network.ts';
import type { Problem } from '../schema/errors.ts';
import { formatIp, networkAddress, parseCidr } from '../schema/ip.ts';
import type { Placement } from '../schema/model.ts';
import { fromAccessRuleInput, type AccessRule } from '../schema/network.ts';
import type { QuotaLimits, QuotaResource } from '../schema/quota.ts';
import type { ResourceAccessRule, ResourceMember, ResourceNetwork, ResourceProject } from '../schema/resources.ts';

/** What exists of one project of the organisation, as the adapters report it (every placement answered). */
export interface LiveProject {
  projectId: string;
  name: string;
  description: string;
  placements: Placement[];
  /** The organisation's own users and groups, per placement (a partner's members are the partner's business). */
  members: { region: string; platform: string; kind: 'user' | 'group'; name: string; role: 'reader' | 'member' | 'admin' }[];
  networks: Network[];
  rules: { region: string; platform: string; rule: AccessRule }[];
  quotas: { region: string; platform: string; limits: QuotaLimits }[];
}

export type ChangeOp = '+' | '~' | '-' | '-/+';
export interface FieldChange {
  field: string;
  /** JSON of the value now (null: none). */
  from: string | null;
  /** JSON of the value the file asks for (null: none). */
  to: string | null;
}
export interface ResourceChange {
  op: ChangeOp;
  resource: 'project' | 'member' | 'network' | 'accessRule' | 'quota';
  /** What it is, as a person reads it: `user bob`, `web (10.0.0.0/24)`, `ingress tcp 22 from 192.0.2.0/24`. */
  name: string;
  /** The region the change is made in; null: every placement. */
  region: string | null;
  fields: FieldChange[];
  /** A removal the file asks for by leaving the thing out: made only with `prune`. */
  pruneOnly: boolean;
}
export interface PlannedAction {
  /** Stable for the same change of the same project (an apply derives its `Idempotency-Key` from it). */
  key: string;
  project: string;
  /** Null for a project the plan creates: its id comes from the `createProject` before. */
  projectId: string | null;
  mutation:
    | 'createProject'
    | 'deleteProject'
    | 'addMember'
    | 'removeMember'
    | 'createNetwork'
    | 'deleteNetwork'
    | 'applyAccessRule'
    | 'removeAccessRule'
    | 'setQuota';
  variables: Record<string, unknown>;
  /** One line for a progress display. */
  summary: string;
}
export interface ProjectPlan {
  name: string;
  projectId: string | null;
  /** create, update, delete (with prune), unchanged. */
  action: 'create' | 'update' | 'delete' | 'unchanged';
  changes: ResourceChange[];
}
export interface ResourcePlan {
  projects: ProjectPlan[];
  /** In the order they must run: a project before its quotas, networks before rules, removals last. */
  actions: PlannedAction[];
  /** Changes the actions make. */
  changes: number;
  /** Removals held back because `prune` was not asked for. */
  held: number;
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

function memberKey(m: { kind: 'user' | 'group'; name: string }): string {
  return `${m.kind} ${m.name}`;
}
function memberOfResource(m: ResourceMember): { kind: 'user' | 'group'; name: string } {
  return m.user !== undefined ? { kind: 'user', name: m.user } : { kind: 'group', name: m.group as string };
}
function placementKey(p: { region: string; platform: string }): string {
  return `${p.region}/${p.platform}`;
}

/** A rule as a person reads it. */
export function describeRule(rule: Pick<AccessRule, 'direction' | 'protocol' | 'portFrom' | 'portTo' | 'remoteCidr'>): string {
  const ports =
    rule.portFrom === null
      ? ''
      : rule.portTo !== null && rule.portTo !== rule.portFrom
        ? ` ${rule.portFrom}-${rule.portTo}`
        : ` ${rule.portFrom}`;
  return `${rule.direction} ${rule.protocol}${ports} ${rule.direction === 'ingress' ? 'from' : 'to'} ${rule.remoteCidr}`;
}

function ruleInputOf(rule: AccessRule): ResourceAccessRule {
  const out: ResourceAccessRule = { direction: rule.direction, protocol: rule.protocol };
  if (rule.portFrom !== null)
    out.ports = rule.portTo !== null && rule.portTo !== rule.portFrom ? { from: rule.portFrom, to: rule.portTo } : { from: rule.portFrom };
  out.remoteCidr = rule.remoteCidr;
  if (rule.description) out.description = rule.description;
  return out;
}

/** The normalised rule a file entry stands for (its id is what it allows). */
export function ruleOfResource(r: ResourceAccessRule): AccessRule {
  return fromAccessRuleInput({
    direction: r.direction as AccessRule['direction'],
    protocol: r.protocol as AccessRule['protocol'],
    ports: r.ports ? { from: r.ports.from, to: r.ports.to ?? null } : null,
    remoteCidr: r.remoteCidr ?? '0.0.0.0/0',
    description: r.description ?? '',
  });
}

/** The address a subnet's gateway gets when none is asked for: the first of the block. */
function defaultGateway(cidr: string | null): string | null {
  const parsed = cidr ? parseCidr(cidr) : null;
  return parsed ? formatIp({ version: parsed.version, value: networkAddress(parsed) + 1n }) : null;
}

function networkOf(n: Network): ResourceNetwork {
  const out: ResourceNetwork = { name: n.name, region: n.region, cidr: n.cidr ?? '' };
  // the default is left out, as a file that never named it has it
  if (n.gatewayIp && n.gatewayIp !== defaultGateway(n.cidr)) out.gatewayIp = n.gatewayIp;
  if (n.dnsNameservers.length > 0) out.dnsNameservers = [...n.dnsNameservers];
  if (n.router) out.router = n.router.external ? { external: true } : {};
  return out;
}

/**
 * The file's view of a live project: every member, network and rule that exists in any placement (a member
 * with the role of its first placement), and per region every limit the platforms report (unlimited left out).
 */
export function exportProject(live: LiveProject): ResourceProject {
  const members = new Map<string, ResourceMember>();
  for (const m of live.members) {
    const key = memberKey(m);
    if (!members.has(key)) members.set(key, m.kind === 'user' ? { user: m.name, role: m.role } : { group: m.name, role: m.role });
  }
  const rules = new Map<string, AccessRule>();
  for (const { rule } of live.rules) if (!rules.has(rule.id)) rules.set(rule.id, rule);
  const quotas: Record<string, Partial<Record<QuotaResource, number>>> = {};
  for (const q of live.quotas) {
    const region = (quotas[q.region] ??= {});
    for (const [field, value] of Object.entries(q.limits) as [QuotaResource, number | null][]) {
      if (value !== null && value !== undefined && region[field] === undefined) region[field] = value;
    }
  }
  for (const region of Object.keys(quotas)) if (Object.keys(quotas[region] as object).length === 0) delete quotas[region];
  return {
    apiVersion: 'infrafed.io/v1',
    kind: 'Project',
    name: live.name,
    ...(live.description ? { description: live.description } : {}),
    placements: [...live.placements]
      .map((p) => ({ region: p.region, platform: p.platform }))
      .sort((a, b) => placementKey(a).localeCompare(placementKey(b))),
    // users first, then groups, each by name
    members: [...members.values()].sort(
      (a, b) => order(a.user === undefined ? 1 : 0, b.user === undefined ? 1 : 0) || order(a.user ?? a.group, b.user ?? b.group),
    ),
    networks: live.networks.map(networkOf).sort((a, b) => a.region.localeCompare(b.region) || a.name.localeCompare(b.name)),
    accessRules: [...rules.values()].sort((a, b) => describeRule(a).localeCompare(describeRule(b))).map(ruleInputOf),
    quotas,
  } as ResourceProject;
}

function order<T extends string | number | undefined>(a: T, b: T): number {
  return a === b ? 0 : (a as string | number) < (b as string | number) ? -1 : 1;
}

function actionKey(project: string, mutation: string, identity: unknown): string {
  return `${mutation}:${createHash('sha256')
    .update(JSON.stringify([project, mutation, identity]))
    .digest('hex')
    .slice(0, 24)}`;
}

/** What differs between a network in the file and the one that exists (fields the file leaves out are not compared). */
function networkDiff(want: ResourceNetwork, have: Network): FieldChange[] {
  const out: FieldChange[] = [];
  if (want.cidr !== have.cidr) out.push({ field: 'cidr', from: json(have.cidr), to: json(want.cidr) });
  if (want.gatewayIp !== undefined && want.gatewayIp !== have.gatewayIp)
    out.push({ field: 'gatewayIp', from: json(have.gatewayIp), to: json(want.gatewayIp) });
  if (
    want.dnsNameservers !== undefined &&
    JSON.stringify([...want.dnsNameservers].sort()) !== JSON.stringify([...have.dnsNameservers].sort())
  )
    out.push({ field: 'dnsNameservers', from: json(have.dnsNameservers), to: json(want.dnsNameservers) });
  const wantRouter = want.router ? { external: want.router.external ?? false } : null;
  const haveRouter = have.router ? { external: have.router.external } : null;
  if (JSON.stringify(wantRouter) !== JSON.stringify(haveRouter))
    out.push({ field: 'router', from: json(haveRouter), to: json(wantRouter) });
  return out;
}

/**
 * The plan that makes the live projects match the file: per project the changes (`+` create, `~` change,
 * `-` remove, `-/+` replace) and the actions, in the order they must run. Projects and everything in them
 * that the file leaves out are removed only with `prune`. What cannot be changed (a project's placements
 * or description) comes back as problems, and then nothing is planned.
 */
export function planResources(
  desired: ResourceProject[],
  live: LiveProject[],
  options: { prune: boolean },
): { plan: ResourcePlan; problems: Problem[] } {
  const problems: Problem[] = [];
  const projects: ProjectPlan[] = [];
  const actions: PlannedAction[] = [];
  const removals: PlannedAction[] = [];
  const liveByName = new Map(live.map((p) => [p.name, p]));

  desired.forEach((want, index) => {
    const have = liveByName.get(want.name);
    liveByName.delete(want.name);
    const changes: ResourceChange[] = [];
    const projectId = have?.projectId ?? null;
    const add = (
      mutation: PlannedAction['mutation'],
      identity: unknown,
      variables: Record<string, unknown>,
      summary: string,
      into = actions,
    ) =>
      into.push({
        key: actionKey(want.name, mutation, identity),
        project: want.name,
        projectId,
        mutation,
        variables,
        summary: `${want.name}: ${summary}`,
      });
    const withProject = (v: Record<string, unknown>) => ({ projectId, ...v });

    if (!have) {
      changes.push({
        op: '+',
        resource: 'project',
        name: want.name,
        region: null,
        fields: [
          { field: 'placements', from: null, to: json(want.placements.map(placementKey)) },
          ...(want.description ? [{ field: 'description', from: null, to: json(want.description) }] : []),
        ],
        pruneOnly: false,
      });
      add(
        'createProject',
        want.placements,
        { input: { name: want.name, description: want.description ?? '', placements: want.placements } },
        `create project in ${want.placements.map(placementKey).join(', ')}`,
      );
    } else {
      const wantPlacements = want.placements.map(placementKey).sort();
      const havePlacements = have.placements.map(placementKey).sort();
      if (JSON.stringify(wantPlacements) !== JSON.stringify(havePlacements)) {
        problems.push({
          path: `[${index}].placements`,
          message: `project ${want.name} exists in ${havePlacements.join(', ')}: placements cannot change once a project exists`,
        });
      }
      if ((want.description ?? '') !== have.description) {
        problems.push({
          path: `[${index}].description`,
          message: `project ${want.name}'s description is ${JSON.stringify(have.description)}: a description cannot change once a project exists`,
        });
      }
    }
    const placements = have?.placements ?? want.placements;

    // quotas first: raised limits make room for what comes next
    for (const [region, limits] of Object.entries(want.quotas)) {
      const fields: FieldChange[] = [];
      const changed: Record<string, number> = {};
      for (const [field, value] of Object.entries(limits) as [QuotaResource, number | undefined][]) {
        if (value === undefined) continue;
        const current = (have?.quotas ?? [])
          .filter((q) => q.region === region)
          .map((q) => q.limits[field])
          .filter((v) => v !== undefined);
        if (have && current.length > 0 && current.every((v) => v === value)) continue;
        fields.push({ field, from: current.length > 0 ? json(current[0]) : null, to: json(value) });
        changed[field] = value;
      }
      if (fields.length === 0) continue;
      changes.push({ op: '~', resource: 'quota', name: 'limits', region, fields, pruneOnly: false });
      add(
        'setQuota',
        [region, changed],
        withProject({ region, limits: changed }),
        `set quota in ${region} (${fields.map((f) => `${f.field} ${f.to}`).join(', ')})`,
      );
    }

    // networks: made, replaced (a changed network is deleted and made again), or removed with prune
    const haveNetworks = new Map((have?.networks ?? []).map((n) => [`${n.region}/${n.name}`, n]));
    for (const net of want.networks) {
      const key = `${net.region}/${net.name}`;
      const existing = haveNetworks.get(key);
      haveNetworks.delete(key);
      const create = () =>
        add(
          'createNetwork',
          net,
          {
            input: {
              projectId,
              region: net.region,
              name: net.name,
              cidr: net.cidr,
              ...(net.gatewayIp !== undefined ? { gatewayIp: net.gatewayIp } : {}),
              ...(net.dnsNameservers !== undefined ? { dnsNameservers: net.dnsNameservers } : {}),
              ...(net.router ? { router: { external: net.router.external ?? false } } : {}),
            },
          },
          `create network ${net.name} (${net.cidr}) in ${net.region}`,
        );
      if (!existing) {
        changes.push({
          op: '+',
          resource: 'network',
          name: `${net.name} (${net.cidr})`,
          region: net.region,
          fields: [
            { field: 'cidr', from: null, to: json(net.cidr) },
            ...(net.router ? [{ field: 'router', from: null, to: json({ external: net.router.external ?? false }) }] : []),
          ],
          pruneOnly: false,
        });
        create();
        continue;
      }
      const fields = networkDiff(net, existing);
      if (fields.length === 0) continue;
      changes.push({ op: '-/+', resource: 'network', name: `${net.name} (${net.cidr})`, region: net.region, fields, pruneOnly: false });
      add(
        'deleteNetwork',
        ['replace', existing.id],
        withProject({ id: existing.id }),
        `replace network ${net.name} in ${net.region}: delete`,
      );
      create();
    }
    for (const [, net] of haveNetworks) {
      changes.push({
        op: '-',
        resource: 'network',
        name: `${net.name} (${net.cidr})`,
        region: net.region,
        fields: [],
        pruneOnly: !options.prune,
      });
      if (options.prune) add('deleteNetwork', net.id, withProject({ id: net.id }), `delete network ${net.name} in ${net.region}`, removals);
    }

    // access rules: in every placement; a changed description is applied again
    const haveRules = new Map<string, { rule: AccessRule; in: Set<string> }>();
    for (const r of have?.rules ?? []) {
      const entry = haveRules.get(r.rule.id) ?? { rule: r.rule, in: new Set<string>() };
      entry.in.add(placementKey(r));
      haveRules.set(r.rule.id, entry);
    }
    for (const entry of want.accessRules) {
      const rule = ruleOfResource(entry);
      const existing = haveRules.get(rule.id);
      haveRules.delete(rule.id);
      const missing = placements.map(placementKey).filter((k) => !existing?.in.has(k));
      const fields: FieldChange[] = [];
      if (existing && missing.length > 0)
        fields.push({ field: 'placements', from: json([...existing.in].sort()), to: json(placements.map(placementKey).sort()) });
      if (existing && existing.rule.description !== rule.description)
        fields.push({ field: 'description', from: json(existing.rule.description), to: json(rule.description) });
      if (existing && fields.length === 0) continue;
      changes.push({ op: existing ? '~' : '+', resource: 'accessRule', name: describeRule(rule), region: null, fields, pruneOnly: false });
      add(
        'applyAccessRule',
        [rule.id, rule.description],
        withProject({ rule: entry }),
        `${existing ? 'update' : 'apply'} rule ${describeRule(rule)}`,
      );
    }
    for (const [, { rule }] of haveRules) {
      changes.push({ op: '-', resource: 'accessRule', name: describeRule(rule), region: null, fields: [], pruneOnly: !options.prune });
      if (options.prune) add('removeAccessRule', rule.id, withProject({ ruleId: rule.id }), `remove rule ${describeRule(rule)}`, removals);
    }

    // members: one role in every placement
    const haveMembers = new Map<string, { kind: 'user' | 'group'; name: string; roles: Map<string, string> }>();
    for (const m of have?.members ?? []) {
      const key = memberKey(m);
      const entry = haveMembers.get(key) ?? { kind: m.kind, name: m.name, roles: new Map<string, string>() };
      entry.roles.set(placementKey(m), m.role);
      haveMembers.set(key, entry);
    }
    for (const entry of want.members) {
      const m = memberOfResource(entry);
      const existing = haveMembers.get(memberKey(m));
      haveMembers.delete(memberKey(m));
      const wrong = placements.map(placementKey).filter((k) => existing?.roles.get(k) !== entry.role);
      if (existing && wrong.length === 0) continue;
      const from = existing ? [...new Set(existing.roles.values())].join(', ') : null;
      changes.push({
        op: existing ? '~' : '+',
        resource: 'member',
        name: memberKey(m),
        region: null,
        fields: [{ field: 'role', from: from === null ? null : json(from), to: json(entry.role) }],
        pruneOnly: false,
      });
      add(
        'addMember',
        [m, entry.role],
        withProject({ [m.kind]: m.name, role: entry.role }),
        `${existing ? 'change' : 'add'} ${memberKey(m)} as ${entry.role}`,
      );
    }
    for (const [key, m] of haveMembers) {
      changes.push({ op: '-', resource: 'member', name: key, region: null, fields: [], pruneOnly: !options.prune });
      if (options.prune) add('removeMember', m, withProject({ [m.kind]: m.name }), `remove ${key}`, removals);
    }

    const made = changes.filter((c) => !c.pruneOnly);
    projects.push({
      name: want.name,
      projectId,
      action: !have ? 'create' : made.length > 0 ? 'update' : 'unchanged',
      changes,
    });
  });

  // projects the file no longer names
  for (const [, have] of liveByName) {
    projects.push({
      name: have.name,
      projectId: have.projectId,
      action: options.prune ? 'delete' : 'unchanged',
      changes: [
        {
          op: '-',
          resource: 'project',
          name: have.name,
          region: null,
          fields: [{ field: 'placements', from: json(have.placements.map(placementKey)), to: null }],
          pruneOnly: !options.prune,
        },
      ],
    });
    if (options.prune)
      removals.push({
        key: actionKey(have.name, 'deleteProject', have.projectId),
        project: have.name,
        projectId: have.projectId,
        mutation: 'deleteProject',
        variables: { id: have.projectId },
        summary: `${have.name}: delete project`,
      });
  }

  // removals after everything else: rules, then networks, members, projects last
  const order: PlannedAction['mutation'][] = ['removeAccessRule', 'deleteNetwork', 'removeMember', 'deleteProject'];
  removals.sort((a, b) => order.indexOf(a.mutation) - order.indexOf(b.mutation));
  const all = [...actions, ...removals];
  const flat = projects.flatMap((p) => p.changes);
  return {
    plan: { projects, actions: all, changes: flat.filter((c) => !c.pruneOnly).length, held: flat.filter((c) => c.pruneOnly).length },
    problems,
  };
}

/** The plan as `infrafed plan` prints it: per project and resource, `+`, `~`, `-`, `-/+`, with the fields that change. */
export function renderPlan(plan: ResourcePlan): string {
  const lines: string[] = [];
  for (const p of plan.projects) {
    if (p.changes.length === 0) continue;
    lines.push(`project ${p.name}${p.projectId ? ` (${p.projectId})` : ''}: ${p.action}`);
    for (const c of p.changes) {
      const where = c.region ? ` [${c.region}]` : '';
      const held = c.pruneOnly ? '   (not in the file; kept: --prune removes it)' : '';
      lines.push(`  ${c.op.padEnd(3)} ${c.resource} ${c.name}${where}${held}`);
      for (const f of c.fields) lines.push(`        ${f.field}: ${f.from ?? '(none)'} -> ${f.to ?? '(none)'}`);
    }
  }
  const summary = `${plan.changes} change${plan.changes === 1 ? '' : 's'}${plan.held > 0 ? `, ${plan.held} removal${plan.held === 1 ? '' : 's'} held back without --prune` : ''}`;
  if (lines.length === 0) return `No changes: the clouds match the file.\n`;
  return `${lines.join('\n')}\n\nPlan: ${summary}.\n`;
}
