import type { Logger } from 'pino';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { isActive, terminalStatuses, type Operation, type OperationRequest } from '../schema/operations.ts';
import type { Principal } from '../runtime/auth.ts';
import type { Audit } from './audit.ts';
import type { KindContext, OperationKindDefinition, PlannedOperation } from './kinds/kind.ts';
import { authorize } from './permissions.ts';
import { isUndoPending, type SagaRunner } from './saga.ts';
import { sha256 } from './store.ts';

export interface OperationsDeps {
  ctx: KindContext;
  kindOf(kind: OperationRequest['kind']): OperationKindDefinition;
  saga: SagaRunner;
  audit: Audit;
  log: Logger;
  replicaId: string;
  leaseMs: number;
  /** A failed undo is tried again when the operation was last written this long ago, milliseconds. */
  undoRetryMs: number;
}

/** A new operation record: one PENDING step per planned placement, owned by this replica for a lease. */
export function newOperation(
  principal: Principal,
  request: OperationRequest,
  planned: PlannedOperation,
  ids: { id: string; action: string; requestHash: string; idempotencyKey: string | null; owner: string; leaseUntil: number },
): Operation {
  const at = new Date().toISOString();
  return {
    id: ids.id,
    kind: request.kind,
    status: 'PENDING',
    organization: principal.organization,
    principal: principal.subject,
    projectId: planned.projectId,
    resourceId: planned.resourceId,
    projectOwner: planned.owner,
    request,
    requestHash: ids.requestHash,
    idempotencyKey: ids.idempotencyKey,
    steps: planned.placements.map((p) => ({
      region: p.region,
      platform: p.platform,
      action: ids.action,
      status: 'PENDING',
      nativeId: null,
      changed: null,
      error: null,
      undo: null,
      startedAt: null,
      finishedAt: null,
    })),
    error: null,
    createdAt: at,
    updatedAt: at,
    owner: ids.owner,
    leaseUntil: ids.leaseUntil,
    quotaDefaults: null,
    objects: planned.objects ?? null,
  };
}

const placementsOfOp = (op: Operation) => op.steps.map((s) => `${s.region}/${s.platform}`);

/**
 * Operations: accepting a request (authorise, plan, idempotency, the kind's index changes and holds,
 * record, audit), running it, waiting for it, and taking over those another replica abandoned.
 */
