import { z } from 'zod';
import { auditEventSchema } from './audit.ts';
import { networkSchema } from './contracts/network.ts';
import { quotaResources } from './quota.ts';
import { orgRoleSchema } from './access.ts';
import { invitationStatusSchema } from './people.ts';

/**
 * The REST bridge's resources as zod schemas. They are the one source of three things: the GraphQL
 * selection the bridge sends (every field of the schema, see rest-bridge/selection.ts), the check of what
 * comes back, and the OpenAPI document. A field here that the GraphQL API lacks fails at once.
 */

const platform = z.enum(['openstack', 'okd']);
/** Every quota resource; null: unlimited (limits) or not a resource of that platform. */
const limits = z.object(
  Object.fromEntries(quotaResources.map((r) => [r, z.number().int().nullable()])) as Record<
    (typeof quotaResources)[number],
    z.ZodNullable<z.ZodNumber>
  >,
);

export const regionResource = z
  .object({
    name: z.string(),
    displayName: z.string(),
    platforms: z.array(
      z.object({
        platform: z.string(),
        status: z.enum(['UP', 'DEGRADED', 'DOWN']),
        adapters: z.number().int(),
        latencyMs: z.number().nullable(),
        vendorVersion: z.string().nullable(),
        detail: z.string().nullable(),
        checkedAt: z
          .string()
          .meta({ description: 'When this was looked at: discovery and health checks run in the background every 2 s.' }),
      }),
    ),
  })
  .meta({ id: 'Region' });

export const placementResource = z
  .object({ region: z.string(), platform, nativeId: z.string(), enabled: z.boolean() })
  .meta({ id: 'Placement' });
export const partnerResource = z
  .object({ organization: z.string(), level: z.enum(['reader', 'member', 'admin']), since: z.string() })
  .meta({ id: 'Partner' });

export const projectResource = z
  .object({
    id: z.string(),
    organization: z.string(),
    name: z.string(),
    description: z.string(),
    placements: z.array(placementResource),
    /** Shown to the owner only. */
    shares: z.array(partnerResource),
  })
  .meta({ id: 'Project' });

export const memberResource = z
  .object({
    user: z.string().nullable(),
    group: z.string().nullable(),
    organization: z.string(),
    role: z.enum(['reader', 'member', 'admin']),
    region: z.string(),
    platform,
  })
  .meta({ id: 'Member' });

/** A network as the adapters report it (the project is the path's). */
export const networkResource = networkSchema.omit({ projectId: true }).meta({ id: 'Network' });

export const accessRuleResource = z
  .object({
    id: z.string(),
    direction: z.string(),
    protocol: z.string(),
    portFrom: z.number().int().nullable(),
    portTo: z.number().int().nullable(),
    remoteCidr: z.string(),
    description: z.string(),
    region: z.string(),
    platform,
    nativeId: z.string(),
    status: z.string(),
  })
  .meta({ id: 'AccessRule' });

export const placementQuotaResource = z
  .object({
    region: z.string(),
    platform,
    /** The region's quota version: one more with every quota change accepted there (the ETag of …/quotas/{region}). */
    version: z.number().int(),
    quota: limits,
    usage: limits,
  })
  .meta({ id: 'PlacementQuota' });

const allocation = z.object({
  total: limits,
  regions: z.array(z.object({ region: z.string(), amounts: limits })),
  platforms: z.array(z.object({ platform, amounts: limits })),
});

export const organizationResource = z
  .object({
    id: z.string(),
    entitlements: allocation,
    usage: allocation,
    remaining: allocation,
    projectDefaults: limits,
    entitlementsUpdatedAt: z.string().nullable(),
    entitlementsUpdatedBy: z.string().nullable(),
    entitlementsVersion: z.number().int(),
    drift: z.array(
      z.object({
        projectId: z.string(),
        region: z.string(),
        platform: z.string(),
        resource: z.string(),
        recorded: z.number().int().nullable(),
        actual: z.number().int().nullable(),
      }),
    ),
    usageSyncedAt: z.string().nullable(),
    syncUnreachable: z.array(z.string()),
  })
  .meta({ id: 'Organization' });

export const entitlementsResource = z
  .object({
    organization: z.string(),
    total: limits,
    regions: z.array(z.object({ region: z.string(), amounts: limits })),
    platforms: z.array(z.object({ platform, amounts: limits })),
    projectDefaults: limits,
    updatedAt: z.string().nullable(),
    updatedBy: z.string().nullable(),
    /** One more with every change (the ETag); 0 when never set. */
    version: z.number().int(),
  })
  .meta({ id: 'Entitlements' });

