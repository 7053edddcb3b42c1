import { z } from 'zod';
import { organizationIdSchema, projectIdSchema } from './model.ts';

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
});
export type AuditEvent = z.infer<typeof auditEventSchema>;

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
    .regex(/^[0-9]+$/, 'a cursor is a number from a previous page')
    .optional(),
});
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
