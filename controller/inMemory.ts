import { InfrafedError } from '../schema/errors.ts';
import { isActive, type Operation, type ProjectRecord } from '../schema/operations.ts';
import type { Amounts } from '../schema/entitlements.ts';
import type { KindContext } from './kinds/kind.ts';
import type { QuotaLedger } from './ledger.ts';
import type { ControllerStore } from './store.ts';

/**
 * The controller's state in memory, for unit tests of the kinds, the planner and the saga runner (the
 * JetStream KV store is tested against a real nats-server in test/integration). Revisions count writes.
 */
export function memoryStore(): ControllerStore & { operationWrites: Operation[] } {
  const operations = new Map<string, { operation: Operation; revision: number }>();
  const projects = new Map<string, ProjectRecord>();
  const shares = new Map<string, { projectId: string; owner: string; level: string }>();
  const names = new Map<string, string>();
  const keys = new Map<string, string>();
  const operationWrites: Operation[] = [];
  let revision = 0;
  const write = (op: Operation) => {
    const copy = structuredClone(op);
    operationWrites.push(copy);
    operations.set(op.id, { operation: copy, revision: ++revision });
    return revision;
  };
  const keep = <T>(map: Map<string, T>, key: string, value: T | null | undefined) => {
    if (value === null) map.delete(key);
    else if (value !== undefined) map.set(key, structuredClone(value));
  };
  return {
    operationWrites,
    getOperation: async (id) => structuredClone(operations.get(id) ?? null),
    async createOperation(op) {
      if (operations.has(op.id)) throw new Error(`operation ${op.id} exists`);
      return write(op);
    },
    async updateOperation(op, expected) {
      return operations.get(op.id)?.revision === expected ? write(op) : null;
    },
    async deleteOperation(id, expected) {
      if (operations.get(id)?.revision === expected) operations.delete(id);
    },
    listOperationIds: async () => [...operations.keys()],
    listActiveOperationIds: async () => [...operations.values()].filter((o) => isActive(o.operation)).map((o) => o.operation.id),
    async unmarkActive() {},
    getProject: async (id) => structuredClone(projects.get(id) ?? null),
    listProjects: async (organization) => [...projects.values()].filter((p) => !organization || p.organization === organization),
    ownsProjects: async (organization) => [...projects.values()].some((p) => p.organization === organization),
    async changeProject(id, change) {
      keep(projects, id, change(structuredClone(projects.get(id) ?? null)));
      return structuredClone(projects.get(id) ?? null);
    },
    async putShare(partner, entry) {
      shares.set(`${partner}.${entry.projectId}`, entry);
    },
    async deleteShare(partner, projectId) {
      shares.delete(`${partner}.${projectId}`);
    },
    listSharedWith: async (partner) => [...shares.entries()].filter(([k]) => k.startsWith(`${partner}.`)).map(([, v]) => v),
    async claimName(organization, name, projectId) {
      const key = `${organization}.${name.toLowerCase()}`;
      if (names.has(key) && names.get(key) !== projectId) return false;
      names.set(key, projectId);
      return true;
    },
    async releaseName(organization, name, projectId) {
      const key = `${organization}.${name.toLowerCase()}`;
      if (names.get(key) === projectId) names.delete(key);
    },
    findIdempotencyKey: async (organization, key) => keys.get(`${organization}.${key}`) ?? null,
    async claimIdempotencyKey(organization, key, operationId) {
      const k = `${organization}.${key}`;
      const existing = keys.get(k);
      if (existing && existing !== operationId) return existing;
      keys.set(k, operationId);
      return null;
    },
    async releaseIdempotencyKey(organization, key, operationId) {
      if (keys.get(`${organization}.${key}`) === operationId) keys.delete(`${organization}.${key}`);
    },
  };
}

/** A ledger that records what it is asked (reserve, commit, release) and refuses a reservation when `refuse` says so. */
export function recordingLedger(
  options: {
    projectDefaults?: Amounts;
    refuse?: (objects: { key: string; amounts: Amounts }[]) => Error | null;
    /** The error a commit of a reserved change gets (its reservation expired), or null. */
    expired?: (id: string) => Error | null;
    reservationTtlMs?: number;
    /** Organisations whose entitlements were set (known to the system); default: every one. */
    onboarded?: string[];
  } = {},
) {
  const calls: {
    call: 'reserve' | 'commit' | 'release' | 'forgetProject' | 'renew';
    id: string;
    changes?: unknown;
    objects?: { key: string; amounts: Amounts }[];
  }[] = [];
  const ledger = {
    entitlementsOf: async (organization: string) => ({
      organization,
      total: {},
      regions: {},
      platforms: {},
      projectDefaults: options.projectDefaults ?? {},
      updatedAt: null,
      updatedBy: null,
      version: !options.onboarded || options.onboarded.includes(organization) ? 1 : 0,
    }),
    async reserve(_organization: string, id: string, changes: unknown[], objects: { key: string; amounts: Amounts }[] = []) {
      const refused = options.refuse?.(objects) ?? null;
      if (refused) throw refused;
      calls.push({ call: 'reserve', id, changes, objects });
    },
    async commit(
      _organization: string,
      id: string,
      changes: unknown[],
      objects: { key: string; amounts: Amounts }[] = [],
      commitOptions: { reserved?: boolean } = {},
    ) {
      const expired = commitOptions.reserved ? (options.expired?.(id) ?? null) : null;
      if (expired) throw expired;
      calls.push({ call: 'commit', id, changes, objects });
    },
    async renew(_organization: string, id: string) {
      calls.push({ call: 'renew', id });
    },
    reservationTtlMs: options.reservationTtlMs ?? 600_000,
    async release(_organization: string, id: string) {
      calls.push({ call: 'release', id });
    },
    async forgetProject(_organization: string, projectId: string) {
      calls.push({ call: 'forgetProject', id: projectId });
    },
  };
  return { ledger: ledger as unknown as QuotaLedger, calls };
}

/** A kind context over the in-memory store, a recording ledger and an adapter caller the test provides. */
export function memoryContext(
  call: KindContext['call'],
  options: Parameters<typeof recordingLedger>[0] & { placements?: KindContext['placements'] } = {},
) {
  const store = memoryStore();
  const { ledger, calls } = recordingLedger(options);
  let n = 0;
  const ctx: KindContext = {
    store,
    ledger,
    placements: options.placements ?? [
      { region: 'sto', platform: 'openstack' },
      { region: 'osl', platform: 'openstack' },
      { region: 'lla', platform: 'okd' },
    ],
    call,
    newId: (prefix) => `${prefix}_${String(++n).padStart(26, '0')}`,
  };
  return { ctx, store, ledgerCalls: calls };
}

/** The InfrafedError a promise is refused with (the test fails when it is not refused, or with another error). */
export async function refusal(promise: Promise<unknown>): Promise<InfrafedError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof InfrafedError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}
