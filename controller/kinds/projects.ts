import { Permission } from '../../schema/access.ts';
import type { Amounts } from '../../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { placementProblems } from '../../schema/operations.ts';
import { limitsFor } from '../../schema/quota.ts';
import { badUserInput } from '../../runtime/problems.ts';
import { activeProject } from '../permissions.ts';
import { explicitDefaults, quotaChanges } from '../reservations.ts';
import { defineKind, ownerOf } from './kind.ts';

/** A project with a placement (Keystone project, OpenShift Project) in each region/platform asked for. */
export const CREATE_PROJECT = defineKind({
  kind: 'CREATE_PROJECT',
  permission: Permission.manageProjects,
  action: 'project.create',
  takeover: 'rollback',
  target: (op) => ({ type: 'project', id: op.projectId ?? '', role: null }),
  async plan(ctx, principal, request) {
    const problems = placementProblems(request.input.placements, ctx.placements);
    if (problems.length > 0) throw badUserInput(problems);
    return { projectId: ctx.newId('prj'), owner: principal.organization, placements: request.input.placements, resourceId: null };
  },
  // the name is claimed and the project indexed as CREATING; the organisation's project defaults are held
  async accept(ctx, op) {
    const { name } = op.request.input;
    const projectId = op.projectId as string;
    if (!(await ctx.store.claimName(op.organization, name, projectId))) {
      throw new InfrafedError(ErrorCode.CONFLICT, `a project named "${name}" already exists`, { name });
    }
    await ctx.store.changeProject(projectId, () => ({
      projectId,
      organization: op.organization,
      name,
      placements: op.steps.map(({ region, platform }) => ({ region, platform })),
      state: 'CREATING',
      operationId: op.id,
      shares: [],
      quotaVersions: {},
      quotaChangedAt: {},
      quotaTiers: {},
    }));
    const defaults = explicitDefaults(await ctx.ledger.entitlementsOf(op.organization));
    if (Object.keys(defaults).length === 0) return; // nothing is entitled: nothing to account
    op.quotaDefaults = defaults;
    try {
      await ctx.ledger.reserve(op.organization, op.id, quotaChanges(op, defaults));
    } catch (error) {
      // the name claimed above is free again: the request is refused
      await ctx.store.changeProject(projectId, () => null);
      await ctx.store.releaseName(op.organization, name, projectId);
      throw error;
    }
    op.reserved = true;
  },
  steps(ctx, op) {
    const projectId = op.projectId as string;
    const { name, description } = op.request.input;
    return {
      async forward(step) {
        const res = await ctx.call(step, 'project', 'create', { projectId, organization: op.organization, name, description });
        // explicit limits (the project defaults, already held against the entitlements), never the
        // platform's own; a new placement already uses some objects (Neutron's `default` security group
        // and infrafed's own, with their rules): its limit is at least that
        const defaults = op.quotaDefaults ? limitsFor(step.platform, op.quotaDefaults as Amounts) : {};
        if (Object.keys(defaults).length === 0) return { nativeId: res.placement.nativeId, changed: res.created };
        const now = await ctx.call(step, 'quota', 'get', { projects: [{ projectId, organization: op.organization }] });
        const used = (now.quotas[0]?.usage ?? {}) as Amounts;
        const limits = Object.fromEntries(
          Object.entries(defaults).map(([r, v]) => [r, Math.max(v ?? 0, used[r as keyof Amounts] ?? 0)]),
        ) as Amounts;
        await ctx.call(step, 'quota', 'set', { projectId, owner: op.organization, limits });
        return { nativeId: res.placement.nativeId, changed: res.created, undo: { limits } };
      },
      async undo(step) {
        await ctx.call(step, 'project', 'delete', { projectId, owner: ownerOf(op) });
      },
      async onSucceeded() {
        // the defaults' hold first: when it expired, the project is undone before it is ever ACTIVE
        if (op.quotaDefaults) {
          // what each placement got (the defaults, or what it used from the start when that was more)
          const changes = quotaChanges(op, op.quotaDefaults as Amounts).map((c, i) => ({
            ...c,
            limits: (op.steps[i]?.undo?.limits as Amounts | undefined) ?? c.limits,
          }));
          await ctx.ledger.commit(op.organization, op.id, changes, [], { reserved: true });
        }
        await ctx.store.changeProject(projectId, (record) => (record ? { ...record, state: 'ACTIVE' } : undefined));
      },
      async onFailed(clean) {
        // also what a replica taking over an operation interrupted while it was accepted runs: each is a no-op when not done
        await ctx.ledger.release(op.organization, op.id);
        if (!clean) return; // the index keeps the project until every placement is gone
        await ctx.store.changeProject(projectId, (record) => (record?.operationId === op.id ? null : undefined));
        await ctx.store.releaseName(op.organization, name, projectId);
      },
    };
  },
});

/** Every placement deleted (with what the project owns there); a failure is finished by deleting again. */
export const DELETE_PROJECT = defineKind({
  kind: 'DELETE_PROJECT',
  permission: Permission.manageProjects,
  action: 'project.delete',
  takeover: 'forward',
  target: (op) => ({ type: 'project', id: op.request.input.projectId, role: null }),
  async plan(ctx, principal, request) {
    const record = await activeProject(ctx.store, principal, request.input.projectId, this.permission, { whileDeleting: true });
    return { projectId: record.projectId, owner: record.organization, placements: record.placements, resourceId: null };
  },
  // repeated by a replica that takes the operation over (it may have been interrupted here)
  async accept(ctx, op) {
    await ctx.store.changeProject(op.projectId as string, (record) =>
      record ? { ...record, state: 'DELETING', operationId: op.id } : undefined,
    );
  },
  steps(ctx, op) {
    const { projectId } = op.request.input;
    return {
      async forward(step) {
        const res = await ctx.call(step, 'project', 'delete', { projectId, owner: ownerOf(op) });
        return { changed: res.deleted };
      },
      async onSucceeded() {
        const record = await ctx.store.getProject(projectId);
        await ctx.store.changeProject(projectId, () => null);
        if (record) await ctx.store.releaseName(record.organization, record.name, projectId);
        for (const share of record?.shares ?? []) await ctx.store.deleteShare(share.organization, projectId);
        await ctx.ledger.forgetProject(op.organization, projectId);
      },
      // onFailed: the record stays DELETING; deleting again finishes the job (every step is idempotent)
    };
  },
});
