// `npm run bench` (second part): `projects` through the gateway across 3, 10 and 30 regions, 1,000
// projects each placed in two regions. The regions' adapters are simulated: NATS services of the adapter
// kit answering the real contract (`project.list`, `health.check`) from memory, so what is measured is
// infrafed's own fan-out (gateway → identity subgraph → every placement, with the controller's share
// list beside it), not a vendor. Prints p50, p95 and the NATS requests per query; asserts nothing.
//
// BENCH_SCALE_REGIONS (3,10,30), BENCH_SCALE_PROJECTS (1000), BENCH_SCALE_READS (30).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterEndpoint } from '../runtime/nats/adapterEndpoint.ts';
import { signLocalToken } from '../runtime/auth.ts';
import { systemConfigSchema } from '../runtime/config.ts';
import { createLogger } from '../runtime/log.ts';
import { startAdapterService, type AdapterService } from '../adapters/shared/adapterKit.ts';
import type { ProjectPlacement } from '../schema/contracts/identity.ts';
import { freePort, GATEWAY_NODE_ARGS, NODE_TS_ARGS, spawnManaged, type ManagedProcess } from '../platforms/processes.ts';
import { startNatsServer } from '../test/harness/natsProcess.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REGION_COUNTS = (process.env.BENCH_SCALE_REGIONS ?? '3,10,30').split(',').filter(Boolean).map(Number);
const PROJECTS = Number(process.env.BENCH_SCALE_PROJECTS ?? 1000);
const READS = Number(process.env.BENCH_SCALE_READS ?? 30);
const ORG = 'scale';
const say = (m: string) => process.stdout.write(`${m}\n`);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Project i is placed in regions i mod n and (i + 1) mod n. */
function placementsOf(regions: string[]): Map<string, ProjectPlacement[]> {
  const byRegion = new Map<string, ProjectPlacement[]>(regions.map((r) => [r, []]));
  for (let i = 0; i < PROJECTS; i++) {
    const projectId = `prj_01scale${String(i).padStart(19, '0')}`;
    for (const region of [regions[i % regions.length], regions[(i + 1) % regions.length]] as string[]) {
      byRegion.get(region)?.push({
        projectId,
        organization: ORG,
        name: `project-${i}`,
        description: '',
        region,
        platform: 'okd',
        nativeId: `ns-${i}`,
        enabled: true,
      });
    }
  }
  return byRegion;
}

async function simulatedAdapters(nc: NatsConnection, regions: string[]): Promise<AdapterService[]> {
  const placements = placementsOf(regions);
  const log = createLogger('simulated-adapter', 'warn');
  return Promise.all(
    regions.map((region) =>
      startAdapterService({ nc, region, platform: 'okd', description: `simulated ${region}`, version: '0.0.0', log }, [
        adapterEndpoint(region, 'okd', 'project', 'list', {
          async handle(req) {
            const all = (placements.get(region) ?? []).filter((p) => p.organization === req.organization);
            const wanted = req.projectIds ? new Set(req.projectIds) : null;
            return { placements: wanted ? all.filter((p) => wanted.has(p.projectId)) : all };
          },
        }),
        adapterEndpoint(region, 'okd', 'health', 'check', {
          async handle() {
            return { region, platform: 'okd' as const, vendorLatencyMs: 0, vendorVersion: 'simulated' };
          },
        }),
      ]),
    ),
  );
}

const nats = await startNatsServer();
const nc = await connect({ servers: nats.url });
let natsRequests = 0;
// every request on infrafed's subjects (replies go to inboxes, not counted)
const counter = nc.subscribe('infra.v1.>', {
  callback: () => {
    natsRequests++;
  },
});
const results: { regions: number; p50: number; p95: number; requests: number; complete: number }[] = [];
try {
  for (const n of REGION_COUNTS) {
    const regions = Array.from({ length: n }, (_, i) => `sim${String(i + 1).padStart(2, '0')}`);
    const dir = mkdtempSync(join(tmpdir(), `infrafed-scale-${n}-`));
    const config = systemConfigSchema.parse({
      nats: { servers: [nats.url] },
      auth: { issuer: 'infrafed-scale', audience: 'infrafed', hs256Secret: 'scale-bench-secret-0123456789abcdef' },
      regions: regions.map((name) => ({
        name,
        displayName: name,
        // never called: the adapters are simulated
        platforms: [{ platform: 'okd', apiUrl: 'http://127.0.0.1:9', token: 'unused' }],
      })),
      gateway: { host: '127.0.0.1', port: await freePort() },
    });
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const adapters = await simulatedAdapters(nc, regions);
    const processes: ManagedProcess[] = [];
    try {
      const start = (name: string, file: string, nodeArgs: readonly string[] = []) =>
        spawnManaged({
          name,
          command: process.execPath,
          args: [...NODE_TS_ARGS, ...nodeArgs, join(ROOT, file)],
          env: { ...process.env, INFRAFED_CONFIG: configPath, LOG_LEVEL: 'info' },
          readyWhen: /"msg":"[^"]* ready"/,
        });
      processes.push(...(await Promise.all([start('controller', 'controller/main.ts'), start('identity', 'subgraphs/identity/main.ts')])));
      processes.push(await start('gateway', 'gateway/main.ts', GATEWAY_NODE_ARGS));
      const token = await signLocalToken(config.auth, { organization: ORG, orgRole: 'owner', subject: 'scale-owner' });
      const read = async () => {
        const res = await fetch(`http://127.0.0.1:${config.gateway.port}/graphql`, {
          method: 'POST',
          // every read fans out (the response cache would give the first one again)
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'cache-control': 'no-cache' },
          body: JSON.stringify({ query: '{ projects { id name placements { region } } }' }),
        });
        const json = (await res.json()) as { data?: { projects?: { placements: unknown[] }[] }; errors?: unknown[] };
        const projects = json.data?.projects ?? [];
        return !json.errors?.length && projects.length === PROJECTS && projects.every((p) => p.placements.length === 2);
      };
      for (let i = 0; i < 3; i++) await read(); // warm-up
      const times: number[] = [];
      let complete = 0;
      natsRequests = 0;
      for (let i = 0; i < READS; i++) {
        const t0 = performance.now();
        if (await read()) complete++;
        times.push(performance.now() - t0);
      }
      await nc.flush();
      times.sort((a, b) => a - b);
      results.push({ regions: n, p50: pct(times, 50), p95: pct(times, 95), requests: natsRequests / READS, complete });
      say(`  ${n} regions: p50 ${pct(times, 50).toFixed(1)} ms, ${(natsRequests / READS).toFixed(1)} NATS requests per query`);
    } finally {
      for (const p of processes.reverse()) await p.stop();
      for (const a of adapters) await a.stop();
    }
  }
  const base = results[0];
  say(`\n\`projects\` with ${PROJECTS} projects (each in two regions), simulated adapters, ${READS} sequential reads:`);
  say('| regions | p50 ms | p95 ms | p50 ratio to the first | NATS requests / query | per region | complete |');
  say('|---|---|---|---|---|---|---|');
  for (const r of results) {
    say(
      `| ${r.regions} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${base ? (r.p50 / base.p50).toFixed(2) : '–'} | ${r.requests.toFixed(1)} | ${(r.requests / r.regions).toFixed(2)} | ${r.complete}/${READS} |`,
    );
  }
} finally {
  counter.unsubscribe();
  await nc.close();
  await nats.stop();
}
