import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { createHash } from 'node:crypto';
import { isActive, operationSchema, projectRecordSchema, type Operation, type ProjectRecord } from '../schema/operations.ts';
import { Bucket } from '../schema/subjects.ts';
import { encodeJson } from '../runtime/nats/wire.ts';
import { casUpdate, isCasConflict, openBucket } from './durable.ts';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Idempotency keys are kept this long (the REST contract promises at least 24 hours). */
export const IDEMPOTENCY_TTL_MS = 48 * 3600_000;

export interface ControllerStore {
  getOperation(id: string): Promise<{ operation: Operation; revision: number } | null>;
  /** Records a new operation (its active marker first); the revision its owner's writes start from. */
  createOperation(op: Operation): Promise<number>;
  /**
   * Compare-and-set on the revision the writer holds: null when someone else wrote since (the writer lost
   * the operation and must stop). Every write of a record after its creation goes through here.
   */
  updateOperation(op: Operation, revision: number): Promise<number | null>;
  /** Removes an operation that was never accepted (its request was refused after it was recorded), if still at `revision`. */
  deleteOperation(id: string, revision: number): Promise<void>;
  listOperationIds(): Promise<string[]>;
  /** The operations still in work (what the sweeper reads): finished ones leave this list. */
  listActiveOperationIds(): Promise<string[]>;
  /** Drops the marker of an operation that is finished, or gone (expired, or removed). */
  unmarkActive(id: string): Promise<void>;
  getProject(id: string): Promise<ProjectRecord | null>;
  /** Every project an organisation owns, or every project (a scan of the index). */
  listProjects(organization?: string): Promise<ProjectRecord[]>;
  /** Whether the organisation holds a project name (owns a project, or is creating one): one key looked at. */
  ownsProjects(organization: string): Promise<boolean>;
  /**
   * Changes a project record with compare-and-set (read again on a lost race): `change` gets the record
   * (null: none) and returns the new one, null to remove it, or undefined to leave it. Returns what is stored.
   */
  changeProject(id: string, change: (record: ProjectRecord | null) => ProjectRecord | null | undefined): Promise<ProjectRecord | null>;
  /** The index of projects shared with a partner organisation (the record's `shares` is the truth); compare-and-set. */
  putShare(partner: string, entry: { projectId: string; owner: string; level: string }): Promise<void>;
  deleteShare(partner: string, projectId: string): Promise<void>;
  listSharedWith(partner: string): Promise<{ projectId: string; owner: string; level: string }[]>;
  /** Claims a project name inside an organisation; false when another project holds it. */
  claimName(organization: string, name: string, projectId: string): Promise<boolean>;
  releaseName(organization: string, name: string, projectId: string): Promise<void>;
  /** The operation an idempotency key names, if any. */
  findIdempotencyKey(organization: string, key: string): Promise<string | null>;
  /**
   * Claims a key for an operation already recorded: null when it is now this operation's, or the
   * operation another request claimed it for first.
   */
  claimIdempotencyKey(organization: string, key: string, operationId: string): Promise<string | null>;
  /** Drops a claim whose operation was refused (and removed). */
  releaseIdempotencyKey(organization: string, key: string, operationId: string): Promise<void>;
}

function idempotencyKvKey(organization: string, key: string): string {
  return `${organization}.${sha256(key)}`;
}

function nameKey(organization: string, name: string): string {
  return `name.${organization}.${Buffer.from(name.toLowerCase()).toString('hex')}`;
}

/** The key of the active-operations bucket that says every older record has been marked. */
const INDEX_COMPLETE = 'index-complete';

export interface StoreOptions {
  /** Copies of each bucket (`controller.replicas`). Default 1. */
  replicas?: number;
  /** How long a finished operation is kept (then it expires with its bucket's age limit), days. Default 30. */
  operationHistoryDays?: number;
}

type ShareEntry = { projectId: string; owner: string; level: string };
const asShare = (json: unknown) => json as ShareEntry;
const asHolder = (json: unknown) => json as { projectId: string };

