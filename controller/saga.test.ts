import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { Placement } from '../schema/model.ts';
import type { Operation, OperationStep } from '../schema/operations.ts';
import { memoryContext } from './inMemory.ts';
import type { OperationKindDefinition, Steps } from './kinds/kind.ts';
import { newOperation } from './operations.ts';
import { createSagaRunner, isUndoPending } from './saga.ts';

const log = pino({ level: 'silent' });
const principal = { subject: 'alice', organization: 'acme', orgRole: 'owner' as const, platformAdmin: false };
const three: Placement[] = [
  { region: 'sto', platform: 'openstack' },
  { region: 'osl', platform: 'openstack' },
  { region: 'lla', platform: 'okd' },
];
const P = `prj_${'1'.repeat(26)}`;

/**
 * An in-memory step executor: each region's forward and undo do what the test says and append to one
 * event log, so the order of what the runner did can be read back.
 */
function executor(behaviour: { forward?: Record<string, () => Promise<unknown>>; undo?: Record<string, () => Promise<unknown>> } = {}) {
  const events: string[] = [];
  const steps = (): Steps => ({
    async forward(step: OperationStep) {
      events.push(`forward ${step.region}`);
      await behaviour.forward?.[step.region]?.();
      events.push(`forwarded ${step.region}`);
      return { nativeId: `native-${step.region}`, changed: true, undo: { made: step.region } };
    },
    async undo(step: OperationStep) {
      events.push(`undo ${step.region}`);
      await behaviour.undo?.[step.region]?.();
    },
    async onSucceeded() {
      events.push('succeeded');
    },
    async onFailed(clean) {
      events.push(`failed clean=${clean}`);
    },
  });
  return { events, steps };
}

function runner(
  steps: () => Steps,
  takeover: 'forward' | 'rollback' = 'rollback',
  options: Parameters<typeof memoryContext>[1] & { leaseMs?: number } = {},
) {
  const { ctx, store, ledgerCalls } = memoryContext(async () => {
    throw new Error('no adapter in this test');
  }, options);
  const kind = {
    kind: 'ADD_MEMBER',
    permission: 'member.manage',
    action: 'test.step',
    takeover,
    plan: async () => ({}),
    steps,
  } as unknown as OperationKindDefinition;
  const leaseMs = options.leaseMs ?? 30_000;
  const sagaRunner = createSagaRunner({ ctx, kindOf: () => kind, log, replicaId: 'replica-a', leaseMs });
  const operation = (objects?: Operation['objects']): Operation =>
    newOperation(
      principal,
      { kind: 'ADD_MEMBER', input: { projectId: P, user: 'bob', role: 'member' } },
      { projectId: P, owner: 'acme', placements: three, resourceId: null, objects: objects ?? undefined },
      {
        id: `op_${'2'.repeat(26)}`,
        action: 'test.step',
        requestHash: 'h',
        idempotencyKey: null,
        owner: 'replica-a',
        leaseMs,
      },
    );
  /** The runner's entry points over a record created (or taken over) in the store, answering the operation as it ended. */
  const at = async (op: Operation) => (await store.getOperation(op.id))?.revision ?? (await store.createOperation(op));
  const saga = {
    run: async (op: Operation) => (await sagaRunner.run(op, await at(op))).operation,
    resume: async (op: Operation) => (await sagaRunner.resume(op, await at(op))).operation,
    retryCompensation: async (op: Operation) => (await sagaRunner.retryCompensation(op, await at(op))).operation,
  };
  return { saga, sagaRunner, at, store, ledgerCalls, operation };
}

const statuses = (op: Operation) => op.steps.map((s) => [s.region, s.status]);

