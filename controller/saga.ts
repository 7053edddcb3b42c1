import type { Logger } from 'pino';
import { ambiguousOutcomeCodes, ErrorCode, type InfrafedError } from '../schema/errors.ts';
import type { Operation, OperationStep } from '../schema/operations.ts';
import { toWireError } from '../runtime/nats/wire.ts';
import { withContext } from '../runtime/context.ts';
import type { KindContext, OperationKindDefinition, Steps } from './kinds/kind.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { operationSchema } from '../schema/operations.ts';
import { backoffMs } from './durable.ts';
import { settleObjects } from './reservations.ts';
import type { ControllerStore } from './store.ts';

/** How an operation's run ended: `lost` when this replica stopped owning it before the end. */
export interface SagaOutcome {
  operation: Operation;
  lost: boolean;
}

export interface SagaDeps {
  /** What the kinds' steps use (store, ledger, adapters). */
  ctx: KindContext;
  /** The definition of each kind (`kinds/index.ts`). */
  kindOf(kind: Operation['kind']): OperationKindDefinition;
  log: Logger;
  /** This replica's name, written into the operations it owns. */
  replicaId: string;
  /** How long an owner's claim on an operation lasts without a write, milliseconds. */
  leaseMs: number;
  /**
   * Called when an operation has made its last change, before its end is written: what reads cached before
   * may no longer be true (`runtime/nats/readGeneration.ts`). A failure is logged, never the operation's.
   */
  readsChanged?: () => Promise<void>;
}

const now = () => new Date().toISOString();

/**
 * The replica no longer owns the operation: another replica wrote its record (it took the operation
 * over), or this one went longer than its lease without a confirmed write (it was paused, or cut off
 * from JetStream). It must stop working on the operation at once.
 */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

/** Of its lease, an owner trusts this share as its own (the rest is margin for clocks running at different rates). */
const SELF_TRUST = 2 / 3;

/**
 * One replica's ownership of one operation: every write of the record is a compare-and-set on the
 * revision it last wrote (a write refused means another replica has it: `LeaseLost`), a heartbeat writes
 * the record when nothing else did for a third of the lease (and renews the operation's reservation), and
 * `check()` refuses once the lease may have run out by this host's monotonic clock, measured from when the
 * last confirmed write was sent: a replica paused past its lease finds it lost before it sends anything.
 * Another replica takes over only after seeing the record unchanged for a whole lease by its own clock, so
 * no two hosts' clocks are compared.
 */
