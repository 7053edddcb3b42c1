import type { NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { Permission } from '../schema/access.ts';
import {
  auditListReply,
  auditListRequest,
  cachedReadsAuditReply,
  cachedReadsAuditRequest,
  readAuditReply,
  readAuditRequest,
  type ReadAuditRequest,
} from '../schema/audit.ts';
import { entitlementGetRequest, entitlementReply, setEntitlementsInput, usageSyncRequest } from '../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { Placement } from '../schema/model.ts';
import {
  getOperationReply,
  getOperationRequest,
  idempotencyKeySchema,
  internalKinds,
  projectResolveReply,
  projectResolveRequest,
  shareListReply,
  shareListRequest,
  submitOperationReply,
  submitOperationRequest,
  operationForGraphql,
  type Operation,
  type ProjectRecord,
  type ShareLevel,
} from '../schema/operations.ts';
import {
  CONTROLLER_QUEUE,
  Header,
  progressSubject,
  CONTROLLER_SERVICE_NAME,
  controllerAuditSubject,
  controllerEntitlementSubject,
  controllerProjectSubject,
  controllerShareSubject,
  controllerPeopleSubject,
  controllerQuotaSubject,
  controllerSubject,
  controllerWebhookSubject,
  PeopleVerb,
  QuotaVerb,
  WebhookVerb,
} from '../schema/subjects.ts';
import type { Principal, ProviderToken, TokenVerifier } from '../runtime/auth.ts';
import {
  createdInvitationReply,
  createInvitationInput,
  createRuleInput,
  invitationCancelInput,
  invitationDecisionInput,
  invitationListInput,
  invitationPageReply,
  invitationReply,
  memberListInput,
  memberPageReply,
  memberReply,
  removeMemberInput,
  ruleIdSchema,
  ruleListReply,
  ruleReply,
  sessionExchangeInput,
  sessionExchangeReply,
  setMemberRoleInput,
} from '../schema/people.ts';
import { z } from 'zod';
import { requestAdapter } from '../runtime/nats/adapterClient.ts';
import { parseUserInput } from '../runtime/problems.ts';
import { endpoint, startService } from '../runtime/nats/service.ts';
import type { Audit } from './audit.ts';
import type { Events } from './events.ts';
import { createEntitlements } from './entitlements.ts';
import { kindOf } from './kinds/index.ts';
import type { KindContext } from './kinds/kind.ts';
import type { QuotaLedger } from './ledger.ts';
import { createOperations } from './operations.ts';
import { authorize, targetOrganization } from './permissions.ts';
import { createPeople, memoryPeopleStore, type PeopleDeps, type PeopleStore } from './people.ts';
import { createSagaRunner } from './saga.ts';
import { createQuotaRequests } from './quotaRequests.ts';
import { createOnboarding } from './onboarding.ts';
import { onboardInput, onboardingSchema, onboardReply } from '../schema/onboarding.ts';
import { createWebhooks, type WebhookOptions } from './webhooks.ts';
import { consumeEvents } from './events.ts';
import {
  createdWebhookReply,
  createWebhookInput,
  deliveryListInput,
  deliveryPageReply,
  deliveryReply,
  webhookIdSchema,
  webhookListReply,
  webhookReply,
} from '../schema/webhooks.ts';
import {
  decideQuotaRequestInput,
  quotaRequestListInput,
  quotaRequestPageReply,
  quotaRequestReply,
  quotaTiersReply,
  requestQuotaTierInput,
  setQuotaTiersInput,
} from '../schema/quotaRequests.ts';
import type { ControllerStore } from './store.ts';
import { ownerOf } from './kinds/kind.ts';
import { encodeJson } from '../runtime/nats/wire.ts';
import type { ReadGeneration } from '../runtime/nats/readGeneration.ts';
import { withinMs } from '../runtime/bounded.ts';

export interface ControllerDeps {
  nc: NatsConnection;
  store: ControllerStore;
  ledger: QuotaLedger;
  audit: Audit;
  /** Events out; absent: none published (tests that do not look at them). */
  events?: Events;
  verifyToken: TokenVerifier;
  /** Members, invitations and sign-in rules; absent: kept in memory (tests that do not look at them). */
  people?: PeopleStore;
  /** Quota tiers and tier requests; absent: kept in memory. */
  requests?: PeopleStore;
  /** Webhooks and their deliveries; absent: kept in memory (and no events are consumed for them). */
  webhooks?: PeopleStore;
  webhookOptions?: WebhookOptions;
  /** Verifies an identity provider's token at sign-in (absent: no identity provider is configured). */
  verifyProviderToken?: (authorization: string | null | undefined) => Promise<ProviderToken>;
  /** Signs sessions, their length, the providers' names, invitations' lengths (defaults: no sessions, 900 s, none, 7 days / 1 hour). */
  sessions?: Partial<Pick<PeopleDeps, 'signSession' | 'sessionTtlSeconds' | 'providers' | 'invitations' | 'now'>>;
  /** The configured placements (region + platform). */
  placements: readonly Placement[];
  log: Logger;
  version: string;
  replicaId: string;
  /** For a read (`get`, `list`, `check`). */
  adapterTimeoutMs: number;
  /** For a change (every other verb); default `adapterTimeoutMs`. */
  adapterWriteTimeoutMs?: number;
  /** Default 30 000. */
  leaseMs?: number;
  /** Where an operation's end marks cached reads stale (absent: nothing is marked; tests without gateways). */
  readGeneration?: ReadGeneration;
  /** How often abandoned operations are looked for, milliseconds; 0 turns the sweeper off. Default 10 000. */
  sweepIntervalMs?: number;
  /** A failed undo is tried again when the operation was last written this long ago, milliseconds. Default 60 000. */
  undoRetryMs?: number;
  /** How often every organisation's usage is synchronised from the platforms, milliseconds; 0 (default) only on request. */
  usageSyncIntervalMs?: number;
}

export interface Controller {
  service: Service;
  /** One pass of the sweeper (resume abandoned operations, retry unfinished undos); for tests and the timer. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/** Runs `task` every `intervalMs` (0: never), one run at a time; returns the stop. */
function every(intervalMs: number, task: () => Promise<unknown>, log: Logger, what: string): () => void {
  if (intervalMs <= 0) return () => {};
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    task()
      .catch((error: unknown) => log.error({ err: error }, `${what} failed`))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  return () => clearInterval(timer);
}

/**
 * The controller: every write passes through it. It authorises (organisation scope), plans, records the
 * operation in JetStream KV before any work starts, runs it as a saga and answers with the outcome, or
 * with the operation still running when `waitMs` passes. What each kind of operation does is in `kinds/`.
 */
/**
 * Every write of an operation's record is announced on `infra.v1.progress.<org>.<id>` (core NATS: live
 * subscribers only) for its organisation and the project's owner: the operation as its organisation reads it.
 */
function withProgress(store: ControllerStore, nc: NatsConnection, log: Logger): ControllerStore {
  const announce = (op: Operation) => {
    // the operation as `operation(id)` answers it: a subscriber sees every state, none merged by a later read
    const target = kindOf(op.kind).target(op as never);
    const message = encodeJson({ operationId: op.id, status: op.status, operation: operationForGraphql({ ...op, target }) });
    try {
      for (const organization of new Set([op.organization, ownerOf(op)])) nc.publish(progressSubject(organization, op.id), message);
    } catch (error) {
      log.warn({ err: error, operationId: op.id }, 'progress not announced');
    }
  };
  return Object.assign(Object.create(store) as ControllerStore, {
    async createOperation(op: Operation) {
      const revision = await store.createOperation(op);
      announce(op);
      return revision;
    },
    async updateOperation(op: Operation, revision: number) {
      const written = await store.updateOperation(op, revision);
      if (written !== null) announce(op);
      return written;
    },
  });
}

/** How many ordinary adapter calls' time a project's delete (with its purge) may take. */
const PURGE_TIMEOUT_FACTOR = 4;
/** The adapter contract's verbs that change nothing (`schema/contracts/adapter.ts`). */
const READ_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'check']);

