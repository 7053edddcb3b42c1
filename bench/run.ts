// `npm run bench`: latency of `projects` across two regions through the whole stack, next to its peers
// measured in the same process: the same fan-out straight to the adapters over NATS (no GraphQL), and
// one Keystone list call over HTTP (no NATS). Prints figures and ratios; asserts nothing.
import { connect } from '@nats-io/transport-node';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestAdapter } from '../runtime/nats/adapterClient.ts';
import { placementsOf } from '../runtime/config.ts';
import { fanOut } from '../runtime/nats/request.ts';
import { ensureInstalled } from '../platforms/ensureInstalled.ts';
import { startLocalSystem } from '../platforms/localSystem.ts';
import { keystoneAdmin } from '../test/harness/keystone.ts';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const PROJECTS = 5;
const say = (m: string) => process.stdout.write(`${m}\n`);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function measure(
  name: string,
  fn: () => Promise<void>,
): Promise<{ name: string; p50: number; p95: number; p99: number; rps: number }> {
  for (let i = 0; i < 10; i++) await fn(); // warm-up
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  const total = performance.now() - started;
  times.sort((a, b) => a - b);
  return { name, p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99), rps: (ITERATIONS / total) * 1000 };
}

await ensureInstalled(say);
say('starting the local system (own nats-server, two Keystones)…');
const system = await startLocalSystem({ stateDir: mkdtempSync(join(tmpdir(), 'infrafed-bench-')), freshOpenstack: true });
try {
  const token = await system.token('bench', 'owner');
  const gql = async (query: string) => {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    const body = (await res.json()) as { errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body;
  };
  for (let i = 0; i < PROJECTS; i++) {
    await gql(
      `mutation { createProject(input: {name: "bench-${i}", placements: [{region: "sto", platform: "openstack"}, {region: "osl", platform: "openstack"}]}) { status } }`,
    );
  }
  const nc = await connect({ servers: system.natsUrl });
  const placements = placementsOf(system.config);
  const keystoneToken = await keystoneAdmin(system.keystoneUrl('sto')).token();

  say(`measuring ${ITERATIONS} sequential requests each (${PROJECTS} projects in sto and osl; lla (OKD) asked too)…`);
  const results = [
    await measure('gateway: projects { id name placements }', async () => {
      await gql('{ projects { id name placements { region nativeId } } }');
    }),
    await measure('gateway: the query the REST bridge sends for GET /projects', async () => {
      await gql(
        '{ projects { id organization name description placements { region platform nativeId enabled } shares { organization level since } } }',
      );
    }),
    await measure('REST bridge: GET /projects (projects with placements and shares behind it)', async () => {
      const res = await fetch(`${system.restUrl}/projects?limit=500`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`GET /projects: ${res.status}`);
      await res.arrayBuffer();
    }),
    await measure('gateway: projects with members', async () => {
      await gql('{ projects { id placements { region } members { user role region } } }');
    }),
    await measure('peer: fan-out to every adapter over NATS', async () => {
      const r = await fanOut(placements, (p) => requestAdapter(nc, p, 'project', 'list', { organization: 'bench' }, { timeoutMs: 5_000 }));
      if (r.failed.length > 0) throw r.failed[0]?.error;
    }),
    await measure('peer: one Keystone GET /v3/projects over HTTP', async () => {
      const res = await fetch(`${system.keystoneUrl('sto')}/projects?tags=infrafed`, { headers: { 'x-auth-token': keystoneToken } });
      await res.arrayBuffer();
    }),
  ];
  await nc.close();
  const base = results[4] as (typeof results)[number];
  say('');
  say('| what | p50 ms | p95 ms | p99 ms | req/s | p50 vs NATS fan-out |');
  say('|---|---|---|---|---|---|');
  for (const r of results)
    say(
      `| ${r.name} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.rps.toFixed(0)} | ${(r.p50 / base.p50).toFixed(2)}x |`,
    );
} finally {
  await system.stop();
}
