import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signLocalToken, type OrgRole } from '../runtime/auth.ts';
import { signProviderToken, startLocalIdentityProvider, type LocalIdentityProvider } from './identityProvider.ts';
import { systemConfigSchema, type SystemConfig } from '../runtime/config.ts';
import type { Platform } from '../schema/model.ts';
import { SubgraphName } from '../schema/subjects.ts';
import { natsServerBinary } from './ensureInstalled.ts';
import {
  freePort,
  GATEWAY_NODE_ARGS,
  isAlive,
  NODE_SMALL_ARGS,
  NODE_TS_ARGS,
  run,
  spawnManaged,
  type ManagedProcess,
} from './processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OPENSTACK_SCRIPTS = join(ROOT, 'platforms', 'openstack');
/** Debian's python and OpenStack tools first (a pyenv python3 may be first on PATH). */
const OS_PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

export interface LocalRegion {
  name: string;
  displayName: string;
  /** Default: OpenStack only. */
  platforms?: readonly Platform[];
}

export interface LocalSystemOptions {
  /** Where configs, databases and logs go (created). */
  stateDir: string;
  regions?: readonly LocalRegion[];
  /** Use this NATS (JetStream on) when it answers; otherwise a nats-server is spawned. */
  natsUrl?: string;
  /** Gateway HTTP port; 0 picks a free one. */
  gatewayPort?: number;
  /** REST bridge HTTP port; 0 picks a free one. */
  restPort?: number;
  /** Restore each region to its pristine snapshot (a fresh cloud), and a spawned NATS to no JetStream state. */
  freshOpenstack?: boolean;
  /** Progress messages (what is starting, how long it took). */
  onProgress?: (message: string) => void;
  /** Every line a component prints, prefixed with its name. */
  onLine?: (name: string, line: string) => void;
  timeouts?: Partial<SystemConfig['timeouts']>;
  /** Log level of the components (default info; `debug` logs every vendor call of the adapters). */
  componentLogLevel?: 'debug' | 'info';
  /** Log level of the adapters alone, over `componentLogLevel` (the operations bench counts vendor calls at `debug`, the rest at `info`). */
  adapterLogLevel?: 'debug' | 'info';
  /**
   * A NATS cluster of this many JetStream servers (`nats-1`…) instead of one, with the controller's state
   * replicated on 3 of them (`controller.replicas`). Ignores `natsUrl`.
   */
  natsCluster?: number;
  /** Controller replicas (`controller`, `controller-2`, …). Default 1. */
  controllers?: number;
  /** The controller's configuration beyond its defaults (e.g. `undoRetrySeconds`). */
  controller?: Partial<SystemConfig['controller']>;
  /** The address the adapters are given for a vendor API (e.g. a fault-injecting proxy in front of it). */
  vendorUrl?: (vendor: 'keystone' | 'neutron' | 'nova' | 'okd', region: string, url: string) => Promise<string>;
  /**
   * One Node process hosts every infrafed component (`platforms/allInOne.ts`, a worker thread each), still
   * talking over NATS as separate processes do. `stopAdapter`, `startAdapter` and `process(name)` of a
   * component are for the distributed mode (the default here; `npm start` uses this one).
   */
  allInOne?: boolean;
  /** Each subgraph serves GraphQL over HTTP too (`SUBGRAPH_HTTP_PORT`): for the bench's stock gateways. */
  subgraphHttp?: boolean;
  /**
   * Leave each region's Keystone, Neutron and nova-api running at `stop()`, and reuse them at the next
   * start while they still answer on the ports they were given (`npm start`: its later starts skip the
   * 16-20 s of OpenStack's start-up; `npm run stop` stops them). Ignored with `freshOpenstack`.
   */
  keepOpenstack?: boolean;
}

