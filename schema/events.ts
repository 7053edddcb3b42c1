import { z } from 'zod';

/** The CloudEvents type prefix of infrafed's events: `io.infrafed.operation.succeeded`. */
export const EVENT_TYPE_PREFIX = 'io.infrafed.';

/**
 * An event as published (CloudEvents 1.0, structured JSON): `type` is `io.infrafed.<what>`, `subject` the
 * object it is about (an operation id), `data` its details. Never holds credentials or request bodies.
 */
export const cloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  source: z.string(),
  type: z.string().startsWith(EVENT_TYPE_PREFIX),
  subject: z.string().nullable(),
  time: z.string(),
  datacontenttype: z.literal('application/json'),
  /** The organisation the event belongs to (a CloudEvents extension attribute). */
  infrafedorganization: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type CloudEvent = z.infer<typeof cloudEventSchema>;

/** What an operation's end says (`io.infrafed.operation.succeeded` / `.failed`). */
export const operationEventDataSchema = z.object({
  operationId: z.string(),
  kind: z.string(),
  status: z.enum(['SUCCEEDED', 'FAILED']),
  projectId: z.string().nullable(),
  principal: z.string(),
  /** The principal's organisation when a partner acted on the owner's project (the owner hears of it too). */
  principalOrganization: z.string().nullable(),
  target: z.object({ type: z.string(), id: z.string(), role: z.string().nullable() }).nullable(),
  placements: z.array(z.string()),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
