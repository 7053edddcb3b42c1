import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { Operation, OperationRequest } from '../schema/operations.ts';
import type { Audit } from './audit.ts';
import type { Events } from './events.ts';
import { memoryContext } from './inMemory.ts';
import type { OperationKindDefinition, Steps } from './kinds/kind.ts';
import { createOperations } from './operations.ts';
import { createSagaRunner } from './saga.ts';

const log = pino({ level: 'silent' });
const principal = { subject: 'alice', organization: 'acme', orgRole: 'owner' as const, platformAdmin: false };
const P = `prj_${'1'.repeat(26)}`;
const request: OperationRequest = { kind: 'ADD_MEMBER', input: { projectId: P, user: 'bob', role: 'member' } } as OperationRequest;

/** `submit` over the in-memory store, with a kind whose acceptance and steps do what the test says. */
function operations(accept: () => Promise<void> = async () => {}, owner = 'acme', leaseMs = 30_000) {
  const { ctx, store } = memoryContext(async () => {
    throw new Error('no adapter in this test');
  });
  const forwarded: string[] = [];
  /** Each call of the kind's onFailed, with whether every placement was left clean. */
  const failed: boolean[] = [];
  const steps = (): Steps => ({
    async forward(step) {
      forwarded.push(step.region);
      return { nativeId: `native-${step.region}`, changed: true, undo: {} };
    },
    async undo() {},
    async onSucceeded() {},
    async onFailed(clean) {
      failed.push(clean);
    },
  });
  const kind = {
    kind: 'ADD_MEMBER',
    permission: 'member.manage',
    action: 'test.step',
    takeover: 'rollback',
    plan: async () => ({ projectId: P, owner, placements: ctx.placements.slice(0, 2), resourceId: null }),
    accept,
    steps,
    target: () => ({ type: 'user', id: 'bob', role: 'member' }),
  } as unknown as OperationKindDefinition;
  const saga = createSagaRunner({ ctx, kindOf: () => kind, log, replicaId: 'replica-a', leaseMs });
  const audit = { record: async () => {} } as unknown as Audit;
  const published: { organization: string; type: string; subject: string | null; data: Record<string, unknown> }[] = [];
  const events = {
    publish: async (organization: string, type: string, subject: string | null, data: Record<string, unknown>) =>
      void published.push({ organization, type, subject, data }),
  } as unknown as Events;
  const ops = createOperations({ ctx, kindOf: () => kind, saga, audit, events, log, replicaId: 'replica-a', leaseMs, undoRetryMs: 60_000 });
  return { ops, store, forwarded, published, failed };
}

