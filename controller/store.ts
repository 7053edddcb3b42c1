import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { createHash } from 'node:crypto';
import { operationSchema, projectRecordSchema, type Operation, type ProjectRecord } from '../schema/operations.ts';
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

/** The controller's state in JetStream KV (replicated with the NATS cluster). */
export async function openControllerStore(nc: NatsConnection, replicas = 1): Promise<ControllerStore> {
  const kvm = new Kvm(nc);
  const operations: KV = await kvm.create(Bucket.operations, { history: 1, replicas });
  const projects: KV = await kvm.create(Bucket.projects, { history: 1, replicas });
  const idempotency: KV = await kvm.create(Bucket.idempotency, { history: 1, replicas, ttl: IDEMPOTENCY_TTL_MS });

  return {
    async getOperation(id) {
      const entry = await operations.get(id);
      if (!entry || entry.operation !== 'PUT') return null;
      return { operation: operationSchema.parse(entry.json()), revision: entry.revision };
    },
    createOperation: (op) => operations.create(op.id, encodeJson(op)),
    putOperation: (op) => operations.put(op.id, encodeJson(op)),
    async updateOperation(op, revision) {
      try {
        return await operations.update(op.id, encodeJson(op), revision);
      } catch {
        return null;
      }
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
