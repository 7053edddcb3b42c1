import type { NatsConnection } from '@nats-io/nats-core';
import {
  getOperationReply,
  projectResolveReply,
  shareListReply,
  submitOperationReply,
  type Operation,
  type OperationRequest,
} from '../../schema/operations.ts';
import { entitlementReply, type SetEntitlementsInput } from '../../schema/entitlements.ts';
import { auditListReply, type AuditListRequest } from '../../schema/audit.ts';
import {
  controllerAuditSubject,
  controllerEntitlementSubject,
  controllerProjectSubject,
  controllerShareSubject,
  controllerSubject,
  Header,
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
  return {
    async submit(request: OperationRequest, call: ControllerCallOptions): Promise<{ operation: Operation; replayed: boolean }> {
      // `Prefer: respond-async`: the caller wants the operation back at once, still running
      const waitMs = /\brespond-async\b/i.test(call.headers[Header.prefer] ?? '') ? 0 : options.waitMs;
      return requestJson(nc, controllerSubject('submit'), { request, waitMs }, submitOperationReply, {
        timeoutMs: waitMs + 2_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
    },
    getEntitlements(organization: string | undefined, call: ControllerCallOptions) {
      return requestJson(nc, controllerEntitlementSubject('get'), { organization }, entitlementReply, {
        timeoutMs: 3_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
    },
    setEntitlements(input: SetEntitlementsInput, call: ControllerCallOptions) {
      return requestJson(nc, controllerEntitlementSubject('set'), input, entitlementReply, {
        timeoutMs: 3_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
    },
    syncUsage(organization: string | undefined, call: ControllerCallOptions) {
      return requestJson(nc, controllerEntitlementSubject('sync'), { organization }, entitlementReply, {
        timeoutMs: 15_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
    },
    listShares(query: { projectIds?: string[] }, call: ControllerCallOptions) {
      return requestJson(nc, controllerShareSubject(), query, shareListReply, {
        timeoutMs: 3_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
    },
    /** The projects among `projectIds` the caller may see, with their placements (the controller's index). */
    resolveProjects(projectIds: string[], call: ControllerCallOptions) {
      return requestJson(nc, controllerProjectSubject(), { projectIds }, projectResolveReply, {
        timeoutMs: 3_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
    },
    listAudit(request: AuditListRequest, call: ControllerCallOptions) {
      return requestJson(nc, controllerAuditSubject(), request, auditListReply, {
        timeoutMs: 5_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
    },
    async get(id: string, call: ControllerCallOptions): Promise<Operation | null> {
      const reply = await requestJson(nc, controllerSubject('get'), { id }, getOperationReply, {
        timeoutMs: 2_000,
        deadline: call.deadline,
        headers: call.headers,
        target,
      });
      return reply.operation;
    },
  };
}
export type ControllerClient = ReturnType<typeof createControllerClient>;
