import type { NatsConnection } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { cloudEventSchema } from '../schema/events.ts';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { EVENT_TYPE_PREFIX, type CloudEvent } from '../schema/events.ts';
import { EVENTS_STREAM, eventSubject, eventsWildcard, operatorEventSubject, WEBHOOK_CONSUMER } from '../schema/subjects.ts';
import { encodeJson } from '../runtime/nats/wire.ts';
import { openStream } from './durable.ts';

export interface EventsOptions {
  replicas?: number;
  /** How long events are kept for replay, days. Default 30. */
  maxAgeDays?: number;
  /** At most this many bytes; the oldest go first. Default 256 MiB. */
  maxBytes?: number;
  log: Logger;
}

/**
 * Events out: CloudEvents on `infra.v1.events.<org>.<type>`, kept in a JetStream stream so subscribers can
 * replay (a consumer filtered on their organisation's subjects). Publishing never fails what it reports.
 */
export async function openEvents(nc: NatsConnection, options: EventsOptions) {
  const js = jetstream(nc);
  await openStream(nc, {
    name: EVENTS_STREAM,
    subjects: [eventsWildcard()],
    allow_direct: true,
    max_age: (options.maxAgeDays ?? 30) * 24 * 3600 * 1e9,
    max_bytes: options.maxBytes ?? 268_435_456,
    num_replicas: options.replicas ?? 1,
  });
  return {
    /**
     * Publishes `type` (e.g. `operation.succeeded`) for the organisation (to the platform operators' subject
     * instead with `toOperators`); a failure is logged, never thrown.
     */
    async publish(
      organization: string,
      type: string,
      subject: string | null,
      data: Record<string, unknown>,
      to: { toOperators?: boolean } = {},
    ): Promise<void> {
      const event: CloudEvent = {
        specversion: '1.0',
        id: ulid().toLowerCase(),
        source: 'infrafed/controller',
        type: `${EVENT_TYPE_PREFIX}${type}`,
        subject,
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        infrafedorganization: organization,
        data,
      };
      try {
        // the event id is the message id: a publish repeated within the stream's window is stored once
        const where = to.toOperators ? operatorEventSubject(type) : eventSubject(organization, type);
        await js.publish(where, encodeJson(event), { msgID: event.id });
      } catch (error) {
        options.log.error({ err: error, type, organization }, 'event not published');
      }
    },
  };
}
export type Events = Awaited<ReturnType<typeof openEvents>>;

/**
 * Feeds every event published from now on to `handle`, each once across the controller's replicas (one
 * durable pull consumer); a handler that throws gets the event again after `retryMs`. Returns the stop.
 */
export async function consumeEvents(
  nc: NatsConnection,
  handle: (subject: string, event: CloudEvent) => Promise<void>,
  log: Logger,
  retryMs = 10_000,
): Promise<() => Promise<void>> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.info(EVENTS_STREAM, WEBHOOK_CONSUMER).catch(() =>
    jsm.consumers.add(EVENTS_STREAM, {
      durable_name: WEBHOOK_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      filter_subject: eventsWildcard(),
      ack_wait: 60_000_000_000,
    }),
  );
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, WEBHOOK_CONSUMER);
  const messages = await consumer.consume({ max_messages: 32 });
  const done = (async () => {
    for await (const msg of messages) {
      try {
        const parsed = cloudEventSchema.safeParse(msg.json());
        if (parsed.success) await handle(msg.subject, parsed.data);
        msg.ack();
      } catch (error) {
        log.warn({ err: error, subject: msg.subject }, 'event not handed to webhooks; again later');
        msg.nak(retryMs);
      }
    }
  })();
  return async () => {
    await messages.close();
    await done;
  };
}
