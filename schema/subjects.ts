import type { AdapterContractResource, AdapterContractVerb } from './contracts/adapter.ts';
import type { Platform } from './model.ts';

/**
 * Every NATS subject and queue name infrafed uses is built here, and only here.
 * Targeted:  infra.v1.<region>.<platform>.<resource>.<verb>
 * Broadcast: infra.v1.all.<resource>.<verb>  (every adapter, one copy per adapter queue group)
 */
export const SUBJECT_ROOT = 'infra.v1';

const tokenPattern = /^[a-z][a-z0-9-]*$/;
function token(value: string, what: string): string {
  if (!tokenPattern.test(value)) throw new Error(`invalid ${what} for a NATS subject: ${JSON.stringify(value)}`);
  return value;
}

/** The subject of one adapter request: its resource and verb are those of the contract table (schema/contracts/adapter.ts). */
export function adapterSubject<R extends AdapterContractResource>(
  region: string,
  platform: Platform,
  resource: R,
  verb: AdapterContractVerb<R>,
): string {
  return `${SUBJECT_ROOT}.${token(region, 'region')}.${platform}.${resource}.${verb}`;
}

/** Wildcard that matches all of one region/platform's subjects (permissions, adapter subscriptions). */
export function adapterWildcard(region: string, platform: Platform): string {
  return `${SUBJECT_ROOT}.${token(region, 'region')}.${platform}.>`;
}

export function broadcastSubject<R extends AdapterContractResource>(resource: R, verb: AdapterContractVerb<R>): string {
  return `${SUBJECT_ROOT}.all.${resource}.${verb}`;
}

/** Queue group of one region's adapter replicas: each adapter gets one copy of a broadcast. */
export function adapterQueue(region: string, platform: Platform): string {
  return `${platform}-${token(region, 'region')}`;
}

/** NATS services API name of an adapter (`$SRV.INFO.<name>`): names may not contain dots. */
export function adapterServiceName(platform: Platform): string {
  return `infrafed-adapter-${platform}`;
}

export const SubgraphName = { identity: 'identity', catalog: 'catalog', network: 'network', quota: 'quota' } as const;
export type SubgraphName = (typeof SubgraphName)[keyof typeof SubgraphName];

/** Subject a subgraph's replicas serve GraphQL requests on (queue group {@link subgraphQueue}). */
export function subgraphSubject(name: SubgraphName): string {
  return `${SUBJECT_ROOT}.subgraph.${token(name, 'subgraph')}.graphql`;
}
export function subgraphQueue(name: SubgraphName): string {
  return `subgraph-${name}`;
}
export function subgraphServiceName(name: SubgraphName): string {
  return `infrafed-subgraph-${name}`;
}

export const ControllerVerb = { submit: 'submit', get: 'get' } as const;
export type ControllerVerb = (typeof ControllerVerb)[keyof typeof ControllerVerb];

/** The controller's operation API: `infra.v1.controller.operation.<verb>`. */
export function controllerSubject(verb: ControllerVerb): string {
  return `${SUBJECT_ROOT}.controller.operation.${verb}`;
}
/** The controller's entitlement API: `infra.v1.controller.entitlement.<get|set>`. */
export function controllerEntitlementSubject(verb: 'get' | 'set' | 'sync'): string {
  return `${SUBJECT_ROOT}.controller.entitlement.${verb}`;
}
/** The controller's people API (members, invitations, sign-in rules, sessions): `infra.v1.controller.people.<verb>`. */
export const PeopleVerb = {
  memberList: 'member.list',
  memberSet: 'member.set',
  memberRemove: 'member.remove',
  invitationCreate: 'invitation.create',
  invitationList: 'invitation.list',
  invitationCancel: 'invitation.cancel',
  invitationAccept: 'invitation.accept',
  invitationDecline: 'invitation.decline',
  ruleCreate: 'rule.create',
  ruleList: 'rule.list',
  ruleDelete: 'rule.delete',
  session: 'session.exchange',
  onboard: 'onboarding.run',
  onboarding: 'onboarding.get',
} as const;
export type PeopleVerb = (typeof PeopleVerb)[keyof typeof PeopleVerb];
export function controllerPeopleSubject(verb: PeopleVerb): string {
  return `${SUBJECT_ROOT}.controller.people.${verb}`;
}
/** Quota tiers and tier requests: `infra.v1.controller.quota.<verb>`. */
export const QuotaVerb = {
  tiersGet: 'tiers.get',
  tiersSet: 'tiers.set',
  request: 'request.create',
  decide: 'request.decide',
  list: 'request.list',
} as const;
export type QuotaVerb = (typeof QuotaVerb)[keyof typeof QuotaVerb];
export function controllerQuotaSubject(verb: QuotaVerb): string {
  return `${SUBJECT_ROOT}.controller.quota.${verb}`;
}
/** Webhooks: `infra.v1.controller.webhook.<verb>`. */
export const WebhookVerb = { create: 'create', list: 'list', delete: 'delete', test: 'test', deliveries: 'deliveries' } as const;
export type WebhookVerb = (typeof WebhookVerb)[keyof typeof WebhookVerb];
export function controllerWebhookSubject(verb: WebhookVerb): string {
  return `${SUBJECT_ROOT}.controller.webhook.${verb}`;
}
/** Project shares as the controller keeps them: `infra.v1.controller.share.list`. */
export function controllerShareSubject(): string {
  return `${SUBJECT_ROOT}.controller.share.list`;
}

