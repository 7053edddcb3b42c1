import DataLoader from 'dataloader';
import type { InfrafedError } from '../../schema/errors.ts';
import { placementKey, type Placement } from '../../schema/model.ts';
import { fanOut } from '../../runtime/nats/request.ts';

/** What the placements said, and one error per placement that did not answer. */
export interface Gathered<T> {
  value: T;
  missing: InfrafedError[];
}

/** One project in one placement, as the identity subgraph reports it. */
export interface PlacedProject extends Placement {
  projectId: string;
  nativeId: string;
}

/**
 * Per request: collects the look-ups of one kind made while a GraphQL request resolves and sends one
 * request per placement for all the projects there (in parallel across placements). An answer's items are
 * given back to each project by `projectOf`; a placement that fails gives its error to each of its projects.
 */
export function createPlacementLoader<T>(
  list: (placement: Placement, projects: { projectId: string; nativeId: string }[]) => Promise<T[]>,
  projectOf: (item: T) => string,
): DataLoader<PlacedProject, Gathered<T[]>, string> {
  return new DataLoader<PlacedProject, Gathered<T[]>, string>(
    async (keys) => {
      const groups = new Map<string, { placement: Placement; projects: { projectId: string; nativeId: string }[] }>();
      for (const k of keys) {
        const where = placementKey(k);
        const group = groups.get(where) ?? { placement: { region: k.region, platform: k.platform }, projects: [] };
        group.projects.push({ projectId: k.projectId, nativeId: k.nativeId });
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
    { cacheKeyFn: (k) => `${placementKey(k)}|${k.projectId}|${k.nativeId}` },
  );
}
