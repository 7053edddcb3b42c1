import { z } from 'zod';
import { eventFilterSchema, webhookIdSchema } from '../../schema/webhooks.ts';
import { createdWebhookResource, pageOf, webhookDeliveryResource, webhookResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { dataOf, limitQuery, type Route } from './route.ts';

const WEBHOOK = selectionOf(webhookResource);
const DELIVERY = selectionOf(webhookDeliveryResource);
const id = { id: webhookIdSchema };

/** The organisation's webhooks and their delivery logs (each route one GraphQL operation against the gateway). */
export const webhooksRoutes: Route[] = [
  {
    method: 'get',
    path: '/webhooks',
    operationId: 'listWebhooks',
    tag: 'webhooks',
    summary: "The organisation's webhooks (admins)",
    description: 'Each webhook with the event types it takes; the secret is never shown again after it was made.',
    query: limitQuery,
    response: pageOf(webhookResource, 'WebhookPage'),
    shape: 'list',
    async handle(ctx) {
      const result = await ctx.graphql<{ webhooks: { id: string }[] }>(`{ webhooks ${WEBHOOK} }`);
      return { kind: 'list', items: dataOf(result).webhooks, errors: [], sortKey: (w: { id: string }) => w.id };
    },
  },
  {
    method: 'post',
    path: '/webhooks',
    operationId: 'createWebhook',
    tag: 'webhooks',
    summary: 'Register a webhook for the organisation’s events (admins)',
    description:
      'Every event of the organisation whose type `eventTypes` names (`operation.failed`, `invitation.*`; none: all) is POSTed to `url` (https, a public address) as a CloudEvent (`application/cloudevents+json`), signed as Standard Webhooks do: `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 of HMAC-SHA256(secret key, "<id>.<timestamp>.<body>")>`. An answer other than 2xx is retried with back-off for almost 3 hours; every attempt is in `GET /webhooks/{id}/deliveries`. The answer holds the secret, shown only here.',
    body: {
      schema: z.object({ url: z.url().max(2000), eventTypes: z.array(eventFilterSchema).max(50).optional() }),
      omit: [],
      id: 'WebhookInput',
      example: { url: 'https://hooks.example.org/infrafed', eventTypes: ['operation.failed', 'quota.request.*'] },
    },
    response: createdWebhookResource,
    shape: 'resource',
    created: { location: '/webhooks', of: () => '/webhooks' },
    async handle(ctx) {
      const result = await ctx.graphql<{ createWebhook: unknown }>(
        `mutation($i: WebhookInput!) { createWebhook(input: $i) ${selectionOf(createdWebhookResource)} }`,
        { i: ctx.body },
      );
      return { kind: 'resource', body: dataOf(result).createWebhook };
    },
  },
  {
    method: 'delete',
    path: '/webhooks/{id}',
    operationId: 'deleteWebhook',
    tag: 'webhooks',
    summary: 'Remove a webhook (admins)',
    description: 'No event is sent to it any more; its deliveries still due end as failed.',
    params: id,
    response: webhookResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ deleteWebhook: unknown }>(`mutation($id: ID!) { deleteWebhook(id: $id) ${WEBHOOK} }`, {
        id: ctx.path.id,
      });
      return { kind: 'resource', body: dataOf(result).deleteWebhook };
    },
  },
  {
    method: 'post',
    path: '/webhooks/{id}/test',
    operationId: 'testWebhook',
    tag: 'webhooks',
    summary: 'Send a test event to a webhook now (admins)',
    description:
      'Sends one `io.infrafed.webhook.test` event at once, without retries, and answers with the attempt (what the receiver answered, or why it did not); it is in the delivery log too.',
    params: id,
    response: webhookDeliveryResource,
    shape: 'resource',
    async handle(ctx) {
      const result = await ctx.graphql<{ testWebhook: unknown }>(`mutation($id: ID!) { testWebhook(id: $id) ${DELIVERY} }`, {
        id: ctx.path.id,
      });
      return { kind: 'resource', body: dataOf(result).testWebhook };
    },
  },
  {
    method: 'get',
    path: '/webhooks/{id}/deliveries',
    operationId: 'listWebhookDeliveries',
    tag: 'webhooks',
    summary: "A webhook's delivery log (admins)",
    description:
      'Every delivery, oldest first, with its state (`pending`, `delivered`, `failed`), each attempt (time, HTTP status or error, duration) and when the next is due.',
    params: id,
    query: limitQuery,
    response: pageOf(webhookDeliveryResource, 'WebhookDeliveryPage'),
    shape: 'list',
    async handle(ctx) {
      const { limit, cursor } = ctx.query as { limit: number; cursor?: string };
      const result = await ctx.graphql<{ webhookDeliveries: { deliveries: unknown[]; nextCursor: string | null } }>(
        `query($id: ID!, $f: Int, $a: String) { webhookDeliveries(webhookId: $id, first: $f, after: $a) { deliveries ${DELIVERY} nextCursor } }`,
        { id: ctx.path.id, f: Math.min(limit, 200), a: cursor ?? null },
      );
      const page = dataOf(result).webhookDeliveries;
      return { kind: 'page', items: page.deliveries, nextCursor: page.nextCursor, errors: [] };
    },
  },
];
