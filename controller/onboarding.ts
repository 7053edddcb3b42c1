import type { Logger } from 'pino';
import type { z } from 'zod';
import type { OrgRole } from '../schema/access.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { OperationView } from '../schema/operations.ts';
import type { InvitationView } from '../schema/people.ts';
import { onboardingSchema, type onboardInput } from '../schema/onboarding.ts';
import type { Principal } from '../runtime/auth.ts';
import type { Audit } from './audit.ts';
import type { createEntitlements } from './entitlements.ts';
import type { QuotaLedger } from './ledger.ts';
import type { Operations } from './operations.ts';
import { auditDecision } from './permissions.ts';
import { change, type PeopleStore, type People } from './people.ts';
import type { ControllerStore } from './store.ts';

/**
 * What an onboarding did, recorded before each step (record first, then act): a replica that dies midway
 * leaves a record the sweeper finishes or undoes. Kept under `onboarding.<org>` in the people bucket.
 */
const onboardingRecordSchema = onboardingSchema;
export type OnboardingRecord = z.infer<typeof onboardingRecordSchema>;
const parse = (v: unknown) => onboardingRecordSchema.parse(v);
const key = (organization: string) => `onboarding.${organization}`;

export interface OnboardingDeps {
  store: PeopleStore;
  projects: Pick<ControllerStore, 'ownsProjects'>;
  ledger: Pick<QuotaLedger, 'entitlementsOf' | 'deleteEntitlements'>;
  entitlements: Pick<ReturnType<typeof createEntitlements>, 'set'>;
  people: Pick<People, 'createInvitation' | 'cancelInvitation'>;
  operations: Pick<Operations, 'submit' | 'get'>;
  audit: Audit;
  log: Logger;
  /** How long `onboard` waits for the first project's operation before answering with it still running. */
  waitMs: number;
  /** A running onboarding whose record did not move for this long is finished or undone by the sweeper. */
  staleMs: number;
  now?: () => number;
}

/**
 * Onboarding an organisation in one call (platform operators): its entitlements, the invitation of its
 * first owner and, optionally, a first project in chosen regions. All of it or nothing: a failure at any
 * step (the project's operation failing included, also after the answer) undoes the steps before it.
 */