export interface LocalSystem {
  config: SystemConfig;
  configPath: string;
  gatewayUrl: string;
  /** The REST bridge (no trailing slash). */
  restUrl: string;
  natsUrl: string;
  /** Every NATS server's address (one, or the cluster's). */
  natsUrls: string[];
  keystoneUrl(region: string): string;
  /** The OKD API (emulator) of a region, and the adapter's token for it. */
  okd(region: string): { url: string; token: string };
  neutronUrl(region: string): string;
  /** nova-api with its version (…/v2.1). */
  novaUrl(region: string): string;
  /** A token of the local signing key. */
  token(organization: string, orgRole?: OrgRole, subject?: string, options?: { platformAdmin?: boolean }): Promise<string>;
  /** The stand-in identity provider (`campus`): its tokens carry no organisation and sign in through the gateway. */
  identityProvider: Pick<LocalIdentityProvider, 'name' | 'issuer' | 'audience' | 'privateJwk'>;
  /** A token of the stand-in identity provider for `subject` (its `sub`), with other claims. */
  providerToken(subject: string, claims?: Record<string, unknown>, ttlSeconds?: number): Promise<string>;
  stopAdapter(region: string): Promise<void>;
  startAdapter(region: string): Promise<void>;
  /** Output of a component so far (e.g. `gateway`, `adapter-sto`). */
  output(name: string): string;
  /** A running process of the system by name (`controller-2`, `nats-1`, `adapter-osl`), to kill or pause it. */
  process(name: string): ManagedProcess | undefined;
  /** Starts a NATS server or controller again that was stopped or killed (same name, same address, same state). */
  restart(name: string): Promise<void>;
  /** A subgraph's HTTP face (`…/graphql`), when started with `subgraphHttp`. */
  subgraphHttpUrl(name: string): string;
  /** Where a component serves `/healthz`, `/readyz` and `/metrics` (gateway and rest-bridge: their own port). */
  opsUrl(name: string): string;
  stop(): Promise<void>;
}

/** Two OpenStack regions and one OKD region (the OKD API emulator: no OKD can run here). */
export const DEFAULT_REGIONS: readonly LocalRegion[] = [
  { name: 'sto', displayName: 'Stockholm', platforms: ['openstack'] },
  { name: 'osl', displayName: 'Oslo', platforms: ['openstack'] },
  { name: 'lla', displayName: 'Luleå', platforms: ['okd'] },
];

const platformsOf = (r: LocalRegion): readonly Platform[] => r.platforms ?? ['openstack'];

const ADMIN_PASSWORD = 'admin-secret';

export interface OpenstackPorts {
  keystone: number;
  neutron: number;
  nova: number;
}
/** Where a region's state dir records the ports its running services were given (beside start.sh's `pids`). */
const PORTS_FILE = 'ports.json';

/**
 * The ports of a region's Keystone, Neutron and nova-api when an earlier start left them running: every
 * process start.sh recorded (`pids`) is alive and each service answers 200 on the port recorded with
 * them. Otherwise undefined (none recorded, one died, a port answers otherwise or not within 2 s).
 */
export async function runningOpenstack(dir: string): Promise<OpenstackPorts | undefined> {
  let ports: OpenstackPorts;
  let pids: number[];
  try {
    ports = JSON.parse(readFileSync(join(dir, PORTS_FILE), 'utf8')) as OpenstackPorts;
    pids = readFileSync(join(dir, 'pids'), 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => Number(line.trim().split(/\s+/)[1]));
  } catch {
    return undefined;
  }
  if (pids.length === 0 || !pids.every((pid) => Number.isInteger(pid) && pid > 0 && isAlive(pid))) return undefined;
  const answers = async (url: string) => {
    try {
      return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status === 200;
    } catch {
      return false;
    }
  };
  const urls = [`http://127.0.0.1:${ports.keystone}/v3`, `http://127.0.0.1:${ports.neutron}/`, `http://127.0.0.1:${ports.nova}/`];
  return (await Promise.all(urls.map(answers))).every(Boolean) ? ports : undefined;
}

/** Stops a region's Keystone, Neutron and nova-api (what start.sh recorded in `dir`); stop.sh's report. */
function stopOpenstack(dir: string): Promise<string> {
  return run('bash', [join(OPENSTACK_SCRIPTS, 'stop.sh')], { ...process.env, PATH: OS_PATH, STATE_DIR: dir });
}

/**
 * `npm run stop`: stops the clouds that starts with `keepOpenstack` left running in `stateDir`, each
 * region's; resolves with what stop.sh reported for each.
 */
