import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { createHash } from 'node:crypto';
import { isActive, operationSchema, projectRecordSchema, type Operation, type ProjectRecord } from '../schema/operations.ts';
import { Bucket } from '../schema/subjects.ts';
import { encodeJson } from '../runtime/nats/wire.ts';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Idempotency keys are kept this long (the REST contract promises at least 24 hours). */
export const IDEMPOTENCY_TTL_MS = 48 * 3600_000;

export interface ControllerStore {
  getOperation(id: string): Promise<{ operation: Operation; revision: number } | null>;
  createOperation(op: Operation): Promise<number>;
  putOperation(op: Operation): Promise<number>;
  /** Compare-and-set: fails (returns null) when someone else wrote since `revision`. */
  updateOperation(op: Operation, revision: number): Promise<number | null>;
  listOperationIds(): Promise<string[]>;
  /** The operations still in work (what the sweeper reads): finished ones leave this list. */
  listActiveOperationIds(): Promise<string[]>;
  /**
   * Drops a marker whose operation is finished, or gone (expired, or never recorded); `ifOlderThanMs`: only
   * a marker at least that old (a new one may be waiting for its record to be written).
   */
  unmarkActive(id: string, ifOlderThanMs?: number): Promise<void>;
  getProject(id: string): Promise<ProjectRecord | null>;
  /** Every project an organisation owns, or every project (a scan of the index). */
  listProjects(organization?: string): Promise<ProjectRecord[]>;
  putProject(record: ProjectRecord): Promise<void>;
  deleteProject(id: string): Promise<void>;
  /** The index of projects shared with a partner organisation (the record's `shares` is the truth). */
  putShare(partner: string, entry: { projectId: string; owner: string; level: string }): Promise<void>;
  deleteShare(partner: string, projectId: string): Promise<void>;
  listSharedWith(partner: string): Promise<{ projectId: string; owner: string; level: string }[]>;
  /** Claims a project name inside an organisation; false when another project holds it. */
  claimName(organization: string, name: string, projectId: string): Promise<boolean>;
  releaseName(organization: string, name: string, projectId: string): Promise<void>;
  /** The operation an idempotency key already names, or null after recording `operationId` for it. */
  claimIdempotencyKey(organization: string, key: string, operationId: string): Promise<string | null>;
  /** Drops a claim whose operation was never recorded (the request was refused). */
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
  replicas?: number;
  /** How long a finished operation is kept (then it expires with its bucket's age limit), days. Default 30. */
  operationHistoryDays?: number;
}

/** The controller's state in JetStream KV (replicated with the NATS cluster). */
export async function openControllerStore(nc: NatsConnection, options: StoreOptions = {}): Promise<ControllerStore> {
  const replicas = options.replicas ?? 1;
  const kvm = new Kvm(nc);
  const operations: KV = await kvm.create(Bucket.operations, {
    history: 1,
    replicas,
    ttl: (options.operationHistoryDays ?? 30) * 86_400_000,
  });
  const active: KV = await kvm.create(Bucket.activeOperations, { history: 1, replicas });
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
  const projects: KV = await kvm.create(Bucket.projects, { history: 1, replicas });
  const idempotency: KV = await kvm.create(Bucket.idempotency, { history: 1, replicas, ttl: IDEMPOTENCY_TTL_MS });

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
    putOperation: async (op) => unmarkFinished(op, await operations.put(op.id, encodeJson(op))),
    async updateOperation(op, revision) {
      let written: number;
      try {
        written = await operations.update(op.id, encodeJson(op), revision);
      } catch {
        return null;
      }
      return unmarkFinished(op, written);
    },
    async listActiveOperationIds() {
      const ids: string[] = [];
      for await (const k of await active.keys()) if (k !== INDEX_COMPLETE) ids.push(k);
      return ids;
    },
    async unmarkActive(id, ifOlderThanMs = 0) {
      const entry = await active.get(id);
      if (entry && Date.now() - entry.created.getTime() >= ifOlderThanMs) await active.delete(id);
    },
    async listOperationIds() {
      const ids: string[] = [];
      for await (const k of await operations.keys()) ids.push(k);
      return ids;
    },
    async getProject(id) {
      const entry = await projects.get(`project.${id}`);
      if (!entry || entry.operation !== 'PUT') return null;
      return projectRecordSchema.parse(entry.json());
    },
    async listProjects(organization) {
      const out: ProjectRecord[] = [];
      for await (const key of await projects.keys('project.*')) {
        const entry = await projects.get(key);
        if (entry?.operation !== 'PUT') continue;
        const record = projectRecordSchema.parse(entry.json());
        if (organization === undefined || record.organization === organization) out.push(record);
      }
      return out;
    },
    async putProject(record) {
      await projects.put(`project.${record.projectId}`, encodeJson(record));
    },
    async deleteProject(id) {
      await projects.delete(`project.${id}`);
    },
    async putShare(partner, entry) {
      await projects.put(`shared.${partner}.${entry.projectId}`, encodeJson(entry));
    },
    async deleteShare(partner, projectId) {
      await projects.delete(`shared.${partner}.${projectId}`);
    },
    async listSharedWith(partner) {
      const out: { projectId: string; owner: string; level: string }[] = [];
      for await (const key of await projects.keys(`shared.${partner}.*`)) {
        const entry = await projects.get(key);
        if (entry?.operation === 'PUT') out.push(entry.json());
      }
      return out;
    },
    async claimName(organization, name, projectId) {
      const key = nameKey(organization, name);
      try {
        await projects.create(key, encodeJson({ projectId }));
        return true;
      } catch {
        const holder = await projects.get(key);
        return holder?.operation === 'PUT' && (holder.json() as { projectId: string }).projectId === projectId;
      }
    },
    async releaseName(organization, name, projectId) {
      const key = nameKey(organization, name);
      const holder = await projects.get(key);
      if (holder?.operation === 'PUT' && (holder.json() as { projectId: string }).projectId === projectId) await projects.delete(key);
    },
    async releaseIdempotencyKey(organization, key, operationId) {
      const k = idempotencyKvKey(organization, key);
      const entry = await idempotency.get(k);
      if (entry?.operation === 'PUT' && (entry.json() as { operationId: string }).operationId === operationId) await idempotency.delete(k);
    },
    async claimIdempotencyKey(organization, key, operationId) {
      const k = idempotencyKvKey(organization, key);
      try {
        await idempotency.create(k, encodeJson({ operationId }));
        return null;
      } catch {
        const entry = await idempotency.get(k);
        if (entry?.operation !== 'PUT') return null;
        return (entry.json() as { operationId: string }).operationId;
      }
    },
  };
}
