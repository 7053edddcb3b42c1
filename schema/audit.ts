import { z } from 'zod';
import { organizationIdSchema, projectIdSchema } from './model.ts';

/** What an audited action is about. */
export const auditTargetSchema = z.object({
  /** `user`, `group`, `organization` (a partner), `network`, `accessRule`, `quota` (a region), `project`. */
  type: z.string(),
  id: z.string(),
  /** The role (members) or level (partners) given, or held before a removal; null when it does not apply. */
  role: z.string().nullable(),
});
export type AuditTarget = z.infer<typeof auditTargetSchema>;

/**
 * One decision or outcome of the control layer, kept in a JetStream stream. Never holds credentials:
 * principals are token subjects, inputs are not copied (only what was asked, where, and the result).
 */
export const auditEventSchema = z.object({
  id: z.string(),
  time: z.string(),
  /** The token subject that asked. */
  principal: z.string(),
  /** The principal's organisation (the one whose log holds the event). */
  organization: organizationIdSchema,
  /** e.g. `operation.submit`, `operation.finished`, `entitlement.set`, `entitlement.get`. */
  action: z.string(),
  /** The operation kind, for operations. */
  kind: z.string().nullable(),
  projectId: z.string().nullable(),
  operationId: z.string().nullable(),
  /** `<region>/<platform>` the action touches. */
  placements: z.array(z.string()),
  decision: z.enum(['allowed', 'denied']),
  /** `accepted`, the operation's final status, or the refusal's error code. */
  result: z.string(),
  /** Why it was denied or failed (the error message shown to the caller). */
  reason: z.string().nullable(),
  /**
   * What the action is about: a user or group and the role it was given or lost, the partner organisation
   * and its level, a network, an access rule, a region's quota.
   */
  target: auditTargetSchema.nullable().default(null),
  /**
   * The principal's organisation when it is not the one whose log holds the event: a partner acting on a
   * project shared with it (the owner's log holds the event too).
   */
  principalOrganization: organizationIdSchema.nullable().default(null),
});
export type AuditEvent = z.infer<typeof auditEventSchema>;
/** An event as it is recorded (the fields with defaults may be left out). */
export type AuditEventInput = Omit<z.input<typeof auditEventSchema>, 'id' | 'time'>;

export const auditListRequest = z.object({
  /** Platform operators may read another organisation's log. */
  organization: organizationIdSchema.optional(),
  projectId: z.string().optional(),
  action: z.string().optional(),
  decision: z.enum(['allowed', 'denied']).optional(),
  first: z.number().int().min(1).max(500).default(50),
  /** The cursor of the previous page (`nextCursor`). */
  after: z
    .string()
    .refine((c) => auditCursorPosition(c) !== null, 'a cursor comes from a previous page (its nextCursor)')
    .optional(),
});

const AUDIT_CURSOR = /^audit:([1-9][0-9]{0,14})$/;
/** An audit page's cursor: opaque to callers, bounded (40 characters, a position below 10^15). */
export function auditCursor(position: number): string {
  return Buffer.from(`audit:${position}`, 'utf8').toString('base64url');
}
/** The position an audit cursor names, or null when it is not one this system made. */
export function auditCursorPosition(cursor: string): number | null {
  if (cursor.length > 40 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const match = AUDIT_CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : null;
}
export type AuditListRequest = z.infer<typeof auditListRequest>;
export const auditListReply = z.object({ events: z.array(auditEventSchema), nextCursor: z.string().nullable() });

/**
 * A read a subgraph answered, for the audit log. The principal and its organisation are the controller's
 * to take from the caller's token: a subgraph cannot write an event in anyone else's name (only the
 * controller writes the audit stream).
 */
export const readAuditRequest = z.object({
  subgraph: z.enum(['identity', 'network', 'quota', 'catalog']),
  /** The top-level fields read, e.g. `projects,project`. */
  fields: z.string().max(500),
  projectId: projectIdSchema.nullable(),
  decision: z.enum(['allowed', 'denied']),
  result: z.string().max(100),
  reason: z.string().max(1000).nullable(),
});
export type ReadAuditRequest = z.infer<typeof readAuditRequest>;
export const readAuditReply = z.object({});

/**
 * Reads a gateway's response cache answered, each with the authorization its caller sent
 * (`….audit.reads`): every read is recorded under the principal of its own token, as `audit.read` would.
 */
export const cachedReadsAuditRequest = z.object({
  reads: z
    .array(z.object({ authorization: z.string().min(1).max(16_384), read: readAuditRequest }))
    .min(1)
    .max(500),
});
export type CachedReadsAuditRequest = z.infer<typeof cachedReadsAuditRequest>;
/** How many were recorded (a read whose token no longer verifies is not). */
export const cachedReadsAuditReply = z.object({ recorded: z.number().int().min(0) });
