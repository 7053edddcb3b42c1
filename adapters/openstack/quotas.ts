import type { PlacementQuota } from '../../schema/contracts/quota.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { type QuotaLimits, type QuotaResource, type QuotaUsage } from '../../schema/quota.ts';
import type { CallOptions } from './client/http.ts';
import type { NeutronClient, NeutronQuotaDetail } from './client/neutronClient.ts';
import { mapLimited, PER_PROJECT_CONCURRENCY } from '../shared/adapterKit.ts';
import { chunked } from '../../runtime/bounded.ts';
import { PROJECTS_PER_CALL } from './networks.ts';
import type { NovaClient } from './client/novaClient.ts';
import { fromVendorQuotaName, neutronQuotaNames, novaQuotaNames } from './mapping.ts';

export interface QuotaOpsDeps {
  region: string;
  neutron?: NeutronClient;
  nova?: NovaClient;
  /** Per vendor call, milliseconds: the clock of the look-ups and put-backs that run after a caller's request failed. */
  vendorTimeoutMs: number;
}

/** Up to this many projects, Neutron's quota details are read one by one (fewer calls than the lists). */
const ONE_BY_ONE = 8;
/** The Neutron collection whose objects count against each Neutron quota (`security_group` → `security-groups`). */
const COUNTED: Record<string, string> = Object.fromEntries(
  Object.values(neutronQuotaNames).map((name) => [`${name.replace(/_/g, '-')}s`, name]),
);

/** OpenStack writes "unlimited" as -1. */
const fromVendorLimit = (limit: number): number | null => (limit < 0 ? null : limit);
const toVendorLimit = (limit: number | null): number => (limit === null ? -1 : limit);

/**
 * Quotas of a project on Nova (cores, ram, instances) and Neutron (networks … security group rules), and
 * the translation of the vendors' over-quota and below-use refusals into errors with the figures.
 */
