import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnManaged, type ManagedProcess } from '../../platforms/processes.ts';
import { requestAdapter } from '../../runtime/nats/adapterClient.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SLOW_MS = 1_500;

/** A stand-in upstream (gateway or Kubernetes API) that answers after SLOW_MS: requests are in flight long enough to stop a component under them. */
async function slowUpstream(body: (path: string) => unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body(req.url ?? '/'))), SLOW_MS);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

const exitOf = (p: ManagedProcess) =>
  new Promise<{ code: number | null }>((resolve) => {
    if (p.child.exitCode !== null) resolve({ code: p.child.exitCode });
    else p.child.once('exit', (code) => resolve({ code }));
  });

/** SIGTERM: stop accepting, finish what is in flight, drain NATS, exit 0 within the bound (10 s). */
describe('graceful shutdown on SIGTERM', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let dir: string;
  const upstreams: Server[] = [];
  const env = (config: unknown) => {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(config));
    return { ...process.env, INFRAFED_CONFIG: file, LOG_LEVEL: 'info' };
  };
  const baseConfig = (okdUrl: string) => ({
    nats: { servers: [nats.url] },
    auth: { issuer: 'infrafed-test', audience: 'infrafed', hs256Secret: 'z'.repeat(40) },
    regions: [{ name: 'lla', displayName: 'Luleå', platforms: [{ platform: 'okd', apiUrl: okdUrl, token: 'okd-token' }] }],
  });

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    dir = mkdtempSync(join(tmpdir(), 'infrafed-shutdown-'));
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    for (const s of upstreams) s.close();
  });

  it('the REST bridge finishes a request in flight, refuses new connections, and exits 0', async () => {
    const gateway = await slowUpstream(() => ({ data: { regions: [] } }));
    upstreams.push(gateway.server);
    const port = await freePort();
    const bridge = await spawnManaged({
      name: 'rest-bridge',
      command: process.execPath,
      args: [join(ROOT, 'rest-bridge/main.ts')],
      env: env({ ...baseConfig('http://127.0.0.1:9'), restBridge: { host: '127.0.0.1', port, gatewayUrl: `${gateway.url}/graphql` } }),
      readyWhen: /rest-bridge ready/,
    });
    const exited = exitOf(bridge);
    const inFlight = fetch(`http://127.0.0.1:${port}/regions`, { headers: { authorization: 'Bearer x' } });
    await new Promise((r) => setTimeout(r, 300));
    bridge.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [], nextCursor: null, incompleteRegions: [] });
    // 0: stopped within runMain's bound (past it, the process exits 1)
    expect((await exited).code).toBe(0);
    expect(bridge.output()).toMatch(/"msg":"stopped"/);
  }, 30_000);

  it('an adapter answers the request it is working on before it drains and exits 0; the next one finds no responder', async () => {
    const kube = await slowUpstream((path) =>
      path.startsWith('/apis/project.openshift.io') || path.startsWith('/api/v1/namespaces')
        ? { kind: 'List', apiVersion: 'v1', metadata: {}, items: [] }
        : {},
    );
    upstreams.push(kube.server);
    const adapter = await spawnManaged({
      name: 'adapter-okd-lla',
      command: process.execPath,
      args: [join(ROOT, 'adapters/okd/main.ts')],
      env: { ...env(baseConfig(kube.url)), INFRAFED_REGION: 'lla' },
      readyWhen: /okd adapter ready/,
    });
    const exited = exitOf(adapter);
    const inFlight = requestAdapter(
      nc,
      { region: 'lla', platform: 'okd' },
      'project',
      'list',
      { organization: 'acme' },
      { timeoutMs: 8_000 },
    );
    await new Promise((r) => setTimeout(r, 300));
    adapter.child.kill('SIGTERM');
    await expect(inFlight).resolves.toEqual({ placements: [] });
    expect((await exited).code).toBe(0);
    await expect(
      requestAdapter(nc, { region: 'lla', platform: 'okd' }, 'project', 'list', { organization: 'acme' }, { timeoutMs: 2_000 }),
    ).rejects.toMatchObject({
      code: 'REGION_UNAVAILABLE',
    });
  }, 30_000);
});