export function ownership(deps: SagaDeps, op: Operation, revision: number, claimedAt = performance.now()) {
  const { ctx, log, leaseMs } = deps;
  let rev = revision;
  let trustedUntil = claimedAt + leaseMs * SELF_TRUST;
  let lastSent = claimedAt;
  let lost: LeaseLost | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  let renewedReservationAt = performance.now();

  const check = () => {
    if (!lost && performance.now() > trustedUntil) lost = new LeaseLost(`operation ${op.id}: no confirmed write for longer than its lease`);
    if (lost) throw lost;
  };

  /** One compare-and-set; a write whose answer was lost (JetStream failing over) is resolved by reading the record. */
  async function writeOnce(snapshot: Operation): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      check();
      const sent = performance.now();
      lastSent = sent;
      try {
        const written = await ctx.store.updateOperation(snapshot, rev);
        if (written === null) throw (lost = new LeaseLost(`operation ${op.id}: another replica wrote it`));
        rev = written;
        trustedUntil = sent + leaseMs * SELF_TRUST;
        return;
      } catch (error) {
        if (error instanceof LeaseLost) throw error;
        // unknown outcome: it may have been written
        const landed = await readBackWrite(ctx.store, snapshot, rev);
        if (landed === null) throw (lost = new LeaseLost(`operation ${op.id}: another replica wrote it`));
        if (landed !== undefined) {
          rev = landed;
          trustedUntil = sent + leaseMs * SELF_TRUST;
          return;
        }
        log.warn({ err: error, operationId: op.id, attempt }, 'operation record not written; trying again');
        await sleep(backoffMs(attempt, 100, 2_000));
      }
    }
  }

  /** A write queued behind the one in flight, not yet begun: it will carry every change made until it begins. */
  let queued: Promise<void> | null = null;

  /**
   * Writes the record as it is now (after every write before it); `final`: the terminal record, which
   * carries no owner. Saves made while a write is in flight share the next write (its record is taken when
   * it begins): two steps starting together, or a step ending while another's checkpoint is written, cost
   * one write, not one each.
   */
  function save(final = false): Promise<void> {
    op.updatedAt = now();
    op.owner = final ? null : deps.replicaId;
    op.leaseMs = final ? null : leaseMs;
    if (queued) return queued;
    const next = chain.then(() => {
      queued = null;
      return writeOnce(structuredClone(op));
    });
    queued = next;
    chain = next.catch(() => {});
    return next;
  }

  const heartbeat = setInterval(
    () => {
      if (lost) return;
      if (performance.now() - lastSent >= leaseMs / 3) save().catch(() => {});
      // a reservation lives longer than a lease; it is renewed when a third of its life is gone
      if (op.reserved && performance.now() - renewedReservationAt >= ctx.ledger.reservationTtlMs / 3) {
        renewedReservationAt = performance.now();
        ctx.ledger.renew(op.organization, op.id).catch((error: unknown) => {
          log.warn({ err: error, operationId: op.id }, 'reservation not renewed (the commit will tell)');
        });
      }
    },
    Math.max(50, Math.floor(leaseMs / 6)),
  );
  heartbeat.unref();

  return { save, check, release: () => clearInterval(heartbeat) };
}
export type Ownership = ReturnType<typeof ownership>;

/**
 * After a write of an operation record whose answer was lost (JetStream failing over): its new revision
 * when the stored record is that write, null when another write is there (or the record is gone),
 * undefined when it was not written or cannot be read now (try the write again).
 */
export async function readBackWrite(store: ControllerStore, snapshot: Operation, revision: number): Promise<number | null | undefined> {
  const current = await store.getOperation(snapshot.id).catch(() => undefined);
  if (current === undefined) return undefined;
  if (current === null) return null;
  if (current.revision === revision) return undefined;
  // (both parsed: the same key order)
  return JSON.stringify(operationSchema.parse(current.operation)) === JSON.stringify(operationSchema.parse(snapshot))
    ? current.revision
    : null;
}

/**
 * Steps that must be undone: those that succeeded, whose undo failed before, or whose outcome is unknown
 * (a timeout may have done the work).
 */
export function needsUndo(step: OperationStep): boolean {
  return (
    step.status === 'SUCCEEDED' ||
    step.status === 'COMPENSATION_FAILED' ||
    (step.status === 'FAILED' && step.error !== null && ambiguousOutcomeCodes.includes(step.error.code as ErrorCode))
  );
}

/** The error an operation failed with: its first failed step's. */
export function firstError(op: Operation) {
  const failed = op.steps.find((s) => s.status === 'FAILED' && s.error) ?? op.steps.find((s) => s.error);
  return failed?.error ?? { code: ErrorCode.INTERNAL, message: 'the operation failed' };
}

/**
 * An operation taken over from a replica that stopped: steps in flight have an unknown outcome
 * (REGION_TIMEOUT, so they are undone), steps not started are skipped, and the operation is rolled back.
 * The operation itself fails with SERVICE_UNAVAILABLE (503: retry): infrafed lost a component under it,
 * neither the caller's request nor a region is at fault (an error it already had is kept).
 */
