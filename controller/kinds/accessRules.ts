import { Permission } from '../../schema/access.ts';
import { ErrorCode, type InfrafedError } from '../../schema/errors.ts';
import { projectPlacementKey } from '../../schema/model.ts';
import { fromAccessRuleInput, type AccessRule } from '../../schema/network.ts';
import { fanOut } from '../../runtime/nats/request.ts';
import { objectChanges, reserveObjects } from '../reservations.ts';
import { defineKind, ownerOf } from './kind.ts';
import { onEveryPlacement } from './placements.ts';

/** A rule of the project's `infrafed` security group (an OKD NetworkPolicy) in every placement; its id comes from what it allows. */
export const APPLY_ACCESS_RULE = defineKind({
  kind: 'APPLY_ACCESS_RULE',
  permission: Permission.manageNetworks,
  action: 'rule.apply',
  takeover: 'rollback',
  target: (op) => ({ type: 'accessRule', id: op.resourceId ?? '', role: null }),
  async plan(ctx, principal, request) {
    const planned = await onEveryPlacement(ctx, principal, request.input.projectId, this.permission);
    return { ...planned, resourceId: fromAccessRuleInput(request.input.rule).id, objects: { securityGroupRules: 1 } };
  },
  /**
   * At the entitlement's limit, re-applying a rule that is already there must not be refused: the
   * placements are asked which lack the rule, and only those are held (none: nothing is held).
   */
  async accept(ctx, op) {
    try {
      return await reserveObjects(ctx.ledger, op);
    } catch (error) {
      if ((error as InfrafedError).code !== ErrorCode.QUOTA_EXCEEDED) throw error;
      const projectId = op.projectId as string;
      const asked = await fanOut(
        op.steps.map((s) => ({ region: s.region, platform: s.platform })),
        (p) => ctx.call(p, 'rule', 'list', { projects: [{ projectId, organization: ownerOf(op) }] }),
      );
      if (asked.failed.length > 0) throw error;
      const lacking = new Set(
        asked.ok
          .filter((r) => !r.value.rules.some((rule) => rule.id === op.resourceId))
          .map((r) => projectPlacementKey(projectId, r.target)),
      );
      if (lacking.size === 0) return;
      await ctx.ledger.reserve(
        op.organization,
        op.id,
        [],
        objectChanges(op).filter((c) => lacking.has(c.key)),
      );
      op.reserved = true;
    }
  },
  steps(ctx, op) {
    const { projectId } = op.request.input;
    const owner = ownerOf(op);
    const rule = fromAccessRuleInput(op.request.input.rule);
    return {
      async forward(step, checkpoint) {
        // whether the rule was there before decides whether an undo may remove it
        const before = await ctx.call(step, 'rule', 'list', { projects: [{ projectId, organization: owner }] });
        const found = before.rules.find((r) => r.id === rule.id);
        // already there as asked: nothing to change, and nothing to undo
        if (found && (found.description ?? '') === (rule.description ?? ''))
          return { nativeId: found.nativeId, changed: false, undo: { existedBefore: true, previousDescription: null } };
        await checkpoint({ existedBefore: found !== undefined });
        const res = await ctx.call(step, 'rule', 'apply', { projectId, owner, rule });
        // a rule already there with another description got the new one: a change too
        return {
          nativeId: res.rule.nativeId,
          changed: res.created || res.previousDescription !== null,
          undo: { existedBefore: !res.created, previousDescription: res.previousDescription },
        };
      },
      async undo(step) {
        // never remove a rule that was there before this operation (unknown: the step never recorded it, so it
        // never ran); one whose description this operation changed gets its description back
        const previous = step.undo?.previousDescription;
        if (step.undo?.existedBefore === true && typeof previous === 'string') {
          await ctx.call(step, 'rule', 'apply', { projectId, owner, rule: { ...rule, description: previous } });
          return;
        }
        if (step.undo?.existedBefore !== false) return;
        await ctx.call(step, 'rule', 'remove', { projectId, owner, ruleId: rule.id });
      },
    };
  },
});

/** The rule removed from every placement; undone by applying it again. */
export const REMOVE_ACCESS_RULE = defineKind({
  kind: 'REMOVE_ACCESS_RULE',
  permission: Permission.manageNetworks,
  action: 'rule.remove',
  takeover: 'rollback',
  target: (op) => ({ type: 'accessRule', id: op.request.input.ruleId, role: null }),
  async plan(ctx, principal, request) {
    const planned = await onEveryPlacement(ctx, principal, request.input.projectId, this.permission);
    return { ...planned, resourceId: request.input.ruleId, objects: { securityGroupRules: -1 } };
  },
  steps(ctx, op) {
    const { projectId, ruleId } = op.request.input;
    const owner = ownerOf(op);
    return {
      async forward(step, checkpoint) {
        const before = await ctx.call(step, 'rule', 'list', { projects: [{ projectId, organization: owner }] });
        const found = before.rules.find((r) => r.id === ruleId);
        if (!found) return { changed: false, undo: { rule: null } };
        const { projectId: _p, region: _r, platform: _pl, nativeId: _n, status: _s, ...removed } = found;
        await checkpoint({ rule: removed });
        const res = await ctx.call(step, 'rule', 'remove', { projectId, owner, ruleId });
        return { nativeId: found.nativeId, changed: res.removed, undo: { rule: res.rule ?? removed } };
      },
      async undo(step) {
        const removed = (step.undo?.rule as AccessRule | null | undefined) ?? null;
        if (removed) await ctx.call(step, 'rule', 'apply', { projectId, owner, rule: removed });
      },
    };
  },
});
