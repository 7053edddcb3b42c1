import type { NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { can, ownerOnlyPermissions, Permission, permissionForOperation, weaker, weakestRoleWith } from '../schema/access.ts';
import { auditListReply, auditListRequest } from '../schema/audit.ts';
import { entitlementGetRequest, entitlementReply, setEntitlementsInput, usageSyncRequest, type Amounts } from '../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { Network } from '../schema/contracts/network.ts';
import { placementKey, type Placement } from '../schema/model.ts';
import { fromAccessRuleInput } from '../schema/network.ts';
import {
  getOperationReply,
  getOperationRequest,
  placementProblems,
  submitOperationReply,
  submitOperationRequest,
  terminalStatuses,
  type Operation,
  type OperationRequest,
  type OperationStep,
  type ProjectRecord,
  type ShareLevel,
  shareListReply,
  shareListRequest,
} from '../schema/operations.ts';
import { CONTROLLER_QUEUE, Header, CONTROLLER_SERVICE_NAME, controllerAuditSubject, controllerEntitlementSubject, controllerShareSubject, controllerSubject } from '../schema/subjects.ts';
import type { Principal, TokenVerifier } from '../runtime/auth.ts';
import { requestAdapter } from '../runtime/nats/adapterClient.ts';
import { fanOut } from '../runtime/nats/request.ts';
import { endpoint, startService } from '../runtime/nats/service.ts';
import { badUserInput } from '../runtime/problems.ts';
import type { Audit } from './audit.ts';
import type { QuotaLedger } from './ledger.ts';
import { remainingOf } from './ledger.ts';
import { createSagaRunner, isUndoPending, objectChanges, quotaChanges } from './saga.ts';
import { sha256, type ControllerStore } from './store.ts';

export interface ControllerDeps {
  nc: NatsConnection;
  store: ControllerStore;
  ledger: QuotaLedger;
  audit: Audit;
  verifyToken: TokenVerifier;
  /** The configured placements (region + platform). */
  placements: readonly Placement[];
  log: Logger;
  version: string;
  replicaId: string;
  adapterTimeoutMs: number;
  /** Default 30 000. */
  leaseMs?: number;
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

const newId = (prefix: string) => `${prefix}_${ulid().toLowerCase()}`;

/**
 * The controller: every write passes through it. It authorises (organisation scope), checks placements,
 * records the operation in JetStream KV before any work starts, runs it as a saga and answers with the
 * outcome, or with the operation still running when `waitMs` passes.
 */
export async function createController(deps: ControllerDeps): Promise<Controller> {
  const { store, log } = deps;
  const leaseMs = deps.leaseMs ?? 30_000;
  const saga = createSagaRunner({ nc: deps.nc, store, log, replicaId: deps.replicaId, adapterTimeoutMs: deps.adapterTimeoutMs, leaseMs, ledger: deps.ledger });
  const running = new Map<string, Promise<Operation>>();

  const placementsOfOp = (op: Operation) => op.steps.map((s) => `${s.region}/${s.platform}`);

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

  /** FORBIDDEN unless the principal's organisation role has the permission. */
  function authorize(principal: Principal, permission: Permission): void {
    if (can(principal.orgRole, permission)) return;
    throw new InfrafedError(
      ErrorCode.FORBIDDEN,
      `your organisation role ${principal.orgRole} lacks the permission ${permission} (role ${weakestRoleWith(permission)} or above has it)`,
      { permission, role: principal.orgRole },
    );
  }

  /**
   * The caller's project, ready for changes. A partner organisation the project is shared with may act on
   * it within its share level (and never on quotas, the project itself, its partners or its audit);
   * to anyone else it is indistinguishable from a missing one.
   */
  async function activeProject(principal: Principal, projectId: string, kind: OperationRequest['kind']): Promise<ProjectRecord> {
    const record = await store.getProject(projectId);
    const share = record?.shares.find((s) => s.organization === principal.organization);
    if (!record || (record.organization !== principal.organization && !share)) throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${projectId} not found`);
    if (share && record.organization !== principal.organization) {
      const permission = permissionForOperation[kind];
      const effective = weaker(principal.orgRole, share.level);
      if (ownerOnlyPermissions.includes(permission) || !can(effective, permission)) {
        throw new InfrafedError(
          ErrorCode.FORBIDDEN,
          `project ${projectId} is shared with ${principal.organization} at level ${share.level}: ${ownerOnlyPermissions.includes(permission) ? 'only its owner' : `level ${weakestRoleWith(permission)} or above`} has ${permission}`,
          { permission, role: effective, shareLevel: share.level },
        );
      }
    }
    if (record.state === 'CREATING') throw new InfrafedError(ErrorCode.CONFLICT, `project ${record.projectId} is still being created`);
    if (record.state === 'DELETING' && kind !== 'DELETE_PROJECT') throw new InfrafedError(ErrorCode.CONFLICT, `project ${record.projectId} is being deleted`);
    return record;
  }

  /** The project's placements in one region; none is the caller's mistake. */
  function placementsIn(record: ProjectRecord, region: string): Placement[] {
    const here = record.placements.filter((p) => p.region === region);
    if (here.length === 0) {
      throw badUserInput([
        { path: 'region', message: `project ${record.projectId} has no placement in ${region}; it has: ${record.placements.map(placementKey).join(', ')}`, value: region },
      ]);
    }
    return here;
  }

  function openstackIn(record: ProjectRecord, region: string): Placement {
    const here = placementsIn(record, region);
    const openstack = here.find((p) => p.platform === 'openstack');
    if (!openstack) {
      throw new InfrafedError(ErrorCode.NOT_SUPPORTED, `networks are an OpenStack (Neutron) feature; project ${record.projectId} is on ${here.map((p) => p.platform).join(', ')} in ${region}`, {
        region,
      });
    }
    return openstack;
  }

  /** Which of the project's OpenStack placements holds the network (asks them in parallel), and the network. */
  async function placementOfNetwork(record: ProjectRecord, networkId: string): Promise<{ placement: Placement; network: Network }> {
    const candidates = record.placements.filter((p) => p.platform === 'openstack');
    const asked = await fanOut(candidates, (p) =>
      requestAdapter(deps.nc, p, 'network', 'get', { projectId: record.projectId, networkId }, { timeoutMs: deps.adapterTimeoutMs }),
    );
    const found = asked.ok.find((r) => r.value.network !== null);
    if (found?.value.network) return { placement: found.target, network: found.value.network };
    // a region that did not answer may hold it: say so rather than "not found"
    if (asked.failed[0]) throw asked.failed[0].error;
    throw new InfrafedError(ErrorCode.NOT_FOUND, `network ${networkId} not found in project ${record.projectId}`);
  }

  /**
   * Holds the objects an operation will create against the entitlements. At the limit, re-applying an
   * access rule that is already there must not be refused: the placements are asked which lack the rule,
   * and only those are held (none: the operation changes nothing and holds nothing).
   */
  async function reserveObjects(op: Operation): Promise<void> {
    try {
      await deps.ledger.reserve(op.organization, op.id, [], objectChanges(op));
    } catch (error) {
      if (op.kind !== 'APPLY_ACCESS_RULE' || (error as InfrafedError).code !== ErrorCode.QUOTA_EXCEEDED) throw error;
      const projectId = op.projectId as string;
      const asked = await fanOut(
        op.steps.map((s) => ({ region: s.region, platform: s.platform })),
        (p) => requestAdapter(deps.nc, p, 'rule', 'list', { projects: [{ projectId }] }, { timeoutMs: deps.adapterTimeoutMs }),
      );
      if (asked.failed.length > 0) throw error;
      const lacking = new Set(asked.ok.filter((r) => !r.value.rules.some((rule) => rule.id === op.resourceId)).map((r) => `${projectId}|${r.target.region}|${r.target.platform}`));
      if (lacking.size > 0) await deps.ledger.reserve(op.organization, op.id, [], objectChanges(op).filter((c) => lacking.has(c.key)));
    }
  }

  /**
   * Which project and placements an operation touches, the resource it is about, and the objects each
   * placement gains or loses (held against the entitlements).
   */
  async function plan(principal: Principal, request: OperationRequest): Promise<{ projectId: string; placements: Placement[]; resourceId: string | null; objects?: Amounts }> {
    switch (request.kind) {
      case 'CREATE_PROJECT': {
        const problems = placementProblems(request.input.placements, deps.placements);
        if (problems.length > 0) throw badUserInput(problems);
        return { projectId: newId('prj'), placements: request.input.placements, resourceId: null };
      }
      case 'DELETE_PROJECT':
      case 'ADD_MEMBER':
      case 'REMOVE_MEMBER': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        return { projectId: record.projectId, placements: record.placements, resourceId: null };
      }
      case 'CREATE_NETWORK': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        const objects: Amounts = { networks: 1, subnets: 1, ...(request.input.router ? { routers: 1 } : {}) };
        return { projectId: record.projectId, placements: [openstackIn(record, request.input.region)], resourceId: newId('net'), objects };
      }
      case 'DELETE_NETWORK': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        const { placement, network } = await placementOfNetwork(record, request.input.networkId);
        const objects: Amounts = { networks: -1, ...(network.subnetNativeId ? { subnets: -1 } : {}), ...(network.router ? { routers: -1 } : {}) };
        return { projectId: record.projectId, placements: [placement], resourceId: request.input.networkId, objects };
      }
      case 'APPLY_ACCESS_RULE': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        return { projectId: record.projectId, placements: record.placements, resourceId: fromAccessRuleInput(request.input.rule).id, objects: { securityGroupRules: 1 } };
      }
      case 'REMOVE_ACCESS_RULE': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        return { projectId: record.projectId, placements: record.placements, resourceId: request.input.ruleId, objects: { securityGroupRules: -1 } };
      }
      case 'SET_QUOTA': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        return { projectId: record.projectId, placements: placementsIn(record, request.input.region), resourceId: null };
      }
      case 'SHARE_PROJECT': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        if (request.input.partner === record.organization) throw badUserInput([{ path: 'partner', message: 'a project cannot be shared with its own organisation', value: request.input.partner }]);
        // no platform changes: the share takes effect when the operation is recorded as done
        return { projectId: record.projectId, placements: [], resourceId: request.input.partner };
      }
      case 'REVOKE_SHARE': {
        const record = await activeProject(principal, request.input.projectId, request.kind);
        if (!record.shares.some((s) => s.organization === request.input.partner)) {
          throw new InfrafedError(ErrorCode.NOT_FOUND, `project ${record.projectId} is not shared with ${request.input.partner}`);
        }
        // every placement loses the partner's members
        return { projectId: record.projectId, placements: record.placements, resourceId: request.input.partner };
      }
    }
  }

  const actionOf: Record<OperationRequest['kind'], string> = {
    CREATE_PROJECT: 'project.create',
    DELETE_PROJECT: 'project.delete',
    ADD_MEMBER: 'member.add',
    REMOVE_MEMBER: 'member.remove',
    CREATE_NETWORK: 'network.create',
    DELETE_NETWORK: 'network.delete',
    APPLY_ACCESS_RULE: 'rule.apply',
    REMOVE_ACCESS_RULE: 'rule.remove',
    SET_QUOTA: 'quota.set',
    SHARE_PROJECT: 'share.add',
    REVOKE_SHARE: 'member.revoke-partner',
  };

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

  async function submit(principal: Principal, request: OperationRequest, idempotencyKey: string | null, waitMs: number) {
    authorize(principal, permissionForOperation[request.kind]);
    const requestHash = sha256(JSON.stringify(request));
    const id = newId('op');
    const { projectId, placements, resourceId, objects } = await plan(principal, request);
    if (idempotencyKey) {
      const existingId = await store.claimIdempotencyKey(principal.organization, idempotencyKey, id);
      if (existingId) {
        const existing = await store.getOperation(existingId);
        if (!existing) throw new InfrafedError(ErrorCode.CONFLICT, 'a request with this Idempotency-Key is still being recorded; retry shortly');
        if (existing.operation.requestHash !== requestHash) {
          throw new InfrafedError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'this Idempotency-Key was used with another request', { operationId: existingId });
        }
        return { operation: await waitFor(existing.operation, waitMs), replayed: true };
      }
    }
    try {
      return await record(principal, request, { id, requestHash, idempotencyKey, projectId, placements, resourceId, objects: objects ?? null }, waitMs);
    } catch (error) {
      // nothing was recorded under the key: a retry with it must not find a dangling claim
      if (idempotencyKey) await store.releaseIdempotencyKey(principal.organization, idempotencyKey, id);
      throw error;
    }
  }

  async function record(
    principal: Principal,
    request: OperationRequest,
    ids: { id: string; requestHash: string; idempotencyKey: string | null; projectId: string; placements: Placement[]; resourceId: string | null; objects: Amounts | null },
    waitMs: number,
  ) {
    const { id, requestHash, idempotencyKey, projectId, placements, resourceId, objects } = ids;
    const at = new Date().toISOString();
    const steps: OperationStep[] = placements.map((p) => ({
      region: p.region,
      platform: p.platform,
      action: actionOf[request.kind],
      status: 'PENDING',
      nativeId: null,
      changed: null,
      error: null,
      undo: null,
      startedAt: null,
      finishedAt: null,
    }));
    const op: Operation = {
      id,
      kind: request.kind,
      status: 'PENDING',
      organization: principal.organization,
      principal: principal.subject,
      projectId,
      resourceId,
      request,
      requestHash,
      idempotencyKey,
      steps,
      error: null,
      createdAt: at,
      updatedAt: at,
      owner: deps.replicaId,
      leaseUntil: Date.now() + leaseMs,
      quotaDefaults: null,
      objects,
    };
    if (request.kind === 'CREATE_PROJECT') {
      if (!(await store.claimName(principal.organization, request.input.name, projectId))) {
        throw new InfrafedError(ErrorCode.CONFLICT, `a project named "${request.input.name}" already exists`, { name: request.input.name });
      }
      await store.putProject({ projectId, organization: principal.organization, name: request.input.name, placements, state: 'CREATING', operationId: id, shares: [] });
    } else if (request.kind === 'DELETE_PROJECT') {
      const record = await store.getProject(projectId);
      if (record) await store.putProject({ ...record, state: 'DELETING', operationId: id });
    } else if (request.kind === 'REVOKE_SHARE') {
      // the partner loses access at once; the steps then remove its members from every placement
      const record = await store.getProject(projectId);
      if (record) await store.putProject({ ...record, shares: record.shares.filter((s) => s.organization !== request.input.partner) });
      await store.deleteShare(request.input.partner, projectId);
    }
    // quota changes are held against the entitlements before anything is recorded or sent to a platform
    let reserved = false;
    if (request.kind === 'SET_QUOTA') {
      await deps.ledger.reserve(principal.organization, id, quotaChanges(op, request.input.limits as Amounts));
      reserved = true;
    } else if (request.kind === 'CREATE_PROJECT') {
      const defaults = (await deps.ledger.entitlementsOf(principal.organization)).projectDefaults;
      if (Object.keys(defaults).length > 0) {
        op.quotaDefaults = defaults;
        try {
          await deps.ledger.reserve(principal.organization, id, quotaChanges(op, defaults));
        } catch (error) {
          // the name claimed above is free again: nothing was recorded
          await store.deleteProject(projectId);
          await store.releaseName(principal.organization, request.input.name, projectId);
          throw error;
        }
        reserved = true;
      }
    } else if (objects && Object.values(objects).some((v) => (v ?? 0) > 0)) {
      await reserveObjects(op);
      reserved = true;
    }
    // recorded before any work starts: a crash from here on is resumed by another replica's sweeper
    try {
      await store.createOperation(op);
    } catch (error) {
      if (reserved) await deps.ledger.release(principal.organization, id);
      throw error;
    }
    log.info({ operationId: id, kind: request.kind, organization: principal.organization, principal: principal.subject, projectId }, 'operation accepted');
    await deps.audit.record({
      principal: principal.subject,
      organization: principal.organization,
      action: 'operation.submit',
      kind: request.kind,
      projectId,
      operationId: id,
      placements: placementsOfOp(op),
      decision: 'allowed',
      result: 'accepted',
      reason: null,
    });
    void start(op, saga.run);
    return { operation: await waitFor(op, waitMs), replayed: false };
  }

  const service = await startService(
    deps.nc,
    { name: CONTROLLER_SERVICE_NAME, version: deps.version, description: 'infrafed controller: operations, quota and access', queue: CONTROLLER_QUEUE, log, defaultTimeoutMs: 35_000 },
    [
      endpoint({
        name: 'operation-submit',
        subject: controllerSubject('submit'),
        request: submitOperationRequest,
        reply: submitOperationReply,
        async handle(req, { headers, deadline }) {
          const principal = await deps.verifyToken(headers?.get(Header.authorization));
          const key = headers?.get(Header.idempotencyKey) || null;
          // answer before the caller's deadline, whatever waitMs says
          const waitMs = Math.max(0, Math.min(req.waitMs, deadline - Date.now() - 250));
          const projectId = 'projectId' in req.request.input ? req.request.input.projectId : null;
          const base = { principal: principal.subject, organization: principal.organization, action: 'operation.submit', kind: req.request.kind, projectId };
          try {
            // accepted operations are audited when recorded (before their outcome), refusals here
            return await submit(principal, req.request, key, waitMs);
          } catch (error) {
            const e = error instanceof InfrafedError ? error : null;
            await deps.audit.record({ ...base, operationId: null, placements: [], decision: 'denied', result: e?.code ?? ErrorCode.INTERNAL, reason: e?.message ?? 'internal error' });
            throw error;
          }
        },
      }),
      endpoint({
        name: 'entitlement-get',
        subject: controllerEntitlementSubject('get'),
        request: entitlementGetRequest,
        reply: entitlementReply,
        async handle(req, { headers }) {
          const principal = await deps.verifyToken(headers?.get(Header.authorization));
          return entitlementView(await targetOrganization(principal, req.organization, 'entitlement.get'));
        },
      }),
      endpoint({
        name: 'entitlement-set',
        subject: controllerEntitlementSubject('set'),
        request: setEntitlementsInput,
        reply: entitlementReply,
        async handle(req, { headers }) {
          const principal = await deps.verifyToken(headers?.get(Header.authorization));
          if (!principal.platformAdmin) {
            await auditDecision(principal, { action: 'entitlement.set', decision: 'denied', result: ErrorCode.FORBIDDEN, reason: `entitlements of ${req.organization}` });
            throw new InfrafedError(ErrorCode.FORBIDDEN, 'setting entitlements needs the platform-admin role (entitlement.manage)', { permission: 'entitlement.manage', role: principal.orgRole });
          }
          const problems = req.regions.flatMap((r, i) =>
            deps.placements.some((p) => p.region === r.region) ? [] : [{ path: `regions[${i}].region`, message: `unknown region; known regions: ${[...new Set(deps.placements.map((p) => p.region))].join(', ')}`, value: r.region }],
          );
          if (problems.length > 0) throw badUserInput(problems);
          await deps.ledger.setEntitlements({
            organization: req.organization,
            total: req.total,
            regions: Object.fromEntries(req.regions.map((r) => [r.region, r.amounts])),
            platforms: Object.fromEntries(req.platforms.map((p) => [p.platform, p.amounts])),
            projectDefaults: req.projectDefaults,
            updatedAt: new Date().toISOString(),
            updatedBy: principal.subject,
          });
          log.info({ organization: req.organization, by: principal.subject }, 'entitlements set');
          // in the operator's log and in the organisation's
          for (const organization of new Set([principal.organization, req.organization])) {
            await auditDecision(principal, { organization, action: 'entitlement.set', decision: 'allowed', result: 'SUCCEEDED', reason: `entitlements of ${req.organization} set` });
          }
          return entitlementView(req.organization);
        },
      }),
      endpoint({
        name: 'usage-sync',
        subject: controllerEntitlementSubject('sync'),
        request: usageSyncRequest,
        reply: entitlementReply,
        async handle(req, { headers }) {
          const principal = await deps.verifyToken(headers?.get(Header.authorization));
          const organization = await targetOrganization(principal, req.organization, 'usage.sync');
          if (!principal.platformAdmin) authorize(principal, Permission.manageQuotas);
          const unreachable = await syncUsage(organization);
          const view = await entitlementView(organization, unreachable);
          await auditDecision(principal, {
            organization,
            action: 'usage.sync',
            placements: unreachable,
            decision: 'allowed',
            result: view.drift.length > 0 ? 'DRIFT' : 'SUCCEEDED',
            reason: view.drift.length > 0 ? `${view.drift.length} limits changed on the platforms` : null,
          });
          return view;
        },
      }),
      endpoint({
        name: 'share-list',
        subject: controllerShareSubject(),
        request: shareListRequest,
        reply: shareListReply,
        async handle(req, { headers }) {
          const principal = await deps.verifyToken(headers?.get(Header.authorization));
          const sharedWithMe = (await store.listSharedWith(principal.organization)).map((e) => ({ projectId: e.projectId, owner: e.owner, level: e.level as ShareLevel }));
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
        name: 'audit-list',
        subject: controllerAuditSubject(),
        request: auditListRequest,
        reply: auditListReply,
        async handle(req, { headers }) {
          const principal = await deps.verifyToken(headers?.get(Header.authorization));
          const organization = await targetOrganization(principal, req.organization, 'audit.list');
          if (!principal.platformAdmin) authorize(principal, Permission.readAudit);
          return deps.audit.list(organization, req);
        },
      }),
      endpoint({
        name: 'operation-get',
        subject: controllerSubject('get'),
        request: getOperationRequest,
        reply: getOperationReply,
        async handle(req, { headers }) {
          const principal = await deps.verifyToken(headers?.get(Header.authorization));
          const found = await store.getOperation(req.id);
          const visible = found && found.operation.organization === principal.organization ? found.operation : null;
          return { operation: visible };
        },
      }),
    ],
  );

  /** An audit event of the control layer that is not an operation (entitlements, usage sync, cross-organisation reads). */
  function auditDecision(principal: Principal, e: { organization?: string; action: string; decision: 'allowed' | 'denied'; result: string; reason: string | null; placements?: string[] }) {
    return deps.audit.record({
      principal: principal.subject,
      organization: e.organization ?? principal.organization,
      action: e.action,
      kind: null,
      projectId: null,
      operationId: null,
      placements: e.placements ?? [],
      decision: e.decision,
      result: e.result,
      reason: e.reason,
    });
  }

  /**
   * The organisation a request is about: the caller's own unless it names another, which only platform
   * operators may (to anyone else it does not exist; the refusal is audited).
   */
  async function targetOrganization(principal: Principal, requested: string | undefined, action: string): Promise<string> {
    const organization = requested ?? principal.organization;
    if (organization !== principal.organization && !principal.platformAdmin) {
      await auditDecision(principal, { action, decision: 'denied', result: ErrorCode.NOT_FOUND, reason: `${action} of ${organization}` });
      throw new InfrafedError(ErrorCode.NOT_FOUND, `organization ${organization} not found`);
    }
    return organization;
  }

  async function entitlementView(organization: string, unreachable: string[] = []) {
    const [entitlements, usage, drift] = await Promise.all([deps.ledger.entitlementsOf(organization), deps.ledger.usage(organization), deps.ledger.drift(organization)]);
    return {
      entitlements,
      usage,
      remaining: remainingOf(entitlements, usage),
      drift: drift.drift.map((d) => {
        const [projectId, region, platform] = d.key.split('|') as [string, string, string];
        return { projectId, region, platform, resource: d.resource, recorded: d.recorded, actual: d.actual };
      }),
      syncedAt: drift.syncedAt,
      unreachable,
    };
  }

  /**
   * Usage sync: reads every placement's quota from its platform (what exists there is the truth), makes
   * it the ledger's allocation and records drift. Placements that do not answer keep their record.
   */
  async function syncUsage(organization: string, records?: ProjectRecord[]): Promise<string[]> {
    const projects = (records ?? (await store.listProjects(organization))).filter((p) => p.state === 'ACTIVE');
    const targets = projects.flatMap((p) => p.placements.map((placement) => ({ projectId: p.projectId, placement })));
    const read = await fanOut(targets, (t) =>
      requestAdapter(deps.nc, t.placement, 'quota', 'get', { projects: [{ projectId: t.projectId }] }, { timeoutMs: deps.adapterTimeoutMs }),
    );
    const actual: Record<string, { limits: Record<string, number | null>; usage: Amounts }> = {};
    for (const r of read.ok) {
      const q = r.value.quotas[0];
      if (q) actual[`${r.target.projectId}|${r.target.placement.region}|${r.target.placement.platform}`] = { limits: q.limits, usage: q.usage as Amounts };
    }
    await deps.ledger.reconcile(organization, actual);
    return [...new Set(read.failed.map((f) => placementKey(f.target.placement)))];
  }

  async function sweep(): Promise<number> {
    let taken = 0;
    for (const id of await store.listOperationIds()) {
      if (running.has(id)) continue;
      const found = await store.getOperation(id);
      if (!found) continue;
      const { operation: op, revision } = found;
      const abandoned = !terminalStatuses.includes(op.status) && (op.leaseUntil ?? 0) < Date.now();
      const undoDue = isUndoPending(op) && Date.now() - Date.parse(op.updatedAt) >= (deps.undoRetryMs ?? 60_000);
      if (!abandoned && !undoDue) continue;
      // claim it with compare-and-set: of several sweeping replicas, one wins
      const claimed = { ...op, owner: deps.replicaId, leaseUntil: Date.now() + leaseMs };
      if ((await store.updateOperation(claimed, revision)) === null) continue;
      taken++;
      log.warn({ operationId: id, status: op.status, previousOwner: op.owner }, abandoned ? 'resuming abandoned operation' : 'retrying unfinished undo');
      void start(claimed, abandoned ? saga.resume : saga.retryCompensation);
    }
    return taken;
  }

  const sweepIntervalMs = deps.sweepIntervalMs ?? 10_000;
  let sweeping = false;
  const timer =
    sweepIntervalMs > 0
      ? setInterval(() => {
          if (sweeping) return;
          sweeping = true;
          sweep()
            .catch((error: unknown) => log.error({ err: error }, 'sweep failed'))
            .finally(() => {
              sweeping = false;
            });
        }, sweepIntervalMs)
      : undefined;

  const syncTimer =
    (deps.usageSyncIntervalMs ?? 0) > 0
      ? setInterval(() => {
          void (async () => {
            // one scan of the project index for all organisations
            const byOrganization = Map.groupBy(await store.listProjects(), (p) => p.organization);
            for (const [organization, records] of byOrganization) {
              await syncUsage(organization, records).catch((error: unknown) => log.warn({ err: error, organization }, 'usage sync failed'));
            }
          })().catch((error: unknown) => log.error({ err: error }, 'usage sync failed'));
        }, deps.usageSyncIntervalMs)
      : undefined;

  return {
    service,
    sweep,
    async stop() {
      clearInterval(timer);
      clearInterval(syncTimer);
      await service.stop();
      // let operations in flight finish (bounded by their adapter timeouts)
      await Promise.allSettled([...running.values()]);
    },
  };
}