export function markInterrupted(op: Operation): void {
  const message = 'interrupted: the controller replica running it stopped';
  let interrupted = false;
  for (const step of op.steps) {
    if (step.status === 'RUNNING' || step.status === 'PENDING') {
      interrupted = true;
      step.status = step.status === 'RUNNING' ? 'FAILED' : 'SKIPPED';
      step.error = { code: step.status === 'FAILED' ? ErrorCode.REGION_TIMEOUT : ErrorCode.SERVICE_UNAVAILABLE, message };
    }
  }
  if (interrupted || op.status === 'PENDING' || op.status === 'RUNNING') {
    op.error ??= { code: ErrorCode.SERVICE_UNAVAILABLE, message: `${message}; what it had done is undone (retry)` };
  }
  op.status = 'COMPENSATING';
}

export function isUndoPending(op: Operation): boolean {
  return op.status === 'FAILED' && op.steps.some((s) => s.status === 'COMPENSATION_FAILED');
}

/**
 * Runs operations as sagas across their placements: each step is recorded before and after it runs; when
 * a step fails, the steps that succeeded (or whose outcome is unknown) are undone, so a failed operation
 * leaves nothing behind. Every change is written to KV, so another replica can finish an interrupted one.
 * What a step does is its kind's (`kinds/`); the runner knows no kind by name.
 */
