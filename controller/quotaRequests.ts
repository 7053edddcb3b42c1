import { monotonicFactory } from 'ulid';
import type { z } from 'zod';
import { Permission } from '../schema/access.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { OperationRequest, OperationView } from '../schema/operations.ts';
import {
  quotaRequestSchema,
  quotaTiersRecordSchema,
  type QuotaRequest,
  type QuotaTiersRecord,
  type quotaRequestListInput,
  type requestQuotaTierInput,
} from '../schema/quotaRequests.ts';
import type { QuotaTier } from '../schema/quota.ts';
import type { Principal } from '../runtime/auth.ts';
import { badUserInput } from '../runtime/problems.ts';
import type { Audit } from './audit.ts';
import type { Events } from './events.ts';
import { change, page, type PeopleStore } from './people.ts';
import { activeProject, auditDecision, authorize, targetOrganization } from './permissions.ts';
import type { ControllerStore } from './store.ts';

const ulid = monotonicFactory();
const TIERS = 'tiers';
const requestKey = (organization: string, id: string) => `request.${organization}.${id}`;
/** One pending request per project: created only if absent, so two requests at once cannot both wait. */
const pendingKey = (projectId: string) => `pending.${projectId}`;
const parseRequest = (v: unknown) => quotaRequestSchema.parse(v);

export interface QuotaRequestsDeps {
  store: PeopleStore;
  projects: Pick<ControllerStore, 'getProject'>;
  audit: Audit;
  events?: Events;
  /** Runs the approved tier as an operation (its Idempotency-Key derived from the request: never twice). */
  submit(principal: Principal, request: OperationRequest, idempotencyKey: string): Promise<OperationView>;
  /** A quota change this recent in a region makes a one-step request wait. Default 30 days. */
  recentMs?: number;
  now?: () => number;
}

/**
 * Quota tiers and requests for them: operators define the tiers; a project admin asks for one in some
 * regions; one step up with no quota change there for 30 days (or a step down) is approved at once, else it
 * waits for an operator, who approves (the tier is applied as one operation across the regions, held against
 * the entitlements) or rejects with a reason. While a request of a project waits, another is a CONFLICT.
 */
