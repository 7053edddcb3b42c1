import type { AuditTarget } from '../../schema/audit.ts';
import type { Permission } from '../../schema/access.ts';
import type { Amounts } from '../../schema/entitlements.ts';
import type { Placement } from '../../schema/model.ts';
import type { Operation, OperationKind, OperationRequest, OperationStep } from '../../schema/operations.ts';
import type { Principal } from '../../runtime/auth.ts';
import type { AdapterContractResource, AdapterContractVerb, AdapterReply, AdapterRequest } from '../../runtime/nats/adapterClient.ts';
import type { QuotaLedger } from '../ledger.ts';
import type { ControllerStore } from '../store.ts';

/** The request of one kind of operation. */
export type RequestOf<K extends OperationKind> = Extract<OperationRequest, { kind: K }>;
/** The organisation that owns an operation's project (older records without it: the operation's own). */
export function ownerOf(op: Operation): string {
  return op.projectOwner ?? op.organization;
}

/** An operation of one kind (its request narrowed). */
export type OperationOf<K extends OperationKind> = Operation & { kind: K; request: RequestOf<K> };

/** One request to the adapter of a placement (over NATS in the controller; in memory in unit tests). */
export type AdapterCaller = <R extends AdapterContractResource, V extends AdapterContractVerb<R>>(
  placement: Placement,
  resource: R,
  verb: V,
  body: AdapterRequest<R, V>,
) => Promise<AdapterReply<R, V>>;

/** What a kind's plan and steps may use: the controller's state, the configured placements, the adapters. */
export interface KindContext {
  store: ControllerStore;
  ledger: QuotaLedger;
  /** The configured placements (region + platform). */
  placements: readonly Placement[];
  call: AdapterCaller;
  /** A new global id, e.g. `prj_01…`. */
  newId(prefix: string): string;
}

/** What an operation touches: decided before it is recorded. */
export interface PlannedOperation {
  projectId: string;
  /** The organisation that owns the project. */
  owner: string;
  /** One step per placement. */
  placements: Placement[];
  /** The network, access rule or partner the operation is about, when it is about one. */
  resourceId: string | null;
  /** The objects each placement gains (positive) or loses (negative), counted against the entitlements. */
  objects?: Amounts;
}

export interface StepResult {
  nativeId?: string | null;
  /** What the undo needs (e.g. the previous role). */
  undo?: Record<string, unknown> | null;
  /** False when the placement already was as asked. */
  changed?: boolean;
}

/** Records what the undo needs before the step's call, so an unknown outcome can still be undone exactly. */
export type Checkpoint = (undo: Record<string, unknown>) => Promise<void>;

/** What an operation does per placement, how a step is undone, and what it changes in the controller's state at the end. */
export interface Steps {
  forward(step: OperationStep, checkpoint: Checkpoint): Promise<StepResult>;
  /** Absent: the kind is not undone; a failure leaves the steps as they are (submitting again finishes the work). */
  undo?(step: OperationStep): Promise<void>;
  onSucceeded?(): Promise<void>;
  /** After the undo; `clean` is true when every undo succeeded. */
  onFailed?(clean: boolean): Promise<void>;
}

/**
 * One kind of operation, declared once: who may run it, how it is audited, what it touches, what happens
 * when it is accepted, and its saga steps with their undo. The controller and the saga runner look kinds
 * up in the table (`kinds/index.ts`); nothing else knows a kind by name.
 */
export interface OperationKindDefinition<K extends OperationKind = OperationKind> {
  kind: K;
  /** The permission the principal's organisation role (or a partner's share level) must give. */
  permission: Permission;
  /** The audit action and each step's action, e.g. `project.create`. */
  action: string;
  /** A replica taking over an abandoned operation: `forward` finishes it (deletes), `rollback` undoes what it did. */
  takeover: 'forward' | 'rollback';
  /** Checks the request against the controller's state and decides what it touches; throws the caller's mistakes. */
  plan(ctx: KindContext, principal: Principal, request: RequestOf<K>): Promise<PlannedOperation>;
  /**
   * Once the operation is recorded, before it runs: changes to the project index and holds on the
   * entitlements (setting `op.reserved` when it holds some). Undoes its own changes when it throws (the
   * request is refused, the record removed). Interrupted, it is finished by the replica that takes the
   * operation over: repeated for a kind that goes `forward` (so it must be idempotent), undone by the
   * steps' `onFailed` for one that rolls back (so that must undo an accept that got only part way).
   */
  accept?(ctx: KindContext, op: OperationOf<K>): Promise<void>;
  steps(ctx: KindContext, op: OperationOf<K>): Steps;
  /** What the operation is about, for its audit events (who was added and with which role, which network…). */
  target(op: OperationOf<K>): AuditTarget;
}

/** Declares a kind (keeps its request type narrow in the methods). */
export function defineKind<K extends OperationKind>(definition: OperationKindDefinition<K>): OperationKindDefinition<K> {
  return definition;
}

/** The table of every kind, checked by the compiler to be complete. */
export type KindTable = { [K in OperationKind]: OperationKindDefinition<K> };
