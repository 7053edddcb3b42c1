import type { Logger } from 'pino';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { isActive, terminalStatuses, type Operation, type OperationRequest, type OperationView } from '../schema/operations.ts';
import { backoffMs } from './durable.ts';
import type { Principal } from '../runtime/auth.ts';
import type { Audit } from './audit.ts';
import type { Events } from './events.ts';
import { ownerOf, type KindContext, type OperationKindDefinition, type PlannedOperation } from './kinds/kind.ts';
import { authorize } from './permissions.ts';
import { isUndoPending, readBackWrite, type SagaOutcome, type SagaRunner } from './saga.ts';
import { sha256 } from './store.ts';
import { isUnavailable } from '../runtime/nats/wire.ts';

export interface OperationsDeps {
  ctx: KindContext;
  kindOf(kind: OperationRequest['kind']): OperationKindDefinition;
  saga: SagaRunner;
  audit: Audit;
  /** Events out (CloudEvents on `infra.v1.events.<org>.…`); absent: none published. */
  events?: Events;
  log: Logger;
  replicaId: string;
  leaseMs: number;
  /**
   * A failed undo is tried again once the record has been seen unchanged this long, milliseconds; each
   * further attempt waits twice as long (at most an hour).
   */
  undoRetryMs: number;
}

/**
 * The kind's own answer to the request (a name taken, over an entitlement, …): nothing of it is left
 * done. Anything else (a store or JetStream that did not answer, a bug) may have left part of it done.
 */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof InfrafedError &&
    error.code !== ErrorCode.SERVICE_UNAVAILABLE &&
    error.code !== ErrorCode.INTERNAL &&
    !isUnavailable(error.cause)
  );
}

/** Tries to save a record as accepted while JetStream does not answer (up to about 15 s with the back-off). */
const ACCEPT_WRITE_ATTEMPTS = 8;

/** Undo retries one replica runs at once (taking over an abandoned operation is never held back). */
const MAX_UNDO_RETRIES = 4;

