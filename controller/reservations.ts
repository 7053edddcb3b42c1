import type { Amounts, Entitlements } from '../schema/entitlements.ts';
import { projectPlacementKey } from '../schema/model.ts';
import type { Operation } from '../schema/operations.ts';
import { limitsFor } from '../schema/quota.ts';
import type { ObjectChange, QuotaLedger } from './ledger.ts';

/** The ledger entries a quota-setting operation changes: one per placement step (the limits its platform has). */
export function quotaChanges(op: Operation, limits: Amounts): { key: string; limits: Amounts }[] {
  return op.steps.map((s) => ({ key: projectPlacementKey(op.projectId as string, s), limits: limitsFor(s.platform, limits) }));
}

/** The objects an operation creates or removes, per placement (`done`: only the steps that changed something). */
export function objectChanges(op: Operation, done = false): ObjectChange[] {
  if (!op.objects) return [];
  return op.steps
    .filter((s) => !done || (s.status === 'SUCCEEDED' && s.changed !== false))
    .map((s) => ({ key: projectPlacementKey(op.projectId as string, s), amounts: limitsFor(s.platform, op.objects as Amounts) }));
}

/** Holds the objects an operation will create against the entitlements (none to create: holds nothing; `op.reserved` says). */
export async function reserveObjects(ledger: QuotaLedger, op: Operation): Promise<void> {
  if (!Object.values(op.objects ?? {}).some((v) => (v ?? 0) > 0)) return;
  await ledger.reserve(op.organization, op.id, [], objectChanges(op));
  op.reserved = true;
}

/**
 * At the end of an operation that counted objects: those its steps made or removed count (a failed
 * removal that did remove some still counts those as gone); a failed creation frees what it held.
 */
export async function settleObjects(ledger: QuotaLedger, op: Operation, succeeded: boolean): Promise<void> {
  if (!op.objects) return;
  const removes = Object.values(op.objects).some((v) => (v ?? 0) < 0);
  if (succeeded || removes) await ledger.commit(op.organization, op.id, [], objectChanges(op, true), { reserved: op.reserved });
  else await ledger.release(op.organization, op.id);
}

/**
 * The limits every new placement gets: the organisation's project defaults, or, when it has none, zero for
 * every resource its entitlements cover (so no platform default, e.g. Nova's 20 cores, is ever unaccounted).
 */
export function explicitDefaults(entitlements: Entitlements): Amounts {
  if (Object.keys(entitlements.projectDefaults).length > 0) return entitlements.projectDefaults;
  const covered = [entitlements.total, ...Object.values(entitlements.regions), ...Object.values(entitlements.platforms)].flatMap((a) =>
    Object.keys(a ?? {}),
  );
  return Object.fromEntries([...new Set(covered)].map((r) => [r, 0])) as Amounts;
}
