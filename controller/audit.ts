import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import {
  auditCursor,
  auditCursorPosition,
  auditEventSchema,
  type AuditEvent,
  type AuditEventInput,
  type AuditListRequest,
} from '../schema/audit.ts';
import { AUDIT_STREAM, auditSubject, auditWildcard } from '../schema/subjects.ts';
import { openStream } from './durable.ts';
import { encodeJson } from '../runtime/nats/wire.ts';

export interface AuditOptions {
  replicas?: number;
  /** How long events are kept, days. Default 400 (a year and then some, for yearly reviews). */
  maxAgeDays?: number;
  /** At most this many bytes of events; the oldest go first. Default 1 GiB. */
  maxBytes?: number;
  log: Logger;
}

/**
 * The audit log: one JetStream stream, a subject per organisation (`infra.v1.audit.<org>`), read back
 * with direct gets by subject (`next_by_subj`), so paging never waits and never needs a consumer.
 */
export async function openAudit(nc: NatsConnection, options: AuditOptions) {
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const js = jetstream(nc);
  await openStream(nc, {
    name: AUDIT_STREAM,
    subjects: [auditWildcard()],
    allow_direct: true,
    max_age: (options.maxAgeDays ?? 400) * 24 * 3600 * 1e9,
    max_bytes: options.maxBytes ?? 1_073_741_824,
    num_replicas: options.replicas ?? 1,
  });

  return {
    /** Records an event; a failure is logged, never thrown (auditing must not break what it audits). */
    async record(event: AuditEventInput): Promise<void> {
      const full: AuditEvent = {
        id: ulid().toLowerCase(),
        time: new Date().toISOString(),
        ...event,
        target: event.target ?? null,
        principalOrganization: event.principalOrganization ?? null,
      };
      try {
        await js.publish(auditSubject(event.organization), encodeJson(full));
      } catch (error) {
        options.log.error({ err: error, action: event.action, organization: event.organization }, 'audit event not recorded');
      }
    },

    /** A page of an organisation's events, oldest first, filtered; `nextCursor` continues after it. */
    async list(organization: string, req: AuditListRequest): Promise<{ events: AuditEvent[]; nextCursor: string | null }> {
      const events: AuditEvent[] = [];
      let seq = req.after ? (auditCursorPosition(req.after) ?? 0) + 1 : 1;
      let last: number | null = null;
      // bounded scan: a narrow filter over a long log returns a short page and a cursor to go on
      for (let scanned = 0; events.length < req.first && scanned < req.first * 20; scanned++) {
        const msg = await jsm.direct.getMessage(AUDIT_STREAM, { seq, next_by_subj: auditSubject(organization) });
        if (!msg) return { events, nextCursor: null };
        last = msg.seq;
        seq = msg.seq + 1;
        const event = auditEventSchema.parse(msg.json());
        if (req.projectId && event.projectId !== req.projectId) continue;
        if (req.action && event.action !== req.action) continue;
        if (req.decision && event.decision !== req.decision) continue;
        events.push(event);
      }
      return { events, nextCursor: last === null ? null : auditCursor(last) };
    },
  };
}
export type Audit = Awaited<ReturnType<typeof openAudit>>;
