import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Amounts, Entitlements, Usage } from '../schema/entitlements.ts';
import { entitlementsSchema } from '../schema/entitlements.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { parseProjectPlacementKey } from '../schema/model.ts';
import type { QuotaResource } from '../schema/quota.ts';
import { Bucket } from '../schema/subjects.ts';
import { encodeJson } from '../runtime/nats/wire.ts';
import { backoffMs, isCasConflict, openBucket } from './durable.ts';

/** One placement of a project: `<projectId>|<region>|<platform>` (`projectPlacementKey`). */
export type AllocationKey = string;

const amounts = z.partialRecord(z.string(), z.number());

/** A limit on a platform that differs from what infrafed recorded; `recorded` null: infrafed never set it (a platform default). */
export const driftSchema = z.object({
  key: z.string(),
  resource: z.string(),
  recorded: z.number().nullable(),
  actual: z.number().nullable(),
});
export type Drift = z.infer<typeof driftSchema>;
const ledgerSchema = z.object({
  /** The quota limits committed per placement (what the organisation has handed out). */
  allocations: z.record(z.string(), amounts),
  /**
   * Objects infrafed created or found per placement (networks, subnets, routers, rules): they count
   * against an entitlement only for a resource the placement has no limit for (a limit is what the
   * organisation has handed out; without one, what exists is what it uses).
   */
  counted: z.record(z.string(), amounts).default({}),
  /** Changes in flight: reserved before the platforms are touched, then committed or released. */
  reservations: z.record(
    z.string(),
    /** `delta`: per allocation key, what the change adds (negative: frees once committed). */
    z.object({
      changes: z.array(z.object({ key: z.string(), region: z.string(), limits: amounts })),
      delta: z.record(z.string(), amounts),
      expiresAt: z.number(),
    }),
  ),
  /** What the last usage sync found changed on the platforms behind infrafed's back. */
  drift: z.array(driftSchema).default([]),
  syncedAt: z.string().nullable().default(null),
  /**
   * The operations whose change was committed last (newest last, at most `APPLIED_KEPT`): a commit
   * repeated by a replica that took an operation over changes nothing the second time.
   */
  applied: z.array(z.string()).default([]),
});
type Ledger = z.infer<typeof ledgerSchema>;

const empty = (): Ledger => ({ allocations: {}, counted: {}, reservations: {}, drift: [], syncedAt: null, applied: [] });
/** How many committed operation ids a ledger remembers (far more than operations in flight at once). */
const APPLIED_KEPT = 500;
const regionOf = (key: AllocationKey) => parseProjectPlacementKey(key).region;
const platformOf = (key: AllocationKey) => parseProjectPlacementKey(key).platform;

function add(into: Record<string, number>, from: Record<string, number | undefined>, sign = 1): void {
  for (const [r, v] of Object.entries(from)) if (v !== undefined) into[r] = (into[r] ?? 0) + sign * v;
}

/** What one placement holds: its limits, and for a resource without a limit the objects counted there. */
function heldAt(ledger: Pick<Ledger, 'allocations' | 'counted'>, key: AllocationKey): Record<string, number | undefined> {
  return { ...ledger.counted[key], ...ledger.allocations[key] };
}

/** Allocated (or counted, see `counted`) + reserved, in total, per region and per platform. */
export function usageOf(ledger: Pick<Ledger, 'allocations' | 'counted' | 'reservations'>, now = Date.now()): Usage {
  const total: Record<string, number> = {};
  const regions: Record<string, Record<string, number>> = {};
  const platforms: Record<string, Record<string, number>> = {};
  const count = (key: AllocationKey, amounts: Record<string, number | undefined>) => {
    add(total, amounts);
    add((regions[regionOf(key)] ??= {}), amounts);
    add((platforms[platformOf(key)] ??= {}), amounts);
  };
  for (const key of new Set([...Object.keys(ledger.allocations), ...Object.keys(ledger.counted)])) count(key, heldAt(ledger, key));
  for (const r of Object.values(ledger.reservations)) {
    if (r.expiresAt < now) continue;
    for (const [key, delta] of Object.entries(r.delta)) {
      // a reservation holds only what it adds; what it frees counts once committed
      count(key, Object.fromEntries(Object.entries(delta).filter(([, v]) => (v ?? 0) > 0)));
    }
  }
  return { total: total as Amounts, regions: regions as Record<string, Amounts>, platforms: platforms as Usage['platforms'] };
}

