import { z } from 'zod';
import { organizationIdSchema } from './model.ts';

/**
 * Webhooks: an organisation's HTTPS endpoints that receive its events (CloudEvents, the same as on
 * `infra.v1.events.<org>.…`), signed as Standard Webhooks do (HMAC-SHA256 over `<id>.<timestamp>.<body>`
 * with the webhook's secret: headers `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`),
 * retried with back-off when they fail, every attempt in the webhook's delivery log.
 */
export const webhookIdSchema = z.string().regex(/^whk_[0-9a-z]{26}$/, 'a webhook id is whk_ and 26 letters or digits');

/** Event types a webhook takes: a type (`operation.succeeded`) or a prefix ending in `.*` (`invitation.*`); none: all. */
export const eventFilterSchema = z
  .string()
  .regex(/^[a-z]+(\.[a-z_]+)*(\.\*)?$/, 'an event type such as operation.failed, or a prefix such as invitation.*')
  .max(100);

export const webhookRecordSchema = z.object({
  id: webhookIdSchema,
  organization: organizationIdSchema,
  url: z.string(),
  eventTypes: z.array(eventFilterSchema),
  /** `whsec_` + base64 of 32 random bytes; shown once, when the webhook is made. */
  secret: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type WebhookRecord = z.infer<typeof webhookRecordSchema>;

export const webhookViewSchema = webhookRecordSchema.omit({ secret: true });
export type WebhookView = z.infer<typeof webhookViewSchema>;

export const createWebhookInput = z.object({
  url: z.url().max(2000),
  eventTypes: z.array(eventFilterSchema).max(50).default([]),
});

export const deliveryAttemptSchema = z.object({
  at: z.string(),
  /** The HTTP status the receiver answered; null when it did not answer. */
  httpStatus: z.number().int().nullable(),
  outcome: z.enum(['succeeded', 'failed']),
  /** Why it failed when there is no status (refused, timed out, a private address). */
  error: z.string().nullable(),
  durationMs: z.number().int(),
});
export type DeliveryAttempt = z.infer<typeof deliveryAttemptSchema>;

export const deliveryRecordSchema = z.object({
  webhookId: webhookIdSchema,
  organization: organizationIdSchema,
  eventId: z.string(),
  eventType: z.string(),
  /** The CloudEvent as sent (each attempt sends the same body). */
  body: z.string(),
  state: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.array(deliveryAttemptSchema),
  /** When the next attempt is due (pending only). */
  nextAttemptAt: z.string().nullable(),
  /** A replica working on it until then (another waits). */
  claimedUntil: z.string().nullable(),
  createdAt: z.string(),
});
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;
export const deliveryViewSchema = deliveryRecordSchema.omit({ body: true, claimedUntil: true, organization: true });
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

export const webhookReply = z.object({ webhook: webhookViewSchema });
export const createdWebhookReply = z.object({ webhook: webhookViewSchema, secret: z.string() });
export const webhookListReply = z.object({ webhooks: z.array(webhookViewSchema) });
export const deliveryListInput = z.object({
  webhookId: webhookIdSchema,
  first: z.number().int().min(1).max(200).nullish(),
  after: z.string().max(200).nullish(),
});
export const deliveryPageReply = z.object({ deliveries: z.array(deliveryViewSchema), nextCursor: z.string().nullable() });
export const deliveryReply = z.object({ delivery: deliveryViewSchema });
