import { Permission } from '../../schema/access.ts';
import type { ProjectRole } from '../../schema/model.ts';
import { memberOf } from '../../schema/operations.ts';
import { defineKind, ownerOf } from './kind.ts';
import { onEveryPlacement } from './placements.ts';

/** The user or group an operation is about. */
const memberTarget = (input: { user?: string | null; group?: string | null }) =>
  input.user ? { type: 'user', id: input.user } : { type: 'group', id: input.group ?? '' };

const previousRoleOf = (undo: Record<string, unknown> | null) => (undo?.previousRole as ProjectRole | null | undefined) ?? null;

/** A user or group of the organisation gets a role in every placement (replacing the role it had). */
export const ADD_MEMBER = defineKind({
  kind: 'ADD_MEMBER',
  permission: Permission.manageMembers,
  action: 'member.add',
  takeover: 'rollback',
  target: (op) => ({ ...memberTarget(op.request.input), role: op.request.input.role }),
  plan(ctx, principal, request) {
    return onEveryPlacement(ctx, principal, request.input.projectId, this.permission);
  },
  steps(ctx, op) {
    const { projectId, role } = op.request.input;
    const member = { projectId, owner: ownerOf(op), ...memberOf(op.request.input), organization: op.organization };
    return {
      async forward(step) {
        const res = await ctx.call(step, 'member', 'add', { ...member, role });
        return { changed: res.previousRole !== role, undo: { previousRole: res.previousRole } };
      },
      async undo(step) {
        const previousRole = previousRoleOf(step.undo);
        if (previousRole) await ctx.call(step, 'member', 'add', { ...member, role: previousRole });
        else await ctx.call(step, 'member', 'remove', member);
      },
    };
  },
});

/** A user or group loses its role in every placement. */
export const REMOVE_MEMBER = defineKind({
  kind: 'REMOVE_MEMBER',
  permission: Permission.manageMembers,
  action: 'member.remove',
  takeover: 'rollback',
  // the role it held (in the first placement that answered)
  target: (op) => ({
    ...memberTarget(op.request.input),
    role: op.steps.map((s) => previousRoleOf(s.undo)).find((r) => r !== null) ?? null,
  }),
  plan(ctx, principal, request) {
    return onEveryPlacement(ctx, principal, request.input.projectId, this.permission);
  },
  steps(ctx, op) {
    const member = {
      projectId: op.request.input.projectId,
      owner: ownerOf(op),
      ...memberOf(op.request.input),
      organization: op.organization,
    };
    return {
      async forward(step) {
        const res = await ctx.call(step, 'member', 'remove', member);
        return { changed: res.removed, undo: { previousRole: res.previousRole } };
      },
      async undo(step) {
        const previousRole = previousRoleOf(step.undo);
        if (previousRole) await ctx.call(step, 'member', 'add', { ...member, role: previousRole });
      },
    };
  },
});
