import { z } from 'zod';
import { organizationIdSchema, projectIdSchema } from '../model.ts';
import { quotaLimitsSchema, quotaUsageSchema } from '../quota.ts';
import { projectRefSchema } from './network.ts';

export const placementQuotaSchema = z.object({
  projectId: projectIdSchema,
  limits: quotaLimitsSchema,
  usage: quotaUsageSchema,
});
export type PlacementQuota = z.infer<typeof placementQuotaSchema>;

/** `limitsOnly`: the limits without the use (a write's undo needs no more; far cheaper on Neutron): `usage` is then empty. */
/** Projects in one `quota get` (Nova is read per project): a caller with more sends several. */
export const QUOTA_GET_MAX_PROJECTS = 100;
export const quotaGetRequest = z.object({
  projects: z.array(projectRefSchema).min(1).max(QUOTA_GET_MAX_PROJECTS),
  limitsOnly: z.boolean().optional(),
});
export const quotaGetReply = z.object({ quotas: z.array(placementQuotaSchema) });

/** Limits to write; null sets "unlimited" (only undo does that: callers give whole numbers, see quotaLimitsInput). */
/**
 * `previous`: the given limits as the caller read them just before (a saga step's undo record); an adapter
 * may use them instead of reading them again, to put back what a refused write changed and to answer them.
 */
export const quotaSetRequest = z.object({
  projectId: projectIdSchema,
  owner: organizationIdSchema,
  limits: quotaLimitsSchema,
  previous: quotaLimitsSchema.optional(),
});
/**
 * `previous` holds the earlier value of every limit that was given (so the change can be undone); `limits` the
 * limits after: all of them when the adapter read them, at least the given ones when the request had `previous`.
 */
export const quotaSetReply = z.object({ limits: quotaLimitsSchema, previous: quotaLimitsSchema });
