import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { signLocalToken } from '../../runtime/auth.ts';
import type { SystemConfig } from '../../runtime/config.ts';
import type { LocalSystem } from '../../platforms/localSystem.ts';
import { signProviderToken } from '../../platforms/identityProvider.ts';

/**
 * One local system for the whole e2e run (jest global setup, `e2eGlobalSetup.ts`): started once, shared
 * by the suites, each in organisations of its own so that no suite sees another's projects, quotas or
 * audit. Suites that stop components for good keep a system of their own (`startLocalSystem`).
 */

/**
 * Where the global setup writes its control API's address, at once (inside the e2e state dir, never
 * committed); the system's own addresses come from that API's `/ready` once it has started.
 */
export const SHARED_CONTROL_FILE = fileURLToPath(new URL('../../.local/test/e2e/control.json', import.meta.url));

/** What the global setup publishes: the system's addresses and its control API. */
export interface SharedSystemDescription {
  config: SystemConfig;
  configPath: string;
  natsUrl: string;
  gatewayUrl: string;
  restUrl: string;
  keystoneUrls: Record<string, string>;
  neutronUrls: Record<string, string>;
  novaUrls: Record<string, string>;
  okd: Record<string, { url: string; token: string }>;
  opsUrls: Record<string, string>;
  /** Loopback HTTP: stop/start adapters, read components' output (the processes live in the global setup). */
  controlUrl: string;
  identityProvider: LocalSystem['identityProvider'];
}

export interface SharedSystem extends LocalSystem {
  /** Every line every component printed since the system started (components log at debug level). */
  lines(): Promise<{ name: string; line: string }[]>;
}

async function control(url: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`shared system control ${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res;
}

/**
 * The shared system, as a `LocalSystem`. Its `stop()` does not stop it: it starts again any adapter the
 * suite stopped and left stopped (a failed test), so the next suite finds the system whole.
 */
export async function sharedSystem(): Promise<SharedSystem> {
  const { controlUrl } = JSON.parse(readFileSync(SHARED_CONTROL_FILE, 'utf8')) as { controlUrl: string };
  // waits while the system starts (the global setup starts it in the background), or says why it did not
  const d = (await (await control(`${controlUrl}/ready`)).json()) as SharedSystemDescription;
  const at = (map: Record<string, string>, key: string) => map[key] ?? `http://127.0.0.1:0/unknown-${key}`;
  const output = new Map<string, string>();
  return {
    config: d.config,
    configPath: d.configPath,
    natsUrl: d.natsUrl,
    natsUrls: [d.natsUrl],
    gatewayUrl: d.gatewayUrl,
    restUrl: d.restUrl,
    subgraphHttpUrl: () => {
      throw new Error('the shared system serves its subgraphs on NATS only');
    },
    keystoneUrl: (region) => at(d.keystoneUrls, region),
    neutronUrl: (region) => at(d.neutronUrls, region),
    novaUrl: (region) => at(d.novaUrls, region),
    okd: (region) => d.okd[region] as { url: string; token: string },
    opsUrl: (name) => at(d.opsUrls, name),
    token: (organization, orgRole = 'owner', subject = `${organization}-${orgRole}`, extra = {}) =>
      signLocalToken(d.config.auth, { organization, orgRole, subject, platformAdmin: extra.platformAdmin }),
    identityProvider: d.identityProvider,
    providerToken: (subject, claims, ttlSeconds) => signProviderToken(d.identityProvider, subject, claims, ttlSeconds),
    async stopAdapter(region) {
      await control(`${d.controlUrl}/adapters/${region}/stop`, { method: 'POST' });
    },
    async startAdapter(region) {
      await control(`${d.controlUrl}/adapters/${region}/start`, { method: 'POST' });
    },
    // the shared system's processes live in the global setup: suites that kill or pause them keep a system of their own
    process: () => undefined,
    async restart(name) {
      throw new Error(`the shared system does not restart ${name}: start a system of the suite's own`);
    },
    // LocalSystem's output() is synchronous: the last fetched copy (`lines()` fetches)
    output: (name) => output.get(name) ?? '',
    async lines() {
      const all = (await (await control(`${d.controlUrl}/lines`)).json()) as { name: string; line: string }[];
      output.clear();
      for (const l of all) output.set(l.name, `${output.get(l.name) ?? ''}${l.line}\n`);
      return all;
    },
    async stop() {
      await control(`${d.controlUrl}/adapters/start-stopped`, { method: 'POST' });
    },
  };
}
