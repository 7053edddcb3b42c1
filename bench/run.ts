// `npm run bench`: infrafed's gateway (over NATS) next to two stock gateways over HTTP copies of the same
// subgraph processes (the Hive Gateway runtime with its default HTTP transport, and Apollo Gateway), on the
// local system. Per query: RPS, p50, p99, the share of complete answers, CPU per request by process, and
// vendor calls per request; then RSS, and vendor calls of one networks-and-quotas page as projects grow.
// Prints figures and ratios; asserts nothing.
//
// BENCH_SECONDS (15) per round and gateway, BENCH_ROUNDS (3, interleaved), BENCH_CONNECTIONS (4),
// BENCH_SCALE (5,50,500: project counts of the vendor-call table; empty skips it), BENCH_QUERIES (only the
// queries whose name holds one of these comma-separated words; empty: all).
//
// The load comes from this process over keep-alive `node:http` connections (one socket each), the
// cheapest client Node has: on 2 cores the client shares the CPU with the gateways it measures, so its own
// CPU per request is printed too, and the server side's (every process but this one) beside it.
import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled } from '../platforms/ensureInstalled.ts';
import { startLocalSystem } from '../platforms/localSystem.ts';
import { freePort, NODE_TS_ARGS, spawnManaged, type ManagedProcess } from '../platforms/processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const SCALE = (process.env.BENCH_SCALE ?? '5,50,500').split(',').filter(Boolean).map(Number);
const ONLY = (process.env.BENCH_QUERIES ?? '').split(',').filter(Boolean);
const PROJECTS = 5;
const say = (m: string) => process.stdout.write(`${m}\n`);

interface Query {
  name: string;
  query: string;
  complete: (data: Record<string, unknown>) => boolean;
}
const ALL_QUERIES: Query[] = [
  {
    name: 'projects { id name placements }',
    query: '{ projects { id name placements { region platform nativeId } } }',
    complete: (d) => (d.projects as unknown[] | undefined)?.length === PROJECTS,
  },
  {
    name: 'projects { id name networks quotas }',
    query:
      '{ projects { id name networks { id name region cidr } quotas { region platform version quota { cores ramMiB networks ports } } } }',
    complete: (d) => {
      const ps = d.projects as { networks: unknown[]; quotas: unknown[] }[] | undefined;
      return ps?.length === PROJECTS && ps.every((p) => p.networks.length === 1 && p.quotas.length === 2);
    },
  },
  {
    name: 'organization { entitlements remaining }',
    query: '{ organization { id entitlements { total { cores ramMiB } } remaining { total { cores ramMiB } } } }',
    complete: (d) => d.organization !== null && d.organization !== undefined,
  },
  {
    name: 'regions { platforms { status } }',
    query: '{ regions { name platforms { platform status } } }',
    complete: (d) => (d.regions as unknown[] | undefined)?.length === 3,
  },
];
const QUERIES = ALL_QUERIES.filter((q) => ONLY.length === 0 || ONLY.some((word) => q.name.includes(word)));

// ---- processes: CPU (utime+stime of each process, children it waited for included) and RSS, by role
const CLK_TCK = 100;
function roleOf(cmdline: string): string | null {
  if (cmdline.includes('bench/stockGateway.ts hive')) return 'hive gateway';
  if (cmdline.includes('bench/stockGateway.ts apollo')) return 'apollo gateway';
  if (cmdline.includes('gateway/main.ts')) return 'infrafed gateway';
  if (cmdline.includes('platforms/allInOne.ts')) return 'infrafed all-in-one';
  if (cmdline.includes('rest-bridge/main.ts')) return 'rest bridge';
  if (cmdline.includes('subgraphs/')) return 'subgraphs';
  if (cmdline.includes('controller/main.ts')) return 'controller';
  if (cmdline.includes('adapters/')) return 'adapters';
  if (cmdline.includes('platforms/okd')) return 'okd emulator';
  if (cmdline.includes('keystone')) return 'keystone';
  if (cmdline.includes('neutron')) return 'neutron';
  if (cmdline.includes('nova')) return 'nova';
  if (cmdline.includes('nats-server')) return 'nats';
  return null;
}
interface ProcStat {
  role: string;
  cpuMs: number;
  rssMiB: number;
}
function processes(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const role = roleOf(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' '));
      if (!role) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]);
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      out.set(Number(entry), { role, cpuMs: (ticks * 1000) / CLK_TCK, rssMiB: Number(rss ?? 0) / 1024 });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
function cpuByRole(before: Map<number, ProcStat>, after: Map<number, ProcStat>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [pid, a] of after) out.set(a.role, (out.get(a.role) ?? 0) + a.cpuMs - (before.get(pid)?.cpuMs ?? 0));
  return out;
}
function rssByRole(): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of processes().values()) out.set(p.role, (out.get(p.role) ?? 0) + p.rssMiB);
  return out;
}