export function createQuotaOps(deps: QuotaOpsDeps) {
  const { region, neutron, nova } = deps;

  async function read(nativeProjectId: string, options: CallOptions): Promise<{ limits: QuotaLimits; usage: QuotaUsage }> {
    const [novaDetail, neutronDetail] = await Promise.all([
      nova ? nova.quotaDetails(nativeProjectId, options) : Promise.resolve({}),
      neutron ? neutron.quotaDetails(nativeProjectId, options) : Promise.resolve({}),
    ]);
    return fromDetails(novaDetail, neutronDetail);
  }

  /** The limits alone, for a write's `previous` (Neutron's limits cost about 11 ms against 70 for the details with use counted). */
  async function readLimits(nativeProjectId: string, options: CallOptions): Promise<QuotaLimits> {
    const [novaLimits, neutronLimits] = await Promise.all([
      nova ? nova.quotaLimits(nativeProjectId, options) : Promise.resolve({} as Record<string, number>),
      neutron ? neutron.quotaLimits(nativeProjectId, options) : Promise.resolve({} as Record<string, number>),
    ]);
    const limits: QuotaLimits = {};
    for (const [table, vendorLimits] of [
      [novaQuotaNames, novaLimits],
      [neutronQuotaNames, neutronLimits],
    ] as const) {
      for (const [resource, vendor] of Object.entries(table) as [QuotaResource, string][]) {
        const limit = vendorLimits[vendor];
        if (typeof limit === 'number') limits[resource] = fromVendorLimit(limit);
      }
    }
    return limits;
  }

  /**
   * Neutron's limits and use of many projects with a bounded number of calls: the non-default limits of
   * those projects in one list call per {@link PROJECTS_PER_CALL} projects, the defaults in one call, and
   * the use counted with one list call per counted collection and {@link PROJECTS_PER_CALL} projects (only
   * `project_id` asked for). Up to {@link ONE_BY_ONE} projects are read one by one (fewer calls).
   */
  async function neutronDetailsMany(nativeIds: string[], options: CallOptions): Promise<Record<string, NeutronQuotaDetail>[]> {
    const client = neutron as NeutronClient;
    if (nativeIds.length <= ONE_BY_ONE) return mapLimited(nativeIds, PER_PROJECT_CONCURRENCY, (id) => client.quotaDetails(id, options));
    const chunks = chunked(nativeIds, PROJECTS_PER_CALL);
    const [listed, defaults, counted] = await Promise.all([
      Promise.all(chunks.map((ids) => client.listWhere<Record<string, number | string>>('quotas', { project_id: ids }, options))),
      client.defaultQuota(nativeIds[0] as string, options),
      Promise.all(
        Object.entries(COUNTED).flatMap(([collection, name]) =>
          chunks.map(async (ids) => ({
            name,
            items: await client.listWhere<{ project_id: string }>(collection, { project_id: ids, fields: 'project_id' }, options),
          })),
        ),
      ),
    ]);
    const limitsOf = new Map(listed.flat().map((q) => [q.project_id as string, q]));
    return nativeIds.map((id) => {
      const own = limitsOf.get(id);
      const detail: Record<string, NeutronQuotaDetail> = {};
      for (const name of Object.values(COUNTED)) {
        const limit = own?.[name] ?? defaults[name];
        if (typeof limit === 'number') detail[name] = { limit, used: 0, reserved: 0 };
      }
      for (const { name, items } of counted) {
        const d = detail[name];
        if (d) d.used += items.filter((x) => x.project_id === id).length;
      }
      return detail;
    });
  }

  function fromDetails(novaDetail: object, neutronDetail: object): { limits: QuotaLimits; usage: QuotaUsage } {
    const limits: QuotaLimits = {};
    const usage: QuotaUsage = {};
    for (const [resource, vendor] of Object.entries(novaQuotaNames) as [QuotaResource, string][]) {
      const d = (novaDetail as Record<string, { limit: number; in_use: number } | undefined>)[vendor];
      if (d) [limits[resource], usage[resource]] = [fromVendorLimit(d.limit), d.in_use];
    }
    for (const [resource, vendor] of Object.entries(neutronQuotaNames) as [QuotaResource, string][]) {
      const d = (neutronDetail as Record<string, { limit: number; used: number } | undefined>)[vendor];
      if (d) [limits[resource], usage[resource]] = [fromVendorLimit(d.limit), d.used];
    }
    return { limits, usage };
  }

  function unsupported(resources: QuotaResource[]): InfrafedError {
    return new InfrafedError(
      ErrorCode.NOT_SUPPORTED,
      `OpenStack in ${region} has no quota for: ${resources.join(', ')} (the region runs no service that has it)`,
      { region, platform: 'openstack', resources },
    );
  }

  /** A vendor's refusal with neutral resource names and figures (reading them from the quota details when the vendor gives none). */
  async function translate(error: unknown, nativeProjectId: string, requested: number): Promise<unknown> {
    if (!(error instanceof InfrafedError) || (error.code !== ErrorCode.QUOTA_EXCEEDED && error.code !== ErrorCode.CONFLICT)) return error;
    const vendorResources = error.extensions?.vendorResources as string[] | undefined;
    const resource = vendorResources?.map(fromVendorQuotaName).find((r): r is QuotaResource => r !== null);
    if (!resource) return error;
    const figures = error.extensions?.figures as { limit: number; used: number; requested?: number } | undefined;
    if (error.code === ErrorCode.CONFLICT) {
      // a limit below what is in use
      const used = figures?.used ?? 0;
      return new InfrafedError(
        ErrorCode.CONFLICT,
        `the ${resource} quota in ${region} cannot be set to ${figures?.limit} while ${used} are in use`,
        {
          region,
          platform: 'openstack',
          resource,
          limit: figures?.limit ?? null,
          used,
        },
      );
    }
    let limit = figures?.limit;
    let used = figures?.used;
    if (limit === undefined || used === undefined) {
      const now = await read(nativeProjectId, { signal: AbortSignal.timeout(deps.vendorTimeoutMs) }).catch(() => null);
      limit = now?.limits[resource] ?? -1;
      used = now?.usage[resource] ?? -1;
    }
    const asked = figures?.requested ?? requested;
    return new InfrafedError(
      ErrorCode.QUOTA_EXCEEDED,
      `${resource} quota exceeded in ${region}: limit ${limit}, in use ${used}, requested ${asked}`,
      {
        region,
        platform: 'openstack',
        resource,
        limit,
        used,
        requested: asked,
      },
    );
  }

  const quotaErrors = {
    /** Runs a vendor call that consumes `requested` of some quota; an over-quota refusal comes back with the figures. */
    async enrich<T>(nativeProjectId: string, work: () => Promise<T>, requested = 1): Promise<T> {
      try {
        return await work();
      } catch (error) {
        throw await translate(error, nativeProjectId, requested);
      }
    },
  };

  return {
    quotaErrors,
    /**
     * The quotas of a batch of projects: Nova per project (at most 8 at a time), Neutron in a bounded number
     * of calls. `limitsOnly`: the limits alone, per project (usage left empty).
     */
    async getMany(
      projects: { projectId: string; nativeId: string }[],
      options: CallOptions,
      { limitsOnly = false }: { limitsOnly?: boolean } = {},
    ): Promise<PlacementQuota[]> {
      if (limitsOnly)
        return mapLimited(projects, PER_PROJECT_CONCURRENCY, async (p) => ({
          projectId: p.projectId,
          limits: await readLimits(p.nativeId, options),
          usage: {},
        }));
      const nativeIds = projects.map((p) => p.nativeId);
      const [novaDetails, neutronDetails] = await Promise.all([
        nova ? mapLimited(nativeIds, PER_PROJECT_CONCURRENCY, (id) => nova.quotaDetails(id, options)) : nativeIds.map(() => ({})),
        neutron ? neutronDetailsMany(nativeIds, options) : nativeIds.map(() => ({})),
      ]);
      return projects.map((p, i) => ({ projectId: p.projectId, ...fromDetails(novaDetails[i] ?? {}, neutronDetails[i] ?? {}) }));
    },

    /**
     * Writes the given limits (the others stay as they are) and answers with the limits after and the
     * earlier value of each given one. A limit below what is in use is refused (CONFLICT), by Nova itself
     * and by Neutron's `check_limit`. Nova and Neutron are written side by side; when one refuses, what the
     * other accepted is put back. `known`: the given limits' values as the caller read them just before
     * (a saga step's undo record); with every given one there, they are not read again.
     */
    async set(
      nativeProjectId: string,
      limits: QuotaLimits,
      options: CallOptions,
      known?: QuotaLimits,
    ): Promise<{ limits: QuotaLimits; previous: QuotaLimits }> {
      const given = (Object.keys(limits) as QuotaResource[]).filter((r) => limits[r] !== undefined);
      const missing = given.filter((r) => !((nova && r in novaQuotaNames) || (neutron && r in neutronQuotaNames)));
      if (missing.length > 0) throw unsupported(missing);
      const before = known && given.every((r) => known[r] !== undefined) ? known : await readLimits(nativeProjectId, options);
      const previous: QuotaLimits = {};
      for (const r of given) previous[r] = before[r] ?? null;
      const body = (table: Partial<Record<QuotaResource, string>>, values: QuotaLimits) =>
        Object.fromEntries(given.filter((r) => table[r]).map((r) => [table[r] as string, toVendorLimit(values[r] ?? null)]));
      // a put-back gets its own vendor deadline, from when it is sent
      const putBack = () => ({ signal: AbortSignal.timeout(deps.vendorTimeoutMs) });
      const writes: { write: () => Promise<unknown>; undo: () => Promise<unknown> }[] = [];
      const novaBody = body(novaQuotaNames, limits);
      if (nova && Object.keys(novaBody).length > 0)
        writes.push({
          write: () => nova.setQuota(nativeProjectId, novaBody, options),
          undo: () => nova.setQuota(nativeProjectId, body(novaQuotaNames, previous), putBack()),
        });
      const neutronBody = body(neutronQuotaNames, limits);
      if (neutron && Object.keys(neutronBody).length > 0)
        writes.push({
          write: () => neutron.setQuota(nativeProjectId, { ...neutronBody, check_limit: true }, options),
          undo: () => neutron.setQuota(nativeProjectId, body(neutronQuotaNames, previous), putBack()),
        });
      const outcomes = await Promise.allSettled(writes.map((w) => w.write()));
      const refused = outcomes.find((o) => o.status === 'rejected');
      if (refused) {
        // what one vendor accepted while the other refused goes back as it was
        await Promise.all(writes.map((w, i) => (outcomes[i]?.status === 'fulfilled' ? w.undo().catch(() => undefined) : undefined)));
        throw await translate(refused.reason, nativeProjectId, 0);
      }
      // what the vendors accepted is what was asked (they answer the same values): no read after the write
      return { limits: { ...before, ...limits }, previous };
    },
  };
}
export type QuotaOps = ReturnType<typeof createQuotaOps>;
export type QuotaErrors = QuotaOps['quotaErrors'];
