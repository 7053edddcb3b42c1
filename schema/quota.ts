import { z } from 'zod';
import { projectIdSchema, regionNameSchema } from './model.ts';

/**
 * The neutral quota resources. OpenStack: Nova quota-set (cores, ram, instances) and Neutron quotas.
 * OKD: a ResourceQuota (cores → requests.cpu, ramMiB → requests.memory, instances → pods, volumes →
 * persistentvolumeclaims, securityGroupRules → count/networkpolicies). `ramMiB` is mebibytes, as Nova
 * counts. A resource a platform does not have is NOT_SUPPORTED there.
 */
export const quotaResources = [
  'cores',
  'ramMiB',
  'instances',
  'networks',
  'subnets',
  'ports',
  'routers',
  'floatingIps',
  'securityGroups',
  'securityGroupRules',
  'volumes',
] as const;
export type QuotaResource = (typeof quotaResources)[number];

/** One limit a caller sets: a whole number from 0. */
export const limitSchema = z
  .number()
  .int('a quota is a whole number')
  .min(0, 'a quota cannot be negative')
  .max(2_147_483_647, 'a quota is at most 2147483647');

/** Limits to set: fields left out stay as they are. */
export const quotaLimitsInput = z
  .object(
    Object.fromEntries(quotaResources.map((r) => [r, limitSchema.optional()])) as Record<QuotaResource, z.ZodOptional<typeof limitSchema>>,
  )
  .strict()
  .refine((limits) => Object.values(limits).some((v) => v !== undefined), 'give at least one limit');
export type QuotaLimitsInput = z.infer<typeof quotaLimitsInput>;

/** Limits as read back: every resource the platform has; null means unlimited. */
export const quotaLimitsSchema = z.partialRecord(z.enum(quotaResources), z.number().int().nullable());
export type QuotaLimits = Partial<Record<QuotaResource, number | null>>;

/** What is in use, per resource. */
export const quotaUsageSchema = z.partialRecord(z.enum(quotaResources), z.number().int());
export type QuotaUsage = Partial<Record<QuotaResource, number>>;

export const setQuotaInput = z.object({
  projectId: projectIdSchema,
  region: regionNameSchema,
  limits: quotaLimitsInput,
  /** Change only if the region's quota version is still this one (the `version` read); PRECONDITION_FAILED otherwise. */
  ifVersion: z.number().int().min(0).optional(),
});
export type SetQuotaInput = z.infer<typeof setQuotaInput>;

/** A quota tier's name: 1-32 lower-case letters, digits or dashes. */
export const tierNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a tier name is 1-32 lower-case letters, digits or dashes');

/** A tier: a set of limits, as the operator defines it; tiers are ranked in the order given (the first the smallest). */
export const quotaTierSchema = z.object({ name: tierNameSchema, limits: quotaLimitsInput });
export type QuotaTier = z.infer<typeof quotaTierSchema>;
export const quotaTiersSchema = z
  .array(quotaTierSchema)
  .max(20)
  .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, 'a tier is named twice');

/** An approved tier request carried out: the tier's limits on the project's placements in the regions, in one operation. */
export const applyQuotaTierInput = z.object({
  projectId: projectIdSchema,
  regions: z
    .array(regionNameSchema)
    .min(1)
    .max(30)
    .refine((rs) => new Set(rs).size === rs.length, 'a region is named twice'),
  tier: tierNameSchema,
  limits: quotaLimitsInput,
  /** The request it carries out. */
  requestId: z.string().regex(/^qrq_[0-9a-z]{26}$/),
});
export type ApplyQuotaTierInput = z.infer<typeof applyQuotaTierInput>;

/** The neutral quota resources each platform has (OpenStack here: Nova and Neutron; no Cinder). */
export const platformQuotaResources: Record<'openstack' | 'okd', readonly QuotaResource[]> = {
  openstack: [
    'cores',
    'ramMiB',
    'instances',
    'networks',
    'subnets',
    'ports',
    'routers',
    'floatingIps',
    'securityGroups',
    'securityGroupRules',
  ],
  okd: ['cores', 'ramMiB', 'instances', 'volumes', 'securityGroupRules'],
};

/** The limits of `limits` that a platform has. */
export function limitsFor(
  platform: 'openstack' | 'okd',
  limits: Partial<Record<QuotaResource, number>>,
): Partial<Record<QuotaResource, number>> {
  return Object.fromEntries(Object.entries(limits).filter(([r]) => platformQuotaResources[platform].includes(r as QuotaResource)));
}
