import type { NatsConnection } from '@nats-io/nats-core';
import DataLoader from 'dataloader';
import { PROJECT_LIST_MAX_IDS, type Member, type ProjectPlacement } from '../../schema/contracts/identity.ts';
import type { Placement } from '../../schema/model.ts';
import { requestAdapter, type AdapterCallOptions } from '../../runtime/nats/adapterClient.ts';
import { createPlacementLoader, type Gathered } from '../shared/placementLoader.ts';
import { chunked } from '../../runtime/bounded.ts';
import { fanOut } from '../../runtime/nats/request.ts';

export interface LoaderDeps {
  nc: NatsConnection;
  organization: string;
  placements: readonly Placement[];
  call: AdapterCallOptions;
  /** Projects other organisations shared with this one: project id → owner organisation. */
  sharedWithMe: () => Promise<Map<string, string>>;
  /** The partners of the caller's own projects (one controller request per batch). */
  partnersOf: (
    projectIds: string[],
  ) => Promise<Record<string, { organization: string; level: 'reader' | 'member' | 'admin'; since: string }[]>>;
}

/** The placements of some projects of one owner organisation, in every region (one fan-out). */
async function placementsOf(deps: LoaderDeps, owner: string, projectIds?: string[]): Promise<Gathered<ProjectPlacement[]>> {
  // every project of the owner, or the given ones in requests of at most the contract's bound
  const requests = deps.placements.flatMap((placement): { placement: Placement; ids?: string[] }[] =>
    projectIds ? chunked(projectIds, PROJECT_LIST_MAX_IDS).map((ids) => ({ placement, ids })) : [{ placement, ids: undefined }],
  );
  const res = await fanOut(requests, (r) =>
    requestAdapter(deps.nc, r.placement, 'project', 'list', { organization: owner, projectIds: r.ids }, deps.call),
  );
  return { value: res.ok.flatMap((r) => r.value.placements), missing: res.failed.map((f) => f.error) };
}

/** All of an organisation's placements in every region, and those of the projects shared with it. */
export async function listPlacements(deps: LoaderDeps): Promise<Gathered<ProjectPlacement[]>> {
  // the caller's own projects are asked for at once, beside the share list (they never wait on it)
  const own = placementsOf(deps, deps.organization);
  const theirs = deps.sharedWithMe().then((shared) => {
    const byOwner = new Map<string, string[]>();
    for (const [projectId, owner] of shared) byOwner.set(owner, [...(byOwner.get(owner) ?? []), projectId]);
    return Promise.all([...byOwner].map(([owner, ids]) => placementsOf(deps, owner, ids)));
  });
  const all = [await own, ...(await theirs)];
  return { value: all.flatMap((g) => g.value), missing: all.flatMap((g) => g.missing) };
}

/** Per request: batches look-ups made while one GraphQL request resolves (one fan-out per batch). */
export function createLoaders(deps: LoaderDeps) {
  const placementsByProject = new DataLoader<string, Gathered<ProjectPlacement[]>>(async (projectIds) => {
    const own = await placementsOf(deps, deps.organization, [...projectIds]);
    // what is not the caller's may be shared with it: ask the owner organisations for those (the
    // controller only when some id was not found among the caller's own)
    const notOwn = projectIds.filter((id) => !own.value.some((p) => p.projectId === id));
    const shared = notOwn.length > 0 ? await deps.sharedWithMe() : new Map<string, string>();
    const byOwner = new Map<string, string[]>();
    for (const id of notOwn) {
      const owner = shared.get(id);
      if (owner) byOwner.set(owner, [...(byOwner.get(owner) ?? []), id]);
    }
    const theirs = await Promise.all([...byOwner].map(([owner, ids]) => placementsOf(deps, owner, ids)));
    const all = [...own.value, ...theirs.flatMap((g) => g.value)];
    const missing = [...own.missing, ...theirs.flatMap((g) => g.missing)];
    return projectIds.map((id) => ({ value: all.filter((p) => p.projectId === id), missing }));
  });

  /** One member.list per placement per batch. */
  const membersByPlacement = createPlacementLoader(
    async (placement, projects) => (await requestAdapter(deps.nc, placement, 'member', 'list', { projects }, deps.call)).members,
    (m: Member) => m.projectId,
    PROJECT_LIST_MAX_IDS,
  );

  const partnersByProject = new DataLoader<string, { organization: string; level: 'reader' | 'member' | 'admin'; since: string }[]>(
    async (projectIds) => {
      const found = await deps.partnersOf([...projectIds]);
      return projectIds.map((id) => found[id] ?? []);
    },
  );
  return { placementsByProject, membersByPlacement, partnersByProject };
}
export type Loaders = ReturnType<typeof createLoaders>;