/** Which of some projects the caller may see, and their placements: `infra.v1.controller.project.resolve`. */
export function controllerProjectSubject(): string {
  return `${SUBJECT_ROOT}.controller.project.resolve`;
}

/**
 * The controller's audit API: `infra.v1.controller.audit.list`, `….audit.read` for the reads subgraphs
 * answered, `….audit.reads` for the reads gateways' caches answered (a batch, each with its caller's token).
 */
export function controllerAuditSubject(verb: 'list' | 'read' | 'reads' = 'list'): string {
  return `${SUBJECT_ROOT}.controller.audit.${verb}`;
}
export const CONTROLLER_QUEUE = 'controller';

/** The audit stream and its subjects: one per organisation. */
export const AUDIT_STREAM = 'INFRAFED_AUDIT';
export function auditSubject(organization: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(organization))
    throw new Error(`invalid organization for a NATS subject: ${JSON.stringify(organization)}`);
  return `${SUBJECT_ROOT}.audit.${organization}`;
}
export function auditWildcard(): string {
  return `${SUBJECT_ROOT}.audit.>`;
}
/**
 * The events stream (CloudEvents, kept so subscribers can replay): `infra.v1.events.<org>.<type>`, e.g.
 * `infra.v1.events.acme.operation.succeeded`. One subject tree per organisation: a subscriber allowed
 * `infra.v1.events.acme.>` sees acme's events only.
 */
export const EVENTS_STREAM = 'INFRAFED_EVENTS';
/** The durable consumer of the events stream that feeds webhooks (shared by the controller's replicas). */
export const WEBHOOK_CONSUMER = 'webhooks';
export function eventSubject(organization: string, type: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(organization))
    throw new Error(`invalid organization for a NATS subject: ${JSON.stringify(organization)}`);
  if (!/^[a-z]+(\.[a-z_]+)*$/.test(type)) throw new Error(`invalid event type for a NATS subject: ${JSON.stringify(type)}`);
  return `${SUBJECT_ROOT}.events.${organization}.${type}`;
}

/** Where platform operators hear of what waits for them (`_operators` is no organisation id: they cannot meet). */
export const OPERATORS_EVENT_SEGMENT = '_operators';
export function operatorEventSubject(type: string): string {
  if (!/^[a-z]+(\.[a-z_]+)*$/.test(type)) throw new Error(`invalid event type for a NATS subject: ${JSON.stringify(type)}`);
  return `${SUBJECT_ROOT}.events.${OPERATORS_EVENT_SEGMENT}.${type}`;
}
/**
 * Live progress of operations (core NATS, not kept): `infra.v1.progress.<org>.<operationId>`, published by
 * the controller at every write of an operation's record, for its organisation and for the project's owner
 * when a partner acted. The message holds the operation as its organisation reads it (`operation(id)`),
 * so a subscriber sees every state in order. The gateway subscribes only to the caller's organisation.
 */
export function progressSubject(organization: string, operationId: string | '*'): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(organization))
    throw new Error(`invalid organization for a NATS subject: ${JSON.stringify(organization)}`);
  if (operationId !== '*' && !/^op_[0-9a-z]{26}$/.test(operationId))
    throw new Error(`invalid operation id for a NATS subject: ${JSON.stringify(operationId)}`);
  return `${SUBJECT_ROOT}.progress.${organization}.${operationId}`;
}
export function progressWildcard(): string {
  return `${SUBJECT_ROOT}.progress.>`;
}

export function eventsWildcard(): string {
  return `${SUBJECT_ROOT}.events.>`;
}
export const CONTROLLER_SERVICE_NAME = 'infrafed-controller';

/** NATS headers infrafed sets on requests. */
export const Header = {
  /** The caller's bearer token, passed on so every component verifies the caller itself. */
  authorization: 'Authorization',
  traceparent: 'traceparent',
  idempotencyKey: 'Idempotency-Key',
  /** RFC 7240: `respond-async` makes a write answer at once with its operation still running (REST: 202). */
  prefer: 'Prefer',
  /** Absolute deadline of the request, epoch milliseconds: callees shrink their own timeouts to it. */
  deadline: 'Infrafed-Deadline',
  /** Our error code beside the services API's numeric `Nats-Service-Error-Code`. */
  errorCode: 'Infrafed-Error-Code',
  /** The organisation a request is made for (set from the request's context): adapters share themselves fairly between organisations. */
  organization: 'Infrafed-Organization',
} as const;

/** JetStream KV buckets of the controller. */
export const Bucket = {
  operations: 'infrafed_operations',
  /** Markers of the operations still in work (running, or failed with an undo to retry): what the sweeper reads. */
  activeOperations: 'infrafed_active_operations',
  projects: 'infrafed_projects',
  idempotency: 'infrafed_idempotency',
  entitlements: 'infrafed_entitlements',
  ledger: 'infrafed_ledger',
  /** Organisation members, invitations and identity-provider rules. */
  people: 'infrafed_people',
  /** Quota tiers and tier requests. */
  requests: 'infrafed_requests',
  /** Webhooks, their deliveries (each attempt) and the markers of those still due. */
  webhooks: 'infrafed_webhooks',
  /**
   * One key whose revision every write through infrafed moves on: the gateways' cached answers are of a
   * generation, and stale once it moves (`runtime/nats/readGeneration.ts`).
   */
  readGeneration: 'infrafed_read_generation',
} as const;
