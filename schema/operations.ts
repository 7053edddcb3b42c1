import { z } from 'zod';
import { errorCodes, publicExtensions } from './errors.ts';
import { applyAccessRuleInput, createNetworkInput, deleteNetworkInput, removeAccessRuleInput } from './network.ts';
import { applyQuotaTierInput, setQuotaInput } from './quota.ts';
import {
  descriptionSchema,
  groupNameSchema,
  operationIdSchema,
  organizationIdSchema,
  placementSchema,
  platformSchema,
  projectIdSchema,
  projectNameSchema,
  projectRoleSchema,
  regionNameSchema,
  userNameSchema,
} from './model.ts';

export const OperationStatus = {
  /** Recorded, no step started yet. */
  PENDING: 'PENDING',
  RUNNING: 'RUNNING',
  /** A step failed; undoing the steps that succeeded. */
  COMPENSATING: 'COMPENSATING',
  SUCCEEDED: 'SUCCEEDED',
  /** Failed; every step that had succeeded was undone (see the steps). */
  FAILED: 'FAILED',
} as const;
export type OperationStatus = (typeof OperationStatus)[keyof typeof OperationStatus];
export const operationStatusSchema = z.enum(['PENDING', 'RUNNING', 'COMPENSATING', 'SUCCEEDED', 'FAILED']);
export const terminalStatuses: readonly OperationStatus[] = ['SUCCEEDED', 'FAILED'];

/** An operation still in work: not finished, or failed with an undo that must be retried. */
export function isActive(op: { status: OperationStatus; steps: readonly { status: string }[] }): boolean {
  return !terminalStatuses.includes(op.status) || (op.status === 'FAILED' && op.steps.some((s) => s.status === 'COMPENSATION_FAILED'));
}

