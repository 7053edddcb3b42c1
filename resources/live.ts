import type { NatsConnection } from '@nats-io/nats-core';
import type { ProjectPlacement } from '../schema/contracts/identity.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { Placement } from '../schema/model.ts';
import { normalizeAccessRule, type AccessRule } from '../schema/network.ts';
import { requestAdapter, type AdapterCallOptions } from '../runtime/nats/adapterClient.ts';
import { fanOut } from '../runtime/nats/request.ts';
import type { LiveProject } from './plan.ts';

/** Projects per adapter request (the smallest batch any list contract takes). */
const PROJECTS_PER_REQUEST = 100;
/** Projects per quota request (see `quotaBatches`). */
const QUOTA_PROJECTS_PER_REQUEST = 16;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Everything the organisation owns, read from the adapters of every placement (projects, members, networks,
 * access rules, quotas): a handful of requests per region, however many projects (each list names up to 100
 * of them). A plan is never made from part of the truth: a region that does not answer fails the read with
 * its error. Only the organisation's own projects and its own members count; a project shared with it is
 * its owner's to describe.
 */
export async function readLiveProjects(deps: {
  nc: NatsConnection;
  organization: string;
  placements: readonly Placement[];
  call: AdapterCallOptions;
  /** Only this project (by name). */
  only?: string;
  /**
   * The regions whose quotas are read, by project name (default: every placement's). A plan asks only for
   * the limits its file names: Nova answers quota-sets one project at a time.
   */
  quotaRegions?: (projectName: string) => readonly string[];
}): Promise<LiveProject[]> {
  const { nc, organization, call } = deps;
  const must = <T, V>(res: { ok: { target: T; value: V }[]; failed: { error: InfrafedError }[] }): { target: T; value: V }[] => {
    // a region without the service (an OpenStack without Neutron has no networks) has nothing of it to describe
    const failed = res.failed.find((f) => f.error.code !== ErrorCode.NOT_SUPPORTED);
    if (failed) throw failed.error;
    return res.ok;
  };

  const listed = must(await fanOut(deps.placements, (p) => requestAdapter(nc, p, 'project', 'list', { organization }, call)));
  const byProject = new Map<string, ProjectPlacement[]>();
  for (const { value } of listed) {
    for (const p of value.placements) {
      if (p.organization !== organization) continue;
      if (deps.only !== undefined && p.name !== deps.only) continue;
      byProject.set(p.projectId, [...(byProject.get(p.projectId) ?? []), p]);
    }
  }
  const live = new Map<string, LiveProject>();
  for (const [projectId, placements] of byProject) {
    const first = placements[0] as ProjectPlacement;
    live.set(projectId, {
      projectId,
      name: first.name,
      description: first.description,
      placements: placements.map((p) => ({ region: p.region, platform: p.platform })),
      members: [],
      networks: [],
      rules: [],
      quotas: [],
    });
  }
  if (live.size === 0) return [];

  // per placement that holds some of them, the lists for those projects
  const targets: { placement: Placement; projects: { projectId: string; organization: string }[] }[] = [];
  for (const placement of deps.placements) {
    const here = [...live.values()]
      .filter((p) => p.placements.some((x) => x.region === placement.region && x.platform === placement.platform))
      .map((p) => ({ projectId: p.projectId, organization }));
    for (const projects of chunks(here, PROJECTS_PER_REQUEST)) targets.push({ placement, projects });
  }
  const at = (projectId: string) => live.get(projectId) as LiveProject;
  /**
   * Quotas per placement in batches of {@link QUOTA_PROJECTS_PER_REQUEST}, one batch after another (placements
   * side by side): Nova reads quota-sets one project at a time, so each request stays well inside its deadline.
   */
  const quotaBatches = () => {
    const wanted = deps.quotaRegions;
    const byPlacement = new Map<string, { placement: Placement; projects: { projectId: string; organization: string }[] }>();
    for (const t of targets) {
      const projects = wanted ? t.projects.filter((p) => wanted(at(p.projectId).name).includes(t.placement.region)) : t.projects;
      if (projects.length === 0) continue;
      const key = `${t.placement.region}/${t.placement.platform}`;
      const entry = byPlacement.get(key) ?? { placement: t.placement, projects: [] };
      entry.projects.push(...projects);
      byPlacement.set(key, entry);
    }
    return [...byPlacement.values()];
  };
  await Promise.all([
    fanOut(targets, (t) => requestAdapter(nc, t.placement, 'member', 'list', { projects: t.projects }, call)).then((res) => {
      for (const { target, value } of must(res)) {
        for (const m of value.members) {
          if (m.organization !== organization || !live.has(m.projectId)) continue;
          at(m.projectId).members.push({ ...target.placement, kind: m.kind, name: m.user, role: m.role });
        }
      }
    }),
    fanOut(
      targets.filter((t) => t.placement.platform === 'openstack'),
      (t) => requestAdapter(nc, t.placement, 'network', 'list', { projects: t.projects }, call),
    ).then((res) => {
      for (const { value } of must(res)) for (const n of value.networks) if (live.has(n.projectId)) at(n.projectId).networks.push(n);
    }),
    fanOut(targets, (t) => requestAdapter(nc, t.placement, 'rule', 'list', { projects: t.projects }, call)).then((res) => {
      for (const { value } of must(res)) {
        for (const r of value.rules) {
          if (!live.has(r.projectId)) continue;
          const { projectId: _p, region, platform, nativeId: _n, status: _s, ...rule } = r;
          at(r.projectId).rules.push({ region, platform, rule });
        }
      }
    }),
    fanOut(quotaBatches(), async (t) => {
      const quotas = [];
      for (const projects of chunks(t.projects, QUOTA_PROJECTS_PER_REQUEST)) {
        quotas.push(...(await requestAdapter(nc, t.placement, 'quota', 'get', { projects }, call)).quotas);
      }
      return quotas;
    }).then((res) => {
      for (const { target, value } of must(res)) {
        for (const q of value) if (live.has(q.projectId)) at(q.projectId).quotas.push({ ...target.placement, limits: q.limits });
      }
    }),
  ]);
  for (const project of live.values()) {
    for (const placement of project.placements.filter((p) => p.platform === 'okd')) {
      const here = project.rules.filter((r) => r.region === placement.region && r.platform === placement.platform);
      if (here.some((r) => r.rule.direction === 'egress')) continue;
      for (const rule of OPEN_EGRESS) project.rules.push({ ...placement, rule });
    }
  }
  return [...live.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * OKD lets all egress through while a namespace has no egress NetworkPolicy: read as the two allow-all egress
 * rules an OpenStack group starts with, so the same file describes a project on both platforms.
 */
const OPEN_EGRESS: AccessRule[] = ['0.0.0.0/0', '::/0'].map((remoteCidr) =>
  normalizeAccessRule({ direction: 'egress', protocol: 'any', portFrom: null, portTo: null, remoteCidr, description: '' }),
);

/** A region that did not answer, as a plan's caller reads it. */
export function unplannable(error: unknown): InfrafedError {
  if (error instanceof InfrafedError) {
    return new InfrafedError(error.code, `cannot plan without every placement's state: ${error.message}`, error.extensions);
  }
  return new InfrafedError(ErrorCode.INTERNAL, 'internal error', {}, { cause: error });
}