export function createSagaRunner(deps: SagaDeps) {
  const { ctx, log } = deps;

  async function runForward(op: Operation, steps: Steps, owned: Ownership): Promise<void> {
    await Promise.all(
      op.steps.map(async (step) => {
        if (step.status === 'SUCCEEDED') return;
        step.status = 'RUNNING';
        step.startedAt = now();
        await owned.save();
        const checkpoint = async (undo: Record<string, unknown>) => {
          step.undo = undo;
          await owned.save();
        };
        try {
          // nothing is sent for a step once the lease may be gone
          owned.check();
          const result = await steps.forward(step, checkpoint);
          step.status = 'SUCCEEDED';
          step.nativeId = result.nativeId ?? step.nativeId;
          step.changed = result.changed ?? null;
          step.undo = result.undo ?? null;
          step.error = null;
        } catch (error) {
          if (error instanceof LeaseLost) throw error;
          step.status = 'FAILED';
          step.error = toWireError(error);
          if (step.error.code === ErrorCode.INTERNAL) log.error({ err: error, operationId: op.id }, 'step failed');
        }
        step.finishedAt = now();
        await owned.save();
      }),
    );
  }

  /** Undoes what needs it (`needsUndo`); true when every undo succeeded. A kind without undo is left as it is. */
  async function compensate(op: Operation, steps: Steps, owned: Ownership): Promise<boolean> {
    const undo = steps.undo;
    if (!undo) return false;
    op.status = 'COMPENSATING';
    await owned.save();
    const results = await Promise.all(
      op.steps.filter(needsUndo).map(async (step) => {
        const failedForward = step.status === 'FAILED';
        owned.check();
        let ok = true;
        try {
          await undo(step);
          if (!failedForward) step.status = 'COMPENSATED';
        } catch (error) {
          step.status = 'COMPENSATION_FAILED';
          step.error = toWireError(error);
          log.warn({ operationId: op.id, region: step.region, code: step.error.code }, 'undo failed; will retry');
          ok = false;
        }
        step.finishedAt = now();
        await owned.save();
        return ok;
      }),
    );
    return results.every(Boolean);
  }

  /** Undoes, lets the kind clean up, frees what was held, and marks the operation FAILED. */
  async function fail(op: Operation, steps: Steps, owned: Ownership): Promise<void> {
    const clean = await compensate(op, steps, owned);
    owned.check();
    await steps.onFailed?.(clean);
    await settleObjects(ctx.ledger, op, false);
    op.status = 'FAILED';
  }

  /**
   * Makes the kind's changes of a finished operation (commit what was held, then the index): when one is
   * refused (the reservation expired), the operation is undone instead.
   */
  async function succeed(op: Operation, steps: Steps, owned: Ownership): Promise<void> {
    try {
      owned.check();
      await settleObjects(ctx.ledger, op, true);
      await steps.onSucceeded?.();
      op.status = 'SUCCEEDED';
      op.error = null;
    } catch (error) {
      if (error instanceof LeaseLost || (error as InfrafedError).code !== ErrorCode.RESERVATION_EXPIRED) throw error;
      log.warn({ operationId: op.id }, 'reservation expired before the commit; undoing the operation');
      op.error = toWireError(error);
      await fail(op, steps, owned);
    }
  }

  /**
   * Runs (or resumes) an operation to its end, owning it from `revision` (the record it created or
   * claimed). Never rejects: failures end up in the operation; `lost` when another replica has it now
   * (this one stopped; what the record says is the other's). Its log lines carry its id.
   */
  function run(op: Operation, revision: number, claimedAt?: number): Promise<SagaOutcome> {
    return withContext({ operationId: op.id, organization: op.organization }, () => runOperation(op, revision, claimedAt));
  }

  async function drive(op: Operation, owned: Ownership, work: (steps: Steps) => Promise<void>): Promise<SagaOutcome> {
    const steps = deps.kindOf(op.kind).steps(ctx, op);
    try {
      await work(steps);
      // before the end is written: a caller who sees the operation finished reads what it changed
      await deps
        .readsChanged?.()
        .catch((error: unknown) =>
          log.warn(
            { err: error, operationId: op.id },
            'cached reads not marked stale: gateways may answer from before this operation until their cache expires',
          ),
        );
      await owned.save(true);
      return { operation: op, lost: false };
    } catch (error) {
      if (error instanceof LeaseLost) log.warn({ operationId: op.id, reason: error.message }, 'lost the operation; stopped');
      // JetStream unreachable for longer than the writes retry: the lease runs out and a replica resumes it
      else log.error({ err: error, operationId: op.id }, 'operation interrupted');
      return { operation: op, lost: true };
    } finally {
      owned.release();
    }
  }

  function runOperation(op: Operation, revision: number, claimedAt?: number): Promise<SagaOutcome> {
    const owned = ownership(deps, op, revision, claimedAt);
    return drive(op, owned, async (steps) => {
      if (op.status === 'PENDING' || op.status === 'RUNNING') {
        // written with the steps' first save (each step is saved RUNNING before it is sent)
        op.status = 'RUNNING';
        await runForward(op, steps, owned);
      }
      if (op.steps.every((s) => s.status === 'SUCCEEDED')) await succeed(op, steps, owned);
      else {
        // a taken-over operation already says why (markInterrupted)
        op.error ??= firstError(op);
        await fail(op, steps, owned);
      }
    });
  }

  /** Retries the undo of a failed operation whose undo did not finish (claimed at `revision`). */
  function retryCompensation(op: Operation, revision: number, claimedAt?: number): Promise<SagaOutcome> {
    const owned = ownership(deps, op, revision, claimedAt);
    return withContext({ operationId: op.id, organization: op.organization }, () =>
      drive(op, owned, async (steps) => {
        op.undoAttempts += 1;
        await fail(op, steps, owned);
      }),
    );
  }

  /**
   * Takes over an operation (claimed at `revision`) whose owner stopped writing it: a kind that rolls
   * back (a create, a membership change: its caller was told it is running, and the steps in flight are
   * of unknown outcome) is undone; a kind that goes forward (a delete) finishes being accepted (the owner
   * may have stopped part way) and is driven to its end.
   */
  async function resume(op: Operation, revision: number, claimedAt?: number): Promise<SagaOutcome> {
    const kind = deps.kindOf(op.kind);
    if (kind.takeover === 'forward') {
      try {
        await kind.accept?.(ctx, op as never);
        op.accepted = true;
      } catch (error) {
        log.error({ err: error, operationId: op.id }, 'could not finish accepting a taken-over operation');
        return { operation: op, lost: true };
      }
      op.status = 'RUNNING';
    } else markInterrupted(op);
    return run(op, revision, claimedAt);
  }

  return { run, resume, retryCompensation };
}

export type SagaRunner = ReturnType<typeof createSagaRunner>;
