import { z } from 'zod';
import { organizationIdSchema, projectIdSchema, regionNameSchema } from './model.ts';
import { quotaTiersSchema, tierNameSchema } from './quota.ts';

/**
 * Quota tiers (sets of limits platform operators define, ranked smallest first) and the requests project
 * admins make for them. One step up with no quota change in the region for `recentDays` (30) is approved
 * at once, as is a step down; a jump over a tier or a change within those days waits for an operator.
 */
export const quotaRequestStatusSchema = z.enum(['PENDING_APPROVAL', 'APPROVED', 'REJECTED']);
export type QuotaRequestStatus = z.infer<typeof quotaRequestStatusSchema>;

export const quotaRequestIdSchema = z.string().regex(/^qrq_[0-9a-z]{26}$/, 'a request id is qrq_ and 26 letters or digits');

export const quotaRequestSchema = z.object({
  id: quotaRequestIdSchema,
  organization: organizationIdSchema,
  projectId: projectIdSchema,
  tier: tierNameSchema,
  regions: z.array(regionNameSchema),
  status: quotaRequestStatusSchema,
  /** Why it waits for an operator (empty when approved at once). */
  reasons: z.array(z.string()),
  requestedBy: z.string(),
  requestedAt: z.string(),
  /** `auto` when approved at once. */
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  decisionReason: z.string().nullable(),
  /** The APPLY_QUOTA_TIER operation that carries it out, once approved. */
  operationId: z.string().nullable(),
});
export type QuotaRequest = z.infer<typeof quotaRequestSchema>;

export const quotaTiersRecordSchema = z.object({
  tiers: quotaTiersSchema,
  version: z.number().int().min(0),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});
export type QuotaTiersRecord = z.infer<typeof quotaTiersRecordSchema>;

export const setQuotaTiersInput = z.object({ tiers: quotaTiersSchema });
export const quotaTiersReply = quotaTiersRecordSchema;

export const requestQuotaTierInput = z.object({
  projectId: projectIdSchema,
  tier: tierNameSchema,
  regions: z
    .array(regionNameSchema)
    .min(1, 'name at least one region')
    .max(30)
    .refine((rs) => new Set(rs).size === rs.length, 'a region is named twice'),
});
export const decideQuotaRequestInput = z.object({
  id: quotaRequestIdSchema,
  approve: z.boolean(),
  reason: z.string().max(500).nullish(),
});
export const quotaRequestListInput = z.object({
  organization: organizationIdSchema.nullish(),
  status: quotaRequestStatusSchema.nullish(),
  first: z.number().int().min(1).max(500).nullish(),
  after: z.string().max(200).nullish(),
});
export const quotaRequestReply = z.object({ request: quotaRequestSchema });
export const quotaRequestPageReply = z.object({ requests: z.array(quotaRequestSchema), nextCursor: z.string().nullable() });