/** What is left of the entitlements (only for the resources they limit). */
export function remainingOf(entitlements: Entitlements, usage: Usage): Usage {
  const left = (limit: Amounts, used: Amounts) =>
    // negative: the platforms hold more than entitled (an overage: see drift for the placements)
    Object.fromEntries(Object.entries(limit).map(([r, v]) => [r, (v as number) - (used[r as QuotaResource] ?? 0)])) as Amounts;
  const each = <K extends string>(limits: Partial<Record<K, Amounts>>, used: Partial<Record<K, Amounts>>) =>
    Object.fromEntries(Object.entries(limits).map(([k, limit]) => [k, left(limit as Amounts, used[k as K] ?? {})])) as Record<K, Amounts>;
  return {
    total: left(entitlements.total, usage.total),
    regions: each(entitlements.regions, usage.regions),
    platforms: each(entitlements.platforms, usage.platforms),
  };
}

export interface OverEntitlement {
  resource: QuotaResource;
  limit: number;
  used: number;
  requested: number;
  scope: 'organization' | 'region' | 'platform';
  region: string | null;
  platform: string | null;
}

/**
 * Where the change (`delta` per allocation key) would take the organisation past an entitlement: the
 * first resource over, with the figures (`used` counts allocations and reservations in flight).
 */
export function overEntitlement(entitlements: Entitlements, usage: Usage, delta: Record<AllocationKey, Amounts>): OverEntitlement | null {
  const sum = (pick: (key: AllocationKey) => string | null) => {
    const out: Record<string, Record<string, number>> = {};
    for (const [key, d] of Object.entries(delta)) add((out[pick(key) ?? ''] ??= {}), d);
    return out;
  };
  const scopes: {
    scope: OverEntitlement['scope'];
    deltas: Record<string, Record<string, number>>;
    limits: (k: string) => Amounts | undefined;
    used: (k: string) => Amounts | undefined;
  }[] = [
    { scope: 'organization', deltas: sum(() => null), limits: () => entitlements.total, used: () => usage.total },
    { scope: 'region', deltas: sum(regionOf), limits: (k) => entitlements.regions[k], used: (k) => usage.regions[k] },
    {
      scope: 'platform',
      deltas: sum(platformOf),
      limits: (k) => entitlements.platforms[k as 'okd'],
      used: (k) => usage.platforms[k as 'okd'],
    },
  ];
  for (const { scope, deltas, limits, used } of scopes) {
    for (const [k, d] of Object.entries(deltas)) {
      for (const [resource, requested] of Object.entries(d)) {
        const limit = limits(k)?.[resource as QuotaResource];
        const inUse = used(k)?.[resource as QuotaResource] ?? 0;
        if (limit !== undefined && requested > 0 && inUse + requested > limit) {
          return {
            resource: resource as QuotaResource,
            limit,
            used: inUse,
            requested,
            scope,
            region: scope === 'region' ? k : null,
            platform: scope === 'platform' ? k : null,
          };
        }
      }
    }
  }
  return null;
}

/** Objects created (positive) or removed (negative) in one placement. */
export interface ObjectChange {
  key: AllocationKey;
  amounts: Amounts;
}

export interface LedgerOptions {
  /** A reservation not committed or released within this is void (its controller replica died). Default 10 minutes. */
  reservationTtlMs?: number;
  replicas?: number;
}

/**
 * Entitlements and the allocation ledger of each organisation, in JetStream KV. Every change of the
 * ledger is a compare-and-set on the entry's revision, so concurrent requests (on any replica) cannot
 * overspend: a writer that lost the race reads again and checks again.
 */
