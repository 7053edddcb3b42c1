import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { operationSchema, type Operation } from '../../schema/operations.ts';
import { Bucket } from '../../schema/subjects.ts';
import { startLocalSystem, type LocalSystem } from '../../platforms/localSystem.ts';
import { startFaultProxy, type FaultProxy } from '../harness/faultProxy.ts';
import { graphqlClient } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';

export const LEASE_MS = 5_000;
export const GATEWAY_MS = 10_000;
export const VENDOR_MS = 4_000;

/**
 * The system the failure tests run on: a cluster of three JetStream servers (the controller's state on
 * all three), two controller replicas, real Keystone/Neutron/nova-api in sto and osl, the OKD emulator
 * in lla, and a fault-injecting proxy in front of every vendor API. Faults come from here (killing,
 * pausing, proxies), never from branches in product code.
 */
export interface Resilience {
  system: LocalSystem;
  nc: NatsConnection;
  /** The proxy in front of a vendor API: `keystone sto`, `neutron osl`, `nova sto`, `okd lla`. */
  proxy(name: string): FaultProxy;
  proxies: Map<string, FaultProxy>;
  gql: ReturnType<typeof graphqlClient>;
  token(organization: string): Promise<string>;
  /** The operation as the controller recorded it (owner included), or null. */
  record(id: string): Promise<Operation | null>;
  /** Waits until the operation is finished (and its undo, if any, done); its record. */
  settled(id: string, timeoutMs?: number): Promise<Operation>;
  /** The controller process that owns the operation now (by the pid in its replica id). */
  ownerProcess(id: string): Promise<string | null>;
  /** The organisation's ledger as stored (allocations, counted objects, reservations in flight). */
  ledger(organization: string): Promise<unknown>;
  /** Everything infrafed made for the organisation on every vendor, read directly (not through the proxies). */
  inventory(organization: string): Promise<Record<string, unknown>>;
  /** Keystone as its operator sees it, per OpenStack region. */
  keystone(region: 'sto' | 'osl'): ReturnType<typeof keystoneAdmin>;
  /** The NATS server leading a stream's replicas (`nats-2`). */
  streamLeader(stream: string): Promise<string>;
  stop(): Promise<void>;
}

const STATE_DIR = fileURLToPath(new URL('../../.local/test/resilience', import.meta.url));
const LOG_DIR = join(STATE_DIR, 'logs');