export const StepStatus = {
  PENDING: 'PENDING',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  /** Succeeded, then undone because another step failed. */
  COMPENSATED: 'COMPENSATED',
  /** The undo itself failed: the controller retries it; the native object may still exist. */
  COMPENSATION_FAILED: 'COMPENSATION_FAILED',
  /** Not run (the operation failed before it was reached). */
  SKIPPED: 'SKIPPED',
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];
export const stepStatusSchema = z.enum(['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'COMPENSATED', 'COMPENSATION_FAILED', 'SKIPPED']);

export const wireErrorSchema = z.object({
  code: z.enum(errorCodes as [string, ...string[]]),
  message: z.string(),
  extensions: z.record(z.string(), z.unknown()).optional(),
});

export const operationStepSchema = z.object({
  region: regionNameSchema,
  platform: platformSchema,
  /** What the step does there, e.g. `project.create`. */
  action: z.string(),
  status: stepStatusSchema,
  nativeId: z.string().nullable(),
  /** False when the placement already was as asked (e.g. the rule existed): nothing was changed there. */
  changed: z.boolean().nullable().default(null),
  error: wireErrorSchema.nullable(),
  /** Data the undo needs (e.g. the member's previous role). */
  undo: z.record(z.string(), z.unknown()).nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type OperationStep = z.infer<typeof operationStepSchema>;

export const createProjectInput = z.object({
  name: projectNameSchema,
  description: descriptionSchema.default(''),
  placements: z.array(placementSchema).min(1, 'at least one placement is needed').max(16, 'at most 16 placements'),
});
export const deleteProjectInput = z.object({ projectId: projectIdSchema });
/** Exactly one of `user` and `group`. */
function oneMember(input: { user?: string | null; group?: string | null }, ctx: z.RefinementCtx): void {
  const given = [input.user, input.group].filter((v) => v != null).length;
  if (given !== 1)
    ctx.addIssue({ code: 'custom', path: ['user'], message: given === 0 ? 'give a user or a group' : 'give a user or a group, not both' });
}
export const addMemberInput = z
  .object({ projectId: projectIdSchema, user: userNameSchema.nullish(), group: groupNameSchema.nullish(), role: projectRoleSchema })
  .superRefine(oneMember);
export const removeMemberInput = z
  .object({ projectId: projectIdSchema, user: userNameSchema.nullish(), group: groupNameSchema.nullish() })
  .superRefine(oneMember);

/** The member an add/remove input names, as adapters take it. */
export function memberOf(input: { user?: string | null; group?: string | null }): { kind: 'user' | 'group'; user: string } {
  return input.group != null ? { kind: 'group', user: input.group } : { kind: 'user', user: input.user as string };
}

/** The level a partner organisation gets on a shared project: at most what that organisation role could do. */
/** An `Idempotency-Key`: 1-200 visible ASCII characters (spaces allowed), as the API documents. */
export const idempotencyKeySchema = z
  .string()
  .min(1, 'an Idempotency-Key is 1 to 200 characters')
  .max(200, 'an Idempotency-Key is 1 to 200 characters')
  .regex(/^[\x20-\x7e]+$/, 'an Idempotency-Key is visible ASCII characters');

export const shareLevelSchema = z.enum(['reader', 'member', 'admin']);
export type ShareLevel = z.infer<typeof shareLevelSchema>;
export const shareProjectInput = z.object({ projectId: projectIdSchema, partner: organizationIdSchema, level: shareLevelSchema });
export const revokeShareInput = z.object({ projectId: projectIdSchema, partner: organizationIdSchema });

/**
 * Every kind of operation with its input: the wire contract between the API faces and the controller.
 * What a kind does is declared once, in `controller/kinds/`.
 */
export const operationInputs = {
  CREATE_PROJECT: createProjectInput,
  DELETE_PROJECT: deleteProjectInput,
  ADD_MEMBER: addMemberInput,
  REMOVE_MEMBER: removeMemberInput,
  CREATE_NETWORK: createNetworkInput,
  DELETE_NETWORK: deleteNetworkInput,
  APPLY_ACCESS_RULE: applyAccessRuleInput,
  REMOVE_ACCESS_RULE: removeAccessRuleInput,
  SET_QUOTA: setQuotaInput,
  APPLY_QUOTA_TIER: applyQuotaTierInput,
  SHARE_PROJECT: shareProjectInput,
  REVOKE_SHARE: revokeShareInput,
} as const;
export type OperationKind = keyof typeof operationInputs;
/** Kinds only the controller itself starts (an approved quota request): never taken from a caller's submit. */
export const internalKinds: readonly OperationKind[] = ['APPLY_QUOTA_TIER'];
export const operationKinds = Object.keys(operationInputs) as [OperationKind, ...OperationKind[]];
export const OperationKind = Object.fromEntries(operationKinds.map((k) => [k, k])) as { readonly [K in OperationKind]: K };

type OperationRequestSchema = {
  [K in OperationKind]: z.ZodObject<{ kind: z.ZodLiteral<K>; input: (typeof operationInputs)[K] }>;
}[OperationKind];
/** What a caller asks the controller to do; validated again by the controller. */
export const operationRequestSchema = z.discriminatedUnion(
  'kind',
  operationKinds.map((kind) => z.object({ kind: z.literal(kind), input: operationInputs[kind] })) as unknown as [
    OperationRequestSchema,
    ...OperationRequestSchema[],
  ],
);
export type OperationRequest = z.infer<typeof operationRequestSchema>;

export const operationSchema = z.object({
  id: operationIdSchema,
  kind: z.enum(operationKinds),
  status: operationStatusSchema,
  organization: organizationIdSchema,
  /** Who asked (the token's subject). */
  principal: z.string(),
  projectId: projectIdSchema.nullable(),
  /** The network or access rule the operation is about, when it is about one. */
  resourceId: z.string().nullable().default(null),
  /** The organisation that owns the project (a partner's operation is on the owner's project); adapters act only on its natives. */
  projectOwner: organizationIdSchema.nullable().default(null),
  /** CREATE_PROJECT in an organisation with project defaults: the quota limits each placement gets. */
  quotaDefaults: z.partialRecord(z.string(), z.number().int()).nullable().default(null),
  /**
   * The objects each placement gains (positive) or loses (negative) when its step changes something:
   * a network, its subnet and router; an access rule. Counted against the entitlements (see the ledger).
   */
  objects: z.partialRecord(z.string(), z.number().int()).nullable().default(null),
  request: operationRequestSchema,
  /** sha-256 of the canonical request: the same Idempotency-Key with another body is refused. */
  requestHash: z.string(),
  idempotencyKey: z.string().nullable(),
  steps: z.array(operationStepSchema),
  error: wireErrorSchema.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /**
   * The controller replica running it, and how long its claim holds without a write (ms). Another replica
   * takes it over once it has seen the record unchanged for that long, by its own clock: no two hosts'
   * clocks are compared. The owner renews it by writing (a heartbeat while a step runs).
   */
  owner: z.string().nullable(),
  leaseMs: z.number().int().positive().nullable().default(null),
  /**
   * Accepted: its kind's acceptance (index changes, holds) is done and its caller may be given it. A record
   * not yet accepted may still be removed (its request refused): a replay of its Idempotency-Key waits.
   * Older records: accepted.
   */
  accepted: z.boolean().default(true),
  /** The operation holds a reservation on the entitlements (renewed while it runs; committed only while live). */
  reserved: z.boolean().default(false),
  /** Undo attempts made after the first (a failed undo is retried with a growing pause). */
  undoAttempts: z.number().int().min(0).default(0),
});
export type Operation = z.infer<typeof operationSchema>;

export const submitOperationRequest = z.object({
  request: operationRequestSchema,
  /** How long the controller may wait for the outcome before answering with the running operation. */
  waitMs: z.number().int().min(0).max(30_000).default(8_000),
});
export type SubmitOperationRequest = z.infer<typeof submitOperationRequest>;
/**
 * An operation as the controller answers it: the record, with what it is about (derived by its kind from
 * the request and the steps, as its audit events name it: the user or group and the role given or held
 * before a removal, the partner and its level, the network, rule, region or project).
 */
export const operationViewSchema = operationSchema.extend({
  target: z.object({ type: z.string(), id: z.string(), role: z.string().nullable() }).nullable(),
});
export type OperationView = z.infer<typeof operationViewSchema>;
export const submitOperationReply = z.object({ operation: operationViewSchema, replayed: z.boolean() });
export const getOperationRequest = z.object({ id: operationIdSchema });
export const getOperationReply = z.object({ operation: operationViewSchema.nullable() });

/** The controller's index of a project: which placements it has, so writes need no fan-out to find them. */
export const projectRecordSchema = z.object({
  projectId: projectIdSchema,
  organization: organizationIdSchema,
  name: z.string(),
  placements: z.array(placementSchema),
  state: z.enum(['CREATING', 'ACTIVE', 'DELETING']),
  operationId: operationIdSchema,
  /** Partner organisations the owner shared the project with, and at which level. */
  shares: z.array(z.object({ organization: organizationIdSchema, level: shareLevelSchema, since: z.string() })).default([]),
  /**
   * The version of the quota limits in each region: one more with every SET_QUOTA accepted there (what a
   * conditional quota write compares and sets in one step; the REST ETag).
   */
  quotaVersions: z.record(z.string(), z.number().int().min(0)).default({}),
  /** When each region's quota was last changed (a SET_QUOTA or a tier accepted there): tier requests look at it. */
  quotaChangedAt: z.record(z.string(), z.string()).default({}),
  /** The quota tier each region holds (a tier applied there; a SET_QUOTA by hand clears it). */
  quotaTiers: z.record(z.string(), z.string()).default({}),
});
export type ProjectRecord = z.infer<typeof projectRecordSchema>;

/**
 * The projects among `projectIds` that the caller may see (its organisation's own, and those shared with
 * it), with their placements from the controller's index: what subgraphs resolve a project entity by,
 * never the representation a caller sends.
 */
/** Project ids in one resolve: a caller with more sends several. */
export const PROJECT_RESOLVE_MAX_IDS = 500;
export const projectResolveRequest = z.object({ projectIds: z.array(projectIdSchema).min(1).max(PROJECT_RESOLVE_MAX_IDS) });
export const projectResolveReply = z.object({
  projects: z.array(
    z.object({
      projectId: projectIdSchema,
      organization: organizationIdSchema,
      placements: z.array(placementSchema),
      quotaVersions: z.record(z.string(), z.number().int().min(0)).default({}),
    }),
  ),
});

/** Projects shared with the caller's organisation; with `projectId` of one of its own projects, that project's partners. */
/** `projectIds`: the partners of each of these (a batch: one request for a whole page of projects). */
export const shareListRequest = z.object({ projectIds: z.array(projectIdSchema).max(500).optional() });
const partnersSchema = z.array(z.object({ organization: organizationIdSchema, level: shareLevelSchema, since: z.string() }));
export const shareListReply = z.object({
  sharedWithMe: z.array(z.object({ projectId: projectIdSchema, owner: organizationIdSchema, level: shareLevelSchema })),
  /** With `projectIds`: the partners per project (empty for a project the caller does not own). */
  partnersByProject: z.record(z.string(), partnersSchema).default({}),
});

/**
 * Problems with placements that the schema alone cannot see: a region or platform that is not configured,
 * and the same placement twice. `known` is the configured set of placements.
 */
export function placementProblems(
  placements: readonly { region: string; platform: string }[],
  known: readonly { region: string; platform: string }[],
  pathPrefix = 'placements',
): { path: string; message: string; value?: unknown }[] {
  const problems: { path: string; message: string; value?: unknown }[] = [];
  const regions = [...new Set(known.map((k) => k.region))];
  const seen = new Set<string>();
  placements.forEach((p, i) => {
    const at = `${pathPrefix}[${i}]`;
    if (!regions.includes(p.region)) {
      problems.push({ path: `${at}.region`, message: `unknown region; known regions: ${regions.join(', ')}`, value: p.region });
    } else if (!known.some((k) => k.region === p.region && k.platform === p.platform)) {
      const here = known.filter((k) => k.region === p.region).map((k) => k.platform);
      problems.push({
        path: `${at}.platform`,
        message: `region ${p.region} does not run ${p.platform}; it runs ${here.join(', ')}`,
        value: p.platform,
      });
    }
    const key = `${p.region}/${p.platform}`;
    if (seen.has(key)) problems.push({ path: at, message: `duplicate placement ${key}`, value: key });
    seen.add(key);
  });
  return problems;
}

/** An operation as the GraphQL `Operation` type answers it (errors with their public extensions only). */
export function operationForGraphql(op: OperationView) {
  const err = (e: OperationView['error']) =>
    e
      ? {
          code: e.code,
          message: e.message,
          region: null,
          resource: null,
          limit: null,
          used: null,
          requested: null,
          ...publicExtensions(e.extensions),
        }
      : null;
  return {
    id: op.id,
    kind: op.kind,
    status: op.status,
    projectId: op.projectId,
    resourceId: op.resourceId,
    target: op.target,
    steps: op.steps.map((s) => ({ ...s, error: err(s.error) })),
    error: err(op.error),
    createdAt: op.createdAt,
    updatedAt: op.updatedAt,
  };
}
