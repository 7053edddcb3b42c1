import DataLoader from 'dataloader';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { placementKey, type Placement } from '../../schema/model.ts';
import { fanOut } from '../../runtime/nats/request.ts';
import { chunked } from '../../runtime/bounded.ts';
import { PROJECT_RESOLVE_MAX_IDS } from '../../schema/operations.ts';

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
 * request per placement for all the projects there (in parallel across placements), or several of at most
 * `maxPerRequest` projects each (the contract's bound), or, with `refuseMore`, none for a placement with
 * more (what each project costs there is too much for one page). An answer's items are given back to each project
 * by `projectOf`; a request that fails gives its error to each of its projects.
 */
export function createPlacementLoader<T>(
  list: (placement: Placement, projects: { projectId: string; organization: string }[]) => Promise<T[]>,
  projectOf: (item: T) => string,
  maxPerRequest: number,
  /** Instead of several requests: the error of a placement with more projects than `maxPerRequest`. */
  refuseMore?: (found: number) => InfrafedError,
): DataLoader<PlacedProject, Gathered<T[]>, string> {
  const keyOf = (k: PlacedProject) => `${placementKey(k)}|${k.projectId}|${k.organization}`;
  return new DataLoader<PlacedProject, Gathered<T[]>, string>(
    async (keys) => {
      const groups = new Map<string, { placement: Placement; projects: { projectId: string; organization: string }[] }>();
      for (const k of keys) {
        const where = placementKey(k);
        const group = groups.get(where) ?? { placement: { region: k.region, platform: k.platform }, projects: [] };
        group.projects.push({ projectId: k.projectId, organization: k.organization });
        groups.set(where, group);
      }
      const answers = new Map<string, Gathered<T[]>>();
      const requests = [...groups.values()].flatMap((g) => {
        if (!refuseMore || g.projects.length <= maxPerRequest)
          return chunked(g.projects, maxPerRequest).map((projects) => ({ ...g, projects }));
        const refused = refuseMore(g.projects.length);
        for (const p of g.projects) answers.set(keyOf({ ...g.placement, ...p }), { value: [], missing: [refused] });
        return [];
      });
      const res = await fanOut(requests, (r) => list(r.placement, r.projects));
      for (const { target, value } of res.ok) {
        const byProject = Map.groupBy(value, projectOf);
        for (const p of target.projects)
          answers.set(keyOf({ ...target.placement, ...p }), { value: byProject.get(p.projectId) ?? [], missing: [] });
      }
      for (const { target, error } of res.failed) {
        for (const p of target.projects) answers.set(keyOf({ ...target.placement, ...p }), { value: [], missing: [error] });
      }
      return keys.map((k) => answers.get(keyOf(k)) ?? { value: [], missing: [] });
    },
    { cacheKeyFn: keyOf },
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
  return new DataLoader<string, VisibleProject>(
    async (ids) => {
      const found = new Map((await resolve([...ids])).map((p) => [p.projectId, p]));
      return ids.map((id) => found.get(id) ?? new InfrafedError(ErrorCode.NOT_FOUND, `project ${id} not found`));
    },
    // the controller resolves at most this many in one request
    { maxBatchSize: PROJECT_RESOLVE_MAX_IDS },
  );
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