/** A new operation record: one PENDING step per planned placement, owned by this replica for a lease. */
export function newOperation(
  principal: Principal,
  request: OperationRequest,
  planned: PlannedOperation,
  ids: { id: string; action: string; requestHash: string; idempotencyKey: string | null; owner: string; leaseMs: number },
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
    leaseMs: ids.leaseMs,
    quotaDefaults: null,
    objects: planned.objects ?? null,
    accepted: false,
    reserved: false,
    undoAttempts: 0,
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
  /** What the sweeper saw of each active operation: its revision, and since when (this host's monotonic clock). */
  const seen = new Map<string, { revision: number; since: number }>();
  /** The undo retries running in this replica (at most `MAX_UNDO_RETRIES`). */
  const retrying = new Set<string>();

  /** What the operation is about (its kind derives it from the request and, for a removal, the steps). */
  const targetOf = (op: Operation) => deps.kindOf(op.kind).target(op as never);
  /** An operation as callers see it: the record and its target. */
  const view = (op: Operation): OperationView => ({ ...op, target: targetOf(op) });

  /**
   * An event of an operation in its organisation's log, and in the owning organisation's too when a
   * partner acts on a project shared with it (naming the partner as the principal's organisation).
   */
  async function auditOperation(op: Operation, action: string, result: string, reason: string | null): Promise<void> {
    const event = {
      principal: op.principal,
      organization: op.organization,
      action,
      kind: op.kind,
      projectId: op.projectId,
      operationId: op.id,
      placements: placementsOfOp(op),
      decision: 'allowed' as const,
      result,
      reason,
      target: targetOf(op),
    };
    const owner = ownerOf(op);
    // sent in this order before either is acknowledged (see `start`)
    await Promise.all([
      deps.audit.record(event),
      owner !== op.organization ? deps.audit.record({ ...event, organization: owner, principalOrganization: op.organization }) : undefined,
    ]);
  }

  /** `operation.succeeded` / `operation.failed` for its organisation, and for the project's owner when a partner acted. */
  async function publishOutcome(op: Operation): Promise<void> {
    if (!deps.events) return;
    const owner = ownerOf(op);
    const data = (principalOrganization: string | null) => ({
      operationId: op.id,
      kind: op.kind,
      status: op.status,
      projectId: op.projectId,
      principal: op.principal,
      principalOrganization,
      target: targetOf(op),
      placements: placementsOfOp(op),
      error: op.error ? { code: op.error.code, message: op.error.message } : null,
    });
    const type = op.status === 'SUCCEEDED' ? 'operation.succeeded' : 'operation.failed';
    await deps.events.publish(op.organization, type, op.id, data(null));
    if (owner !== op.organization) await deps.events.publish(owner, type, op.id, data(op.organization));
  }

  function start(op: Operation, work: Promise<SagaOutcome>): Promise<Operation> {
    const p = work
      .then(async ({ operation: done, lost }) => {
        // lost: another replica has it, and reports its end
        if (!lost && terminalStatuses.includes(done.status)) {
          // the operation's end, and the outcome for what it was about (the member, the network…), sent
          // together: one NATS connection delivers them to JetStream in this order (each `record` and
          // `publish` sends before its first await), so the log keeps it without waiting for each ack in turn
          await Promise.all([
            auditOperation(done, 'operation.finished', done.status, done.error?.message ?? null),
            auditOperation(done, deps.kindOf(done.kind).action, done.status, done.error?.message ?? null),
            publishOutcome(done),
          ]);
        }
        return lost ? ((await store.getOperation(done.id))?.operation ?? done) : done;
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

  /** A replay of an Idempotency-Key: the first operation (refused when the body differs). */
  async function replay(existing: Operation, requestHash: string, waitMs: number): Promise<{ operation: Operation; replayed: boolean }> {
    // the first request is still being accepted (or refused, and its record about to go): not handed out yet
    if (!existing.accepted && !terminalStatuses.includes(existing.status)) {
      throw new InfrafedError(ErrorCode.CONFLICT, 'a request with this Idempotency-Key is still being accepted; retry shortly');
    }
    if (existing.requestHash !== requestHash) {
      throw new InfrafedError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'this Idempotency-Key was used with another request', {
        operationId: existing.id,
      });
    }
    return { operation: await waitFor(existing, waitMs), replayed: true };
  }

  /**
   * Saves the accepted record: its new revision (and when the write that made it was sent: the lease
   * counts from there), null when another replica took it over, or the error
   * when its outcome stays unknown. A write whose answer was lost (a JetStream leader changing) may have
   * landed: the record is read back, and adopted when it is this write.
   */
  async function markAccepted(op: Operation, revision: number): Promise<{ revision: number; sentAt: number } | null | Error> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < ACCEPT_WRITE_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt - 1, 200, 3_000));
      const sentAt = performance.now();
      try {
        const written = await store.updateOperation(op, revision);
        return written === null ? null : { revision: written, sentAt };
      } catch (error) {
        lastError = error;
        log.warn({ err: error, operationId: op.id, attempt }, 'accepted record not confirmed; reading it back');
        const landed = await readBackWrite(store, op, revision);
        if (landed === undefined) continue; // not written, or unreadable now: write again
        return landed === null ? null : { revision: landed, sentAt };
      }
    }
    return lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /**
   * Record first, then act: the operation is recorded before anything it owns is changed (the key
   * claimed, the index changed, the entitlements held), so every effect has a record that a replica
   * taking over can finish or undo. A request refused while being accepted removes its record again.
   */
  async function submit(
    principal: Principal,
    request: OperationRequest,
    idempotencyKey: string | null,
    waitMs: number,
  ): Promise<{ operation: Operation; replayed: boolean }> {
    const kind = deps.kindOf(request.kind);
    authorize(principal, kind.permission);
    const requestHash = sha256(JSON.stringify(request));
    // a replay finds the first operation before anything is planned again (a replayed delete of a project that is gone)
    if (idempotencyKey) {
      const existingId = await store.findIdempotencyKey(principal.organization, idempotencyKey);
      const existing = existingId ? await store.getOperation(existingId) : null;
      if (existing) return replay(existing.operation, requestHash, waitMs);
      // a key whose operation is gone was a refused request's (its record removed, the release lost): free
      if (existingId) await store.releaseIdempotencyKey(principal.organization, idempotencyKey, existingId);
    }
    const planned = await kind.plan(ctx, principal, request);
    const op = newOperation(principal, request, planned, {
      id: ctx.newId('op'),
      action: kind.action,
      requestHash,
      idempotencyKey,
      owner: deps.replicaId,
      leaseMs: deps.leaseMs,
    });
    let revision = await store.createOperation(op);
    // from here every failure removes the record (or, if this replica dies, a sweeper undoes what it owns)
    if (idempotencyKey) {
      let winner: string | null;
      try {
        winner = await store.claimIdempotencyKey(principal.organization, idempotencyKey, op.id);
      } catch (error) {
        // the claim's outcome is unknown: the record goes, and the key if it is this operation's
        await store.deleteOperation(op.id, revision).catch(() => {});
        await store.releaseIdempotencyKey(principal.organization, idempotencyKey, op.id).catch(() => {});
        throw error;
      }
      if (winner) {
        // the same request raced this one: the first to claim the key is the operation
        await store.deleteOperation(op.id, revision);
        const first = await store.getOperation(winner);
        if (!first) throw new InfrafedError(ErrorCode.CONFLICT, 'a request with this Idempotency-Key is being handled; retry shortly');
        return replay(first.operation, requestHash, waitMs);
      }
    }
    try {
      await kind.accept?.(ctx, op as never);
    } catch (error) {
      // failed part way (the store or JetStream did not answer): what the kind had done by then (a project
      // name claimed, the project indexed, a hold) has this record as its only trace, so the record stays
      // with its key, and a sweeper rolls it back once its lease passes (the kind's onFailed undoes each
      // of those, a no-op where not done); a replay of the key is "still being accepted" until then, and
      // is the undone operation after. Removing the record here once left a claimed name behind for good.
      if (!isRefusal(error)) throw error;
      // refused: the record goes, then its key (a record that could not be removed keeps its key: a
      // sweeper rolls it back, and a replay answers with it)
      const removed = await store.deleteOperation(op.id, revision).then(
        () => true,
        () => false,
      );
      if (removed && idempotencyKey) await store.releaseIdempotencyKey(principal.organization, idempotencyKey, op.id).catch(() => {});
      throw error;
    }
    op.accepted = true;
    const accepted = await markAccepted(op, revision);
    // taken over (or the write's outcome still unknown): the record and its key stay; whoever holds the
    // record finishes or undoes it, and a replay of the key answers with it
    if (accepted === null) throw new InfrafedError(ErrorCode.CONFLICT, 'the operation was taken over while it was accepted; retry');
    if (accepted instanceof Error) throw accepted;
    revision = accepted.revision;
    log.info(
      { operationId: op.id, kind: op.kind, organization: op.organization, principal: op.principal, projectId: op.projectId },
      'operation accepted',
    );
    // the submit event is sent before the saga begins (so it comes before the operation's end in the
    // log), and acknowledged while the saga runs
    const audited = auditOperation(op, 'operation.submit', 'accepted', null);
    void start(op, deps.saga.run(op, revision, accepted.sentAt));
    await audited;
    return { operation: await waitFor(op, waitMs), replayed: false };
  }

  /**
   * One pass: takes over operations whose owner stopped writing them, and retries undos that failed.
   * An owner is gone when this replica has seen its record unchanged for a whole lease (its own clock:
   * the owner's clock is never read); a failed undo is retried after a pause that doubles each attempt.
   */
  async function sweep(): Promise<number> {
    let taken = 0;
    const ids = await store.listActiveOperationIds();
    for (const id of seen.keys()) if (!ids.includes(id)) seen.delete(id);
    // only the operations still in work: the finished ones (the history) are never read here
    for (const id of ids) {
      if (running.has(id)) continue;
      const found = await store.getOperation(id);
      if (!found || !isActive(found.operation)) {
        // finished (its marker outlived it), or gone with its history; a marker without a record may be a
        // record being written: it goes once it has been seen that way for a lease
        const quiet = observe(id, found?.revision ?? 0);
        if (found || quiet >= deps.leaseMs) await store.unmarkActive(id);
        continue;
      }
      const { operation: op, revision } = found;
      const quiet = observe(id, revision);
      const abandoned = !terminalStatuses.includes(op.status) && quiet >= (op.leaseMs ?? deps.leaseMs);
      const undoDue = isUndoPending(op) && quiet >= undoPause(op);
      if (!abandoned && !undoDue) continue;
      // undos owed after an outage are retried a few at a time (a herd of cleanups would time out together)
      if (!abandoned && retrying.size >= MAX_UNDO_RETRIES) continue;
      // claim it with compare-and-set: of several sweeping replicas, one wins
      const claimed: Operation = { ...op, owner: deps.replicaId, leaseMs: deps.leaseMs, updatedAt: new Date().toISOString() };
      const claimedAt = performance.now();
      const claimedRevision = await store.updateOperation(claimed, revision);
      if (claimedRevision === null) continue;
      taken++;
      log.warn(
        { operationId: id, status: op.status, previousOwner: op.owner, unchangedMs: Math.round(quiet) },
        abandoned ? 'resuming abandoned operation' : 'retrying unfinished undo',
      );
      if (abandoned) void start(claimed, deps.saga.resume(claimed, claimedRevision, claimedAt));
      else {
        retrying.add(id);
        void start(claimed, deps.saga.retryCompensation(claimed, claimedRevision, claimedAt)).finally(() => retrying.delete(id));
      }
    }
    return taken;
  }

  /**
   * The pause before an undo is tried again: `undoRetryMs`, doubled each attempt (at most an hour), with a
   * jitter of up to a half fixed per operation, so operations that failed together do not retry together.
   */
  function undoPause(op: Operation): number {
    const base = Math.min(3_600_000, deps.undoRetryMs * 2 ** op.undoAttempts);
    const spread = (Number.parseInt(sha256(`${op.id}:${op.undoAttempts}`).slice(0, 8), 16) / 0xffffffff) * 0.5;
    return base * (1 + spread);
  }

  /** How long (ms) this replica has seen the operation at this revision. */
  function observe(id: string, revision: number): number {
    const at = seen.get(id);
    if (at?.revision === revision) return performance.now() - at.since;
    seen.set(id, { revision, since: performance.now() });
    return 0;
  }

  /** The operation, to its own organisation only. */
  async function get(principal: Principal, id: string): Promise<Operation | null> {
    const found = await store.getOperation(id);
    return found && found.operation.organization === principal.organization ? found.operation : null;
  }

  return {
    submit: async (...args: Parameters<typeof submit>) => {
      const { operation, replayed } = await submit(...args);
      return { operation: view(operation), replayed };
    },
    get: async (principal: Principal, id: string) => {
      const found = await get(principal, id);
      return found && view(found);
    },
    sweep,
    /** Operations in flight in this replica finish (bounded by their adapter timeouts). */
    settled: () => Promise.allSettled([...running.values()]),
  };
}

export type Operations = ReturnType<typeof createOperations>;