export function createOperations(deps: OperationsDeps) {
  const { ctx, log } = deps;
  const { store } = ctx;
  const running = new Map<string, Promise<Operation>>();

  function start(op: Operation, work: (op: Operation) => Promise<Operation>): Promise<Operation> {
    const p = work(op)
      .then(async (done) => {
        if (terminalStatuses.includes(done.status)) {
          await deps.audit.record({
            principal: done.principal,
            organization: done.organization,
            action: 'operation.finished',
            kind: done.kind,
            projectId: done.projectId,
            operationId: done.id,
            placements: placementsOfOp(done),
            decision: 'allowed',
            result: done.status,
            reason: done.error?.message ?? null,
          });
        }
        return done;
      })
      .finally(() => running.delete(op.id));
    running.set(op.id, p);
    return p;
  }

  /** The operation's outcome, or the operation as it is when `waitMs` passes. */
  async function waitFor(op: Operation, waitMs: number): Promise<Operation> {
    const work = running.get(op.id);
    if (!work) return op;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Operation>((resolve) => {
      timer = setTimeout(() => resolve(structuredClone(op)), waitMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function submit(
    principal: Principal,
    request: OperationRequest,
    idempotencyKey: string | null,
    waitMs: number,
  ): Promise<{ operation: Operation; replayed: boolean }> {
    const kind = deps.kindOf(request.kind);
    authorize(principal, kind.permission);
    const requestHash = sha256(JSON.stringify(request));
    const id = ctx.newId('op');
    // the key is claimed before anything is planned: a replay finds the first operation even when the
    // request could not be planned again (a replayed delete of a project that is gone)
    if (idempotencyKey) {
      const existingId = await store.claimIdempotencyKey(principal.organization, idempotencyKey, id);
      if (existingId) {
        const existing = await store.getOperation(existingId);
        if (!existing)
          throw new InfrafedError(ErrorCode.CONFLICT, 'a request with this Idempotency-Key is still being recorded; retry shortly');
        if (existing.operation.requestHash !== requestHash) {
          throw new InfrafedError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'this Idempotency-Key was used with another request', {
            operationId: existingId,
          });
        }
        return { operation: await waitFor(existing.operation, waitMs), replayed: true };
      }
    }
    let op: Operation;
    try {
      const planned = await kind.plan(ctx, principal, request);
      op = newOperation(principal, request, planned, {
        id,
        action: kind.action,
        requestHash,
        idempotencyKey,
        owner: deps.replicaId,
        leaseUntil: Date.now() + deps.leaseMs,
      });
      await record(kind, op);
    } catch (error) {
      // nothing was recorded under the key: a retry with it must not find a dangling claim
      if (idempotencyKey) await store.releaseIdempotencyKey(principal.organization, idempotencyKey, id);
      throw error;
    }
    void start(op, deps.saga.run);
    return { operation: await waitFor(op, waitMs), replayed: false };
  }

  /** The kind's index changes and holds, then the record: a crash from here on is resumed by another replica's sweeper. */
  async function record(kind: OperationKindDefinition, op: Operation): Promise<void> {
    const { reserved } = (await kind.accept?.(ctx, op)) ?? { reserved: false };
    try {
      await store.createOperation(op);
    } catch (error) {
      if (reserved) await ctx.ledger.release(op.organization, op.id);
      throw error;
    }
    log.info(
      { operationId: op.id, kind: op.kind, organization: op.organization, principal: op.principal, projectId: op.projectId },
      'operation accepted',
    );
    await deps.audit.record({
      principal: op.principal,
      organization: op.organization,
      action: 'operation.submit',
      kind: op.kind,
      projectId: op.projectId,
      operationId: op.id,
      placements: placementsOfOp(op),
      decision: 'allowed',
      result: 'accepted',
      reason: null,
    });
  }

  /** One pass: takes over operations whose owner's lease ran out, and retries undos that failed. */
  async function sweep(): Promise<number> {
    let taken = 0;
    // only the operations still in work: the finished ones (the history) are never read here
    for (const id of await store.listActiveOperationIds()) {
      if (running.has(id)) continue;
      const found = await store.getOperation(id);
      if (!found || !isActive(found.operation)) {
        // finished (its marker outlived it), or gone with its history, or never recorded: the marker goes
        // (one without a record only once it is older than a lease: its record may be being written)
        await store.unmarkActive(id, found ? 0 : deps.leaseMs);
        continue;
      }
      const { operation: op, revision } = found;
      const abandoned = !terminalStatuses.includes(op.status) && (op.leaseUntil ?? 0) < Date.now();
      const undoDue = isUndoPending(op) && Date.now() - Date.parse(op.updatedAt) >= deps.undoRetryMs;
      if (!abandoned && !undoDue) continue;
      // claim it with compare-and-set: of several sweeping replicas, one wins
      const claimed = { ...op, owner: deps.replicaId, leaseUntil: Date.now() + deps.leaseMs };
      if ((await store.updateOperation(claimed, revision)) === null) continue;
      taken++;
      log.warn(
        { operationId: id, status: op.status, previousOwner: op.owner },
        abandoned ? 'resuming abandoned operation' : 'retrying unfinished undo',
      );
      void start(claimed, abandoned ? deps.saga.resume : deps.saga.retryCompensation);
    }
    return taken;
  }

  /** The operation, to its own organisation only. */
  async function get(principal: Principal, id: string): Promise<Operation | null> {
    const found = await store.getOperation(id);
    return found && found.operation.organization === principal.organization ? found.operation : null;
  }

  return {
    submit,
    get,
    sweep,
    /** Operations in flight in this replica finish (bounded by their adapter timeouts). */
    settled: () => Promise.allSettled([...running.values()]),
  };
}

export type Operations = ReturnType<typeof createOperations>;
