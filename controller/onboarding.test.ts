import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { OperationView } from '../schema/operations.ts';
import type { Principal } from '../runtime/auth.ts';
import type { Audit } from './audit.ts';
import { refusal } from './inMemory.ts';
import { createOnboarding } from './onboarding.ts';
import { createPeople, memoryPeopleStore } from './people.ts';

const log = pino({ level: 'silent' });
const operator: Principal = { subject: 'ops', organization: 'infrafed', orgRole: 'reader', platformAdmin: true };
const audit = { record: async () => {} } as unknown as Audit;

/** An onboarding over memory stores; the first project's operation answers what `outcome` says. */
function setup(outcome: { submit: OperationView | InfrafedError; later?: OperationView }) {
  let clock = Date.parse('2026-11-29T12:00:00Z');
  const store = memoryPeopleStore();
  const entitlements = new Map<string, number>();
  const people = createPeople({
    store,
    projects: { getProject: async () => null },
    audit,
    log,
    providers: [],
    submit: async () => ({}) as OperationView,
    sessionTtlSeconds: 900,
    invitations: { ttlSeconds: 3600, minTtlSeconds: 60 },
    now: () => clock,
  });
  const onboarding = createOnboarding({
    store,
    projects: { ownsProjects: async () => false },
    ledger: {
      entitlementsOf: async (org) => ({ version: entitlements.get(org) ?? 0 }) as never,
      async deleteEntitlements(org, version) {
        if (entitlements.get(org) === version) entitlements.delete(org);
      },
    },
    entitlements: {
      async set(_p, req) {
        if ((req.ifVersion ?? 0) !== (entitlements.get(req.organization) ?? 0))
          throw new InfrafedError(ErrorCode.PRECONDITION_FAILED, 'moved');
        entitlements.set(req.organization, 7);
        return { entitlements: { version: 7 } } as never;
      },
    },
    people,
    operations: {
      async submit() {
        if (outcome.submit instanceof InfrafedError) throw outcome.submit;
        return { operation: outcome.submit, replayed: false };
      },
      get: async () => outcome.later ?? null,
    },
    audit,
    log,
    waitMs: 0,
    staleMs: 60_000,
    now: () => clock,
  });
  return { onboarding, people, entitlements, store, advance: (ms: number) => (clock += ms) };
}
const op = (status: string) =>
  ({
    id: `op_${'1'.repeat(26)}`,
    status,
    projectId: `prj_${'1'.repeat(26)}`,
    error: status === 'FAILED' ? { code: 'UPSTREAM_ERROR', message: 'lla failed' } : null,
  }) as unknown as OperationView;
const input = {
  organization: 'newlab',
  entitlements: { total: {}, regions: [], platforms: [], projectDefaults: {} },
  owner: { email: 'pi@newlab.example' },
  project: { name: 'first', placements: [{ region: 'lla', platform: 'okd' as const }] },
};

describe('onboarding: all of it or nothing', () => {
  it('sets entitlements, invites the owner, runs the first project, and refuses a second onboarding', async () => {
    const { onboarding, entitlements, people } = setup({ submit: op('SUCCEEDED') });
    const result = await onboarding.onboard(operator, input);
    expect(result.onboarding).toMatchObject({ state: 'succeeded', entitlementsVersion: 7, invitationId: expect.stringMatching(/^inv_/) });
    expect(result.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(entitlements.get('newlab')).toBe(7);
    const inOrg = { ...operator, organization: 'newlab', orgRole: 'owner' as const };
    expect((await people.listInvitations(inOrg, {})).invitations.map((i) => [i.status, i.scope.role])).toEqual([['pending', 'owner']]);
    expect((await refusal(onboarding.onboard(operator, input))).code).toBe(ErrorCode.CONFLICT);
    expect((await refusal(onboarding.onboard({ ...operator, platformAdmin: false }, { ...input, organization: 'other' }))).code).toBe(
      ErrorCode.FORBIDDEN,
    );
  });

  it('undoes the entitlements and the invitation when the first project is refused, and may run again', async () => {
    const refused = new InfrafedError(ErrorCode.QUOTA_EXCEEDED, 'cores: 8 asked, 4 entitled');
    const outcome: { submit: OperationView | InfrafedError } = { submit: refused };
    const { onboarding, entitlements, people } = setup(outcome);
    expect((await refusal(onboarding.onboard(operator, input))).code).toBe(ErrorCode.QUOTA_EXCEEDED);
    expect(entitlements.has('newlab')).toBe(false);
    const inOrg = { ...operator, organization: 'newlab', orgRole: 'owner' as const };
    expect((await people.listInvitations(inOrg, {})).invitations.map((i) => i.status)).toEqual(['cancelled']);
    expect(await onboarding.get(operator, 'newlab')).toMatchObject({ state: 'failed', error: { code: 'QUOTA_EXCEEDED' } });
    outcome.submit = op('SUCCEEDED');
    expect((await onboarding.onboard(operator, input)).onboarding.state).toBe('succeeded');
  });

  it('settles one whose project was still running: undone when it fails later', async () => {
    const outcome: { submit: OperationView; later?: OperationView } = { submit: op('RUNNING') };
    const { onboarding, entitlements } = setup(outcome);
    const result = await onboarding.onboard(operator, input);
    expect(result.onboarding.state).toBe('running');
    expect(await onboarding.settle()).toBe(0);
    outcome.later = op('FAILED');
    expect(await onboarding.settle()).toBe(1);
    expect(await onboarding.get(operator, 'newlab')).toMatchObject({ state: 'failed', error: { code: 'UPSTREAM_ERROR' } });
    expect(entitlements.has('newlab')).toBe(false);
  });

  it('undoes one whose replica stopped midway (no operation, the record unchanged for longer than staleMs)', async () => {
    const { onboarding, entitlements, store, advance } = setup({ submit: op('RUNNING') });
    await onboarding.onboard(operator, { ...input, project: null });
    // as a replica that died after the entitlements leaves it: running, no operation
    const entry = await store.get('onboarding.newlab');
    await store.put('onboarding.newlab', { ...(entry?.value as object), state: 'running', invitationId: null }, entry?.revision ?? 0);
    expect(await onboarding.settle()).toBe(0);
    advance(61_000);
    expect(await onboarding.settle()).toBe(1);
    expect(await onboarding.get(operator, 'newlab')).toMatchObject({
      state: 'failed',
      error: { message: 'the onboarding stopped midway' },
    });
    expect(entitlements.has('newlab')).toBe(false);
  });
});
