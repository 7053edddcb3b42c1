import DataLoader from 'dataloader';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { placementKey, type Placement } from '../../schema/model.ts';
import { fanOut } from '../../runtime/nats/request.ts';

/** What the placements said, and one error per placement that did not answer. */
export interface Gathered<T> {
  value: T;
  missing: InfrafedError[];
}

/** One project in one placement, and the organisation that owns it. */
export interface PlacedProject extends Placement {
  projectId: string;
  organization: string;
}

/**
 * Per request: collects the look-ups of one kind made while a GraphQL request resolves and sends one
 * request per placement for all the projects there (in parallel across placements). An answer's items are
 * given back to each project by `projectOf`; a placement that fails gives its error to each of its projects.
 */
export function createPlacementLoader<T>(
  list: (placement: Placement, projects: { projectId: string; organization: string }[]) => Promise<T[]>,
  projectOf: (item: T) => string,
): DataLoader<PlacedProject, Gathered<T[]>, string> {
  return new DataLoader<PlacedProject, Gathered<T[]>, string>(
    async (keys) => {
      const groups = new Map<string, { placement: Placement; projects: { projectId: string; organization: string }[] }>();
      for (const k of keys) {
        const where = placementKey(k);
        const group = groups.get(where) ?? { placement: { region: k.region, platform: k.platform }, projects: [] };
        group.projects.push({ projectId: k.projectId, organization: k.organization });
        groups.set(where, group);
      }
      const res = await fanOut([...groups.values()], (g) => list(g.placement, g.projects));
      return keys.map((k) => {
        const where = placementKey(k);
        const ok = res.ok.find((r) => placementKey(r.target.placement) === where);
        if (ok) return { value: ok.value.filter((item) => projectOf(item) === k.projectId), missing: [] };
        const failed = res.failed.find((f) => placementKey(f.target.placement) === where);
        return { value: [], missing: failed ? [failed.error] : [] };
      });
    },
    { cacheKeyFn: (k) => `${placementKey(k)}|${k.projectId}|${k.organization}` },
  );
}

/**
 * Per request: the placements of the projects the caller may see, from the controller's index (one
 * request for all the projects a request resolves). A project entity is resolved by its id only: the
 * placements or native ids a caller puts in a representation are never used, so a caller that reaches a
 * subgraph directly cannot aim it at another organisation's objects.
 */
/** A project as the controller's index has it, for the caller. */
export interface VisibleProject {
  organization: string;
  placements: Placement[];
  /** The quota version per region (see the project record). */
  quotaVersions?: Record<string, number>;
}

export function createVisibleProjectLoader(resolve: (projectIds: string[]) => Promise<({ projectId: string } & VisibleProject)[]>) {
  return new DataLoader<string, VisibleProject>(async (ids) => {
    const found = new Map((await resolve([...ids])).map((p) => [p.projectId, p]));
    return ids.map((id) => found.get(id) ?? new InfrafedError(ErrorCode.NOT_FOUND, `project ${id} not found`));
  });
}

/** The project's placements (those `keep` accepts) as loader keys; NOT_FOUND when the caller may not see it. */
export async function placedProject(
  projects: DataLoader<string, VisibleProject>,
  projectId: string,
  keep: (p: Placement) => boolean = () => true,
): Promise<PlacedProject[]> {
  const { organization, placements } = await projects.load(projectId);
  return placements.filter(keep).map((p) => ({ region: p.region, platform: p.platform, projectId, organization }));
}