export async function openLedger(nc: NatsConnection, options: LedgerOptions = {}) {
  const replicas = options.replicas ?? 1;
  const entitlementsKv: KV = await openBucket(nc, Bucket.entitlements, { history: 5, replicas });
  const ledgerKv: KV = await openBucket(nc, Bucket.ledger, { history: 1, replicas });
  const ttl = options.reservationTtlMs ?? 600_000;

  async function read(organization: string): Promise<{ ledger: Ledger; revision: number }> {
    const entry = await ledgerKv.get(organization);
    if (!entry || entry.operation !== 'PUT') return { ledger: empty(), revision: 0 };
    return { ledger: ledgerSchema.parse(entry.json()), revision: entry.revision };
  }

  /** Read, change, write with compare-and-set; again (after a back-off) on a lost race. */
  async function change<T>(organization: string, mutate: (ledger: Ledger) => T): Promise<T> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { ledger, revision } = await read(organization);
      const now = Date.now();
      for (const [id, r] of Object.entries(ledger.reservations)) if (r.expiresAt < now) delete ledger.reservations[id];
      const result = mutate(ledger);
      try {
        if (revision === 0) await ledgerKv.create(organization, encodeJson(ledger));
        else await ledgerKv.update(organization, encodeJson(ledger), revision);
        return result;
      } catch (error) {
        // another writer got there first (wrong last sequence / key exists): read again
        if (!isCasConflict(error)) throw error;
        await sleep(backoffMs(attempt, 5, 250));
      }
    }
    throw new InfrafedError(ErrorCode.CONFLICT, `the quota ledger of ${organization} is too busy; retry`);
  }

  async function entitlementsOf(organization: string): Promise<Entitlements> {
    const entry = await entitlementsKv.get(organization);
    if (!entry || entry.operation !== 'PUT')
      return { organization, total: {}, regions: {}, platforms: {}, projectDefaults: {}, updatedAt: null, updatedBy: null, version: 0 };
    return { ...entitlementsSchema.parse(entry.json()), version: entry.revision };
  }

  return {
    entitlementsOf,
    /**
     * Replaces them; with `ifVersion`, only if the stored revision is still that one (compare-and-set; 0:
     * only if never set), else PRECONDITION_FAILED. Answers the new version.
     */
    async setEntitlements(value: Omit<Entitlements, 'version'>, ifVersion?: number): Promise<number> {
      const key = value.organization;
      if (ifVersion === undefined) return entitlementsKv.put(key, encodeJson(value));
      try {
        return ifVersion === 0
          ? await entitlementsKv.create(key, encodeJson(value))
          : await entitlementsKv.update(key, encodeJson(value), ifVersion);
      } catch (error) {
        if (!isCasConflict(error)) throw error;
        const current = await entitlementsOf(key);
        throw new InfrafedError(
          ErrorCode.PRECONDITION_FAILED,
          `the entitlements of ${key} changed since you read them (version ${ifVersion}, now ${current.version}); read them again`,
          { version: current.version },
        );
      }
    },
    /** Removes them if still at `version` (an onboarding undone): the organisation is unknown again. */
    async deleteEntitlements(organization: string, version: number): Promise<void> {
      try {
        await entitlementsKv.delete(organization, { previousSeq: version });
      } catch (error) {
        if (!isCasConflict(error)) throw error;
      }
    },
    async usage(organization: string): Promise<Usage> {
      return usageOf((await read(organization)).ledger);
    },

    /**
     * Reserves a change against the entitlements: `changes` are new quota limits per placement, `objects`
     * are objects about to be created per placement (they hold only where that resource has no limit).
     * QUOTA_EXCEEDED with the figures when it does not fit (and nothing is written).
     */
    async reserve(
      organization: string,
      id: string,
      changes: { key: AllocationKey; limits: Amounts }[],
      objects: ObjectChange[] = [],
    ): Promise<void> {
      const entitlements = await entitlementsOf(organization);
      await change(organization, (ledger) => {
        if (ledger.reservations[id]) return;
        const delta: Record<AllocationKey, Amounts> = {};
        for (const c of changes) {
          const current = heldAt(ledger, c.key);
          const d = (delta[c.key] ??= {});
          for (const [r, v] of Object.entries(c.limits))
            if (v !== undefined) d[r as QuotaResource] = (d[r as QuotaResource] ?? 0) + v - (current[r] ?? 0);
        }
        for (const o of objects) {
          const limited = ledger.allocations[o.key] ?? {};
          const d = (delta[o.key] ??= {});
          for (const [r, v] of Object.entries(o.amounts))
            if (v !== undefined && v > 0 && limited[r] === undefined) d[r as QuotaResource] = (d[r as QuotaResource] ?? 0) + v;
        }
        const over = overEntitlement(entitlements, usageOf(ledger), delta);
        if (over) {
          const where = over.scope === 'region' ? `in ${over.region}` : over.scope === 'platform' ? `on ${over.platform}` : 'in total';
          throw new InfrafedError(
            ErrorCode.QUOTA_EXCEEDED,
            `${organization} is entitled to ${over.limit} ${over.resource} ${where}; ` +
              `${over.used} are allocated or reserved and ${over.requested} more were asked for`,
            { ...over },
          );
        }
        ledger.reservations[id] = {
          changes: changes.map((c) => ({ key: c.key, region: regionOf(c.key), limits: c.limits })),
          delta,
          expiresAt: Date.now() + ttl,
        };
      });
    },

    /**
     * The change happened: its limits become the allocation, its objects are counted (negative: removed).
     * `reserved`: the change was held by a reservation, which must still be live (an expired one may have
     * been spent by others): RESERVATION_EXPIRED, and nothing changes. Committing an operation again
     * changes nothing (a replica that took the operation over may repeat the commit).
     */
    async commit(
      organization: string,
      id: string,
      changes: { key: AllocationKey; limits: Amounts }[],
      objects: ObjectChange[] = [],
      options: { reserved?: boolean } = {},
    ): Promise<void> {
      await change(organization, (ledger) => {
        if (ledger.applied.includes(id)) return;
        if (options.reserved && !ledger.reservations[id]) {
          throw new InfrafedError(
            ErrorCode.RESERVATION_EXPIRED,
            `operation ${id} outlived its hold on ${organization}'s entitlements (reservations last ${Math.round(ttl / 1000)} s unless renewed)`,
          );
        }
        ledger.applied = [...ledger.applied, id].slice(-APPLIED_KEPT);
        for (const c of changes) ledger.allocations[c.key] = { ...ledger.allocations[c.key], ...c.limits };
        for (const o of objects) {
          const counted = (ledger.counted[o.key] ??= {});
          for (const [r, v] of Object.entries(o.amounts)) if (v !== undefined) counted[r] = Math.max(0, (counted[r] ?? 0) + v);
        }
        delete ledger.reservations[id];
      });
    },

    /**
     * The operation holding `id` is still at work: its reservation lives another full term.
     * RESERVATION_EXPIRED when it is gone (expired first): the operation cannot commit it any more.
     */
    async renew(organization: string, id: string): Promise<void> {
      await change(organization, (ledger) => {
        const held = ledger.reservations[id];
        if (!held)
          throw new InfrafedError(
            ErrorCode.RESERVATION_EXPIRED,
            `operation ${id} holds nothing on ${organization}'s entitlements any more`,
          );
        held.expiresAt = Date.now() + ttl;
      });
    },

    /** How long a reservation lives without renewal, milliseconds. */
    reservationTtlMs: ttl,

    /** The change did not happen: what it held is free again. */
    async release(organization: string, id: string): Promise<void> {
      await change(organization, (ledger) => {
        delete ledger.reservations[id];
      });
    },

    /**
     * Usage sync: what the platforms hold is the truth. Each placement's allocation becomes the limits its
     * platform has (an unlimited limit is not counted) and its counted objects what the platform says is in
     * use; where a recorded limit differs, that is drift, kept until the next sync. Placements not in
     * `actual` (not read this time) keep theirs.
     */
    async reconcile(
      organization: string,
      actual: Record<AllocationKey, { limits: Record<string, number | null>; usage: Amounts }>,
    ): Promise<{ drift: Drift[]; syncedAt: string }> {
      const syncedAt = new Date().toISOString();
      const entitlements = await entitlementsOf(organization);
      return change(organization, (ledger) => {
        const drift: Drift[] = [];
        for (const [key, { limits, usage }] of Object.entries(actual)) {
          const recorded = ledger.allocations[key];
          for (const [resource, was] of Object.entries(recorded ?? {})) {
            const now = limits[resource];
            if (was !== undefined && now !== was) drift.push({ key, resource, recorded: was, actual: now ?? null });
          }
          // a limit infrafed never set on a resource the entitlements cover (a platform's own default):
          // drift too, so an overage names the placements that cause it
          const { region, platform } = parseProjectPlacementKey(key);
          const covered = new Set(
            [
              entitlements.total,
              entitlements.regions[region],
              entitlements.platforms[platform as keyof typeof entitlements.platforms],
            ].flatMap((a) => Object.keys(a ?? {})),
          );
          for (const [resource, now] of Object.entries(limits)) {
            if (now !== null && covered.has(resource) && recorded?.[resource as QuotaResource] === undefined)
              drift.push({ key, resource, recorded: null, actual: now });
          }
          ledger.allocations[key] = Object.fromEntries(Object.entries(limits).filter((e): e is [string, number] => e[1] !== null));
          ledger.counted[key] = { ...usage };
        }
        ledger.drift = drift;
        ledger.syncedAt = syncedAt;
        return { drift, syncedAt };
      });
    },

    async drift(organization: string): Promise<{ drift: Drift[]; syncedAt: string | null }> {
      const { ledger } = await read(organization);
      return { drift: ledger.drift, syncedAt: ledger.syncedAt };
    },

    /** A project is gone: its allocations are free. */
    async forgetProject(organization: string, projectId: string): Promise<void> {
      await change(organization, (ledger) => {
        for (const key of Object.keys(ledger.allocations)) if (key.startsWith(`${projectId}|`)) delete ledger.allocations[key];
        for (const key of Object.keys(ledger.counted)) if (key.startsWith(`${projectId}|`)) delete ledger.counted[key];
      });
    },
  };
}
export type QuotaLedger = Awaited<ReturnType<typeof openLedger>>;