// ---- load
interface Run {
  requests: number;
  complete: number;
  latencies: number[];
  seconds: number;
  cpu: Map<string, number>;
  /** This process's own CPU (the client making the requests), ms. */
  clientCpuMs: number;
  vendorCalls: number;
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function load(
  url: string,
  token: string,
  q: (typeof QUERIES)[number],
  vendorCalls: () => Promise<number>,
  headers: Record<string, string> = {},
): Promise<Run> {
  const body = JSON.stringify({ query: q.query });
  const target = new URL(url);
  const requestHeaders = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    accept: 'application/json',
    authorization: `Bearer ${token}`,
    ...headers,
  };
  // one keep-alive socket per connection, as a load generator holds them
  const agents = Array.from({ length: CONNECTIONS }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const send = (agent: Agent) =>
    new Promise<boolean>((resolve, reject) => {
      const req = httpRequest(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: requestHeaders, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                data?: Record<string, unknown> | null;
                errors?: unknown[];
              };
              resolve(res.statusCode === 200 && !json.errors?.length && !!json.data && q.complete(json.data));
            } catch {
              resolve(false);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  for (const agent of agents) await send(agent).catch(() => false); // warm-up, and each socket opened
  const latencies: number[] = [];
  let complete = 0;
  const cpu0 = processes();
  const client0 = process.cpuUsage();
  const calls0 = await vendorCalls();
  const started = performance.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    agents.map(async (agent) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const ok = await send(agent).catch(() => false);
        latencies.push(performance.now() - t0);
        if (ok) complete++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuByRole(cpu0, processes());
  const client = process.cpuUsage(client0);
  for (const agent of agents) agent.destroy();
  return {
    requests: latencies.length,
    complete,
    latencies: latencies.sort((a, b) => a - b),
    seconds,
    cpu,
    clientCpuMs: (client.user + client.system) / 1000,
    vendorCalls: (await vendorCalls()) - calls0,
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

// ---- the system
await ensureInstalled(say);
say('starting the local system (own nats-server, two OpenStack regions, one OKD) with HTTP faces on the subgraphs…');
const system = await startLocalSystem({
  stateDir: mkdtempSync(join(tmpdir(), 'infrafed-bench-')),
  freshOpenstack: true,
  subgraphHttp: true,
});
const stock: ManagedProcess[] = [];
try {
  const supergraph = readFileSync(join(ROOT, 'gateway/supergraph.graphql'), 'utf8').replace(
    /url: "nats:\/\/infra\.v1\.subgraph\.(\w+)\.graphql"/g,
    (_m, name: string) => `url: "${system.subgraphHttpUrl(name)}"`,
  );
  const supergraphPath = join(tmpdir(), `infrafed-bench-supergraph-${process.pid}.graphql`);
  writeFileSync(supergraphPath, supergraph);
  // infrafed as deployed (its response cache on: the same caller's same read is given again until a write
  // or its seconds), and the same gateway asked for a fresh answer every time (`Cache-Control: no-cache`)
  const gateways: { name: string; url: string; headers?: Record<string, string> }[] = [
    { name: 'infrafed', url: system.gatewayUrl },
    { name: 'infrafed no-cache', url: system.gatewayUrl, headers: { 'cache-control': 'no-cache' } },
  ];
  for (const kind of ['hive', 'apollo'] as const) {
    const port = await freePort();
    stock.push(
      await spawnManaged({
        name: `${kind}-gateway`,
        command: process.execPath,
        args: [...NODE_TS_ARGS, join(ROOT, 'bench/stockGateway.ts'), kind, String(port), supergraphPath],
        env: { ...process.env, APOLLO_TELEMETRY_DISABLED: 'true', NODE_ENV: 'production' },
        readyWhen: /gateway ready/,
      }),
    );
    gateways.push({ name: kind === 'hive' ? 'stock Hive' : 'Apollo Gateway', url: `http://127.0.0.1:${port}/graphql` });
  }

  const token = await system.token('bench', 'owner');
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data as Record<string, unknown>;
  };
  const adapterNames = system.config.regions.flatMap((r) =>
    r.platforms.map((p) => (p.platform === 'okd' ? `adapter-okd-${r.name}` : `adapter-${r.name}`)),
  );
  /** Vendor API calls the adapters made so far, by region (their /metrics). */
  const vendorCallsByRegion = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (const name of adapterNames) {
      const text = await (await fetch(`${system.opsUrl(name)}/metrics`)).text();
      for (const m of text.matchAll(/^infrafed_vendor_requests_total\{([^}]*)\} (\d+)/gm)) {
        const region = /region="([^"]*)"/.exec(m[1] as string)?.[1] ?? '?';
        out.set(region, (out.get(region) ?? 0) + Number(m[2]));
      }
    }
    return out;
  };
  const vendorCalls = async () => [...(await vendorCallsByRegion()).values()].reduce((a, b) => a + b, 0);

  /** Projects bench-<from>…bench-<to - 1> in sto and osl, 4 at a time; one that fails (a vendor timeout under load) is tried again. */
  const createProjects = async (from: number, to: number) => {
    const ids: string[] = [];
    const create = async (name: string): Promise<string> => {
      for (let attempt = 1; ; attempt++) {
        const d = await gql(
          `mutation($n: String!) { createProject(input: {name: $n, placements: [{region: "sto", platform: "openstack"}, {region: "osl", platform: "openstack"}]}) { status projectId error { code message } } }`,
          { n: name },
        );
        const op = d.createProject as { status: string; projectId: string; error: unknown };
        if (op.status === 'SUCCEEDED') return op.projectId;
        if (attempt === 3) throw new Error(`createProject ${name}: ${op.status} ${JSON.stringify(op.error)}`);
        await new Promise((r) => setTimeout(r, 2_000)); // its undo frees the name
      }
    };
    for (let i = from; i < to; i += 4) {
      ids.push(...(await Promise.all(Array.from({ length: Math.min(4, to - i) }, (_, k) => create(`bench-${i + k}`)))));
    }
    return ids;
  };
  say(`creating ${PROJECTS} projects in sto and osl, one network each in sto…`);
  const ids = await createProjects(0, PROJECTS);
  for (const [i, id] of ids.entries()) {
    const d = await gql('mutation($input: CreateNetworkInput!) { createNetwork(input: $input) { status } }', {
      input: { projectId: id, region: 'sto', name: `net-${i}`, cidr: `10.${i}.0.0/24` },
    });
    if ((d.createNetwork as { status: string }).status !== 'SUCCEEDED') throw new Error('createNetwork failed');
  }

  // idle: 70 s after the set-up's last request (the gateway collects within 65 s of quiet)
  await new Promise((r) => setTimeout(r, 70_000));
  const idle = rssByRole();
  say(
    `\n${CONNECTIONS} connections, ${SECONDS} s per gateway and query, ${ROUNDS} interleaved rounds (${gateways.map((g) => g.name).join(', ')})`,
  );
  const runs = new Map<string, Run[]>(); // `${query}|${gateway}`
  for (let round = 1; round <= ROUNDS; round++) {
    for (const q of QUERIES) {
      for (const g of gateways) {
        const r = await load(g.url, token, q, vendorCalls, g.headers);
        const key = `${q.name}|${g.name}`;
        runs.set(key, [...(runs.get(key) ?? []), r]);
        say(
          `  round ${round} ${g.name.padEnd(15)} ${q.name.padEnd(42)} ${fmt(r.requests / r.seconds, 1).padStart(7)} RPS  p99 ${fmt(pct(r.latencies, 99)).padStart(5)} ms  complete ${r.complete}/${r.requests}`,
        );
      }
    }
  }
  const merged = (rs: Run[]) => {
    const latencies = rs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const requests = rs.reduce((a, r) => a + r.requests, 0);
    const cpu = new Map<string, number>();
    for (const r of rs) for (const [role, ms] of r.cpu) cpu.set(role, (cpu.get(role) ?? 0) + ms);
    const perRequest = (ms: number) => ms / Math.max(1, requests);
    return {
      rps: requests / rs.reduce((a, r) => a + r.seconds, 0),
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      complete: rs.reduce((a, r) => a + r.complete, 0) / Math.max(1, requests),
      requests,
      cpu,
      /** CPU per request of every process serving it (gateways, subgraphs, controller, adapters, vendors, nats), ms. */
      serverCpu: perRequest([...cpu.values()].reduce((a, b) => a + b, 0)),
      clientCpu: perRequest(rs.reduce((a, r) => a + r.clientCpuMs, 0)),
      vendorPerRequest: rs.reduce((a, r) => a + r.vendorCalls, 0) / Math.max(1, requests),
    };
  };
  say(
    '\n| query | gateway | RPS | p50 ms | p99 ms | complete | vendor calls / req | server CPU ms / req | RPS ratio infrafed/this | p99 ratio infrafed/this | server CPU ratio infrafed/this |',
  );
  say('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const q of QUERIES) {
    const ours = merged(runs.get(`${q.name}|infrafed`) ?? []);
    for (const g of gateways) {
      const m = merged(runs.get(`${q.name}|${g.name}`) ?? []);
      const ratios =
        g.name === 'infrafed'
          ? '| | | '
          : `| ${fmt(ours.rps / m.rps, 2)} | ${fmt(ours.p99 / m.p99, 2)} | ${fmt(ours.serverCpu / m.serverCpu, 2)} `;
      say(
        `| \`${q.name}\` | ${g.name} | ${fmt(m.rps, 1)} | ${fmt(m.p50, 1)} | ${fmt(m.p99)} | ${fmt(m.complete * 100)}% | ${fmt(m.vendorPerRequest, 1)} | ${fmt(m.serverCpu, 2)} ${ratios}|`,
      );
    }
  }
  const roles = [
    'infrafed gateway',
    'hive gateway',
    'apollo gateway',
    'subgraphs',
    'controller',
    'adapters',
    'keystone',
    'neutron',
    'nova',
    'okd emulator',
    'nats',
  ];
  say('\nCPU per request, ms, by process (all rounds; the gateways not under load idle meanwhile):');
  say(`| query | gateway | ${roles.join(' | ')} | server, all | bench client |`);
  say(`|---|---|${roles.map(() => '---').join('|')}|---|---|`);
  for (const q of QUERIES) {
    for (const g of gateways) {
      const m = merged(runs.get(`${q.name}|${g.name}`) ?? []);
      say(
        `| \`${q.name}\` | ${g.name} | ${roles.map((r) => fmt((m.cpu.get(r) ?? 0) / Math.max(1, m.requests), 2)).join(' | ')} | ${fmt(m.serverCpu, 2)} | ${fmt(m.clientCpu, 2)} |`,
      );
    }
  }
  const after = rssByRole();
  await new Promise((r) => setTimeout(r, 70_000));
  const settled = rssByRole();
  say('\nRSS, MiB (idle: 70 s after the set-up; at the end of the load; 70 s after it):');
  say('| process | idle | end of load | 70 s after |');
  say('|---|---|---|---|');
  for (const r of roles) {
    if (idle.has(r)) say(`| ${r} | ${fmt(idle.get(r) ?? 0)} | ${fmt(after.get(r) ?? 0)} | ${fmt(settled.get(r) ?? 0)} |`);
  }
  const own = ['infrafed gateway', 'rest bridge', 'subgraphs', 'controller', 'adapters'];
  say(
    `| infrafed's own processes (${own.join(', ')}) | ${[idle, after, settled].map((m) => fmt(own.reduce((a, r) => a + (m.get(r) ?? 0), 0))).join(' | ')} |`,
  );

  {
    // a stalled region (its adapter process stopped with SIGSTOP: requests to it are never answered)
    const read = async () => {
      const t0 = performance.now();
      const res = await fetch(system.gatewayUrl, {
        method: 'POST',
        // every read to the regions (the response cache would give the healthy read again)
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'cache-control': 'no-cache' },
        body: JSON.stringify({ query: '{ projects { id name placements { region } } }' }),
      });
      const json = (await res.json()) as { data?: { projects?: unknown[] }; errors?: { extensions?: { region?: string } }[] };
      return {
        ms: performance.now() - t0,
        oslErrors: (json.errors ?? []).filter((e) => e.extensions?.region === 'osl').length,
        projects: json.data?.projects?.length ?? 0,
      };
    };
    const healthy: number[] = [];
    for (let i = 0; i < 20; i++) healthy.push((await read()).ms);
    const osl = system.process('adapter-osl');
    osl?.child.kill('SIGSTOP');
    const stalled: { ms: number; oslErrors: number; projects: number }[] = [];
    try {
      for (let i = 0; i < 20; i++) stalled.push(await read());
    } finally {
      osl?.child.kill('SIGCONT');
      await new Promise((r) => setTimeout(r, 3_000)); // the breaker's probe finds it again
    }
    healthy.sort((a, b) => a - b);
    const after = stalled
      .slice(1)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    say(
      '\nOne region stalled (adapter-osl stopped with SIGSTOP), `projects { id name placements }` through infrafed, 20 sequential reads:',
    );
    say("| | first read ms | p50 ms of the rest | healthy p50 ms | ratio | reads with the osl error | reads with sto's data |");
    say('|---|---|---|---|---|---|---|');
    say(
      `| stalled osl | ${fmt(stalled[0]?.ms ?? NaN)} | ${fmt(pct(after, 50))} | ${fmt(pct(healthy, 50))} | ${fmt(pct(after, 50) / pct(healthy, 50), 2)} | ${stalled.filter((r) => r.oslErrors > 0).length}/20 | ${stalled.filter((r) => r.projects === PROJECTS).length}/20 |`,
    );
  }

