import type { NatsConnection } from '@nats-io/nats-core';
import DataLoader from 'dataloader';
import { memberListReply, projectListReply, type Member, type ProjectPlacement } from '../../schema/contracts/identity.ts';
import type { Placement } from '../../schema/model.ts';
import { requestAdapter, type AdapterCallOptions } from '../../runtime/nats/adapterClient.ts';
import { createPlacementLoader, type Gathered } from '../../runtime/graphql/placementLoader.ts';
import { fanOut } from '../../runtime/nats/request.ts';


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

  /** One member.list per placement per batch. */
  const membersByPlacement = createPlacementLoader(
    async (placement, projects) => (await requestAdapter(deps.nc, placement, 'member', 'list', { projects }, memberListReply, deps.call)).members,
    (m: Member) => m.projectId,
  );

  return { placementsByProject, membersByPlacement };
}
export type Loaders = ReturnType<typeof createLoaders>;
