import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalSystem, type LocalSystem } from '../../platforms/localSystem.ts';
import { SHARED_CONTROL_FILE, type SharedSystemDescription } from './sharedSystem.ts';

const COMPONENTS = ['gateway', 'rest-bridge', 'controller', 'identity', 'network', 'quota', 'catalog'];

/** Started here, stopped by e2eGlobalTeardown.ts (same process: jest runs both in its parent). */
export interface Running {
  /** Settles when the system has started (or failed to): the teardown waits for it before stopping. */
  starting: Promise<LocalSystem | undefined>;
  server: Server;
}
declare global {
  var infrafedSharedSystem: Running | undefined;
}

/**
 * Jest global setup of the e2e project: one local system for every e2e suite of the run. It starts in the
 * background: the control server answers at once, and `sharedSystem()` (each e2e suite's first step) waits
 * on its `/ready` until the system is up. The unit and integration suites run meanwhile (`sequencer.mjs`
 * runs them first), so the run does not wait the ~30-60 s of the start before its first test.
 */
export default async function setup(): Promise<void> {
  const say = (message: string) => process.stdout.write(`[infrafed e2e] ${message}\n`);
  const lines: { name: string; line: string }[] = [];
  const started = Date.now();
  let system: LocalSystem | undefined;
  let failure: Error | undefined;
  let description: SharedSystemDescription | undefined;
  // one request at a time changes the adapters (suites run one at a time; this keeps it so)
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>) => {
    const next = queue.then(work);
    queue = next.catch(() => {});
    return next;
  };
  const stopped = new Set<string>();
  let starting: Promise<LocalSystem | undefined> = Promise.resolve(undefined);
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = req.url ?? '';
    const adapter = /^\/adapters\/([a-z0-9-]+)\/(stop|start)$/.exec(url);
    (async () => {
      // answered once the system is up (or has failed to start): what each suite's sharedSystem() waits on
      if (req.method === 'GET' && url === '/ready') {
        await starting;
        return failure ? reply(503, { error: `the shared local system failed to start: ${failure.message}` }) : reply(200, description);
      }
      if (!system) return reply(409, { error: 'the shared local system is not running' });
      const running = system;
      if (req.method === 'GET' && url === '/lines') return reply(200, lines);
      if (req.method === 'POST' && url === '/adapters/start-stopped') {
        await serial(async () => {
          for (const region of stopped) await running.startAdapter(region);
          stopped.clear();
        });
        return reply(200, {});
      }
      if (req.method === 'POST' && adapter) {
        const [, region = '', verb] = adapter;
        if (!running.config.regions.some((r) => r.name === region)) return reply(404, { error: `no region ${region}` });
        await serial(async () => {
          if (verb === 'stop' && !stopped.has(region)) {
            await running.stopAdapter(region);
            stopped.add(region);
          } else if (verb === 'start' && stopped.has(region)) {
            await running.startAdapter(region);
            stopped.delete(region);
          }
        });
        return reply(200, {});
      }
      return reply(404, { error: `${req.method} ${url}` });
    })().catch((error: unknown) => reply(500, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const controlUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  mkdirSync(dirname(SHARED_CONTROL_FILE), { recursive: true });
  writeFileSync(SHARED_CONTROL_FILE, JSON.stringify({ controlUrl }));
  say('starting the shared local system in the background…');
  starting = startLocalSystem({
    stateDir: fileURLToPath(new URL('../../.local/test/e2e', import.meta.url)),
    freshOpenstack: true,
    componentLogLevel: 'debug',
    // invitations may be as short as a second: the invitation suite sees one expire
    controller: {
      invitations: { ttlSeconds: 7 * 86_400, minTtlSeconds: 1 },
      // the webhook suite's receiver is on loopback, and sees retries within seconds
      webhooks: { retrySeconds: [1, 1, 2], timeoutSeconds: 5, allowPrivateTargets: true },
    },
    onLine: (name, line) => lines.push({ name, line }),
  }).then(
    (up) => {
      system = up;
      description = describeSystem(up, controlUrl);
      say(`shared local system ready (${Date.now() - started} ms)`);
      return up;
    },
    (error: unknown) => {
      failure = error instanceof Error ? error : new Error(String(error));
      say(`the shared local system failed to start: ${failure.message}`);
      return undefined;
    },
  );
  globalThis.infrafedSharedSystem = { starting, server };
}

/** How the suites reach the system: its addresses and the control API. */
function describeSystem(system: LocalSystem, controlUrl: string): SharedSystemDescription {
  const regions = system.config.regions;
  const byRegion = (f: (region: string) => string, platform: string) =>
    Object.fromEntries(regions.filter((r) => r.platforms.some((p) => p.platform === platform)).map((r) => [r.name, f(r.name)]));
  const adapterNames = regions.flatMap((r) =>
    r.platforms.map((p) => (p.platform === 'okd' ? `adapter-okd-${r.name}` : `adapter-${r.name}`)),
  );
  return {
    config: system.config,
    configPath: system.configPath,
    natsUrl: system.natsUrl,
    gatewayUrl: system.gatewayUrl,
    restUrl: system.restUrl,
    keystoneUrls: byRegion(system.keystoneUrl, 'openstack'),
    neutronUrls: byRegion(system.neutronUrl, 'openstack'),
    novaUrls: byRegion(system.novaUrl, 'openstack'),
    okd: Object.fromEntries(regions.filter((r) => r.platforms.some((p) => p.platform === 'okd')).map((r) => [r.name, system.okd(r.name)])),
    opsUrls: Object.fromEntries([...COMPONENTS, ...adapterNames].map((name) => [name, system.opsUrl(name)])),
    controlUrl,
    identityProvider: system.identityProvider,
  };
}
