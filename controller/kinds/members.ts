import { Permission } from '../../schema/access.ts';
import type { ProjectRole } from '../../schema/model.ts';
import { memberOf } from '../../schema/operations.ts';
import { defineKind, ownerOf } from './kind.ts';
import { onEveryPlacement } from './placements.ts';

const previousRoleOf = (undo: Record<string, unknown> | null) => (undo?.previousRole as ProjectRole | null | undefined) ?? null;

/** A user or group of the organisation gets a role in every placement (replacing the role it had). */
export const ADD_MEMBER = defineKind({
  kind: 'ADD_MEMBER',
  permission: Permission.manageMembers,
  action: 'member.add',
  takeover: 'rollback',
  plan(ctx, principal, request) {
    return onEveryPlacement(ctx, principal, request.input.projectId, this.permission);
  },
  steps(ctx, op) {
    const { projectId, role } = op.request.input;
    const member = { projectId, owner: ownerOf(op), ...memberOf(op.request.input), organization: op.organization };
    return {
      async forward(step) {
        const res = await ctx.call(step, 'member', 'add', { ...member, role });
        return { undo: { previousRole: res.previousRole } };
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
        return { undo: { previousRole: res.previousRole } };
      },
      async undo(step) {
        const previousRole = previousRoleOf(step.undo);
        if (previousRole) await ctx.call(step, 'member', 'add', { ...member, role: previousRole });
      },
    };
  },
});
