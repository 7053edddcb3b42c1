import { Permission } from '../../schema/access.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { badUserInput } from '../../runtime/problems.ts';
import { activeProject } from '../permissions.ts';
import { defineKind, ownerOf } from './kind.ts';

/** The owner shares a project with a partner organisation at a level; no platform changes (the share takes effect when it is done). */
export const SHARE_PROJECT = defineKind({
  kind: 'SHARE_PROJECT',
  permission: Permission.managePartners,
  action: 'share.add',
  takeover: 'rollback',
  target: (op) => ({ type: 'organization', id: op.request.input.partner, role: op.request.input.level }),
  async plan(ctx, principal, request) {
    const record = await activeProject(ctx.store, principal, request.input.projectId, this.permission);
    const { partner } = request.input;
    if (partner === record.organization)
      throw badUserInput([{ path: 'partner', message: 'a project cannot be shared with its own organisation', value: partner }]);
    // an organisation the system knows: onboarded (entitlements set) or owning a project
    const known = (await ctx.ledger.entitlementsOf(partner)).version > 0 || (await ctx.store.ownsProjects(partner));
    if (!known) throw new InfrafedError(ErrorCode.NOT_FOUND, `organisation ${partner} not found`, { organization: partner });
    return { projectId: record.projectId, owner: record.organization, placements: [], resourceId: request.input.partner };
  },
  steps(ctx, op) {
    const { projectId, partner, level } = op.request.input;
    return {
      async forward() {
        return {};
      },
      async onSucceeded() {
        const record = await ctx.store.changeProject(projectId, (current) =>
          current
            ? {
                ...current,
                shares: [
                  ...current.shares.filter((s) => s.organization !== partner),
                  { organization: partner, level, since: new Date().toISOString() },
                ],
              }
            : undefined,
        );
        if (record) await ctx.store.putShare(partner, { projectId, owner: record.organization, level });
      },
    };
  },
});

/** The partner loses access at once (when recorded); the steps remove its users and groups from every placement. */
export const REVOKE_SHARE = defineKind({
  kind: 'REVOKE_SHARE',
  permission: Permission.managePartners,
  action: 'member.revoke-partner',
  takeover: 'forward',
  target: (op) => ({ type: 'organization', id: op.request.input.partner, role: null }),
  async plan(ctx, principal, request) {
    const record = await activeProject(ctx.store, principal, request.input.projectId, this.permission);
    if (!record.shares.some((s) => s.organization === request.input.partner)) {
      throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${record.projectId} is not shared with ${request.input.partner}`);
    }
    return { projectId: record.projectId, owner: record.organization, placements: record.placements, resourceId: request.input.partner };
  },
  // repeated by a replica that takes the operation over (it may have been interrupted here)
  async accept(ctx, op) {
    const { partner } = op.request.input;
    await ctx.store.changeProject(op.projectId as string, (record) =>
      record ? { ...record, shares: record.shares.filter((s) => s.organization !== partner) } : undefined,
    );
    await ctx.store.deleteShare(partner, op.projectId as string);
  },
  steps(ctx, op) {
    const { projectId, partner } = op.request.input;
    return {
      async forward(step) {
        const listed = await ctx.call(step, 'member', 'list', { projects: [{ projectId, organization: ownerOf(op) }] });
        const theirs = listed.members.filter((m) => m.organization === partner);
        for (const m of theirs)
          await ctx.call(step, 'member', 'remove', { projectId, owner: ownerOf(op), kind: m.kind, user: m.user, organization: partner });
        return { changed: theirs.length > 0 };
      },
    };
  },
});