export function createOnboarding(deps: OnboardingDeps) {
  const { store, log } = deps;
  const now = deps.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();

  const save = (organization: string, patch: Partial<OnboardingRecord>) =>
    change(store, key(organization), parse, (cur) => (cur ? { ...cur, ...patch, updatedAt: iso() } : undefined));

  /** Undoes what the record says was done, newest first; the record ends `failed`. */
  async function undo(record: OnboardingRecord, actor: Principal, error: { code: string; message: string }): Promise<OnboardingRecord> {
    const inOrg: Principal = { ...actor, organization: record.organization, orgRole: 'owner' as OrgRole, platformAdmin: true };
    if (record.invitationId)
      await deps.people.cancelInvitation(inOrg, record.invitationId).catch((e: unknown) => {
        // already answered or gone: an accepted owner invitation of a failed onboarding grants into an unknown organisation
        log.warn({ err: e, organization: record.organization }, 'onboarding undo: the invitation could not be cancelled');
      });
    if (record.entitlementsVersion !== null) await deps.ledger.deleteEntitlements(record.organization, record.entitlementsVersion);
    const saved = (await save(record.organization, { state: 'failed', error })) as OnboardingRecord;
    await auditDecision(deps.audit, actor, {
      organization: record.organization,
      action: 'organization.onboard',
      decision: 'allowed',
      result: 'FAILED',
      reason: `undone: ${error.code} ${error.message}`,
    });
    return saved;
  }

  async function onboard(
    principal: Principal,
    input: z.infer<typeof onboardInput>,
  ): Promise<{ onboarding: OnboardingRecord; invitation: InvitationView | null; secret: string | null; operation: OperationView | null }> {
    if (!principal.platformAdmin) {
      await auditDecision(deps.audit, principal, {
        action: 'organization.onboard',
        decision: 'denied',
        result: ErrorCode.FORBIDDEN,
        reason: input.organization,
      });
      throw new InfrafedError(ErrorCode.FORBIDDEN, 'only platform operators onboard organisations');
    }
    const org = input.organization;
    const known = (await deps.ledger.entitlementsOf(org)).version > 0 || (await deps.projects.ownsProjects(org));
    if (known) throw new InfrafedError(ErrorCode.CONFLICT, `organization ${org} is already known (entitlements set or projects owned)`);
    const started: OnboardingRecord = {
      organization: org,
      state: 'running',
      by: principal.subject,
      startedAt: iso(),
      updatedAt: iso(),
      entitlementsVersion: null,
      invitationId: null,
      operationId: null,
      error: null,
    };
    const existing = await store.get(key(org));
    if (existing && parse(existing.value).state !== 'failed')
      throw new InfrafedError(ErrorCode.CONFLICT, `organization ${org} is being onboarded or was onboarded`);
    if (!(await store.put(key(org), started, existing?.revision ?? 0)))
      throw new InfrafedError(ErrorCode.CONFLICT, `organization ${org} is being onboarded`);
    let record = started;
    try {
      // the version it answers is the one an undo removes (only while still at it)
      const { entitlements } = await deps.entitlements.set(principal, { organization: org, ...input.entitlements, ifVersion: 0 });
      record = (await save(org, { entitlementsVersion: entitlements.version })) ?? record;
      const { invitation, secret } = await deps.people.createInvitation(principal, {
        organization: org,
        scope: { type: 'organization', role: 'owner' },
        email: input.owner.email ?? null,
        invitee: input.owner.subject ?? null,
        ttlSeconds: input.owner.ttlSeconds ?? null,
      });
      record = (await save(org, { invitationId: invitation.id })) ?? record;
      let operation: OperationView | null = null;
      if (input.project) {
        // the project is the new organisation's, made in the operator's name
        const actor: Principal = { subject: principal.subject, organization: org, orgRole: 'owner', platformAdmin: true };
        ({ operation } = await deps.operations.submit(
          actor,
          { kind: 'CREATE_PROJECT', input: { ...input.project, description: input.project.description ?? '' } },
          `onboarding-${org}-${record.startedAt}`,
          deps.waitMs,
        ));
        record = (await save(org, { operationId: operation.id })) ?? record;
        if (operation.status === 'FAILED') {
          const error = {
            code: operation.error?.code ?? ErrorCode.INTERNAL,
            message: operation.error?.message ?? 'the first project failed',
          };
          return { onboarding: await undo(record, principal, error), invitation: null, secret: null, operation };
        }
        if (operation.status !== 'SUCCEEDED') return { onboarding: record, invitation, secret, operation };
      }
      record = (await save(org, { state: 'succeeded' })) ?? record;
      await auditDecision(deps.audit, principal, {
        organization: org,
        action: 'organization.onboard',
        decision: 'allowed',
        result: 'SUCCEEDED',
        reason: `owner invited (${invitation.id})${operation ? `, first project ${operation.projectId}` : ''}`,
      });
      return { onboarding: record, invitation, secret, operation };
    } catch (error) {
      const e = error instanceof InfrafedError ? error : new InfrafedError(ErrorCode.INTERNAL, 'onboarding failed');
      await undo(record, principal, { code: e.code, message: e.message });
      throw error;
    }
  }

  /** Onboardings still running: finished when their project succeeded, undone when it failed or they went stale. */
  async function settle(): Promise<number> {
    let settled = 0;
    for (const k of await store.keys('onboarding.*')) {
      const entry = await store.get(k);
      if (!entry) continue;
      const record = parse(entry.value);
      if (record.state !== 'running') continue;
      const operator: Principal = { subject: record.by, organization: record.organization, orgRole: 'owner', platformAdmin: true };
      const op = record.operationId ? await deps.operations.get(operator, record.operationId) : null;
      if (op?.status === 'SUCCEEDED') {
        await save(record.organization, { state: 'succeeded' });
        settled++;
      } else if (op?.status === 'FAILED') {
        await undo(record, operator, {
          code: op.error?.code ?? ErrorCode.INTERNAL,
          message: op.error?.message ?? 'the first project failed',
        });
        settled++;
      } else if (!op && now() - Date.parse(record.updatedAt) > deps.staleMs) {
        // its replica died between steps
        await undo(record, operator, { code: ErrorCode.INTERNAL, message: 'the onboarding stopped midway' });
        settled++;
      }
    }
    return settled;
  }

  async function get(principal: Principal, organization: string): Promise<OnboardingRecord | null> {
    if (!principal.platformAdmin) throw new InfrafedError(ErrorCode.FORBIDDEN, 'only platform operators read onboardings');
    const entry = await store.get(key(organization));
    return entry ? parse(entry.value) : null;
  }

  return { onboard, settle, get };
}
export type Onboarding = ReturnType<typeof createOnboarding>;
