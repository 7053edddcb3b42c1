import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { EVENT_TYPE_PREFIX, type CloudEvent } from '../schema/events.ts';
import { EVENTS_STREAM, eventSubject, eventsWildcard, operatorEventSubject } from '../schema/subjects.ts';
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
