import type { Logger } from 'pino';
import { ambiguousOutcomeCodes, ErrorCode } from '../schema/errors.ts';
import type { Operation, OperationStep } from '../schema/operations.ts';
import { toWireError } from '../runtime/nats/wire.ts';
import { withContext } from '../runtime/context.ts';
import type { KindContext, OperationKindDefinition, Steps } from './kinds/kind.ts';
import { settleObjects } from './reservations.ts';

export interface SagaDeps {
  /** What the kinds' steps use (store, ledger, adapters). */
  ctx: KindContext;
  /** The definition of each kind (`kinds/index.ts`). */
  kindOf(kind: Operation['kind']): OperationKindDefinition;
  log: Logger;
  /** This replica's name, written into the operations it owns. */
  replicaId: string;
  /** How long an owner's claim on an operation lasts without renewal, milliseconds. */
  leaseMs: number;
}

const now = () => new Date().toISOString();

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
 */
export function markInterrupted(op: Operation): void {
  for (const step of op.steps) {
    if (step.status === 'RUNNING' || step.status === 'PENDING') {
      step.status = step.status === 'RUNNING' ? 'FAILED' : 'SKIPPED';
      step.error = {
        code: step.status === 'FAILED' ? ErrorCode.REGION_TIMEOUT : ErrorCode.INTERNAL,
        message: 'interrupted: the controller replica running it stopped',
      };
    }
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

  /** Serialises the writes of one operation (steps run in parallel) and renews the owner's lease. */
  function writer(op: Operation) {
    let chain: Promise<unknown> = Promise.resolve();
    return () => {
      op.updatedAt = now();
      op.owner = deps.replicaId;
      op.leaseUntil = Date.now() + deps.leaseMs;
      const snapshot = structuredClone(op);
      chain = chain.then(() => ctx.store.putOperation(snapshot));
      return chain;
    };
  }

  async function runForward(op: Operation, steps: Steps, save: () => Promise<unknown>): Promise<void> {
    await Promise.all(
      op.steps.map(async (step) => {
        if (step.status === 'SUCCEEDED') return;
        step.status = 'RUNNING';
        step.startedAt = now();
        await save();
        const checkpoint = async (undo: Record<string, unknown>) => {
          step.undo = undo;
          await save();
        };
        try {
          const result = await steps.forward(step, checkpoint);
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

  /** Undoes what needs it (`needsUndo`); true when every undo succeeded. A kind without undo is left as it is. */
  async function compensate(op: Operation, steps: Steps, save: () => Promise<unknown>): Promise<boolean> {
    const undo = steps.undo;
    if (!undo) return false;
    op.status = 'COMPENSATING';
    await save();
    const results = await Promise.all(
      op.steps.filter(needsUndo).map(async (step) => {
        const failedForward = step.status === 'FAILED';
        try {
          await undo(step);
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

  /** Undoes, lets the kind clean up, frees what was held, and marks the operation FAILED. */
  async function fail(op: Operation, steps: Steps, save: () => Promise<unknown>): Promise<void> {
    const clean = await compensate(op, steps, save);
    await steps.onFailed?.(clean);
    await settleObjects(ctx.ledger, op, false);
    op.status = 'FAILED';
  }

  /** Writes the terminal record (every earlier save was awaited, so nothing is queued behind it); it carries no lease. */
  async function finish(op: Operation): Promise<void> {
    op.owner = null;
    op.leaseUntil = null;
    op.updatedAt = now();
    await ctx.store.putOperation(op);
  }

  /** Runs (or resumes) an operation to its end. Never rejects: failures end up in the operation. Its log lines carry its id. */
  function run(op: Operation): Promise<Operation> {
    return withContext({ operationId: op.id, organization: op.organization }, () => runOperation(op));
  }

  async function runOperation(op: Operation): Promise<Operation> {
    const steps = deps.kindOf(op.kind).steps(ctx, op);
    const save = writer(op);
    try {
      if (op.status === 'PENDING' || op.status === 'RUNNING') {
        op.status = 'RUNNING';
        await save();
        await runForward(op, steps, save);
      }
      if (op.steps.every((s) => s.status === 'SUCCEEDED')) {
        await steps.onSucceeded?.();
        await settleObjects(ctx.ledger, op, true);
        op.status = 'SUCCEEDED';
        op.error = null;
      } else {
        op.error = firstError(op);
        await fail(op, steps, save);
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
    const steps = deps.kindOf(op.kind).steps(ctx, op);
    await fail(op, steps, writer(op));
    await finish(op);
    return op;
  }

  /**
   * Takes over an operation whose owner stopped renewing its lease: a kind that rolls back (a create, a
   * membership change: its caller was told it is running, and the steps in flight are of unknown outcome)
   * is undone; a kind that goes forward (a delete) is driven to its end.
   */
  async function resume(op: Operation): Promise<Operation> {
    if (deps.kindOf(op.kind).takeover === 'forward') op.status = 'RUNNING';
    else markInterrupted(op);
    return run(op);
  }

  return { run, resume, retryCompensation };
}

export type SagaRunner = ReturnType<typeof createSagaRunner>;