export function createQuotaRequests(deps: QuotaRequestsDeps) {
  const { store, audit } = deps;
  const now = deps.now ?? Date.now;
  const recentMs = deps.recentMs ?? 30 * 86_400_000;
  const iso = () => new Date(now()).toISOString();
  const publish = (organization: string, type: string, subject: string, data: Record<string, unknown>, toOperators = false) =>
    deps.events?.publish(organization, type, subject, data, { toOperators }) ?? Promise.resolve();

  async function tiers(): Promise<QuotaTiersRecord> {
    const entry = await store.get(TIERS);
    return entry ? quotaTiersRecordSchema.parse(entry.value) : { tiers: [], version: 0, updatedAt: null, updatedBy: null };
  }

  async function setTiers(principal: Principal, given: QuotaTier[]): Promise<QuotaTiersRecord> {
    if (!principal.platformAdmin) {
      await auditDecision(audit, principal, {
        action: 'quota.tiers.set',
        decision: 'denied',
        result: ErrorCode.FORBIDDEN,
        reason: 'not a platform operator',
      });
      throw new InfrafedError(ErrorCode.FORBIDDEN, 'only platform operators define quota tiers');
    }
    const saved = await change(
      store,
      TIERS,
      (v) => quotaTiersRecordSchema.parse(v),
      (cur) => ({
        tiers: given,
        version: (cur?.version ?? 0) + 1,
        updatedAt: iso(),
        updatedBy: principal.subject,
      }),
    );
    await auditDecision(audit, principal, {
      action: 'quota.tiers.set',
      decision: 'allowed',
      result: 'OK',
      reason: given.map((t) => t.name).join(', '),
    });
    return saved as QuotaTiersRecord;
  }

  async function record(r: QuotaRequest, principal: Principal, action: string, reason: string | null) {
    await audit.record({
      principal: principal.subject,
      organization: r.organization,
      action,
      kind: null,
      projectId: r.projectId,
      operationId: r.operationId,
      placements: r.regions,
      decision: 'allowed',
      result: r.status,
      reason,
      target: { type: 'quotaRequest', id: r.id, role: r.tier },
      principalOrganization: principal.organization !== r.organization ? principal.organization : null,
    });
  }

  /** Applies an approved request: the tier's limits on every region named, as one operation. */
  async function apply(r: QuotaRequest, actor: Principal, limits: QuotaTier['limits']): Promise<OperationView> {
    return deps.submit(
      actor,
      { kind: 'APPLY_QUOTA_TIER', input: { projectId: r.projectId, regions: r.regions, tier: r.tier, limits, requestId: r.id } },
      `quota-request-${r.id}`,
    );
  }

  async function request(principal: Principal, input: z.infer<typeof requestQuotaTierInput>): Promise<{ request: QuotaRequest }> {
    authorize(principal, Permission.manageQuotas);
    const project = await activeProject(deps.projects, principal, input.projectId, Permission.manageQuotas);
    const { tiers: defined } = await tiers();
    const rank = defined.findIndex((t) => t.name === input.tier);
    const target = defined[rank];
    const problems = [];
    if (!target)
      problems.push({
        path: 'tier',
        message: defined.length ? `one of ${defined.map((t) => t.name).join(', ')}` : 'no quota tiers are defined yet',
        value: input.tier,
      });
    input.regions.forEach((region, i) => {
      if (!project.placements.some((p) => p.region === region))
        problems.push({ path: `regions[${i}]`, message: `the project is not placed in ${region}`, value: region });
    });
    if (problems.length || !target) throw badUserInput(problems);

    // why it would wait: a jump over a tier, or a quota change in the region within the last days
    const reasons: string[] = [];
    for (const region of input.regions) {
      const held = project.quotaTiers[region];
      const current = held === undefined ? -1 : defined.findIndex((t) => t.name === held);
      if (rank > current + 1)
        reasons.push(
          `${region}: from ${held ?? 'no tier'} to ${target.name} jumps over ${defined
            .slice(current + 1, rank)
            .map((t) => t.name)
            .join(', ')}`,
        );
      const changedAt = project.quotaChangedAt[region];
      if (rank > current && changedAt && now() - Date.parse(changedAt) < recentMs)
        reasons.push(
          `${region}: its quota changed on ${changedAt.slice(0, 10)}, within the last ${Math.round(recentMs / 86_400_000)} days`,
        );
    }
    const r: QuotaRequest = {
      id: `qrq_${ulid().toLowerCase()}`,
      organization: project.organization,
      projectId: project.projectId,
      tier: target.name,
      regions: input.regions,
      status: reasons.length ? 'PENDING_APPROVAL' : 'APPROVED',
      reasons,
      requestedBy: principal.subject,
      requestedAt: iso(),
      decidedBy: reasons.length ? null : 'auto',
      decidedAt: reasons.length ? null : iso(),
      decisionReason: reasons.length ? null : 'one tier up with no recent quota change, or down',
      operationId: null,
    };
    // one request of a project at a time while one waits (an approved-at-once one holds it only while it is submitted)
    if (!(await store.put(pendingKey(r.projectId), { requestId: r.id, organization: r.organization }, 0))) {
      const waiting = await store.get(pendingKey(r.projectId));
      const other = (waiting?.value as { requestId?: string } | undefined)?.requestId ?? 'another request';
      throw new InfrafedError(ErrorCode.CONFLICT, `a tier request of project ${r.projectId} is waiting for approval (${other})`, {
        projectId: r.projectId,
        operationId: null,
      });
    }
    try {
      if (r.status === 'APPROVED') r.operationId = (await apply(r, principal, target.limits)).id;
      await store.put(requestKey(r.organization, r.id), r, 0);
    } finally {
      if (r.status === 'APPROVED') await releasePending(r);
    }
    await record(r, principal, 'quota.request', reasons.join('; ') || null);
    await publish(r.organization, 'quota.request.created', r.id, { request: r });
    if (r.status === 'PENDING_APPROVAL') await publish(r.organization, 'quota.request.pending', r.id, { request: r }, true);
    else await publish(r.organization, 'quota.request.approved', r.id, { request: r });
    return { request: r };
  }

  async function releasePending(r: QuotaRequest) {
    const entry = await store.get(pendingKey(r.projectId));
    if (entry && (entry.value as { requestId?: string }).requestId === r.id) await store.remove(pendingKey(r.projectId), entry.revision);
  }

  async function find(id: string): Promise<{ key: string; request: QuotaRequest } | null> {
    const [key] = await store.keys(`request.*.${id}`);
    const entry = key ? await store.get(key) : null;
    return key && entry ? { key, request: parseRequest(entry.value) } : null;
  }

  /** Platform operators approve (the tier is applied, held against the entitlements) or reject with a reason. */
  async function decide(principal: Principal, id: string, approve: boolean, reason: string | null): Promise<{ request: QuotaRequest }> {
    if (!principal.platformAdmin) throw new InfrafedError(ErrorCode.FORBIDDEN, 'only platform operators approve or reject quota requests');
    if (!approve && !reason) throw badUserInput([{ path: 'reason', message: 'a rejection says why' }]);
    const found = await find(id);
    if (!found) throw new InfrafedError(ErrorCode.NOT_FOUND, `quota request ${id} not found`);
    if (found.request.status !== 'PENDING_APPROVAL')
      throw new InfrafedError(ErrorCode.CONFLICT, `quota request ${id} is ${found.request.status}`);
    let operationId: string | null = null;
    if (approve) {
      const tier = (await tiers()).tiers.find((t) => t.name === found.request.tier);
      if (!tier) throw new InfrafedError(ErrorCode.CONFLICT, `tier ${found.request.tier} is no longer defined`);
      // carried out in the organisation, in the operator's name (a refusal, e.g. QUOTA_EXCEEDED, leaves the request waiting)
      const actor: Principal = {
        subject: principal.subject,
        organization: found.request.organization,
        orgRole: 'owner',
        platformAdmin: true,
      };
      operationId = (await apply(found.request, actor, tier.limits)).id;
    }
    let conflict = false;
    const saved = await change(store, found.key, parseRequest, (cur) => {
      conflict = false;
      if (!cur || cur.status !== 'PENDING_APPROVAL') {
        conflict = true;
        return undefined;
      }
      return {
        ...cur,
        status: approve ? ('APPROVED' as const) : ('REJECTED' as const),
        decidedBy: principal.subject,
        decidedAt: iso(),
        decisionReason: reason,
        operationId,
      };
    });
    if (conflict || !saved) throw new InfrafedError(ErrorCode.CONFLICT, `quota request ${id} was decided meanwhile`);
    await releasePending(saved);
    await record(saved, principal, approve ? 'quota.request.approve' : 'quota.request.reject', reason);
    await publish(saved.organization, approve ? 'quota.request.approved' : 'quota.request.rejected', saved.id, { request: saved });
    return { request: saved };
  }

  async function list(principal: Principal, req: z.infer<typeof quotaRequestListInput>) {
    let filter: string;
    if (principal.platformAdmin && !req.organization) filter = 'request.*.*';
    else {
      const organization = await targetOrganization(audit, principal, req.organization ?? undefined, 'quota.request.list');
      if (!principal.platformAdmin) authorize(principal, Permission.manageQuotas);
      filter = `request.${organization}.*`;
    }
    const all = (await Promise.all((await store.keys(filter)).map((k) => store.get(k)))).flatMap((e) => (e ? [parseRequest(e.value)] : []));
    const { items, nextCursor } = page(
      all.filter((r) => !req.status || r.status === req.status),
      (r) => r.id,
      req.first ?? 50,
      req.after,
    );
    return { requests: items, nextCursor };
  }

  return { tiers, setTiers, request, decide, list };
}
export type QuotaRequests = ReturnType<typeof createQuotaRequests>;
