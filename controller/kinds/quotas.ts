import { Permission } from '../../schema/access.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import type { Amounts } from '../../schema/entitlements.ts';
import type { QuotaLimits, QuotaLimitsInput } from '../../schema/quota.ts';
import type { Operation } from '../../schema/operations.ts';
import { activeProject } from '../permissions.ts';
import { quotaChanges } from '../reservations.ts';
import { defineKind, ownerOf, type KindContext, type Steps } from './kind.ts';
import { placementsIn } from './placements.ts';

/** The limits given (only those) on the project's placements in one region, held against the entitlements. */
export const SET_QUOTA = defineKind({
  kind: 'SET_QUOTA',
  permission: Permission.manageQuotas,
  action: 'quota.set',
  takeover: 'rollback',
  target: (op) => ({ type: 'quota', id: op.request.input.region, role: null }),
  async plan(ctx, principal, request) {
    const record = await activeProject(ctx.store, principal, request.input.projectId, this.permission);
    return {
      projectId: record.projectId,
      owner: record.organization,
      placements: placementsIn(record, request.input.region),
      resourceId: null,
    };
  },
  // held before anything is sent to a platform; the region's quota version is compared (when the caller
  // gave one) and advanced in the same compare-and-set of the project record: of two writes that read the
  // same version, one is accepted, the other refused
  async accept(ctx, op) {
    const { projectId, region, ifVersion } = op.request.input;
    await ctx.ledger.reserve(op.organization, op.id, quotaChanges(op, op.request.input.limits as Amounts));
    op.reserved = true;
    try {
      await ctx.store.changeProject(projectId, (record) => {
        if (!record) throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} not found`);
        const version = record.quotaVersions[region] ?? 0;
        if (ifVersion !== undefined && ifVersion !== version) {
          throw new InfrafedError(
            ErrorCode.PRECONDITION_FAILED,
            `the quota in ${region} changed since you read it (version ${ifVersion}, now ${version}); read it again`,
            { region, version },
          );
        }
        // a change by hand leaves the region without a tier
        const { [region]: _tier, ...quotaTiers } = record.quotaTiers;
        return {
          ...record,
          quotaVersions: { ...record.quotaVersions, [region]: version + 1 },
          quotaChangedAt: { ...record.quotaChangedAt, [region]: new Date().toISOString() },
          quotaTiers,
        };
      });
    } catch (error) {
      await ctx.ledger.release(op.organization, op.id);
      op.reserved = false;
      throw error;
    }
  },
  steps(ctx, op) {
    return quotaSteps(ctx, op, op.request.input.projectId, op.request.input.limits);
  },
});

/** Sets `limits` on each placement step (the previous limits kept for the undo); the reservation becomes the allocation. */
function quotaSteps(ctx: KindContext, op: Operation, projectId: string, limits: QuotaLimitsInput): Steps {
  return {
    async forward(step, checkpoint) {
      // the limits alone: the undo needs no more (the use is counted by the vendors, at a cost)
      const before = await ctx.call(step, 'quota', 'get', { projects: [{ projectId, organization: ownerOf(op) }], limitsOnly: true });
      const current = before.quotas[0]?.limits ?? {};
      const previous: QuotaLimits = {};
      for (const r of Object.keys(limits) as (keyof QuotaLimits)[]) if (limits[r] !== undefined) previous[r] = current[r] ?? null;
      await checkpoint({ previous });
      // the adapter need not read what this step has just read
      const res = await ctx.call(step, 'quota', 'set', { projectId, owner: ownerOf(op), limits, previous });
      const changed = Object.entries(res.previous).some(([r, v]) => v !== limits[r as keyof QuotaLimits]);
      return { changed, undo: { previous: res.previous } };
    },
    async undo(step) {
      const previous = step.undo?.previous as QuotaLimits | undefined;
      if (previous && Object.keys(previous).length > 0)
        await ctx.call(step, 'quota', 'set', { projectId, owner: ownerOf(op), limits: previous });
    },
    // the reservation made when the operation was accepted becomes the allocation, or is freed
    onSucceeded: () => ctx.ledger.commit(op.organization, op.id, quotaChanges(op, limits as Amounts), [], { reserved: true }),
    onFailed: () => ctx.ledger.release(op.organization, op.id),
  };
}

/**
 * A quota tier (an approved request): its limits on the project's placements in every region named, in
 * one operation held against the entitlements like SET_QUOTA; a failed region undoes the others. The
 * regions' versions advance, their change time and tier are recorded when it is accepted.
 */
export const APPLY_QUOTA_TIER = defineKind({
  kind: 'APPLY_QUOTA_TIER',
  permission: Permission.manageQuotas,
  action: 'quota.tier',
  takeover: 'rollback',
  target: (op) => ({ type: 'quota', id: op.request.input.regions.join(','), role: op.request.input.tier }),
  async plan(ctx, principal, request) {
    const record = await activeProject(ctx.store, principal, request.input.projectId, this.permission);
    return {
      projectId: record.projectId,
      owner: record.organization,
      placements: request.input.regions.flatMap((region) => placementsIn(record, region)),
      resourceId: request.input.requestId,
    };
  },
  async accept(ctx, op) {
    const { projectId, regions, tier } = op.request.input;
    await ctx.ledger.reserve(op.organization, op.id, quotaChanges(op, op.request.input.limits as Amounts));
    op.reserved = true;
    try {
      const at = new Date().toISOString();
      await ctx.store.changeProject(projectId, (record) => {
        if (!record) throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} not found`);
        const next = {
          ...record,
          quotaVersions: { ...record.quotaVersions },
          quotaChangedAt: { ...record.quotaChangedAt },
          quotaTiers: { ...record.quotaTiers },
        };
        for (const region of regions) {
          next.quotaVersions[region] = (record.quotaVersions[region] ?? 0) + 1;
          next.quotaChangedAt[region] = at;
          next.quotaTiers[region] = tier;
        }
        return next;
      });
    } catch (error) {
      await ctx.ledger.release(op.organization, op.id);
      op.reserved = false;
      throw error;
    }
  },
  steps(ctx, op) {
    const { projectId, limits, regions } = op.request.input;
    const base = quotaSteps(ctx, op, projectId, limits);
    return {
      ...base,
      async onFailed(clean) {
        await base.onFailed?.(clean);
        // the regions do not hold the tier (their limits were set back)
        await ctx.store.changeProject(projectId, (record) => {
          if (!record) return undefined;
          const quotaTiers = Object.fromEntries(
            Object.entries(record.quotaTiers).filter(([r, t]) => !(regions.includes(r) && t === op.request.input.tier)),
          );
          return { ...record, quotaTiers };
        });
      },
    };
  },
});
