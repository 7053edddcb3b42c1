import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { ProjectRole } from '../schema/model.ts';
import { ambiguousOutcomeCodes, ErrorCode } from '../schema/errors.ts';
import { fromAccessRuleInput, type AccessRule } from '../schema/network.ts';
import type { Amounts } from '../schema/entitlements.ts';
import { limitsFor, type QuotaLimits } from '../schema/quota.ts';
import { memberOf, type Operation, type OperationStep } from '../schema/operations.ts';
import { requestAdapter, type AdapterContractResource, type AdapterContractVerb, type AdapterRequest, type AdapterReply } from '../runtime/nats/adapterClient.ts';
import { toWireError } from '../runtime/nats/wire.ts';
import { withContext } from '../runtime/context.ts';
import type { ObjectChange, QuotaLedger } from './ledger.ts';
import type { ControllerStore } from './store.ts';

export interface SagaDeps {
  nc: NatsConnection;
  store: ControllerStore;
  log: Logger;
  /** This replica's name, written into the operations it owns. */
  replicaId: string;
  /** Controller to adapter, per call, milliseconds. */
  adapterTimeoutMs: number;
  /** How long an owner's claim on an operation lasts without renewal, milliseconds. */
  leaseMs: number;
  /** Entitlement reservations: quota changes are committed or released with their operation. */
  ledger: QuotaLedger;
}

/** The ledger entries a quota-setting operation changes: one per placement step (the limits its platform has). */
export function quotaChanges(op: Operation, limits: Amounts): { key: string; limits: Amounts }[] {
  return op.steps.map((s) => ({ key: `${op.projectId}|${s.region}|${s.platform}`, limits: limitsFor(s.platform, limits) }));
}

/** The objects an operation creates or removes, per placement (`done`: only the steps that changed something). */
export function objectChanges(op: Operation, done = false): ObjectChange[] {
  if (!op.objects) return [];
  return op.steps
    .filter((s) => !done || (s.status === 'SUCCEEDED' && s.changed !== false))
    .map((s) => ({ key: `${op.projectId}|${s.region}|${s.platform}`, amounts: limitsFor(s.platform, op.objects as Amounts) }));
}

interface StepResult {
  nativeId?: string | null;
  undo?: Record<string, unknown> | null;
  /** False when the placement already was as asked. */
  changed?: boolean;
}

/** Records what the undo needs before the step's call (so an unknown outcome can still be undone exactly). */
type Checkpoint = (undo: Record<string, unknown>) => Promise<void>;

/** What each kind of operation does per placement, how it is undone, and what it changes in the index. */
interface Plan {
  forward(op: Operation, step: OperationStep, checkpoint: Checkpoint): Promise<StepResult>;
  /** Absent: the kind cannot be undone and a failure leaves the steps as they are (re-submitting finishes the work). */
  undo?(op: Operation, step: OperationStep): Promise<void>;
  onSucceeded(op: Operation): Promise<void>;
  /** After the undo; `clean` is true when every undo succeeded. */
  onFailed(op: Operation, clean: boolean): Promise<void>;
}

const now = () => new Date().toISOString();

/**
 * Runs operations as sagas across their placements: each step is recorded before and after it runs; when
 * a step fails, the steps that succeeded (or whose outcome is unknown) are undone, so a failed operation
 * leaves nothing behind. Every change is written to KV, so another replica can finish an interrupted one.
 */