export async function startResilienceSystem(): Promise<Resilience> {
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const proxies = new Map<string, FaultProxy>();
  const system = await startLocalSystemClosingProxies(proxies, {
    stateDir: STATE_DIR,
    freshOpenstack: true,
    natsCluster: 3,
    controllers: 2,
    vendorUrl: async (vendor, region, url) => {
      const proxy = await startFaultProxy(url);
      proxies.set(`${vendor} ${region}`, proxy);
      return proxy.url;
    },
    timeouts: { operationLeaseMs: LEASE_MS, operationWaitMs: 1_000, adapterMs: 6_000, vendorMs: VENDOR_MS, gatewayMs: GATEWAY_MS },
    // undos that failed (a vendor overloaded by the test) are tried again after 5, 10, 20… s
    controller: { undoRetrySeconds: 5 },
    componentLogLevel: 'debug',
    onProgress: (m) => process.stdout.write(`[resilience] ${m}\n`),
    // every component's lines, for reading after a failure: .local/test/resilience/logs/<component>.log
    onLine: (name, line) => appendFileSync(join(LOG_DIR, `${name}.log`), `${line}\n`),
  });
  const nc = await connect({ servers: system.natsUrls });
  const kvm = new Kvm(nc);
  const operations = await kvm.open(Bucket.operations);
  const ledgerKv = await kvm.open(Bucket.ledger);
  const jsm = await jetstreamManager(nc);
  let token = '';
  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => token,
  );
  const admins = { sto: keystoneAdmin(system.keystoneUrl('sto')), osl: keystoneAdmin(system.keystoneUrl('osl')) };

  const record = async (id: string) => {
    const entry = await operations.get(id);
    return entry?.operation === 'PUT' ? operationSchema.parse(entry.json()) : null;
  };

  /** The OKD API as the adapter's token reads it (its ClusterRole reads infrafed's one quota by name, not a list). */
  async function okdGet(path: string): Promise<unknown> {
    const { url, token: okdToken } = system.okd('lla');
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${okdToken}` } });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`OKD GET ${path}: ${res.status}`);
    return res.json();
  }
  const okdList = async (path: string) => ((await okdGet(path)) as { items: { metadata: { name: string } }[] }).items;

  return {
    system,
    nc,
    proxies,
    proxy: (name) => {
      const p = proxies.get(name);
      if (!p) throw new Error(`no proxy ${name}`);
      return p;
    },
    gql,
    async token(organization) {
      token = await system.token(organization, 'owner', `${organization}-owner`);
      return token;
    },
    record,
    async settled(id, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const op = await record(id).catch(() => null);
        const done = op && ['SUCCEEDED', 'FAILED'].includes(op.status) && op.owner === null;
        if (done && !op.steps.some((s) => s.status === 'COMPENSATION_FAILED')) return op;
        if (Date.now() > until) throw new Error(`operation ${id} did not settle in ${timeoutMs} ms: ${JSON.stringify(op)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async ownerProcess(id) {
      const owner = (await record(id))?.owner;
      const pid = owner ? Number(owner.split('-').at(-1)) : NaN;
      for (const name of ['controller', 'controller-2']) if (system.process(name)?.child.pid === pid) return name;
      return null;
    },
    async ledger(organization) {
      const entry = await ledgerKv.get(organization);
      if (entry?.operation !== 'PUT') return { allocations: {}, counted: {}, reservations: {} };
      const { allocations, counted, reservations } = entry.json() as Record<string, unknown>;
      return { allocations, counted, reservations };
    },
    async inventory(organization) {
      const out: Record<string, unknown> = {};
      for (const region of ['sto', 'osl'] as const) {
        const admin = admins[region];
        const neutron = admin.neutron(system.neutronUrl(region));
        const projects = (await admin.allInfrafedProjects()).filter((p) => p.tags.includes(`ifd-org=${organization}`));
        for (const p of projects.sort((a, b) => a.name.localeCompare(b.name))) {
          const names = async (collection: string) =>
            ((await neutron.list(collection, p.id)) as unknown as { name: string }[]).map((x) => x.name).sort();
          const groups = (await neutron.list('security-groups', p.id)) as unknown as {
            name: string;
            security_group_rules: {
              direction: string;
              protocol: string | null;
              port_range_min: number | null;
              remote_ip_prefix: string | null;
            }[];
          }[];
          const rules = (groups.find((g) => g.name === 'infrafed')?.security_group_rules ?? [])
            .map((r) => `${r.direction} ${r.protocol} ${r.port_range_min} ${r.remote_ip_prefix}`)
            .sort();
          const quota = await admin.novaQuota(system.novaUrl(region), p.id);
          out[`${region} ${p.tags.find((t) => t.startsWith('ifd-project='))}`] = {
            networks: await names('networks'),
            subnets: await names('subnets'),
            routers: await names('routers'),
            rules,
            quota: { cores: quota.cores, ram: quota.ram, instances: quota.instances },
            members: (await admin.roleAssignments(p.id)).map((a) => `${a.user} ${a.role}`).sort(),
          };
        }
      }
      const namespaces = await okdList(`/api/v1/namespaces?labelSelector=${encodeURIComponent(`infrafed.io/org=${organization}`)}`);
      for (const ns of namespaces.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
        out[`lla ${ns.metadata.name}`] = {
          policies: (await okdList(`/apis/networking.k8s.io/v1/namespaces/${ns.metadata.name}/networkpolicies`))
            .map((p) => p.metadata.name)
            .sort(),
          // the emulator's token is the adapter's (its ClusterRole reads the one quota infrafed writes, by name)
          quota:
            ((await okdGet(`/api/v1/namespaces/${ns.metadata.name}/resourcequotas/infrafed`)) as { spec?: unknown } | null)?.spec ?? null,
        };
      }
      return out;
    },
    keystone: (region) => admins[region],
    async streamLeader(stream) {
      for (let i = 0; i < 50; i++) {
        const leader = (await jsm.streams.info(stream)).cluster?.leader;
        if (leader) return leader;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${stream} has no leader`);
    },
    async stop() {
      await nc.close();
      await system.stop();
      await Promise.all([...proxies.values()].map((p) => p.close()));
    },
  };
}

/** Starts the system; when that fails, the proxies already started are closed too (nothing keeps jest alive). */
async function startLocalSystemClosingProxies(proxies: Map<string, FaultProxy>, options: Parameters<typeof startLocalSystem>[0]) {
  try {
    return await startLocalSystem(options);
  } catch (error) {
    await Promise.all([...proxies.values()].map((p) => p.close()));
    throw error;
  }
}

/** Percentile of a sorted list. */
export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
