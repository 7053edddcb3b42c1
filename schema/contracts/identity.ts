import { z } from 'zod';
import {
  descriptionSchema,
  memberKindSchema,
  organizationIdSchema,
  platformSchema,
  projectIdSchema,
  projectNameSchema,
  projectRoleSchema,
  regionNameSchema,
  userNameSchema,
} from '../model.ts';

/** What one platform says about one placement of a project (read from the native object's tags/labels). */
export const projectPlacementSchema = z.object({
  projectId: projectIdSchema,
  organization: organizationIdSchema,
  name: z.string(),
  description: z.string(),
  region: regionNameSchema,
  platform: platformSchema,
  /** The native id: Keystone project id, OKD namespace name. */
  nativeId: z.string(),
  enabled: z.boolean(),
});
export type ProjectPlacement = z.infer<typeof projectPlacementSchema>;

export const projectCreateRequest = z.object({
  projectId: projectIdSchema,
  organization: organizationIdSchema,
  name: projectNameSchema,
  description: descriptionSchema,
});
export type ProjectCreateRequest = z.infer<typeof projectCreateRequest>;
export const projectCreateReply = z.object({ placement: projectPlacementSchema, created: z.boolean() });
export type ProjectCreateReply = z.infer<typeof projectCreateReply>;

/** `owner`: the organisation that owns the project; the adapter acts only on a native tagged for it. */
export const projectGetRequest = z.object({ projectId: projectIdSchema, owner: organizationIdSchema });
export const projectGetReply = z.object({ placement: projectPlacementSchema.nullable() });

/** Project ids in one `project list` or `member list`: a caller with more sends several. */
export const PROJECT_LIST_MAX_IDS = 500;
export const projectListRequest = z.object({
  organization: organizationIdSchema,
  /** Only these projects (batch look-up); all of the organisation's when absent. */
  projectIds: z.array(projectIdSchema).max(PROJECT_LIST_MAX_IDS).optional(),
});
export type ProjectListRequest = z.infer<typeof projectListRequest>;
export const projectListReply = z.object({ placements: z.array(projectPlacementSchema) });
export type ProjectListReply = z.infer<typeof projectListReply>;

export const projectDeleteRequest = z.object({ projectId: projectIdSchema, owner: organizationIdSchema });
export const projectDeleteReply = z.object({ deleted: z.boolean() });

export const memberSchema = z.object({
  projectId: projectIdSchema,
  /** `user` is a user's name, or a group's when `kind` is group. */
  kind: memberKindSchema.default('user'),
  user: userNameSchema,
  /** The organisation the user belongs to (its identity domain). */
  organization: organizationIdSchema,
  role: projectRoleSchema,
});
export type Member = z.infer<typeof memberSchema>;

export const memberAddRequest = z.object({
  projectId: projectIdSchema,
  owner: organizationIdSchema,
  kind: memberKindSchema.default('user'),
  user: userNameSchema,
  organization: organizationIdSchema,
  role: projectRoleSchema,
});
export type MemberAddRequest = z.infer<typeof memberAddRequest>;
export const memberAddReply = z.object({ member: memberSchema, previousRole: projectRoleSchema.nullable() });
export type MemberAddReply = z.infer<typeof memberAddReply>;

export const memberRemoveRequest = z.object({
  projectId: projectIdSchema,
  owner: organizationIdSchema,
  kind: memberKindSchema.default('user'),
  user: userNameSchema,
  organization: organizationIdSchema,
});
export type MemberRemoveRequest = z.infer<typeof memberRemoveRequest>;
export const memberRemoveReply = z.object({ removed: z.boolean(), previousRole: projectRoleSchema.nullable() });
export type MemberRemoveReply = z.infer<typeof memberRemoveReply>;

export const memberListRequest = z.object({
  projects: z
    .array(
      // found by the project's tag or label, never by a native id a caller sends; answered only when owned by `organization`
      z.object({ projectId: projectIdSchema, organization: organizationIdSchema }),
    )
    .min(1)
    .max(PROJECT_LIST_MAX_IDS),
});
export const memberListReply = z.object({ members: z.array(memberSchema) });

export const healthCheckRequest = z.object({});
export const healthCheckReply = z.object({
  region: regionNameSchema,
  platform: platformSchema,
  /** Round trip to the vendor API's cheapest authenticated call, milliseconds. */
  vendorLatencyMs: z.number(),
  vendorVersion: z.string(),
});
export type HealthCheckReply = z.infer<typeof healthCheckReply>;
