import type { Logger } from 'pino';
import { Permission } from '../schema/access.ts';
import type { Amounts, setEntitlementsInput } from '../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { parseProjectPlacementKey, placementKey, projectPlacementKey } from '../schema/model.ts';
import type { ProjectRecord } from '../schema/operations.ts';
import type { Principal } from '../runtime/auth.ts';
import { fanOut } from '../runtime/nats/request.ts';
import { badUserInput } from '../runtime/problems.ts';
import type { z } from 'zod';
import type { Audit } from './audit.ts';
import type { KindContext } from './kinds/kind.ts';
import { remainingOf } from './ledger.ts';
import { auditDecision, authorize, targetOrganization } from './permissions.ts';

export interface EntitlementsDeps {
  ctx: KindContext;
  audit: Audit;
  log: Logger;
}

/** The control layer's face for entitlements: what an organisation may allocate, what it uses, and usage sync from the platforms. */
export function createEntitlements(deps: EntitlementsDeps) {
  const { ctx, audit, log } = deps;
  const { ledger, store } = ctx;

  async function view(organization: string, unreachable: string[] = []) {
    const [entitlements, usage, drift] = await Promise.all([
      ledger.entitlementsOf(organization),
      ledger.usage(organization),
      ledger.drift(organization),
    ]);
    return {
      entitlements,
      usage,
      remaining: remainingOf(entitlements, usage),
      drift: drift.drift.map((d) => ({ ...parseProjectPlacementKey(d.key), resource: d.resource, recorded: d.recorded, actual: d.actual })),
      syncedAt: drift.syncedAt,
      unreachable,
    };
  }

  /**
   * Reads every placement's quota from its platform (what exists there is the truth), makes it the
   * ledger's allocation and records drift. Placements that do not answer keep their record; they are returned.
   */
  async function syncUsage(organization: string, records?: ProjectRecord[]): Promise<string[]> {
    const projects = (records ?? (await store.listProjects(organization))).filter((p) => p.state === 'ACTIVE');
    const targets = projects.flatMap((p) =>
      p.placements.map((placement) => ({ projectId: p.projectId, organization: p.organization, placement })),
    );
    const read = await fanOut(targets, (t) =>
      ctx.call(t.placement, 'quota', 'get', { projects: [{ projectId: t.projectId, organization: t.organization }] }),
    );
    const actual: Record<string, { limits: Record<string, number | null>; usage: Amounts }> = {};
    for (const r of read.ok) {
      const q = r.value.quotas[0];
      if (q) actual[projectPlacementKey(r.target.projectId, r.target.placement)] = { limits: q.limits, usage: q.usage as Amounts };
    }
    await ledger.reconcile(organization, actual);
    return [...new Set(read.failed.map((f) => placementKey(f.target.placement)))];
  }

  /** Every organisation's usage, one scan of the project index. */
  async function syncAll(): Promise<void> {
    const byOrganization = Map.groupBy(await store.listProjects(), (p) => p.organization);
    for (const [organization, records] of byOrganization) {
      await syncUsage(organization, records).catch((error: unknown) => log.warn({ err: error, organization }, 'usage sync failed'));
    }
  }

  async function get(principal: Principal, organization: string | undefined) {
    return view(await targetOrganization(audit, principal, organization, 'entitlement.get'));
  }

  /** Platform operators only; unknown regions are the caller's mistake. */
  async function set(principal: Principal, req: z.infer<typeof setEntitlementsInput>) {
    if (!principal.platformAdmin) {
      await auditDecision(audit, principal, {
        action: 'entitlement.set',
        decision: 'denied',
        result: ErrorCode.FORBIDDEN,
        reason: `entitlements of ${req.organization}`,
      });
      throw new InfrafedError(ErrorCode.FORBIDDEN, 'setting entitlements needs the platform-admin role (entitlement.manage)', {
        permission: 'entitlement.manage',
        role: principal.orgRole,
      });
    }
    const regions = [...new Set(ctx.placements.map((p) => p.region))];
    const problems = req.regions.flatMap((r, i) =>
      regions.includes(r.region)
        ? []
        : [{ path: `regions[${i}].region`, message: `unknown region; known regions: ${regions.join(', ')}`, value: r.region }],
    );
    if (problems.length > 0) throw badUserInput(problems);
    await ledger.setEntitlements(
      {
        organization: req.organization,
        total: req.total,
        regions: Object.fromEntries(req.regions.map((r) => [r.region, r.amounts])),
        platforms: Object.fromEntries(req.platforms.map((p) => [p.platform, p.amounts])),
        projectDefaults: req.projectDefaults,
        updatedAt: new Date().toISOString(),
        updatedBy: principal.subject,
      },
      req.ifVersion,
    );
    log.info({ organization: req.organization, by: principal.subject }, 'entitlements set');
    // in the operator's log and in the organisation's
    for (const organization of new Set([principal.organization, req.organization])) {
      await auditDecision(audit, principal, {
        organization,
        action: 'entitlement.set',
        decision: 'allowed',
        result: 'SUCCEEDED',
        reason: `entitlements of ${req.organization} set`,
      });
    }
    return view(req.organization);
  }

  async function sync(principal: Principal, requested: string | undefined) {
    const organization = await targetOrganization(audit, principal, requested, 'usage.sync');
    if (!principal.platformAdmin) authorize(principal, Permission.manageQuotas);
    const unreachable = await syncUsage(organization);
    const result = await view(organization, unreachable);
    await auditDecision(audit, principal, {
      organization,
      action: 'usage.sync',
      placements: unreachable,
      decision: 'allowed',
      result: result.drift.length > 0 ? 'DRIFT' : 'SUCCEEDED',
      reason: result.drift.length > 0 ? `${result.drift.length} limits changed on the platforms` : null,
    });
    return result;
  }

  return { get, set, sync, syncAll };
}
