import type { NatsConnection } from '@nats-io/nats-core';
import DataLoader from 'dataloader';
import { memberListReply, projectListReply, type Member, type ProjectPlacement } from '../../schema/contracts/identity.ts';
import type { InfrafedError } from '../../schema/errors.ts';
import { placementKey, type Placement } from '../../schema/model.ts';
import { requestAdapter, type AdapterCallOptions } from '../../runtime/nats/adapterClient.ts';
import { fanOut } from '../../runtime/nats/request.ts';

/** What the regions said, and one error per region that did not answer. */
export interface Gathered<T> {
  value: T;
  missing: InfrafedError[];
}

export interface LoaderDeps {
  nc: NatsConnection;
  organization: string;
  placements: readonly Placement[];
  call: AdapterCallOptions;
}

/** All of an organisation's placements in every region (one fan-out). */
export async function listPlacements(deps: LoaderDeps): Promise<Gathered<ProjectPlacement[]>> {
  const res = await fanOut(deps.placements, (p) =>
    requestAdapter(deps.nc, p, 'project', 'list', { organization: deps.organization }, projectListReply, deps.call),
  );
  return { value: res.ok.flatMap((r) => r.value.placements), missing: res.failed.map((f) => f.error) };
}

/** Per request: batches look-ups made while one GraphQL request resolves (one fan-out per batch). */
export function createLoaders(deps: LoaderDeps) {
  const placementsByProject = new DataLoader<string, Gathered<ProjectPlacement[]>>(async (projectIds) => {
    const res = await fanOut(deps.placements, (p) =>
      requestAdapter(deps.nc, p, 'project', 'list', { organization: deps.organization, projectIds: [...projectIds] }, projectListReply, deps.call),
    );
    const missing = res.failed.map((f) => f.error);
    const all = res.ok.flatMap((r) => r.value.placements);
    return projectIds.map((id) => ({ value: all.filter((p) => p.projectId === id), missing }));
  });

  /** Key: `<region>/<platform>|<projectId>|<nativeId>`; one member.list per placement per batch. */
  const membersByPlacement = new DataLoader<string, Gathered<Member[]>>(async (keys) => {
    const byPlacement = new Map<string, { placement: Placement; projects: { projectId: string; nativeId: string }[] }>();
    for (const key of keys) {
      const [where, projectId, nativeId] = key.split('|') as [string, string, string];
      const [region, platform] = where.split('/') as [string, Placement['platform']];
      const entry = byPlacement.get(where) ?? { placement: { region, platform }, projects: [] };
      entry.projects.push({ projectId, nativeId });
      byPlacement.set(where, entry);
    }
    const groups = [...byPlacement.values()];
    const res = await fanOut(groups, (g) => requestAdapter(deps.nc, g.placement, 'member', 'list', { projects: g.projects }, memberListReply, deps.call));
    return keys.map((key) => {
      const [where, projectId] = key.split('|') as [string, string];
      const ok = res.ok.find((r) => placementKey(r.target.placement) === where);
      if (ok) return { value: ok.value.members.filter((m) => m.projectId === projectId), missing: [] };
      const failed = res.failed.find((f) => placementKey(f.target.placement) === where);
      return { value: [], missing: failed ? [failed.error] : [] };
    });
  });

  return { placementsByProject, membersByPlacement };
}
export type Loaders = ReturnType<typeof createLoaders>;