describe('operations: accepting a request', () => {
  it('adopts the accepted record when the write landed but its answer was lost (a JetStream leader changing), and keeps its key', async () => {
    const { ops, store, forwarded } = operations();
    const update = store.updateOperation.bind(store);
    let lostAnswers = 0;
    store.updateOperation = async (op: Operation, revision: number) => {
      const written = await update(op, revision);
      if (op.accepted && op.status === 'PENDING' && lostAnswers === 0) {
        lostAnswers++;
        throw new Error('TIMEOUT'); // written, answer lost
      }
      return written;
    };
    const { operation, replayed } = await ops.submit(principal, request, 'key-1', 5_000);
    expect(lostAnswers).toBe(1);
    expect(replayed).toBe(false);
    expect(operation.status).toBe('SUCCEEDED');
    expect(forwarded.sort()).toEqual(['osl', 'sto']);
    // the key still names it: a retry of the request is answered with this operation, not run again
    expect(await store.findIdempotencyKey('acme', 'key-1')).toBe(operation.id);
    const again = await ops.submit(principal, request, 'key-1', 5_000);
    expect(again).toEqual({ operation: expect.objectContaining({ id: operation.id, status: 'SUCCEEDED' }), replayed: true });
    expect(forwarded).toHaveLength(2);
  });

  it('writes the accepted record again when the first write did not land', async () => {
    const { ops, store } = operations();
    const update = store.updateOperation.bind(store);
    let refused = 0;
    store.updateOperation = async (op: Operation, revision: number) => {
      if (op.accepted && op.status === 'PENDING' && refused < 2) {
        refused++;
        throw new Error('TIMEOUT'); // not written
      }
      return update(op, revision);
    };
    const { operation } = await ops.submit(principal, request, 'key-2', 5_000);
    expect(refused).toBe(2);
    expect(operation.status).toBe('SUCCEEDED');
    expect(await store.findIdempotencyKey('acme', 'key-2')).toBe(operation.id);
  });

  it('answers CONFLICT and leaves record and key to the replica that took the record over while it was accepted', async () => {
    const { ops, store, forwarded } = operations();
    const update = store.updateOperation.bind(store);
    store.updateOperation = async (op: Operation, revision: number) => {
      if (op.accepted && op.status === 'PENDING' && op.owner === 'replica-a') {
        // a sweeper wrote it first (its own write), then this replica's answer is lost
        await update({ ...op, owner: 'replica-b' }, revision);
        throw new Error('TIMEOUT');
      }
      return update(op, revision);
    };
    await expect(ops.submit(principal, request, 'key-3', 5_000)).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    const id = await store.findIdempotencyKey('acme', 'key-3');
    expect(id).not.toBeNull();
    expect((await store.getOperation(id as string))?.operation.owner).toBe('replica-b');
    expect(forwarded).toEqual([]);
  });

  it('removes the record and frees the key of a request its kind refused', async () => {
    const { ops, store } = operations(async () => {
      throw new InfrafedError(ErrorCode.QUOTA_EXCEEDED, 'over the entitlement');
    });
    await expect(ops.submit(principal, request, 'key-4', 5_000)).rejects.toMatchObject({ code: ErrorCode.QUOTA_EXCEEDED });
    expect(await store.findIdempotencyKey('acme', 'key-4')).toBeNull();
    expect(await store.listOperationIds()).toEqual([]);
  });

  it('keeps the record and its key when the kind failed part way (the store did not answer), for a sweeper to roll back', async () => {
    // the kind had claimed something (a project name) when the store stopped answering: only the record knows
    const { ops, store, forwarded, failed } = operations(
      async () => {
        throw new Error('TIMEOUT');
      },
      'acme',
      20,
    );
    await expect(ops.submit(principal, request, 'key-5', 5_000)).rejects.toThrow('TIMEOUT');
    const id = (await store.findIdempotencyKey('acme', 'key-5')) as string;
    expect(await store.listOperationIds()).toEqual([id]);
    // a replay meanwhile: still being accepted, never a second operation
    await expect(ops.submit(principal, request, 'key-5', 5_000)).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    expect(await store.listOperationIds()).toEqual([id]);
    // a lease without a write later, a sweeper takes it over and rolls it back: the kind's onFailed runs
    await ops.sweep();
    await new Promise((r) => setTimeout(r, 40));
    expect(await ops.sweep()).toBe(1);
    await ops.settled();
    expect((await store.getOperation(id))?.operation.status).toBe('FAILED');
    expect(failed).toEqual([true]);
    expect(forwarded).toEqual([]);
    // and the key answers with it
    expect(await ops.submit(principal, request, 'key-5', 5_000)).toMatchObject({ replayed: true, operation: { id, status: 'FAILED' } });
  });

  it("publishes the outcome to the organisation's events, and to the owner's too when a partner acted on its project", async () => {
    const { ops, published } = operations(async () => {}, 'initech');
    const { operation } = await ops.submit(principal, request, null, 5_000);
    expect(operation.status).toBe('SUCCEEDED');
    expect(published.map((e) => [e.organization, e.type, e.subject, e.data.principalOrganization])).toEqual([
      ['acme', 'operation.succeeded', operation.id, null],
      ['initech', 'operation.succeeded', operation.id, 'acme'],
    ]);
  });
});
