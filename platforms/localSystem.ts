import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signLocalToken, type OrgRole } from '../runtime/auth.ts';
import { systemConfigSchema, type SystemConfig } from '../runtime/config.ts';
import type { Platform } from '../schema/model.ts';
import { natsServerBinary } from './ensureInstalled.ts';
import { freePort, run, spawnManaged, type ManagedProcess } from './processes.ts';

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
}

export interface LocalSystem {
  config: SystemConfig;
  configPath: string;
  gatewayUrl: string;
  /** The REST bridge (no trailing slash). */
  restUrl: string;
  natsUrl: string;
  keystoneUrl(region: string): string;
  /** The OKD API (emulator) of a region, and the adapter's token for it. */
  okd(region: string): { url: string; token: string };
  neutronUrl(region: string): string;
  /** nova-api with its version (…/v2.1). */
  novaUrl(region: string): string;
  /** A token of the local signing key. */
  token(organization: string, orgRole?: OrgRole, subject?: string, options?: { platformAdmin?: boolean }): Promise<string>;
  stopAdapter(region: string): Promise<void>;
  startAdapter(region: string): Promise<void>;
  /** Output of a component so far (e.g. `gateway`, `adapter-sto`). */
  output(name: string): string;
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
  const stopAll = async () => {
    for (const p of [...processes].reverse()) await p.stop();
    await Promise.all(
      keystoneDirs.map((dir) =>
        run('bash', [join(OPENSTACK_SCRIPTS, 'stop.sh')], { ...process.env, PATH: OS_PATH, STATE_DIR: dir }).catch(() => ''),
      ),
    );
  };

  try {
    if (!existsSync('/usr/bin/keystone-manage') || !existsSync('/usr/bin/uwsgi')) {
      throw new Error('Keystone is not installed: run `sudo bash platforms/install.sh` first');
    }

    // NATS
    let natsUrl = options.natsUrl;
    if (natsUrl && (await natsHasJetStream(natsUrl))) {
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
        args: [join(ROOT, 'platforms/okd/main.ts')],
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
    const ports = new Map<string, { keystone: number; neutron: number; nova: number }>();
    for (const r of openstackRegions) ports.set(r.name, { keystone: await freePort(), neutron: await freePort(), nova: await freePort() });
    const portsOf = (region: string) => ports.get(region) as { keystone: number; neutron: number; nova: number };
    const t0 = Date.now();
    progress(
      `OpenStack: starting Keystone, Neutron and nova-api for ${openstackRegions.map((r) => r.name).join(', ')} (the first run bootstraps them: ~30-60 s)`,
    );
    await Promise.all(
      openstackRegions.map(async (r) => {
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
        };
        // processes a crashed earlier run left behind
        await run('bash', [join(OPENSTACK_SCRIPTS, 'stop.sh')], env).catch(() => '');
        keystoneDirs.push(dir);
        await run('bash', [join(OPENSTACK_SCRIPTS, 'start.sh')], { ...env, RESET: options.freshOpenstack ? '1' : '0' }, (l) =>
          options.onLine?.(`keystone-${r.name}`, l),
        );
      }),
    );
    progress(`OpenStack: Keystone, Neutron and nova-api answering in every region (${Date.now() - t0} ms)`);

    const gatewayPort = options.gatewayPort === 0 || options.gatewayPort === undefined ? await freePort() : options.gatewayPort;
    const restPort = options.restPort === 0 || options.restPort === undefined ? await freePort() : options.restPort;
    // parsed like any deployment's configuration: its defaults (limits, roles, tolerances) are the product's
    const config: SystemConfig = systemConfigSchema.parse({
      nats: { servers: [natsUrl] },
      auth: { issuer: 'infrafed-local', audience: 'infrafed', hs256Secret: randomBytes(32).toString('hex') },
      regions: regions.map((r) => ({
        name: r.name,
        displayName: r.displayName,
        platforms: platformsOf(r).map((platform) =>
          platform === 'okd'
            ? {
                platform: 'okd' as const,
                apiUrl: (okd.get(r.name) as { url: string }).url,
                token: { env: `INFRAFED_OKD_TOKEN_${r.name.toUpperCase().replace(/-/g, '_')}` },
              }
            : {
                platform: 'openstack' as const,
                keystoneUrl: `http://127.0.0.1:${portsOf(r.name).keystone}/v3`,
                neutronUrl: `http://127.0.0.1:${portsOf(r.name).neutron}`,
                novaUrl: `http://127.0.0.1:${portsOf(r.name).nova}/v2.1`,
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
    const node = async (name: string, file: string, extraEnv: NodeJS.ProcessEnv = {}) => {
      const opsPort = opsPorts.get(name) ?? (await freePort());
      opsPorts.set(name, opsPort);
      return spawnManaged({
        name,
        command: process.execPath,
        args: [join(ROOT, file)],
        env: { ...env, INFRAFED_OPS_PORT: String(opsPort), ...extraEnv },
        readyWhen: /"msg":"[^"]* ready"/,
        onLine: (l) => options.onLine?.(name, l),
      });
    };
    /** Adapter processes by region (one per platform there: `adapter-<region>` for OpenStack, `adapter-okd-<region>`). */
    const adapters = new Map<string, ManagedProcess[]>();
    const startAdapter = async (region: string) => {
      const r = regions.find((x) => x.name === region) as LocalRegion;
      const started = await Promise.all(
        platformsOf(r).map((platform) =>
          platform === 'okd'
            ? node(`adapter-okd-${region}`, 'adapters/okd/main.ts', { INFRAFED_REGION: region })
            : node(`adapter-${region}`, 'adapters/openstack/main.ts', { INFRAFED_REGION: region }),
        ),
      );
      adapters.set(region, started);
      processes.push(...started);
    };
    const t1 = Date.now();
    await Promise.all(regions.map((r) => startAdapter(r.name)));
    processes.push(
      ...(await Promise.all([
        node('controller', 'controller/main.ts'),
        ...['identity', 'network', 'quota', 'catalog'].map((name) => node(name, `subgraphs/${name}/main.ts`)),
      ])),
    );
    processes.push(await node('gateway', 'gateway/main.ts'));
    processes.push(await node('rest-bridge', 'rest-bridge/main.ts'));
    progress(`infrafed: adapters, controller, subgraphs, gateway and REST bridge ready (${Date.now() - t1} ms)`);

    return {
      config,
      configPath,
      natsUrl,
      gatewayUrl: `http://127.0.0.1:${gatewayPort}/graphql`,
      restUrl: `http://127.0.0.1:${restPort}`,
      keystoneUrl: (region) => `http://127.0.0.1:${portsOf(region).keystone}/v3`,
      okd: (region) => okd.get(region) as { url: string; token: string },
      neutronUrl: (region) => `http://127.0.0.1:${portsOf(region).neutron}`,
      novaUrl: (region) => `http://127.0.0.1:${portsOf(region).nova}/v2.1`,
      token: (organization, orgRole = 'owner', subject = `${organization}-${orgRole}`, extra = {}) =>
        signLocalToken(config.auth, { organization, orgRole, subject, platformAdmin: extra.platformAdmin }),
      async stopAdapter(region) {
        for (const p of adapters.get(region) ?? []) {
          await p.stop();
          processes.splice(processes.indexOf(p), 1);
        }
        adapters.delete(region);
      },
      startAdapter,
      output: (name) => processes.find((p) => p.name === name)?.output() ?? '',
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