export async function stopKeptOpenstack(stateDir: string): Promise<{ region: string; report: string }[]> {
  const root = join(stateDir, 'openstack');
  const regions = existsSync(root) ? readdirSync(root).filter((name) => existsSync(join(root, name, 'pids'))) : [];
  return Promise.all(regions.map(async (region) => ({ region, report: await stopOpenstack(join(root, region)) })));
}

/** Waits until a new JetStream cluster has elected its meta leader (before that, creating a bucket fails). */
async function jetStreamClusterReady(urls: string[]): Promise<void> {
  const nc = await connect({ servers: urls });
  try {
    for (let i = 0; ; i++) {
      try {
        await (await jetstreamManager(nc)).getAccountInfo();
        return;
      } catch (error) {
        if (i > 150) throw new Error(`the NATS cluster has no JetStream after 30 s: ${(error as Error).message}`, { cause: error });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}

async function natsHasJetStream(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

/**
 * The whole system on one machine: NATS (reused or spawned), per OpenStack region a real Keystone, Neutron
 * API and nova-api (Debian's packages, see platforms/openstack), per OKD region the OKD API emulator
 * (platforms/okd), one adapter per region and platform, the controller, the subgraphs and the gateway,
 * each its own process. Used by `npm start` and by the end-to-end tests.
 */
export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  const progress = options.onProgress ?? (() => {});
  const regions = options.regions ?? DEFAULT_REGIONS;
  const stateDir = options.stateDir;
  mkdirSync(stateDir, { recursive: true });
  const processes: ManagedProcess[] = [];
  const keystoneDirs: string[] = [];
  let identityProvider: LocalIdentityProvider | undefined;
  const keepOpenstack = Boolean(options.keepOpenstack && !options.freshOpenstack);
  const stopAll = async () => {
    for (const p of [...processes].reverse()) await p.stop();
    await identityProvider?.close();
    if (keepOpenstack) return;
    await Promise.all(keystoneDirs.map((dir) => stopOpenstack(dir).catch(() => '')));
  };

  try {
    if (!existsSync('/usr/bin/keystone-manage') || !existsSync('/usr/bin/uwsgi')) {
      throw new Error('Keystone is not installed: run `sudo bash platforms/install.sh` first');
    }

    /** How each restartable process is started again (`restart`). */
    const starters = new Map<string, () => Promise<ManagedProcess>>();
    const startNamed = async (name: string, start: () => Promise<ManagedProcess>) => {
      starters.set(name, start);
      const p = await start();
      processes.push(p);
      return p;
    };

    // NATS
    let natsUrl = options.natsUrl;
    let natsUrls: string[] = [];
    if (options.natsCluster && options.natsCluster > 1) {
      const n = options.natsCluster;
      const nodes = await Promise.all(Array.from({ length: n }, async () => ({ client: await freePort(), cluster: await freePort() })));
      const t0 = Date.now();
      await Promise.all(
        nodes.map((node, i) => {
          const jsDir = join(stateDir, 'nats', `nats-${i + 1}`);
          if (options.freshOpenstack) rmSync(jsDir, { recursive: true, force: true });
          mkdirSync(jsDir, { recursive: true });
          const routes = nodes.filter((o) => o !== node).map((o) => `nats://127.0.0.1:${o.cluster}`);
          const name = `nats-${i + 1}`;
          return startNamed(name, () =>
            spawnManaged({
              name,
              command: natsServerBinary(),
              args: [
                '-a',
                '127.0.0.1',
                '-p',
                String(node.client),
                '-n',
                name,
                '-js',
                '-sd',
                jsDir,
                '--cluster_name',
                'infrafed',
                '--cluster',
                `nats://127.0.0.1:${node.cluster}`,
                '--routes',
                routes.join(','),
              ],
              readyWhen: /Server is ready/,
              onLine: (l) => options.onLine?.(name, l),
            }),
          );
        }),
      );
      natsUrls = nodes.map((node) => `nats://127.0.0.1:${node.client}`);
      natsUrl = natsUrls[0] as string;
      await jetStreamClusterReady(natsUrls);
      progress(`NATS: a cluster of ${n} JetStream servers (${Date.now() - t0} ms)`);
    } else if (natsUrl && (await natsHasJetStream(natsUrl))) {
      progress(`NATS: using ${natsUrl}`);
    } else {
      const port = await freePort();
      natsUrl = `nats://127.0.0.1:${port}`;
      const jsDir = join(stateDir, 'nats');
      // a fresh cloud needs a fresh controller state too (operations, name claims)
      if (options.freshOpenstack) rmSync(jsDir, { recursive: true, force: true });
      mkdirSync(jsDir, { recursive: true });
      const t0 = Date.now();
      processes.push(
        await spawnManaged({
          name: 'nats-server',
          command: natsServerBinary(),
          args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', jsDir],
          readyWhen: /Server is ready/,
          onLine: (l) => options.onLine?.('nats-server', l),
        }),
      );
      progress(`NATS: started nats-server on ${natsUrl} (${Date.now() - t0} ms)`);
    }
    if (natsUrls.length === 0) natsUrls = [natsUrl];

    // OKD API emulator per OKD region (its objects kept in a file between runs)
    const okd = new Map<string, { url: string; token: string }>();
    for (const r of regions.filter((x) => platformsOf(x).includes('okd'))) {
      const token = randomBytes(24).toString('hex');
      const stateFile = join(stateDir, 'okd', `${r.name}.json`);
      mkdirSync(join(stateDir, 'okd'), { recursive: true });
      if (options.freshOpenstack) rmSync(stateFile, { force: true });
      const emulator = await spawnManaged({
        name: `okd-${r.name}`,
        command: process.execPath,
        args: [...NODE_TS_ARGS, join(ROOT, 'platforms/okd/main.ts')],
        env: { ...process.env, OKD_TOKEN: token, OKD_STATE_FILE: stateFile },
        readyWhen: /okd emulator ready/,
        onLine: (l) => options.onLine?.(`okd-${r.name}`, l),
      });
      processes.push(emulator);
      const url = /"url":"([^"]+)"/.exec(emulator.output())?.[1] as string;
      okd.set(r.name, { url, token });
      progress(`OKD: API emulator for ${r.name} on ${url}`);
    }

    // Keystone, Neutron and nova-api per OpenStack region, in parallel
    const openstackRegions = regions.filter((r) => platformsOf(r).includes('openstack'));
    const ports = new Map<string, OpenstackPorts>();
    const kept = new Set<string>();
    for (const r of openstackRegions) {
      const running = keepOpenstack ? await runningOpenstack(join(stateDir, 'openstack', r.name)) : undefined;
      if (running) kept.add(r.name);
      ports.set(r.name, running ?? { keystone: await freePort(), neutron: await freePort(), nova: await freePort() });
    }
    const portsOf = (region: string) => ports.get(region) as OpenstackPorts;
    const t0 = Date.now();
    if (kept.size > 0) {
      progress(`OpenStack: Keystone, Neutron and nova-api of ${[...kept].join(', ')} still running from the last start: reused`);
      for (const name of kept) keystoneDirs.push(join(stateDir, 'openstack', name));
    }
    const toStart = openstackRegions.filter((r) => !kept.has(r.name));
    if (toStart.length > 0) {
      progress(
        `OpenStack: starting Keystone, Neutron and nova-api for ${toStart.map((r) => r.name).join(', ')} (the first run bootstraps them: ~30-60 s)`,
      );
    }
    await Promise.all(
      toStart.map(async (r) => {
        const dir = join(stateDir, 'openstack', r.name);
        const p = portsOf(r.name);
        const env = {
          ...process.env,
          PATH: OS_PATH,
          STATE_DIR: dir,
          KS_PORT: String(p.keystone),
          NEUTRON_PORT: String(p.neutron),
          NOVA_PORT: String(p.nova),
          WITH_NEUTRON: '1',
          WITH_NOVA: '1',
          OS_REGION: r.name,
          ADMIN_PASSWORD,
          // several regions at once are bound by the CPU: each region's services one after another is quicker then
          SIDE_BY_SIDE: toStart.length > 1 ? '0' : '1',
        };
        // processes a crashed earlier run left behind
        await stopOpenstack(dir).catch(() => '');
        keystoneDirs.push(dir);
        await run('bash', [join(OPENSTACK_SCRIPTS, 'start.sh')], { ...env, RESET: options.freshOpenstack ? '1' : '0' }, (l) =>
          options.onLine?.(`keystone-${r.name}`, l),
        );
        writeFileSync(join(dir, PORTS_FILE), `${JSON.stringify(p)}\n`);
      }),
    );
    progress(`OpenStack: Keystone, Neutron and nova-api answering in every region (${Date.now() - t0} ms)`);

    const gatewayPort = options.gatewayPort === 0 || options.gatewayPort === undefined ? await freePort() : options.gatewayPort;
    const restPort = options.restPort === 0 || options.restPort === undefined ? await freePort() : options.restPort;
    // parsed like any deployment's configuration: its defaults (limits, roles, tolerances) are the product's
    // what the adapters are given for each vendor API (the API itself, or what the caller puts in front of it)
    const vendorUrls = new Map<string, string>();
    const vendor = async (kind: 'keystone' | 'neutron' | 'nova' | 'okd', region: string, url: string) =>
      vendorUrls.set(`${kind} ${region}`, options.vendorUrl ? await options.vendorUrl(kind, region, url) : url);
    for (const r of regions) {
      const o = okd.get(r.name);
      if (o) await vendor('okd', r.name, o.url);
      if (!ports.has(r.name)) continue;
      await vendor('keystone', r.name, `http://127.0.0.1:${portsOf(r.name).keystone}/v3`);
      await vendor('neutron', r.name, `http://127.0.0.1:${portsOf(r.name).neutron}`);
      await vendor('nova', r.name, `http://127.0.0.1:${portsOf(r.name).nova}/v2.1`);
    }
    // an institution's identity provider stands in here (its own issuer and keys, served on loopback)
    identityProvider = await startLocalIdentityProvider({ name: 'campus' });
    const config: SystemConfig = systemConfigSchema.parse({
      nats: { servers: natsUrls },
      controller: {
        replicas: natsUrls.length >= 3 ? 3 : 1,
        // a local system's webhook receivers are on this machine (a deployment refuses private targets)
        webhooks: { allowPrivateTargets: true },
        ...options.controller,
      },
      auth: {
        issuer: 'infrafed-local',
        audience: 'infrafed',
        hs256Secret: randomBytes(32).toString('hex'),
        sessions: { hs256Secret: randomBytes(32).toString('hex') },
        identityProviders: [
          {
            name: identityProvider.name,
            issuer: identityProvider.issuer,
            audience: identityProvider.audience,
            jwksUrl: identityProvider.jwksUrl,
          },
        ],
      },
      regions: regions.map((r) => ({
        name: r.name,
        displayName: r.displayName,
        platforms: platformsOf(r).map((platform) =>
          platform === 'okd'
            ? {
                platform: 'okd' as const,
                apiUrl: vendorUrls.get(`okd ${r.name}`) as string,
                token: { env: `INFRAFED_OKD_TOKEN_${r.name.toUpperCase().replace(/-/g, '_')}` },
              }
            : {
                platform: 'openstack' as const,
                keystoneUrl: vendorUrls.get(`keystone ${r.name}`) as string,
                neutronUrl: vendorUrls.get(`neutron ${r.name}`) as string,
                novaUrl: vendorUrls.get(`nova ${r.name}`) as string,
                username: 'admin',
                password: { env: 'INFRAFED_OPENSTACK_PASSWORD' },
                projectName: 'admin',
                userDomainId: 'default',
                projectDomainId: 'default',
              },
        ),
      })),
      timeouts: {
        gatewayMs: 10_000,
        adapterMs: 5_000,
        adapterWriteMs: 15_000,
        vendorMs: 4_000,
        operationWaitMs: 8_000,
        operationLeaseMs: 30_000,
        ...options.timeouts,
      },
      gateway: { host: '127.0.0.1', port: gatewayPort },
      restBridge: { host: '127.0.0.1', port: restPort },
    });
    const configPath = join(stateDir, 'config.json');
    writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
    // the stand-in identity provider's key, for `npm run token -- --provider <sub>` (a new key every start)
    const { name, issuer, audience, privateJwk } = identityProvider;
    writeFileSync(join(stateDir, 'identity-provider.json'), `${JSON.stringify({ name, issuer, audience, privateJwk })}\n`, { mode: 0o600 });
    // readiness is read from each component's info-level "ready" line, whatever the caller's LOG_LEVEL
    const okdTokens = Object.fromEntries(
      [...okd.entries()].map(([region, o]) => [`INFRAFED_OKD_TOKEN_${region.toUpperCase().replace(/-/g, '_')}`, o.token]),
    );
    const env = {
      ...process.env,
      ...okdTokens,
      INFRAFED_CONFIG: configPath,
      INFRAFED_OPENSTACK_PASSWORD: ADMIN_PASSWORD,
      LOG_LEVEL: options.componentLogLevel ?? 'info',
    };

    /** Ops endpoints (`/healthz`, `/readyz`, `/metrics`) of the components without an HTTP face, by name. */
    const opsPorts = new Map<string, number>();
    const subgraphHttpPorts = new Map<string, number>();
    /** A subgraph's extra environment: its HTTP port, when the subgraphs serve HTTP too. */
    const subgraphEnv = async (name: string): Promise<Record<string, string>> => {
      if (!options.subgraphHttp) return {};
      const port = await freePort();
      subgraphHttpPorts.set(name, port);
      return { SUBGRAPH_HTTP_PORT: String(port) };
    };
    const node = async (name: string, file: string, extraEnv: NodeJS.ProcessEnv = {}, nodeArgs: readonly string[] = []) => {
      const opsPort = opsPorts.get(name) ?? (await freePort());
      opsPorts.set(name, opsPort);
      return spawnManaged({
        name,
        command: process.execPath,
        args: [...NODE_TS_ARGS, ...nodeArgs, join(ROOT, file)],
        env: { ...env, INFRAFED_OPS_PORT: String(opsPort), ...extraEnv },
        readyWhen: /"msg":"[^"]* ready"/,
        onLine: (l) => options.onLine?.(name, l),
      });
    };
    const adapterEnv: Record<string, string> = options.adapterLogLevel ? { LOG_LEVEL: options.adapterLogLevel } : {};
    /** Adapter processes by region (one per platform there: `adapter-<region>` for OpenStack, `adapter-okd-<region>`). */
    const adapters = new Map<string, ManagedProcess[]>();
    const startAdapter = async (region: string) => {
      const r = regions.find((x) => x.name === region) as LocalRegion;
      const started = await Promise.all(
        platformsOf(r).map((platform) =>
          platform === 'okd'
            ? node(`adapter-okd-${region}`, 'adapters/okd/main.ts', { INFRAFED_REGION: region, ...adapterEnv })
            : node(`adapter-${region}`, 'adapters/openstack/main.ts', { INFRAFED_REGION: region, ...adapterEnv }),
        ),
      );
      adapters.set(region, started);
      processes.push(...started);
    };
    const t1 = Date.now();
    const controllerNames = Array.from({ length: options.controllers ?? 1 }, (_, i) => (i === 0 ? 'controller' : `controller-${i + 1}`));
    if (options.allInOne) {
      // the same components, environments and ops ports, as worker threads of one process
      const spec = async (name: string, file: string, extraEnv: Record<string, string> = {}) => {
        const opsPort = opsPorts.get(name) ?? (await freePort());
        opsPorts.set(name, opsPort);
        const own = name === 'gateway' ? gatewayPort : name === 'rest-bridge' ? restPort : opsPort;
        return {
          name,
          file: join(ROOT, file),
          env: { INFRAFED_OPS_PORT: String(opsPort), ...extraEnv },
          readyUrl: `http://127.0.0.1:${own}/readyz`,
        };
      };
      const one = async (name: string, file: string) => ({ name, components: [await spec(name, file)] });
      // the adapters share a worker, and so do the subgraphs (an isolate each would cost about 20 MiB)
      const groups = [
        [
          {
            name: 'adapters',
            components: await Promise.all(
              regions.flatMap((r) =>
                platformsOf(r).map((platform) =>
                  platform === 'okd'
                    ? spec(`adapter-okd-${r.name}`, 'adapters/okd/main.ts', { INFRAFED_REGION: r.name, ...adapterEnv })
                    : spec(`adapter-${r.name}`, 'adapters/openstack/main.ts', { INFRAFED_REGION: r.name, ...adapterEnv }),
                ),
              ),
            ),
          },
        ],
        [
          ...(await Promise.all(controllerNames.map((name) => one(name, 'controller/main.ts')))),
          {
            name: 'subgraphs',
            components: await Promise.all(
              Object.values(SubgraphName).map(async (name) => spec(name, `subgraphs/${name}/main.ts`, await subgraphEnv(name))),
            ),
          },
        ],
        [await one('gateway', 'gateway/main.ts')],
        [await one('rest-bridge', 'rest-bridge/main.ts')],
      ];
      const specPath = join(stateDir, 'all-in-one.json');
      writeFileSync(specPath, `${JSON.stringify(groups, null, 2)}\n`);
      processes.push(
        await spawnManaged({
          name: 'infrafed',
          command: process.execPath,
          args: [...NODE_SMALL_ARGS, join(ROOT, 'platforms/allInOne.ts'), specPath],
          env,
          readyWhen: /"msg":"all-in-one ready"/,
          onLine: (l) => options.onLine?.('infrafed', l),
        }),
      );
    } else {
      await Promise.all(regions.map((r) => startAdapter(r.name)));
      await Promise.all([
        ...controllerNames.map((name) => startNamed(name, () => node(name, 'controller/main.ts'))),
        ...Object.values(SubgraphName).map(async (name) =>
          processes.push(await node(name, `subgraphs/${name}/main.ts`, await subgraphEnv(name))),
        ),
      ]);
      processes.push(await node('gateway', 'gateway/main.ts', {}, GATEWAY_NODE_ARGS));
      processes.push(await node('rest-bridge', 'rest-bridge/main.ts'));
    }
    progress(`infrafed: adapters, controller, subgraphs, gateway and REST bridge ready (${Date.now() - t1} ms)`);

    return {
      config,
      configPath,
      natsUrl,
      natsUrls,
      gatewayUrl: `http://127.0.0.1:${gatewayPort}/graphql`,
      restUrl: `http://127.0.0.1:${restPort}`,
      keystoneUrl: (region) => `http://127.0.0.1:${portsOf(region).keystone}/v3`,
      okd: (region) => okd.get(region) as { url: string; token: string },
      neutronUrl: (region) => `http://127.0.0.1:${portsOf(region).neutron}`,
      novaUrl: (region) => `http://127.0.0.1:${portsOf(region).nova}/v2.1`,
      token: (organization, orgRole = 'owner', subject = `${organization}-${orgRole}`, extra = {}) =>
        signLocalToken(config.auth, { organization, orgRole, subject, platformAdmin: extra.platformAdmin }),
      identityProvider: identityProvider as LocalIdentityProvider,
      providerToken: (subject, claims, ttlSeconds) =>
        signProviderToken(identityProvider as LocalIdentityProvider, subject, claims, ttlSeconds),
      async stopAdapter(region) {
        if (options.allInOne)
          throw new Error('stopAdapter: in the all-in-one mode every adapter shares one process; start the system distributed');
        for (const p of adapters.get(region) ?? []) {
          await p.stop();
          processes.splice(processes.indexOf(p), 1);
        }
        adapters.delete(region);
      },
      startAdapter,
      output: (name) => processes.find((p) => p.name === name)?.output() ?? '',
      process: (name) => processes.find((p) => p.name === name && p.child.exitCode === null && p.child.signalCode === null),
      async restart(name) {
        const start = starters.get(name);
        if (!start) throw new Error(`${name} cannot be restarted (only NATS servers and controllers)`);
        const old = processes.findIndex((p) => p.name === name);
        if (old >= 0) {
          await (processes[old] as ManagedProcess).stop('SIGKILL');
          processes.splice(old, 1);
        }
        processes.push(await start());
      },
      subgraphHttpUrl: (name) => `http://127.0.0.1:${subgraphHttpPorts.get(name) ?? 0}/graphql`,
      opsUrl: (name) =>
        name === 'gateway'
          ? `http://127.0.0.1:${gatewayPort}`
          : name === 'rest-bridge'
            ? `http://127.0.0.1:${restPort}`
            : `http://127.0.0.1:${opsPorts.get(name) ?? 0}`,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