describe('saga runner', () => {
  it('runs a step per placement, each recorded before and after it runs, and ends SUCCEEDED without a lease', async () => {
    const { events, steps } = executor();
    const { saga, store, operation } = runner(steps);
    const done = await saga.run(operation());
    expect(done.status).toBe('SUCCEEDED');
    expect(statuses(done)).toEqual([
      ['sto', 'SUCCEEDED'],
      ['osl', 'SUCCEEDED'],
      ['lla', 'SUCCEEDED'],
    ]);
    expect(done.steps.map((s) => s.nativeId)).toEqual(['native-sto', 'native-osl', 'native-lla']);
    expect(events.at(-1)).toBe('succeeded');
    // first write: the record as created (PENDING), then RUNNING; a step is RUNNING in KV before its forward returns; the last write has no owner
    const writes = store.operationWrites;
    expect(writes.map((w) => w.status).slice(0, 2)).toEqual(['PENDING', 'RUNNING']);
    expect(writes.some((w) => w.steps.every((s) => s.status === 'RUNNING'))).toBe(true);
    expect(writes.at(-1)).toMatchObject({ status: 'SUCCEEDED', owner: null, leaseMs: null });
    // every write before it (after the record's creation) is this replica's, with its lease
    expect(writes.slice(1, -1).every((w) => w.owner === 'replica-a' && w.leaseMs === 30_000)).toBe(true);
  });

  it('writes saves made while a write is in flight as one: steps starting together are one write, with the operation RUNNING', async () => {
    const { steps } = executor();
    const { saga, store, operation } = runner(steps);
    const done = await saga.run(operation());
    expect(done.status).toBe('SUCCEEDED');
    const writes = store.operationWrites;
    // the record as created, then every step RUNNING in one write (never a record with some of them still PENDING)
    expect(writes[0]).toMatchObject({ status: 'PENDING' });
    expect(writes[1]?.status).toBe('RUNNING');
    expect(writes[1]?.steps.map((s) => s.status)).toEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    // the three steps end together: their saves share writes too (one save each would be 1 + 1 + 3 + 3 + 1 = 9 writes)
    expect(writes.length).toBeLessThanOrEqual(5);
    expect(writes.at(-1)).toMatchObject({ status: 'SUCCEEDED', owner: null });
  });

  it('undoes what succeeded and what may have happened (a timeout), never a step that failed cleanly, after every forward ended', async () => {
    const { events, steps } = executor({
      forward: {
        osl: async () => {
          throw new InfrafedError(ErrorCode.REGION_TIMEOUT, 'osl did not answer in time');
        },
        lla: async () => {
          throw new InfrafedError(ErrorCode.CONFLICT, 'lla refused');
        },
      },
    });
    const { saga, operation } = runner(steps);
    const done = await saga.run(operation());
    expect(done.status).toBe('FAILED');
    // the undone success is COMPENSATED; the ambiguous step keeps its own failure (and was undone); the clean refusal was left alone
    expect(statuses(done)).toEqual([
      ['sto', 'COMPENSATED'],
      ['osl', 'FAILED'],
      ['lla', 'FAILED'],
    ]);
    expect(done.error).toMatchObject({ code: ErrorCode.REGION_TIMEOUT, message: 'osl did not answer in time' });
    const undos = events.filter((e) => e.startsWith('undo'));
    expect(undos.sort()).toEqual(['undo osl', 'undo sto']);
    // no undo starts before every forward has ended
    const lastForward = Math.max(...events.map((e, i) => (e.startsWith('forward') ? i : -1)));
    expect(events.findIndex((e) => e.startsWith('undo'))).toBeGreaterThan(lastForward);
    expect(events.at(-1)).toBe('failed clean=true');
  });

  it('keeps an undo that failed as COMPENSATION_FAILED, and a later retry finishes it', async () => {
    let undoFails = true;
    const { events, steps } = executor({
      forward: {
        lla: async () => {
          throw new InfrafedError(ErrorCode.QUOTA_EXCEEDED, 'over quota');
        },
      },
      undo: {
        osl: async () => {
          if (undoFails) throw new InfrafedError(ErrorCode.REGION_UNAVAILABLE, 'osl is down');
        },
      },
    });
    const { saga, operation } = runner(steps);
    const failed = await saga.run(operation());
    expect(statuses(failed)).toEqual([
      ['sto', 'COMPENSATED'],
      ['osl', 'COMPENSATION_FAILED'],
      ['lla', 'FAILED'],
    ]);
    expect(isUndoPending(failed)).toBe(true);
    expect(events).toContain('failed clean=false');
    undoFails = false;
    const retried = await saga.retryCompensation(failed);
    expect(statuses(retried)).toEqual([
      ['sto', 'COMPENSATED'],
      ['osl', 'COMPENSATED'],
      ['lla', 'FAILED'],
    ]);
    expect(isUndoPending(retried)).toBe(false);
    // the step already undone is not undone twice
    expect(events.filter((e) => e === 'undo sto')).toHaveLength(1);
  });

  it('rolls back an operation taken over from a stopped replica: the step in flight is undone, the one not started is skipped', async () => {
    const { events, steps } = executor();
    const { saga, operation } = runner(steps, 'rollback');
    const abandoned = operation();
    abandoned.status = 'RUNNING';
    abandoned.steps[0] = { ...(abandoned.steps[0] as OperationStep), status: 'SUCCEEDED' };
    abandoned.steps[1] = { ...(abandoned.steps[1] as OperationStep), status: 'RUNNING' };
    const done = await saga.resume(abandoned);
    expect(done.status).toBe('FAILED');
    expect(statuses(done)).toEqual([
      ['sto', 'COMPENSATED'],
      ['osl', 'FAILED'],
      ['lla', 'SKIPPED'],
    ]);
    expect(done.steps[1]?.error?.code).toBe(ErrorCode.REGION_TIMEOUT);
    expect(done.steps[2]?.error?.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    // the caller is told to retry: infrafed lost a component under it, no region and no input is at fault
    expect(done.error).toMatchObject({ code: ErrorCode.SERVICE_UNAVAILABLE, message: expect.stringContaining('interrupted') });
    expect(events.filter((e) => e.startsWith('forward'))).toEqual([]);
    expect(events.filter((e) => e.startsWith('undo')).sort()).toEqual(['undo osl', 'undo sto']);
  });

  it('says SERVICE_UNAVAILABLE for an operation taken over between steps, and keeps the error of one taken over while it was being undone', async () => {
    const { steps } = executor();
    const { saga, operation } = runner(steps, 'rollback');
    // between steps: nothing in flight (once an INTERNAL, as if infrafed had a defect)
    const between = operation();
    between.status = 'RUNNING';
    between.steps[0] = { ...(between.steps[0] as OperationStep), status: 'SUCCEEDED' };
    const undone = await saga.resume(between);
    expect(undone.status).toBe('FAILED');
    expect(undone.error?.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect(statuses(undone)).toEqual([
      ['sto', 'COMPENSATED'],
      ['osl', 'SKIPPED'],
      ['lla', 'SKIPPED'],
    ]);
    // its owner stopped while undoing a failure of its own: the operation keeps saying why it failed
    const failing = operation();
    failing.status = 'COMPENSATING';
    failing.error = { code: ErrorCode.QUOTA_EXCEEDED, message: 'osl refused' };
    failing.steps[0] = { ...(failing.steps[0] as OperationStep), status: 'SUCCEEDED' };
    failing.steps[1] = {
      ...(failing.steps[1] as OperationStep),
      status: 'FAILED',
      error: { code: ErrorCode.QUOTA_EXCEEDED, message: 'osl refused' },
    };
    failing.steps[2] = { ...(failing.steps[2] as OperationStep), status: 'SKIPPED' };
    const kept = await saga.resume(failing);
    expect(kept.status).toBe('FAILED');
    expect(kept.error).toEqual({ code: ErrorCode.QUOTA_EXCEEDED, message: 'osl refused' });
  });

  it('drives an operation of a forward kind (a delete) to its end when taken over, without redoing finished steps', async () => {
    const { events, steps } = executor();
    const { saga, operation } = runner(steps, 'forward');
    const abandoned = operation();
    abandoned.status = 'RUNNING';
    abandoned.steps[0] = { ...(abandoned.steps[0] as OperationStep), status: 'SUCCEEDED' };
    abandoned.steps[1] = { ...(abandoned.steps[1] as OperationStep), status: 'RUNNING' };
    const done = await saga.resume(abandoned);
    expect(done.status).toBe('SUCCEEDED');
    expect(events.filter((e) => e.startsWith('forward '))).toEqual(['forward osl', 'forward lla']);
  });

  it('commits the objects of the steps that changed something, and releases them when the operation fails', async () => {
    const ok = runner(executor().steps);
    const done = await ok.saga.run(ok.operation({ networks: 1 }));
    expect(ok.ledgerCalls).toEqual([
      {
        call: 'commit',
        id: done.id,
        changes: [],
        objects: three.map((p) => ({ key: `${P}|${p.region}|${p.platform}`, amounts: p.platform === 'okd' ? {} : { networks: 1 } })),
      },
    ]);
    // (OKD has no networks: its placement counts nothing)
    const failing = runner(executor({ forward: { sto: async () => Promise.reject(new InfrafedError(ErrorCode.CONFLICT, 'no')) } }).steps);
    const failed = await failing.saga.run(failing.operation({ networks: 1 }));
    expect(failing.ledgerCalls).toEqual([{ call: 'release', id: failed.id }]);
  });

  it('stops at once when another replica wrote the record (a compare-and-set refused): nothing more is sent, nothing undone', async () => {
    let release: () => void = () => {};
    const { events, steps } = executor({ forward: { sto: () => new Promise<void>((r) => (release = r)) } });
    const { sagaRunner, at, store, operation, ledgerCalls } = runner(steps);
    const op = operation();
    const outcome = sagaRunner.run(op, await at(op));
    await new Promise((r) => setTimeout(r, 20));
    // another replica takes the record over while sto's step is in flight
    const taken = await store.getOperation(op.id);
    await store.updateOperation({ ...(taken?.operation as Operation), owner: 'replica-b' }, taken?.revision as number);
    release();
    const { lost } = await outcome;
    expect(lost).toBe(true);
    expect(events.filter((e) => e.startsWith('undo'))).toEqual([]);
    expect(events).not.toContain('succeeded');
    expect(ledgerCalls).toEqual([]);
    expect((await store.getOperation(op.id))?.operation.owner).toBe('replica-b');
  });

  it('sends nothing once its lease may be gone by its own clock (its writes did not get through for longer than the lease)', async () => {
    const { events, steps } = executor();
    const { sagaRunner, at, store, operation } = runner(steps, 'rollback', { leaseMs: 300 });
    const op = operation();
    const revision = await at(op);
    // JetStream does not answer (a paused replica, or one cut off): every write fails
    store.updateOperation = async () => {
      throw new Error('TIMEOUT');
    };
    const { lost } = await sagaRunner.run(op, revision);
    expect(lost).toBe(true);
    expect(events.filter((e) => e.startsWith('forward'))).toEqual([]);
  });

  it('writes a heartbeat while a step runs and renews the reservation the operation holds', async () => {
    const { steps } = executor({ forward: { sto: () => new Promise((r) => setTimeout(r, 700)) } });
    const { saga, store, operation, ledgerCalls } = runner(steps, 'rollback', { leaseMs: 300, reservationTtlMs: 600 });
    const op = operation({ networks: 1 });
    op.reserved = true;
    const done = await saga.run(op);
    expect(done.status).toBe('SUCCEEDED');
    // sto's step took more than two leases: writes while nothing else changed kept the claim
    const whileSto = store.operationWrites.filter((w) => w.steps[0]?.status === 'RUNNING' && w.steps[1]?.status === 'SUCCEEDED');
    expect(whileSto.length).toBeGreaterThanOrEqual(3);
    expect(ledgerCalls.filter((c) => c.call === 'renew').length).toBeGreaterThanOrEqual(1);
  });

  it('undoes an operation whose reservation expired before it could be committed (RESERVATION_EXPIRED)', async () => {
    const { events, steps } = executor();
    const { saga, operation } = runner(steps, 'rollback', {
      expired: () => new InfrafedError(ErrorCode.RESERVATION_EXPIRED, 'the hold expired'),
    });
    const op = operation({ networks: 1 });
    op.reserved = true;
    const done = await saga.run(op);
    expect(done.status).toBe('FAILED');
    expect(done.error?.code).toBe(ErrorCode.RESERVATION_EXPIRED);
    expect(statuses(done).map(([, s]) => s)).toEqual(['COMPENSATED', 'COMPENSATED', 'COMPENSATED']);
    expect(events).not.toContain('succeeded');
  });
});
