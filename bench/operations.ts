// `npm run bench:operations`: every operation once through the gateway on the local system (two
// regions), with its wall time and the vendor calls the adapters made for it (read from their debug
// log: one line per Keystone/Neutron/Nova call). Prints a table; asserts nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureInstalled } from '../platforms/ensureInstalled.ts';
import { startLocalSystem } from '../platforms/localSystem.ts';
import { keystoneAdmin } from '../test/harness/keystone.ts';

const say = (m: string) => process.stdout.write(`${m}\n`);

await ensureInstalled(say);
say('starting the local system (own nats-server, two regions, adapters logging every vendor call)…');
const system = await startLocalSystem({
  stateDir: mkdtempSync(join(tmpdir(), 'infrafed-bench-ops-')),
  freshOpenstack: true,
  componentLogLevel: 'debug',
});
const adapters = system.config.regions.map((r) => `adapter-${r.name}`);

interface VendorCall {
  vendor: string;
  method: string;
  path: string;
}

/** Vendor calls the adapters logged since the mark. */
function callsSince(mark: Record<string, number>): VendorCall[] {
  const calls: VendorCall[] = [];
  for (const name of adapters) {
    for (const line of system.output(name).slice(mark[name]).split('\n')) {
      if (!line.includes('"vendor call"')) continue;
      const entry = JSON.parse(line) as VendorCall;
      calls.push({
        vendor: entry.vendor,
        method: entry.method,
        path: entry.path.replace(/[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}/g, '{id}'),
      });
    }
  }
  return calls;
}

const mark = () => Object.fromEntries(adapters.map((name) => [name, system.output(name).length]));

try {
  const token = await system.token('bench', 'owner');
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as {
      data?: Record<string, { status?: string; projectId?: string; resourceId?: string }>;
      errors?: unknown[];
    };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data ?? {};
  };
  const rows: { name: string; ms: number; calls: VendorCall[] }[] = [];
  async function op<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = mark();
    const t0 = performance.now();
    const result = await work();
    const ms = performance.now() - t0;
    // log lines are written asynchronously: give them a moment to arrive
    await new Promise((resolve) => setTimeout(resolve, 300));
    rows.push({ name, ms, calls: callsSince(before) });
    return result;
  }

  // warm the adapters' service tokens and domains (a first call pays for them once)
  await gql(
    'mutation { createProject(input: {name: "warm-up", placements: [{region: "sto", platform: "openstack"}, {region: "osl", platform: "openstack"}]}) { status } }',
  );

  // the operator's external network in sto (for the router with an external gateway)
  const neutron = keystoneAdmin(system.keystoneUrl('sto')).neutron(system.neutronUrl('sto'));
  const ext = await neutron.create<{ network: { id: string } }>('/networks', { network: { name: 'public', 'router:external': true } });
  await neutron.create('/subnets', { subnet: { network_id: ext.network.id, cidr: '203.0.113.0/24', ip_version: 4 } });

  const created = await op('createProject (sto + osl)', () =>
    gql(
      'mutation { createProject(input: {name: "ops", placements: [{region: "sto", platform: "openstack"}, {region: "osl", platform: "openstack"}]}) { status projectId } }',
    ),
  );
  const p = created.createProject?.projectId as string;
  await op('addMember (both placements)', () =>
    gql('mutation($p: ID!) { addMember(projectId: $p, user: "bob", role: "member") { status } }', { p }),
  );
  await op('removeMember (both placements)', () => gql('mutation($p: ID!) { removeMember(projectId: $p, user: "bob") { status } }', { p }));
  const plain = await op('createNetwork (network + subnet)', () =>
    gql(
      'mutation($p: ID!) { createNetwork(input: {projectId: $p, region: "sto", name: "plain", cidr: "10.1.0.0/24"}) { status resourceId } }',
      { p },
    ),
  );
  await op('createNetwork (+ router with interface)', () =>
    gql(
      'mutation($p: ID!) { createNetwork(input: {projectId: $p, region: "sto", name: "routed", cidr: "10.2.0.0/24", router: {}}) { status } }',
      { p },
    ),
  );
  await op('createNetwork (+ router, external gateway)', () =>
    gql(
      'mutation($p: ID!) { createNetwork(input: {projectId: $p, region: "sto", name: "public", cidr: "10.3.0.0/24", router: {external: true}}) { status } }',
      { p },
    ),
  );
  const rule = '{direction: "ingress", protocol: "tcp", ports: {from: 22}, remoteCidr: "192.0.2.0/24"}';
  const applied = await op('applyAccessRule (first rule: creates the group)', () =>
    gql(`mutation($p: ID!) { applyAccessRule(projectId: $p, rule: ${rule}) { status resourceId } }`, { p }),
  );
  await op('applyAccessRule (the same again: no-op)', () =>
    gql(`mutation($p: ID!) { applyAccessRule(projectId: $p, rule: ${rule}) { status } }`, { p }),
  );
  await op('applyAccessRule (another rule)', () =>
    gql(
      'mutation($p: ID!) { applyAccessRule(projectId: $p, rule: {direction: "ingress", protocol: "udp", ports: {from: 53}}) { status } }',
      { p },
    ),
  );
  await op('removeAccessRule', () =>
    gql('mutation($p: ID!, $r: ID!) { removeAccessRule(projectId: $p, ruleId: $r) { status } }', {
      p,
      r: applied.applyAccessRule?.resourceId,
    }),
  );
  await op('setQuota (sto: cores, ramMiB, networks, ports)', () =>
    gql(
      'mutation($p: ID!) { setQuota(projectId: $p, region: "sto", limits: {cores: 8, ramMiB: 16384, networks: 10, ports: 50}) { status } }',
      { p },
    ),
  );
  await op('read: project { networks accessRules quotas }', () =>
    gql(
      'query($p: ID!) { project(id: $p) { networks { id router { status } } accessRules { id } quotas { quota { cores } usage { networks } } } }',
      { p },
    ),
  );
  await op('deleteNetwork (network + subnet)', () =>
    gql('mutation($p: ID!, $id: ID!) { deleteNetwork(projectId: $p, id: $id) { status } }', { p, id: plain.createNetwork?.resourceId }),
  );
  await op('deleteProject (2 networks, 2 routers, groups left)', () =>
    gql('mutation($p: ID!) { deleteProject(id: $p) { status } }', { p }),
  );

  say('');
  say('| operation | wall ms | vendor calls | calls (count × vendor method path) |');
  say('|---|---|---|---|');
  for (const row of rows) {
    const counts = new Map<string, number>();
    for (const c of row.calls) {
      const key = `${c.vendor.split(' ')[0]} ${c.method} ${c.path}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const detail = [...counts.entries()].map(([k, n]) => `${n}× ${k}`).join('<br>');
    say(`| ${row.name} | ${row.ms.toFixed(0)} | ${row.calls.length} | ${detail} |`);
  }
} finally {
  await system.stop();
}
