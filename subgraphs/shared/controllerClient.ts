import type { NatsConnection } from '@nats-io/nats-core';
import type { z } from 'zod';
import {
  getOperationReply,
  projectResolveReply,
  shareListReply,
  submitOperationReply,
  type OperationView,
  type OperationRequest,
} from '../../schema/operations.ts';
import { entitlementReply, type SetEntitlementsInput } from '../../schema/entitlements.ts';
import { auditListReply, readAuditReply, type AuditListRequest, type ReadAuditRequest } from '../../schema/audit.ts';
import {
  controllerAuditSubject,
  controllerEntitlementSubject,
  controllerProjectSubject,
  controllerShareSubject,
  controllerPeopleSubject,
  controllerQuotaSubject,
  controllerSubject,
  controllerWebhookSubject,
  Header,
  type PeopleVerb,
  type QuotaVerb,
  type WebhookVerb,
} from '../../schema/subjects.ts';
import { requestJson } from '../../runtime/nats/request.ts';

export interface ControllerCallOptions {
  /** Headers forwarded to the controller: Authorization (it verifies the caller itself), Idempotency-Key, Prefer, traceparent. */
  headers: Record<string, string>;
  deadline?: number;
}

/** The controller's operation API as its callers (subgraphs) use it. */
export function createControllerClient(nc: NatsConnection, options: { waitMs: number }) {
  const target = { kind: 'service', name: 'the controller' } as const;
  /** One request to the controller with the caller's headers and deadline. */
  const ask = <S extends z.ZodType>(
    subject: string,
    body: unknown,
    reply: S,
    timeoutMs: number,
    call: ControllerCallOptions,
  ): Promise<z.infer<S>> => requestJson(nc, subject, body, reply, { timeoutMs, deadline: call.deadline, headers: call.headers, target });
  return {
    async submit(request: OperationRequest, call: ControllerCallOptions): Promise<{ operation: OperationView; replayed: boolean }> {
      // `Prefer: respond-async`: the caller wants the operation back at once, still running
      const waitMs = /\brespond-async\b/i.test(call.headers[Header.prefer] ?? '') ? 0 : options.waitMs;
      return ask(controllerSubject('submit'), { request, waitMs }, submitOperationReply, waitMs + 2_000, call);
    },
    getEntitlements(organization: string | undefined, call: ControllerCallOptions) {
      return ask(controllerEntitlementSubject('get'), { organization }, entitlementReply, 3_000, call);
    },
    setEntitlements(input: SetEntitlementsInput, call: ControllerCallOptions) {
      return ask(controllerEntitlementSubject('set'), input, entitlementReply, 3_000, call);
    },
    syncUsage(organization: string | undefined, call: ControllerCallOptions) {
      return ask(controllerEntitlementSubject('sync'), { organization }, entitlementReply, 15_000, call);
    },
    listShares(query: { projectIds?: string[] }, call: ControllerCallOptions) {
      return ask(controllerShareSubject(), query, shareListReply, 3_000, call);
    },
    /** The projects among `projectIds` the caller may see, with their placements (the controller's index). */
    resolveProjects(projectIds: string[], call: ControllerCallOptions) {
      return ask(controllerProjectSubject(), { projectIds }, projectResolveReply, 3_000, call);
    },
    /** A read the subgraph answered, for the audit log (the controller writes it in the name of the caller's token). */
    recordRead(event: ReadAuditRequest, call: ControllerCallOptions) {
      return ask(controllerAuditSubject('read'), event, readAuditReply, 5_000, call);
    },
    listAudit(request: AuditListRequest, call: ControllerCallOptions) {
      return ask(controllerAuditSubject(), request, auditListReply, 5_000, call);
    },
    /** Webhooks (a test delivery waits for the receiver: up to its timeout). */
    webhook<S extends z.ZodType>(verb: WebhookVerb, body: unknown, reply: S, call: ControllerCallOptions): Promise<z.infer<S>> {
      return ask(controllerWebhookSubject(verb), body, reply, 15_000, call);
    },
    /** Quota tiers and tier requests. */
    quota<S extends z.ZodType>(verb: QuotaVerb, body: unknown, reply: S, call: ControllerCallOptions): Promise<z.infer<S>> {
      return ask(controllerQuotaSubject(verb), body, reply, 10_000, call);
    },
    /** The controller's people API (members, invitations, rules). */
    people<S extends z.ZodType>(
      verb: PeopleVerb,
      body: unknown,
      reply: S,
      call: ControllerCallOptions,
      timeoutMs = 10_000,
    ): Promise<z.infer<S>> {
      // accepting a project invitation records its operation first; an onboarding waits for its first project
      return ask(controllerPeopleSubject(verb), body, reply, timeoutMs, call);
    },
    async get(id: string, call: ControllerCallOptions): Promise<OperationView | null> {
      const reply = await ask(controllerSubject('get'), { id }, getOperationReply, 2_000, call);
      return reply.operation;
    },
  };
}
export type ControllerClient = ReturnType<typeof createControllerClient>;
