import { can, ownerOnlyPermissions, type Permission, weaker, weakestRoleWith } from '../schema/access.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { ProjectRecord } from '../schema/operations.ts';
import type { Principal } from '../runtime/auth.ts';
import type { Audit } from './audit.ts';
import type { ControllerStore } from './store.ts';

/** FORBIDDEN unless the principal's organisation role has the permission. */
export function authorize(principal: Principal, permission: Permission): void {
  if (can(principal.orgRole, permission)) return;
  throw new InfrafedError(
    ErrorCode.FORBIDDEN,
    `your organisation role ${principal.orgRole} lacks the permission ${permission} (role ${weakestRoleWith(permission)} or above has it)`,
    { permission, role: principal.orgRole },
  );
}

/**
 * The caller's project, ready for changes that need `permission`. A partner organisation the project is
 * shared with may act on it within its share level (and never on quotas, the project itself, its
 * partners or its audit); to anyone else it is indistinguishable from a missing one. A project being
 * created is not ready; one being deleted only for `whileDeleting` (deleting again finishes the job).
 */
export async function activeProject(
  store: Pick<ControllerStore, 'getProject'>,
  principal: Principal,
  projectId: string,
  permission: Permission,
  options: { whileDeleting?: boolean } = {},
): Promise<ProjectRecord> {
  const record = await store.getProject(projectId);
  const share = record?.shares.find((s) => s.organization === principal.organization);
  if (!record || (record.organization !== principal.organization && !share))
    throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} not found`);
  if (share && record.organization !== principal.organization) {
    const effective = weaker(principal.orgRole, share.level);
    const who = ownerOnlyPermissions.includes(permission) ? 'only its owner' : `level ${weakestRoleWith(permission)} or above`;
    if (ownerOnlyPermissions.includes(permission) || !can(effective, permission)) {
      throw new InfrafedError(
        ErrorCode.FORBIDDEN,
        `project ${projectId} is shared with ${principal.organization} at level ${share.level}: ${who} has ${permission}`,
        { permission, role: effective, shareLevel: share.level },
      );
    }
  }
  if (record.state === 'CREATING') throw new InfrafedError(ErrorCode.CONFLICT, `project ${record.projectId} is still being created`);
  if (record.state === 'DELETING' && !options.whileDeleting)
    throw new InfrafedError(ErrorCode.CONFLICT, `project ${record.projectId} is being deleted`);
  return record;
}

/** An audit event of the control layer that is not an operation (entitlements, usage sync, cross-organisation reads). */
export function auditDecision(
  audit: Audit,
  principal: Principal,
  e: {
    organization?: string;
    action: string;
    decision: 'allowed' | 'denied';
    result: string;
    reason: string | null;
    placements?: string[];
  },
): Promise<void> {
  return audit.record({
    principal: principal.subject,
    organization: e.organization ?? principal.organization,
    action: e.action,
    kind: null,
    projectId: null,
    operationId: null,
    placements: e.placements ?? [],
    decision: e.decision,
    result: e.result,
    reason: e.reason,
  });
}

/**
 * The organisation a request is about: the caller's own unless it names another, which only platform
 * operators may (to anyone else it does not exist; the refusal is audited).
 */
export async function targetOrganization(
  audit: Audit,
  principal: Principal,
  requested: string | undefined,
  action: string,
): Promise<string> {
  const organization = requested ?? principal.organization;
  if (organization !== principal.organization && !principal.platformAdmin) {
    await auditDecision(audit, principal, {
      action,
      decision: 'denied',
      result: ErrorCode.NOT_FOUND,
      reason: `${action} of ${organization}`,
    });
    throw new InfrafedError(ErrorCode.NOT_FOUND, `organization ${organization} not found`);
  }
  return organization;
}
