import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { placementKey, type Placement } from '../../schema/model.ts';
import type { ProjectRecord } from '../../schema/operations.ts';
import type { Permission } from '../../schema/access.ts';
import type { Principal } from '../../runtime/auth.ts';
import { badUserInput } from '../../runtime/problems.ts';
import { activeProject } from '../permissions.ts';
import type { KindContext, PlannedOperation } from './kind.ts';

/** The project's placements in one region; none is the caller's mistake. */
export function placementsIn(record: ProjectRecord, region: string): Placement[] {
  const here = record.placements.filter((p) => p.region === region);
  if (here.length === 0) {
    throw badUserInput([
      {
        path: 'region',
        message: `project ${record.projectId} has no placement in ${region}; it has: ${record.placements.map(placementKey).join(', ')}`,
        value: region,
      },
    ]);
  }
  return here;
}

/** The project's OpenStack placement in one region (networks are Neutron objects). */
export function openstackIn(record: ProjectRecord, region: string): Placement {
  const here = placementsIn(record, region);
  const openstack = here.find((p) => p.platform === 'openstack');
  if (!openstack) {
    throw new InfrafedError(
      ErrorCode.NOT_SUPPORTED,
      `networks are an OpenStack (Neutron) feature; ` +
        `project ${record.projectId} is on ${here.map((p) => p.platform).join(', ')} in ${region}`,
      {
        region,
      },
    );
  }
  return openstack;
}

/** The plan of a kind that changes every placement of one of the caller's projects. */
export async function onEveryPlacement(
  ctx: KindContext,
  principal: Principal,
  projectId: string,
  permission: Permission,
): Promise<PlannedOperation> {
  const record = await activeProject(ctx.store, principal, projectId, permission);
  return { projectId: record.projectId, owner: record.organization, placements: record.placements, resourceId: null };
}