/**
 * How long a saga's call to an adapter waits: a read (`get`, `list`, a health `check`) `readMs`; a change `writeMs` (several
 * vendor calls in a row); a project's delete, which first removes all the project owns (routers one
 * interface at a time) and so grows with it, the larger of `writeMs` and four reads' worth (the heartbeat
 * keeps the lease meanwhile).
 */
export function stepCallTimeoutMs(resource: string, verb: string, t: { readMs: number; writeMs: number }): number {
  if (READ_VERBS.has(verb)) return t.readMs;
  return resource === 'project' && verb === 'delete' ? Math.max(t.writeMs, t.readMs * PURGE_TIMEOUT_FACTOR) : t.writeMs;
}

export async function createController(deps: ControllerDeps): Promise<Controller> {
  const { log } = deps;
  const store = withProgress(deps.store, deps.nc, log);
  const leaseMs = deps.leaseMs ?? 30_000;
  const timeouts = { readMs: deps.adapterTimeoutMs, writeMs: deps.adapterWriteTimeoutMs ?? deps.adapterTimeoutMs };
  const timeoutOf = (resource: string, verb: string) => stepCallTimeoutMs(resource, verb, timeouts);
  const ctx: KindContext = {
    store,
    ledger: deps.ledger,
    placements: deps.placements,
    call: (placement, resource, verb, body) =>
      requestAdapter(deps.nc, placement, resource, verb, body, { timeoutMs: timeoutOf(resource, verb) }),
    newId: (prefix) => `${prefix}_${ulid().toLowerCase()}`,
  };
  const saga = createSagaRunner({
    ctx,
    kindOf,
    log,
    replicaId: deps.replicaId,
    leaseMs,
    // bounded: a JetStream electing a leader must not hold an operation's end (the caches expire anyway)
    readsChanged: deps.readGeneration && (() => withinMs((deps.readGeneration as ReadGeneration).bump(), Math.min(1_000, leaseMs / 6))),
  });
  const operations = createOperations({
    ctx,
    kindOf,
    saga,
    audit: deps.audit,
    events: deps.events,
    log,
    replicaId: deps.replicaId,
    leaseMs,
    undoRetryMs: deps.undoRetryMs ?? 60_000,
  });
  const entitlements = createEntitlements({ ctx, audit: deps.audit, log });
  const peopleStore = deps.people ?? memoryPeopleStore();
  const people = createPeople({
    store: peopleStore,
    projects: store,
    audit: deps.audit,
    events: deps.events,
    log,
    providers: deps.sessions?.providers ?? [],
    signSession: deps.sessions?.signSession,
    sessionTtlSeconds: deps.sessions?.sessionTtlSeconds ?? 900,
    invitations: deps.sessions?.invitations ?? { ttlSeconds: 7 * 86_400, minTtlSeconds: 3600 },
    now: deps.sessions?.now,
    async submit(principal, request, key) {
      const { operation } = await operations.submit(principal, request, key, 0);
      return operation;
    },
  });
  const quotaRequests = createQuotaRequests({
    store: deps.requests ?? memoryPeopleStore(),
    projects: store,
    audit: deps.audit,
    events: deps.events,
    now: deps.sessions?.now,
    async submit(principal, request, key) {
      const { operation } = await operations.submit(principal, request, key, 0);
      return operation;
    },
  });
  const webhooks = createWebhooks({
    store: deps.webhooks ?? memoryPeopleStore(),
    audit: deps.audit,
    log,
    options: deps.webhookOptions ?? { retrySeconds: [10, 60, 300, 900, 1800, 3600, 3600], allowPrivateTargets: false },
    now: deps.sessions?.now,
  });
  const onboarding = createOnboarding({
    store: peopleStore,
    projects: store,
    ledger: deps.ledger,
    entitlements,
    people,
    operations,
    audit: deps.audit,
    log,
    // within the gateway's budget; a project still running is settled by the sweeper
    waitMs: 5_000,
    staleMs: leaseMs * 2,
    now: deps.sessions?.now,
  });
  type Headers = { get(name: string): string } | undefined;
  /** The caller, its role as its grants say now (a session of a principal no longer a member is refused). */
  /** A read a subgraph (or a gateway's cache) answered, as the principal's event. */
  const recordRead = (principal: Principal, read: ReadAuditRequest) =>
    deps.audit.record({
      principal: principal.subject,
      organization: principal.organization,
      action: `read.${read.subgraph}`,
      kind: read.fields,
      projectId: read.projectId,
      operationId: null,
      placements: [],
      decision: read.decision,
      result: read.result,
      reason: read.reason,
    });
  const principalOf = async (headers: Headers) => people.effective(await deps.verifyToken(headers?.get(Header.authorization)));
  /** The caller as its token says, also one that belongs to no organisation yet (answering invitations). */
  const anyPrincipalOf = (headers: Headers) => deps.verifyToken(headers?.get(Header.authorization));
  const peopleEndpoint = <Q extends z.ZodType, R extends z.ZodType>(
    verb: PeopleVerb,
    request: Q,
    reply: R,
    handle: (req: z.infer<Q>, headers: Headers) => Promise<z.infer<R>>,
  ) =>
    endpoint({
      name: `people-${verb.replace('.', '-')}`,
      subject: controllerPeopleSubject(verb),
      request,
      reply,
      handle: (req, { headers }) => handle(req, headers),
    });

  const service = await startService(
    deps.nc,
    {
      name: CONTROLLER_SERVICE_NAME,
      version: deps.version,
      description: 'infrafed controller: operations, quota and access',
      queue: CONTROLLER_QUEUE,
      log,
      defaultTimeoutMs: 35_000,
    },
    [
      endpoint({
        name: 'operation-submit',
        subject: controllerSubject('submit'),
        request: submitOperationRequest,
        reply: submitOperationReply,
        async handle(req, { headers, deadline }) {
          const principal = await principalOf(headers);
          const key = headers?.get(Header.idempotencyKey) || null;
          // answer before the caller's deadline, whatever waitMs says
          const waitMs = Math.max(0, Math.min(req.waitMs, deadline - Date.now() - 250));
          const projectId = 'projectId' in req.request.input ? req.request.input.projectId : null;
          try {
            if (key !== null) parseUserInput(idempotencyKeySchema, key, 'header.Idempotency-Key');
            if (internalKinds.includes(req.request.kind))
              throw new InfrafedError(
                ErrorCode.FORBIDDEN,
                `${req.request.kind} is started by the controller only (an approved quota request)`,
              );
            // accepted operations are audited when recorded (before their outcome), refusals here
            return await operations.submit(principal, req.request, key, waitMs);
          } catch (error) {
            const e = error instanceof InfrafedError ? error : null;
            await deps.audit.record({
              principal: principal.subject,
              organization: principal.organization,
              action: 'operation.submit',
              kind: req.request.kind,
              projectId,
              operationId: null,
              placements: [],
              decision: 'denied',
              result: e?.code ?? ErrorCode.INTERNAL,
              reason: e?.message ?? 'internal error',
            });
            throw error;
          }
        },
      }),
      endpoint({
        name: 'entitlement-get',
        subject: controllerEntitlementSubject('get'),
        request: entitlementGetRequest,
        reply: entitlementReply,
        handle: async (req, { headers }) => entitlements.get(await principalOf(headers), req.organization),
      }),
      endpoint({
        name: 'entitlement-set',
        subject: controllerEntitlementSubject('set'),
        request: setEntitlementsInput,
        reply: entitlementReply,
        handle: async (req, { headers }) => entitlements.set(await principalOf(headers), req),
      }),
      endpoint({
        name: 'usage-sync',
        subject: controllerEntitlementSubject('sync'),
        request: usageSyncRequest,
        reply: entitlementReply,
        handle: async (req, { headers }) => entitlements.sync(await principalOf(headers), req.organization),
      }),
      endpoint({
        name: 'share-list',
        subject: controllerShareSubject(),
        request: shareListRequest,
        reply: shareListReply,
        async handle(req, { headers }) {
          const principal = await principalOf(headers);
          const sharedWithMe = (await store.listSharedWith(principal.organization)).map((e) => ({
            projectId: e.projectId,
            owner: e.owner,
            level: e.level as ShareLevel,
          }));
          // only the owner sees who else a project is shared with
          const partnersOf = async (projectId: string) => {
            const record = await store.getProject(projectId);
            return record && record.organization === principal.organization ? record.shares : [];
          };
          const ids = [...new Set(req.projectIds ?? [])];
          const partnersByProject = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await partnersOf(id)] as const)));
          return { sharedWithMe, partnersByProject };
        },
      }),
      endpoint({
        name: 'project-resolve',
        subject: controllerProjectSubject(),
        request: projectResolveRequest,
        reply: projectResolveReply,
        async handle(req, { headers }) {
          const principal = await principalOf(headers);
          const records = await Promise.all([...new Set(req.projectIds)].map((id) => store.getProject(id)));
          const mine = (r: ProjectRecord) =>
            r.organization === principal.organization || r.shares.some((s) => s.organization === principal.organization);
          const visible = records.filter((r): r is ProjectRecord => r !== null && mine(r));
          return {
            projects: visible.map((r) => ({
              projectId: r.projectId,
              organization: r.organization,
              placements: r.placements,
              quotaVersions: r.quotaVersions,
            })),
          };
        },
      }),
      endpoint({
        name: 'audit-read',
        subject: controllerAuditSubject('read'),
        request: readAuditRequest,
        reply: readAuditReply,
        async handle(req, { headers }) {
          await recordRead(await principalOf(headers), req);
          return {};
        },
      }),
      endpoint({
        name: 'audit-reads',
        subject: controllerAuditSubject('reads'),
        request: cachedReadsAuditRequest,
        reply: cachedReadsAuditReply,
        async handle(req) {
          // each read under its own token's principal: one verification per token of the batch
          let recorded = 0;
          await Promise.all(
            [...Map.groupBy(req.reads, (r) => r.authorization)].map(async ([authorization, reads]) => {
              let principal: Principal;
              try {
                principal = await people.effective(await deps.verifyToken(authorization));
              } catch (error) {
                log.warn({ err: error, reads: reads.length }, 'cached reads not recorded: their token does not verify');
                return;
              }
              await Promise.all(reads.map(({ read }) => recordRead(principal, read)));
              recorded += reads.length;
            }),
          );
          return { recorded };
        },
      }),
      endpoint({
        name: 'audit-list',
        subject: controllerAuditSubject(),
        request: auditListRequest,
        reply: auditListReply,
        async handle(req, { headers }) {
          const principal = await principalOf(headers);
          const organization = await targetOrganization(deps.audit, principal, req.organization, 'audit.list');
          if (!principal.platformAdmin) authorize(principal, Permission.readAudit);
          return deps.audit.list(organization, req);
        },
      }),
      peopleEndpoint(PeopleVerb.memberList, memberListInput, memberPageReply, async (req, h) =>
        people.listMembers(await principalOf(h), req),
      ),
      peopleEndpoint(PeopleVerb.memberSet, setMemberRoleInput, memberReply, async (req, h) => people.setMember(await principalOf(h), req)),
      peopleEndpoint(PeopleVerb.memberRemove, removeMemberInput, memberReply, async (req, h) =>
        people.removeMember(await principalOf(h), req),
      ),
      peopleEndpoint(PeopleVerb.invitationCreate, createInvitationInput, createdInvitationReply, async (req, h) =>
        people.createInvitation(await principalOf(h), req),
      ),
      peopleEndpoint(PeopleVerb.invitationList, invitationListInput, invitationPageReply, async (req, h) =>
        people.listInvitations(await principalOf(h), req),
      ),
      peopleEndpoint(PeopleVerb.invitationCancel, invitationCancelInput, invitationReply, async (req, h) =>
        people.cancelInvitation(await principalOf(h), req.id),
      ),
      peopleEndpoint(PeopleVerb.invitationAccept, invitationDecisionInput, invitationReply, async (req, h) =>
        people.acceptInvitation(await anyPrincipalOf(h), req.id, req.secret),
      ),
      peopleEndpoint(PeopleVerb.invitationDecline, invitationDecisionInput, invitationReply, async (req, h) =>
        people.declineInvitation(await anyPrincipalOf(h), req.id, req.secret),
      ),
      peopleEndpoint(PeopleVerb.ruleCreate, createRuleInput, ruleReply, async (req, h) => people.createRule(await principalOf(h), req)),
      peopleEndpoint(PeopleVerb.ruleList, z.object({}), ruleListReply, async (_req, h) => people.listRules(await principalOf(h))),
      peopleEndpoint(PeopleVerb.ruleDelete, z.object({ id: ruleIdSchema }), ruleReply, async (req, h) =>
        people.deleteRule(await principalOf(h), req.id),
      ),
      peopleEndpoint(PeopleVerb.onboard, onboardInput, onboardReply, async (req, h) => {
        const principal = await principalOf(h);
        // the first project's operation is waited for within the caller's deadline
        return onboarding.onboard(principal, req);
      }),
      peopleEndpoint(
        PeopleVerb.onboarding,
        z.object({ organization: z.string() }),
        z.object({ onboarding: onboardingSchema.nullable() }),
        async (req, h) => ({
          onboarding: await onboarding.get(await principalOf(h), req.organization),
        }),
      ),
      peopleEndpoint(PeopleVerb.session, sessionExchangeInput, sessionExchangeReply, async (req, h) => {
        if (!deps.verifyProviderToken) throw new InfrafedError(ErrorCode.UNAUTHENTICATED, 'no identity provider is configured');
        return people.session(await deps.verifyProviderToken(h?.get(Header.authorization)), req.organization ?? null);
      }),
      endpoint({
        name: 'quota-tiers-get',
        subject: controllerQuotaSubject(QuotaVerb.tiersGet),
        request: z.object({}),
        reply: quotaTiersReply,
        async handle(_req, { headers }) {
          await principalOf(headers);
          return quotaRequests.tiers();
        },
      }),
      endpoint({
        name: 'quota-tiers-set',
        subject: controllerQuotaSubject(QuotaVerb.tiersSet),
        request: setQuotaTiersInput,
        reply: quotaTiersReply,
        handle: async (req, { headers }) => quotaRequests.setTiers(await principalOf(headers), req.tiers),
      }),
      endpoint({
        name: 'quota-request-create',
        subject: controllerQuotaSubject(QuotaVerb.request),
        request: requestQuotaTierInput,
        reply: quotaRequestReply,
        handle: async (req, { headers }) => quotaRequests.request(await principalOf(headers), req),
      }),
      endpoint({
        name: 'quota-request-decide',
        subject: controllerQuotaSubject(QuotaVerb.decide),
        request: decideQuotaRequestInput,
        reply: quotaRequestReply,
        handle: async (req, { headers }) => quotaRequests.decide(await principalOf(headers), req.id, req.approve, req.reason ?? null),
      }),
      endpoint({
        name: 'quota-request-list',
        subject: controllerQuotaSubject(QuotaVerb.list),
        request: quotaRequestListInput,
        reply: quotaRequestPageReply,
        handle: async (req, { headers }) => quotaRequests.list(await principalOf(headers), req),
      }),
      endpoint({
        name: 'webhook-create',
        subject: controllerWebhookSubject(WebhookVerb.create),
        request: createWebhookInput,
        reply: createdWebhookReply,
        handle: async (req, { headers }) => webhooks.create(await principalOf(headers), req),
      }),
      endpoint({
        name: 'webhook-list',
        subject: controllerWebhookSubject(WebhookVerb.list),
        request: z.object({}),
        reply: webhookListReply,
        handle: async (_req, { headers }) => webhooks.list(await principalOf(headers)),
      }),
      endpoint({
        name: 'webhook-delete',
        subject: controllerWebhookSubject(WebhookVerb.delete),
        request: z.object({ id: webhookIdSchema }),
        reply: webhookReply,
        handle: async (req, { headers }) => webhooks.remove(await principalOf(headers), req.id),
      }),
      endpoint({
        name: 'webhook-test',
        subject: controllerWebhookSubject(WebhookVerb.test),
        request: z.object({ id: webhookIdSchema }),
        reply: deliveryReply,
        handle: async (req, { headers }) => webhooks.test(await principalOf(headers), req.id),
      }),
      endpoint({
        name: 'webhook-deliveries',
        subject: controllerWebhookSubject(WebhookVerb.deliveries),
        request: deliveryListInput,
        reply: deliveryPageReply,
        handle: async (req, { headers }) => webhooks.deliveries(await principalOf(headers), req),
      }),
      endpoint({
        name: 'operation-get',
        subject: controllerSubject('get'),
        request: getOperationRequest,
        reply: getOperationReply,
        handle: async (req, { headers }) => ({ operation: await operations.get(await principalOf(headers), req.id) }),
      }),
    ],
  );

  const stopSweeper = every(
    deps.sweepIntervalMs ?? 10_000,
    async () => {
      await operations.sweep();
      await onboarding.settle();
    },
    log,
    'sweep',
  );
  // webhooks: every event of the stream (once across replicas), and the retries that came due
  const stopConsuming = deps.events && deps.webhooks ? await consumeEvents(deps.nc, webhooks.handleEvent, log) : async () => {};
  // a replica times the retries it scheduled itself; this pass (a key listing) finds those a stopped one left
  const stopRetries = every(deps.webhooks ? 30_000 : 0, webhooks.retryDue, log, 'webhook retries');
  // invitations that expired pending are told once (`invitation.expired`), within a minute (or the shortest invitation)
  const expiryScanMs = Math.min(60, deps.sessions?.invitations?.minTtlSeconds ?? 60) * 1000;
  const stopExpiries = every(deps.events ? expiryScanMs : 0, people.publishExpired, log, 'invitation expiries');
  const stopUsageSync = every(deps.usageSyncIntervalMs ?? 0, entitlements.syncAll, log, 'usage sync');

  return {
    service,
    sweep: operations.sweep,
    async stop() {
      stopSweeper();
      stopUsageSync();
      stopRetries();
      stopExpiries();
      webhooks.stop();
      await stopConsuming();
      await service.stop();
      // let operations in flight finish (bounded by their adapter timeouts)
      await operations.settled();
    },
  };
}
