import { z } from 'zod';
import { organizationIdSchema, platformSchema, regionNameSchema } from './model.ts';
import { quotaResources, type QuotaResource } from './quota.ts';

/** Amounts per quota resource (absent: none set / not limited). */
export const amountsSchema = z.partialRecord(
  z.enum(quotaResources),
  z.number().int().min(0, 'an amount cannot be negative').max(2_147_483_647),
);
export type Amounts = Partial<Record<QuotaResource, number>>;

/**
 * What an organisation may allocate to its projects' quotas: a total, and per region. A resource absent
 * from a scope is not limited there. Set by platform operators.
 */
export const entitlementsSchema = z.object({
  organization: organizationIdSchema,
  total: amountsSchema,
  regions: z.record(regionNameSchema, amountsSchema),
  /** Per platform (service), over all regions: e.g. at most 16 cores on OKD. */
  platforms: z.partialRecord(platformSchema, amountsSchema).default({}),
  /** Quota limits every new placement gets (those its platform has), held against the entitlements like setQuota. */
  projectDefaults: amountsSchema.default({}),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
  /** Their version: one more with every change, never back to an earlier value (0: never set). Not stored: the store's revision. */
  version: z.number().int().min(0).default(0),
});
export type Entitlements = z.infer<typeof entitlementsSchema>;

export const setEntitlementsInput = z.object({
  organization: organizationIdSchema,
  total: amountsSchema.default({}),
  regions: z
    .array(z.object({ region: regionNameSchema, amounts: amountsSchema }))
    .max(64)
    .default([]),
  platforms: z
    .array(z.object({ platform: platformSchema, amounts: amountsSchema }))
    .max(8)
    .default([]),
  projectDefaults: amountsSchema.default({}),
  /** Replace them only if their `version` is still this one (PRECONDITION_FAILED otherwise, nothing changed). */
  ifVersion: z.number().int().min(0).optional(),
});
export type SetEntitlementsInput = z.infer<typeof setEntitlementsInput>;

/** Allocated (committed quota limits) plus reserved (operations in flight), in total and per region. */
export const usageSchema = z.object({
  total: amountsSchema,
  regions: z.record(regionNameSchema, amountsSchema),
  platforms: z.partialRecord(platformSchema, amountsSchema).default({}),
});
export type Usage = z.infer<typeof usageSchema>;

/** Entitlements minus usage: negative where the platforms hold more than entitled. */
const signedAmountsSchema = z.partialRecord(z.enum(quotaResources), z.number().int());
export const remainingSchema = z.object({
  total: signedAmountsSchema,
  regions: z.record(regionNameSchema, signedAmountsSchema),
  platforms: z.partialRecord(platformSchema, signedAmountsSchema).default({}),
});

/** A quota found on a platform that differs from what infrafed recorded (changed behind its back). */
export const quotaDriftSchema = z.object({
  projectId: z.string(),
  region: regionNameSchema,
  platform: z.string(),
  resource: z.string(),
  /** Null: never set through infrafed (the platform's own default, found by a sync). */
  recorded: z.number().nullable(),
  /** Null: unlimited on the platform. */
  actual: z.number().nullable(),
});

export const entitlementGetRequest = z.object({ organization: organizationIdSchema.optional() });
export const entitlementReply = z.object({
  entitlements: entitlementsSchema,
  usage: usageSchema,
  remaining: remainingSchema,
  /** What the last usage sync found, and when it ran (null: never). */
  drift: z.array(quotaDriftSchema),
  syncedAt: z.string().nullable(),
  /** Placements the last sync could not read (`region/platform`), when it was just run. */
  unreachable: z.array(z.string()).default([]),
});
export const usageSyncRequest = z.object({ organization: organizationIdSchema.optional() });