/** The placements of a project in one region with their quotas. */
/** A region's quota (read as `partialOf(quotaRegionResource, 'RegionQuotaRead')`). */
export const quotaRegionResource = z.object({ region: z.string(), placements: z.array(placementQuotaResource) });

const operationError = z.object({
  code: z.string(),
  message: z.string(),
  region: z.string().nullable(),
  resource: z.string().nullable(),
  limit: z.number().int().nullable(),
  used: z.number().int().nullable(),
  requested: z.number().int().nullable(),
});

export const operationResource = z
  .object({
    id: z.string(),
    kind: z.string(),
    status: z.enum(['PENDING', 'RUNNING', 'COMPENSATING', 'SUCCEEDED', 'FAILED']),
    projectId: z.string().nullable(),
    /** The network or access rule the operation is about, when it is about one. */
    resourceId: z.string().nullable(),
    /** What the operation is about: the user or group and the role it gives, the partner and its level, the network… */
    target: z.object({ type: z.string(), id: z.string(), role: z.string().nullable() }).nullable(),
    steps: z.array(
      z.object({
        region: z.string(),
        platform,
        action: z.string(),
        status: z.string(),
        nativeId: z.string().nullable(),
        changed: z.boolean().nullable(),
        error: operationError.nullable(),
        startedAt: z.string().nullable(),
        finishedAt: z.string().nullable(),
      }),
    ),
    error: operationError.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Operation' });

export const auditEventResource = auditEventSchema.meta({ id: 'AuditEvent' });

/** A region or placement that did not answer a read: the list holds what the others answered. */
export const incompleteRegionResource = z
  .object({ region: z.string(), platform: z.string().nullable(), code: z.string(), message: z.string() })
  .meta({ id: 'IncompleteRegion' });

/**
 * A single resource as read from the regions: the regions that did not answer are named beside it (the
 * resource then lacks their part, and carries no ETag).
 */
export function partialOf<T extends z.ZodObject>(resource: T, id: string) {
  return resource.extend({ incompleteRegions: z.array(incompleteRegionResource) }).meta({ id });
}

/** A page of a list: `nextCursor` (also in the `Link` header, rel="next") continues it. */
export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      nextCursor: z.string().nullable(),
      incompleteRegions: z.array(incompleteRegionResource),
    })
    .meta({ id });
}

/** RFC 9457 problem details, with infrafed's error code and, for invalid input, every problem at once. */
export const problemResource = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    /** One of infrafed's error codes (schema/errors.ts), e.g. QUOTA_EXCEEDED. */
    code: z.string(),
    /** Invalid input: where (`body.name`, `query.limit`, `path.projectId`), what, and the value found. */
    problems: z.array(z.object({ location: z.string(), message: z.string(), value: z.unknown().optional() })).optional(),
    /** The operation the problem belongs to, when one was recorded. */
    operationId: z.string().optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });
export type ProblemResource = z.infer<typeof problemResource>;

/** An organisation's member (REST). */
export const organizationMemberResource = z
  .object({
    subject: z.string(),
    identityProvider: z.string(),
    email: z.string().nullable(),
    role: orgRoleSchema,
    grants: z.array(
      z
        .object({ role: orgRoleSchema, source: z.string(), ref: z.string().nullable(), by: z.string(), since: z.string() })
        .meta({ id: 'Grant' }),
    ),
    since: z.string(),
  })
  .meta({ id: 'OrganizationMember' });

/** An invitation (REST): its scope flat, as GraphQL has it. */
export const invitationResource = z
  .object({
    id: z.string(),
    organization: z.string(),
    scope: z
      .object({
        type: z.enum(['organization', 'project']),
        role: z.string(),
        projectId: z.string().nullable(),
        user: z.string().nullable(),
      })
      .meta({ id: 'InvitationScope' }),
    email: z.string().nullable(),
    invitee: z.string().nullable(),
    status: invitationStatusSchema,
    createdBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string(),
    decidedBy: z.string().nullable(),
    decidedAt: z.string().nullable(),
    operationId: z.string().nullable(),
  })
  .meta({ id: 'Invitation' });

export const createdInvitationResource = z.object({ invitation: invitationResource, secret: z.string() }).meta({ id: 'CreatedInvitation' });