  if (SCALE.length > 0) {
    say(
      '\nVendor calls of one `projects { networks accessRules quotas }` page through infrafed, by project count (sequential, 3 reads each):',
    );
    say('| projects | vendor calls sto | vendor calls osl | vendor calls lla | p50 ms | complete |');
    say('|---|---|---|---|---|---|');
    let have = PROJECTS;
    const fields = '{ id networks { id } accessRules { id } quotas { region quota { cores } } }';
    /** Three sequential reads of `query` (asked fresh): vendor calls of the last, by region; p50; complete answers. */
    const measure = async (label: string, query: string, expected: number) => {
      const times: number[] = [];
      let calls = new Map<string, number>();
      let complete = 0;
      for (let i = 0; i < 3; i++) {
        const before = await vendorCallsByRegion();
        const t0 = performance.now();
        const res = await fetch(system.gatewayUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'cache-control': 'no-cache' },
          body: JSON.stringify({ query }),
        });
        const json = (await res.json()) as { data?: { projects?: unknown[] }; errors?: unknown[] };
        times.push(performance.now() - t0);
        if (!json.errors?.length && json.data?.projects?.length === expected) complete++;
        const now = await vendorCallsByRegion();
        calls = new Map([...now].map(([r, c]) => [r, c - (before.get(r) ?? 0)]));
      }
      times.sort((a, b) => a - b);
      say(
        `| ${label} | ${calls.get('sto') ?? 0} | ${calls.get('osl') ?? 0} | ${calls.get('lla') ?? 0} | ${fmt(pct(times, 50))} | ${complete}/3 |`,
      );
    };
    for (const n of SCALE) {
      if (n > have) {
        await createProjects(have, n);
        have = n;
      }
      await measure(String(n), `{ projects ${fields} }`, n);
      // more than a region's quotas take in one request: a page of them, as a client pages (100 is the most
      // one request takes, but at about 10 Nova calls a second here a page of 100 runs past the deadline)
      for (const first of [50, 100]) {
        if (n > 100) await measure(`${n}, \`projects(first: ${first})\``, `{ projects(first: ${first}) ${fields} }`, first);
      }
    }
  }
} finally {
  for (const p of stock) await p.stop();
  await system.stop();
}