/** The controller's state in JetStream KV (replicated with the NATS cluster: `StoreOptions.replicas`). */
export async function openControllerStore(nc: NatsConnection, options: StoreOptions = {}): Promise<ControllerStore> {
  const replicas = options.replicas ?? 1;
  const operations: KV = await openBucket(nc, Bucket.operations, {
    history: 1,
    replicas,
    ttl: (options.operationHistoryDays ?? 30) * 86_400_000,
  });
  const active: KV = await openBucket(nc, Bucket.activeOperations, { history: 1, replicas });
  // records from before the active index are marked once; the key says it is done, so a start reads no history
  if (!(await active.get(INDEX_COMPLETE))) {
    for await (const id of await operations.keys()) {
      const entry = await operations.get(id);
      if (entry?.operation === 'PUT' && isActive(operationSchema.parse(entry.json()))) await active.put(id, '');
    }
    await active.put(INDEX_COMPLETE, '');
  }
  /**
   * The active marker follows the record: made before it, gone once it is finished (two writes an
   * operation, not one per save). A crash between the finished record and the delete leaves a marker,
   * which the sweeper clears.
   */
  const unmarkFinished = async (op: Operation, revision: number) => {
    if (!isActive(op)) await active.delete(op.id);
    return revision;
  };
  const projects: KV = await openBucket(nc, Bucket.projects, { history: 1, replicas });
  const idempotency: KV = await openBucket(nc, Bucket.idempotency, { history: 1, replicas, ttl: IDEMPOTENCY_TTL_MS });
  const parseProject = (json: unknown) => projectRecordSchema.parse(json);

  return {
    async getOperation(id) {
      const entry = await operations.get(id);
      if (!entry || entry.operation !== 'PUT') return null;
      return { operation: operationSchema.parse(entry.json()), revision: entry.revision };
    },
    async createOperation(op) {
      // the marker first: a marker without its record is harmless (the sweeper drops it); a record without
      // its marker would never be taken over
      await active.put(op.id, '');
      try {
        return await operations.create(op.id, encodeJson(op));
      } catch (error) {
        await active.delete(op.id).catch(() => {});
        throw error;
      }
    },
    async updateOperation(op, revision) {
      let written: number;
      try {
        written = await operations.update(op.id, encodeJson(op), revision);
      } catch (error) {
        if (isCasConflict(error)) return null;
        throw error;
      }
      return unmarkFinished(op, written);
    },
    async deleteOperation(id, revision) {
      try {
        await operations.delete(id, { previousSeq: revision });
      } catch (error) {
        if (!isCasConflict(error)) throw error;
        return; // someone else has it now (a sweeper): theirs to finish
      }
      await active.delete(id);
    },
    async listActiveOperationIds() {
      const ids: string[] = [];
      for await (const k of await active.keys()) if (k !== INDEX_COMPLETE) ids.push(k);
      return ids;
    },
    async unmarkActive(id) {
      await active.delete(id);
    },
    async listOperationIds() {
      const ids: string[] = [];
      for await (const k of await operations.keys()) ids.push(k);
      return ids;
    },
    async getProject(id) {
      const entry = await projects.get(`project.${id}`);
      if (!entry || entry.operation !== 'PUT') return null;
      return parseProject(entry.json());
    },
    async listProjects(organization) {
      const out: ProjectRecord[] = [];
      for await (const key of await projects.keys('project.*')) {
        const entry = await projects.get(key);
        if (entry?.operation !== 'PUT') continue;
        const record = parseProject(entry.json());
        if (organization === undefined || record.organization === organization) out.push(record);
      }
      return out;
    },
    async ownsProjects(organization) {
      for await (const _key of await projects.keys(`name.${organization}.*`)) return true;
      return false;
    },
    changeProject: (id, change) => casUpdate(projects, `project.${id}`, parseProject, change, encodeJson),
    async putShare(partner, entry) {
      await casUpdate(projects, `shared.${partner}.${entry.projectId}`, asShare, () => entry, encodeJson);
    },
    async deleteShare(partner, projectId) {
      await casUpdate(projects, `shared.${partner}.${projectId}`, asShare, (current) => (current ? null : undefined), encodeJson);
    },
    async listSharedWith(partner) {
      const out: ShareEntry[] = [];
      for await (const key of await projects.keys(`shared.${partner}.*`)) {
        const entry = await projects.get(key);
        if (entry?.operation === 'PUT') out.push(asShare(entry.json()));
      }
      return out;
    },
    async claimName(organization, name, projectId) {
      const held = await casUpdate(
        projects,
        nameKey(organization, name),
        asHolder,
        (holder) => (holder ? undefined : { projectId }),
        encodeJson,
      );
      return held?.projectId === projectId;
    },
    async releaseName(organization, name, projectId) {
      const mine = (holder: { projectId: string } | null) => (holder?.projectId === projectId ? null : undefined);
      await casUpdate(projects, nameKey(organization, name), asHolder, mine, encodeJson);
    },
    async findIdempotencyKey(organization, key) {
      const entry = await idempotency.get(idempotencyKvKey(organization, key));
      return entry?.operation === 'PUT' ? (entry.json() as { operationId: string }).operationId : null;
    },
    async claimIdempotencyKey(organization, key, operationId) {
      const held = await casUpdate(
        idempotency,
        idempotencyKvKey(organization, key),
        (json) => json as { operationId: string },
        (holder) => (holder ? undefined : { operationId }),
        encodeJson,
      );
      return held?.operationId === operationId ? null : (held?.operationId ?? null);
    },
    async releaseIdempotencyKey(organization, key, operationId) {
      const mine = (holder: { operationId: string } | null) => (holder?.operationId === operationId ? null : undefined);
      await casUpdate(idempotency, idempotencyKvKey(organization, key), (json) => json as { operationId: string }, mine, encodeJson);
    },
  };
}