export function createSagaRunner(deps: SagaDeps) {
  const { nc, store, log } = deps;

  function call<R extends AdapterContractResource, V extends AdapterContractVerb<R>>(step: OperationStep, resource: R, verb: V, body: AdapterRequest<R, V>): Promise<AdapterReply<R, V>> {
    return requestAdapter(nc, { region: step.region, platform: step.platform }, resource, verb, body, { timeoutMs: deps.adapterTimeoutMs });
  }

  function planFor(op: Operation): Plan {
    const { request } = op;
    switch (request.kind) {
      case 'CREATE_PROJECT': {
        const projectId = op.projectId as string;
        return {
          async forward(_op, step) {
            const res = await call(step, 'project', 'create', { projectId, organization: op.organization, name: request.input.name, description: request.input.description });
            // the organisation's project defaults, already held against its entitlements
            const defaults = op.quotaDefaults ? limitsFor(step.platform, op.quotaDefaults as Amounts) : {};
            if (Object.keys(defaults).length > 0) await call(step, 'quota', 'set', { projectId, limits: defaults });
            return { nativeId: res.placement.nativeId, changed: res.created };
          },
          async undo(_op, step) {
            await call(step, 'project', 'delete', { projectId });
          },
          async onSucceeded() {
            const record = await store.getProject(projectId);
            if (record) await store.putProject({ ...record, state: 'ACTIVE' });
            if (op.quotaDefaults) await deps.ledger.commit(op.organization, op.id, quotaChanges(op, op.quotaDefaults as Amounts));
          },
          async onFailed(_op, clean) {
            if (op.quotaDefaults) await deps.ledger.release(op.organization, op.id);
            if (!clean) return; // the index keeps the project until every placement is gone
            await store.deleteProject(projectId);
            await store.releaseName(op.organization, request.input.name, projectId);
          },
        };
      }
      case 'DELETE_PROJECT': {
        const projectId = request.input.projectId;
        return {
          async forward(_op, step) {
            await call(step, 'project', 'delete', { projectId });
            return {};
          },
          async onSucceeded() {
            const record = await store.getProject(projectId);
            await store.deleteProject(projectId);
            if (record) await store.releaseName(record.organization, record.name, projectId);
            for (const share of record?.shares ?? []) await store.deleteShare(share.organization, projectId);
            await deps.ledger.forgetProject(op.organization, projectId);
          },
          async onFailed() {
            // the record stays DELETING: deleting again finishes the job (every step is idempotent)
          },
        };
      }
      case 'ADD_MEMBER': {
        const { projectId, role } = request.input;
        const { kind, user } = memberOf(request.input);
        return {
          async forward(_op, step) {
            const res = await call(step, 'member', 'add', { projectId, kind, user, organization: op.organization, role });
            return { undo: { previousRole: res.previousRole } };
          },
          async undo(_op, step) {
            const previousRole = (step.undo?.previousRole as ProjectRole | null | undefined) ?? null;
            if (previousRole) await call(step, 'member', 'add', { projectId, kind, user, organization: op.organization, role: previousRole });
            else await call(step, 'member', 'remove', { projectId, kind, user, organization: op.organization });
          },
          onSucceeded: async () => {},
          onFailed: async () => {},
        };
      }
      case 'REMOVE_MEMBER': {
        const { projectId } = request.input;
        const { kind, user } = memberOf(request.input);
        return {
          async forward(_op, step) {
            const res = await call(step, 'member', 'remove', { projectId, kind, user, organization: op.organization });
            return { undo: { previousRole: res.previousRole } };
          },
          async undo(_op, step) {
            const previousRole = (step.undo?.previousRole as ProjectRole | null | undefined) ?? null;
            if (previousRole) await call(step, 'member', 'add', { projectId, kind, user, organization: op.organization, role: previousRole });
          },
          onSucceeded: async () => {},
          onFailed: async () => {},
        };
      }
      case 'CREATE_NETWORK': {
        const { projectId, name, cidr, gatewayIp, dnsNameservers, router } = request.input;
        const networkId = op.resourceId as string;
        return {
          async forward(_op, step) {
            const body = { id: networkId, projectId, name, cidr, gatewayIp: gatewayIp ?? null, dnsNameservers, router: router ? { external: router.external } : null };
            const res = await call(step, 'network', 'create', body);
            return { nativeId: res.network.nativeId, changed: res.created };
          },
          async undo(_op, step) {
            await call(step, 'network', 'delete', { projectId, networkId });
          },
          onSucceeded: async () => {},
          onFailed: async () => {},
        };
      }
      case 'DELETE_NETWORK': {
        const { projectId, networkId } = request.input;
        return {
          async forward(_op, step) {
            const res = await call(step, 'network', 'delete', { projectId, networkId });
            return { changed: res.deleted };
          },
          onSucceeded: async () => {},
          onFailed: async () => {},
        };
      }
      case 'APPLY_ACCESS_RULE': {
        const { projectId } = request.input;
        const rule = fromAccessRuleInput(request.input.rule);
        return {
          async forward(_op, step, checkpoint) {
            // whether the rule was there before decides whether an undo may remove it
            const before = await call(step, 'rule', 'list', { projects: [{ projectId }] });
            await checkpoint({ existedBefore: before.rules.some((r) => r.id === rule.id) });
            const res = await call(step, 'rule', 'apply', { projectId, rule });
            return { nativeId: res.rule.nativeId, changed: res.created, undo: { existedBefore: !res.created } };
          },
          async undo(_op, step) {
            // never remove a rule that was there before this operation (unknown: the step never recorded it, so it never ran)
            if (step.undo?.existedBefore !== false) return;
            await call(step, 'rule', 'remove', { projectId, ruleId: rule.id });
          },
          onSucceeded: async () => {},
          onFailed: async () => {},
        };
      }
      case 'REMOVE_ACCESS_RULE': {
        const { projectId, ruleId } = request.input;
        return {
          async forward(_op, step, checkpoint) {
            const before = await call(step, 'rule', 'list', { projects: [{ projectId }] });
            const found = before.rules.find((r) => r.id === ruleId);
            if (!found) return { changed: false, undo: { rule: null } };
            const { projectId: _p, region: _r, platform: _pl, nativeId: _n, status: _s, ...removed } = found;
            await checkpoint({ rule: removed });
            const res = await call(step, 'rule', 'remove', { projectId, ruleId });
            return { nativeId: found.nativeId, changed: res.removed, undo: { rule: res.rule ?? removed } };
          },
          async undo(_op, step) {
            const removed = (step.undo?.rule as AccessRule | null | undefined) ?? null;
            if (removed) await call(step, 'rule', 'apply', { projectId, rule: removed });
          },
          onSucceeded: async () => {},
          onFailed: async () => {},
        };
      }
      case 'SHARE_PROJECT': {
        const { projectId, partner, level } = request.input;
        return {
          async forward() {
            return {};
          },
          async onSucceeded() {
            const record = await store.getProject(projectId);
            if (!record) return;
            const shares = [...record.shares.filter((s) => s.organization !== partner), { organization: partner, level, since: new Date().toISOString() }];
            await store.putProject({ ...record, shares });
            await store.putShare(partner, { projectId, owner: record.organization, level });
          },
          onFailed: async () => {},
        };
      }
      case 'REVOKE_SHARE': {
        const { projectId, partner } = request.input;
        return {
          // the partner's users and groups lose their roles here (the share itself ended when the operation was recorded)
          async forward(_op, step) {
            const listed = await call(step, 'member', 'list', { projects: [{ projectId }] });
            const theirs = listed.members.filter((m) => m.organization === partner);
            for (const m of theirs) await call(step, 'member', 'remove', { projectId, kind: m.kind, user: m.user, organization: partner });
            return { changed: theirs.length > 0 };
          },
          onSucceeded: async () => {},
          onFailed: async () => {},
        };
      }
      case 'SET_QUOTA': {
        const { projectId, limits } = request.input;
        return {
          async forward(_op, step, checkpoint) {
            const before = await call(step, 'quota', 'get', { projects: [{ projectId }] });
            const current = before.quotas[0]?.limits ?? {};
            const previous: QuotaLimits = {};
            for (const r of Object.keys(limits) as (keyof QuotaLimits)[]) if (limits[r] !== undefined) previous[r] = current[r] ?? null;
            await checkpoint({ previous });
            const res = await call(step, 'quota', 'set', { projectId, limits });
            const changed = Object.entries(res.previous).some(([r, v]) => v !== limits[r as keyof QuotaLimits]);
            return { changed, undo: { previous: res.previous } };
          },
          async undo(_op, step) {
            const previous = step.undo?.previous as QuotaLimits | undefined;
            if (previous && Object.keys(previous).length > 0) await call(step, 'quota', 'set', { projectId, limits: previous });
          },
          // the reservation made when the operation was accepted becomes the allocation, or is freed
          onSucceeded: () => deps.ledger.commit(op.organization, op.id, quotaChanges(op, limits as Amounts)),
          onFailed: () => deps.ledger.release(op.organization, op.id),
        };
      }
    }
  }

  /** Serialises the writes of one operation (steps run in parallel) and renews the owner's lease. */
  function writer(op: Operation) {
    let chain: Promise<unknown> = Promise.resolve();
    return () => {
      op.updatedAt = now();
      op.owner = deps.replicaId;
      op.leaseUntil = Date.now() + deps.leaseMs;
      const snapshot = structuredClone(op);
      chain = chain.then(() => store.putOperation(snapshot));
      return chain;
    };
  }

  async function runForward(op: Operation, plan: Plan, save: () => Promise<unknown>): Promise<void> {
    await Promise.all(
      op.steps.map(async (step) => {
        if (step.status === 'SUCCEEDED') return;
        step.status = 'RUNNING';
        step.startedAt = now();
        await save();
        const checkpoint: Checkpoint = async (undo) => {
          step.undo = undo;
          await save();
        };
        try {
          const result = await plan.forward(op, step, checkpoint);
          step.status = 'SUCCEEDED';
          step.nativeId = result.nativeId ?? step.nativeId;
          step.changed = result.changed ?? null;
          step.undo = result.undo ?? null;
          step.error = null;
        } catch (error) {
          step.status = 'FAILED';
          step.error = toWireError(error);
          if (step.error.code === ErrorCode.INTERNAL) log.error({ err: error, operationId: op.id }, 'step failed');
        }
        step.finishedAt = now();
        await save();
      }),
    );
  }

  /** Undoes the steps that succeeded, and those whose outcome is unknown (a timeout may have done the work). */
  async function compensate(op: Operation, plan: Plan, save: () => Promise<unknown>): Promise<boolean> {
    const undo = plan.undo;
    if (!undo) return false;
    op.status = 'COMPENSATING';
    await save();
    const needsUndo = (s: OperationStep) =>
      s.status === 'SUCCEEDED' || s.status === 'COMPENSATION_FAILED' || (s.status === 'FAILED' && s.error !== null && ambiguousOutcomeCodes.includes(s.error.code as ErrorCode));
    const results = await Promise.all(
      op.steps.filter(needsUndo).map(async (step) => {
        const failedForward = step.status === 'FAILED';
        try {
          await undo(op, step);
          if (!failedForward) step.status = 'COMPENSATED';
          return true;
        } catch (error) {
          step.status = 'COMPENSATION_FAILED';
          step.error = toWireError(error);
          log.warn({ operationId: op.id, region: step.region, code: step.error.code }, 'undo failed; will retry');
          return false;
        } finally {
          step.finishedAt = now();
          await save();
        }
      }),
    );
    return results.every(Boolean);
  }

  function firstError(op: Operation) {
    const failed = op.steps.find((s) => s.status === 'FAILED' && s.error) ?? op.steps.find((s) => s.error);
    return failed?.error ?? { code: ErrorCode.INTERNAL, message: 'the operation failed' };
  }

  /** Writes the terminal record (every earlier save was awaited, so nothing is queued behind it); it carries no lease. */
  async function finish(op: Operation): Promise<void> {
    op.owner = null;
    op.leaseUntil = null;
    op.updatedAt = now();
    await store.putOperation(op);
  }

  /**
   * A failed operation frees what it reserved; a failed removal (negative objects) that did remove some
   * objects still counts those as gone.
   */
  async function releaseObjects(op: Operation): Promise<void> {
    const removed = Object.values(op.objects ?? {}).some((v) => (v ?? 0) < 0);
    if (removed) await deps.ledger.commit(op.organization, op.id, [], objectChanges(op, true));
    else await deps.ledger.release(op.organization, op.id);
  }

  /** Runs (or resumes) an operation to its end. Never rejects: failures end up in the operation. Its log lines carry its id. */
  function run(op: Operation): Promise<Operation> {
    return withContext({ operationId: op.id, organization: op.organization }, () => runOperation(op));
  }

  async function runOperation(op: Operation): Promise<Operation> {
    const plan = planFor(op);
    const save = writer(op);
    try {
      if (op.status === 'PENDING' || op.status === 'RUNNING') {
        op.status = 'RUNNING';
        await save();
        await runForward(op, plan, save);
      }
      if (op.steps.every((s) => s.status === 'SUCCEEDED')) {
        await plan.onSucceeded(op);
        if (op.objects) await deps.ledger.commit(op.organization, op.id, [], objectChanges(op, true));
        op.status = 'SUCCEEDED';
        op.error = null;
      } else {
        op.error = firstError(op);
        const clean = plan.undo ? await compensate(op, plan, save) : false;
        await plan.onFailed(op, clean);
        if (op.objects) await releaseObjects(op);
        op.status = 'FAILED';
      }
      await finish(op);
    } catch (error) {
      // KV unreachable: the lease runs out and another replica (or this one, later) resumes it
      log.error({ err: error, operationId: op.id }, 'operation interrupted');
    }
    return op;
  }

  /** Retries the undo of a failed operation whose undo did not finish. */
  async function retryCompensation(op: Operation): Promise<Operation> {
    const plan = planFor(op);
    const save = writer(op);
    const clean = await compensate(op, plan, save);
    await plan.onFailed(op, clean);
    if (op.objects) await releaseObjects(op);
    op.status = 'FAILED';
    await finish(op);
    return op;
  }

  /**
   * Takes over an operation whose owner stopped renewing its lease: a create or a membership change is
   * rolled back (its caller was told it is running, and the steps in flight are of unknown outcome);
   * a delete (project, network) is driven forward.
   */
  async function resume(op: Operation): Promise<Operation> {
    if (op.kind === 'DELETE_PROJECT' || op.kind === 'DELETE_NETWORK' || op.kind === 'REVOKE_SHARE') {
      op.status = 'RUNNING';
      return run(op);
    }
    for (const step of op.steps) {
      if (step.status === 'RUNNING' || step.status === 'PENDING') {
        step.status = step.status === 'RUNNING' ? 'FAILED' : 'SKIPPED';
        step.error = { code: step.status === 'FAILED' ? ErrorCode.REGION_TIMEOUT : ErrorCode.INTERNAL, message: 'interrupted: the controller replica running it stopped' };
      }
    }
    op.status = 'COMPENSATING';
    return run(op);
  }

  return { run, resume, retryCompensation };
}

export type SagaRunner = ReturnType<typeof createSagaRunner>;

export function isUndoPending(op: Operation): boolean {
  return op.status === 'FAILED' && op.steps.some((s) => s.status === 'COMPENSATION_FAILED');
}
