import { z } from 'zod';
import { organizationIdSchema, projectIdSchema, regionNameSchema, platformSchema } from '../model.ts';
import { accessRuleIdSchema, accessRuleSchema, networkIdSchema, networkNameSchema } from '../network.ts';

/**
 * A project as the adapter needs it: its global id and the organisation that owns it. The adapter finds
 * the native object by the project's tag or label, never by a native id a caller sends, and answers only
 * when that object is tagged for this organisation too.
 */
export const projectRefSchema = z.object({ projectId: projectIdSchema, organization: organizationIdSchema });

export const routerSchema = z.object({
  nativeId: z.string(),
  status: z.string(),
  /** Attached to the region's external network. */
  external: z.boolean(),
  /** The router's address on the external network, when attached. */
  externalIp: z.string().nullable(),
});

/** One network (with its subnet and router) in one placement. */
export const networkSchema = z.object({
  id: networkIdSchema,
  projectId: projectIdSchema,
  name: z.string(),
  region: regionNameSchema,
  platform: platformSchema,
  nativeId: z.string(),
  status: z.string(),
  cidr: z.string().nullable(),
  gatewayIp: z.string().nullable(),
  dnsNameservers: z.array(z.string()),
  subnetNativeId: z.string().nullable(),
  router: routerSchema.nullable(),
});
export type Network = z.infer<typeof networkSchema>;

export const networkCreateRequest = z.object({
  id: networkIdSchema,
  projectId: projectIdSchema,
  owner: organizationIdSchema,
  name: networkNameSchema,
  cidr: z.string(),
  gatewayIp: z.string().nullable(),
  dnsNameservers: z.array(z.string()),
  router: z.object({ external: z.boolean() }).nullable(),
});
export type NetworkCreateRequest = z.infer<typeof networkCreateRequest>;
export const networkCreateReply = z.object({ network: networkSchema, created: z.boolean() });

export const networkGetRequest = z.object({ projectId: projectIdSchema, owner: organizationIdSchema, networkId: networkIdSchema });
export const networkGetReply = z.object({ network: networkSchema.nullable() });

export const networkDeleteRequest = z.object({ projectId: projectIdSchema, owner: organizationIdSchema, networkId: networkIdSchema });
export const networkDeleteReply = z.object({ deleted: z.boolean() });

/** Projects in one network or rule list: a caller with more sends several. */
export const LIST_MAX_PROJECTS = 500;
export const networkListRequest = z.object({ projects: z.array(projectRefSchema).min(1).max(LIST_MAX_PROJECTS) });
export const networkListReply = z.object({ networks: z.array(networkSchema) });

/** An access rule as it exists in one placement. */
export const placedAccessRuleSchema = accessRuleSchema.extend({
  projectId: projectIdSchema,
  region: regionNameSchema,
  platform: platformSchema,
  /** Neutron security group rule id, NetworkPolicy name. */
  nativeId: z.string(),
  status: z.string(),
});
export type PlacedAccessRule = z.infer<typeof placedAccessRuleSchema>;

export const ruleApplyRequest = z.object({ projectId: projectIdSchema, owner: organizationIdSchema, rule: accessRuleSchema });
/**
 * `previousDescription`: the rule was there with another description, now replaced by the one asked for
 * (null: made new, or already as asked).
 */
export const ruleApplyReply = z.object({
  rule: placedAccessRuleSchema,
  created: z.boolean(),
  previousDescription: z.string().nullable().default(null),
});

export const ruleRemoveRequest = z.object({ projectId: projectIdSchema, owner: organizationIdSchema, ruleId: accessRuleIdSchema });
/** `rule` is what was removed (so the removal can be undone). */
export const ruleRemoveReply = z.object({ removed: z.boolean(), rule: accessRuleSchema.nullable() });

export const ruleListRequest = z.object({ projects: z.array(projectRefSchema).min(1).max(LIST_MAX_PROJECTS) });
export const ruleListReply = z.object({ rules: z.array(placedAccessRuleSchema) });