export const identityRuleResource = z
  .object({
    id: z.string(),
    organization: z.string(),
    identityProvider: z.string(),
    claim: z.string(),
    pattern: z.string(),
    role: orgRoleSchema,
    createdBy: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'IdentityRule' });

/** The quota tiers platform operators defined (REST). */
export const quotaTiersResource = z
  .object({
    tiers: z.array(z.object({ name: z.string(), limits }).meta({ id: 'QuotaTier' })),
    version: z.number().int(),
    updatedAt: z.string().nullable(),
    updatedBy: z.string().nullable(),
  })
  .meta({ id: 'QuotaTiers' });

/** A tier request (REST). */
export const quotaRequestResource = z
  .object({
    id: z.string(),
    organization: z.string(),
    projectId: z.string(),
    tier: z.string(),
    regions: z.array(z.string()),
    status: z.enum(['PENDING_APPROVAL', 'APPROVED', 'REJECTED']),
    reasons: z.array(z.string()),
    requestedBy: z.string(),
    requestedAt: z.string(),
    decidedBy: z.string().nullable(),
    decidedAt: z.string().nullable(),
    decisionReason: z.string().nullable(),
    operationId: z.string().nullable(),
  })
  .meta({ id: 'QuotaRequest' });

/** A webhook (REST). */
export const webhookResource = z
  .object({
    id: z.string(),
    organization: z.string(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    createdBy: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'Webhook' });
export const createdWebhookResource = z.object({ webhook: webhookResource, secret: z.string() }).meta({ id: 'CreatedWebhook' });
export const webhookDeliveryResource = z
  .object({
    webhookId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    state: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.array(
      z
        .object({
          at: z.string(),
          httpStatus: z.number().int().nullable(),
          outcome: z.enum(['succeeded', 'failed']),
          error: z.string().nullable(),
          durationMs: z.number().int(),
        })
        .meta({ id: 'DeliveryAttempt' }),
    ),
    nextAttemptAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'WebhookDelivery' });

/** An onboarding (REST). */
export const onboardingResource = z
  .object({
    organization: z.string(),
    state: z.enum(['running', 'succeeded', 'failed']),
    by: z.string(),
    startedAt: z.string(),
    updatedAt: z.string(),
    invitationId: z.string().nullable(),
    operationId: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .meta({ id: 'Onboarding' });
export const onboardingResultResource = z
  .object({
    onboarding: onboardingResource,
    invitationId: z.string().nullable(),
    secret: z.string().nullable(),
    operationId: z.string().nullable(),
    operationStatus: z.string().nullable(),
    projectId: z.string().nullable(),
  })
  .meta({ id: 'OnboardingResult' });

/** What applying a resources file would change (the GraphQL `plan`): the same diff on every face. */
export const resourcePlanResource = z
  .object({
    changes: z.number().int().meta({ description: 'Changes the actions make.' }),
    held: z.number().int().meta({ description: 'Removals held back because `prune` was not asked for.' }),
    projects: z.array(
      z.object({
        name: z.string(),
        projectId: z.string().nullable(),
        action: z.string().meta({ description: 'create, update, delete (with prune) or unchanged' }),
        changes: z.array(
          z.object({
            op: z.string().meta({ description: '+ (create), ~ (change), - (remove), -/+ (replace)' }),
            resource: z.string().meta({ description: 'project, member, network, accessRule or quota' }),
            name: z.string(),
            region: z.string().nullable(),
            fields: z.array(z.object({ field: z.string(), from: z.string().nullable(), to: z.string().nullable() })),
            pruneOnly: z.boolean(),
          }),
        ),
      }),
    ),
    actions: z.array(
      z.object({
        key: z.string().meta({ description: 'Stable for the same change of the same project: derive an `Idempotency-Key` from it.' }),
        project: z.string(),
        projectId: z.string().nullable(),
        mutation: z.string(),
        variables: z.string().meta({ description: 'The GraphQL variables as JSON.' }),
        summary: z.string(),
      }),
    ),
    text: z.string().meta({ description: 'The plan as `infrafed plan` prints it.' }),
  })
  .meta({ id: 'ResourcePlan' });

export const resourcesDocumentResource = z
  .object({ document: z.string().meta({ description: 'YAML, one document per project (the format of `/schemas/resources.json`).' }) })
  .meta({ id: 'ResourcesDocument' });
