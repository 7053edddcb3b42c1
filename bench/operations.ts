// `npm run bench:operations`: every operation once through the gateway on the local system (two
// regions), with its wall time and the vendor calls the adapters made for it (read from their debug
// log: one line per Keystone/Neutron/Nova call; the health probes' `GET /v3` left out). Prints a table;
// asserts nothing.
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
  adapterLogLevel: 'debug',
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
      // Keystone's version document: the adapters' background health probe, not the operation's
      if (entry.method === 'GET' && entry.path === '/v3') continue;
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

  // The same changes made directly: only the calls each change needs, regions side by side as infrafed
  // runs them, with the operator's token (already warm). Median of `BENCH_OPS_ROUNDS` rounds each (7); infrafed's rounds
  // interleaved with the direct ones.
  const regions = system.config.regions.filter((r) => r.platforms.some((x) => x.platform === 'openstack')).map((r) => r.name);
  const direct = await Promise.all(
    regions.map(async (region) => {
      const admin = keystoneAdmin(system.keystoneUrl(region));
      const token = await admin.token();
      const [native] = await admin.projectsTagged(`ifd-project=${p}`);
      const nativeId = (native as { id: string }).id;
      const groups = await admin.neutron(system.neutronUrl(region)).list('security-groups', nativeId);
      const sg = (groups as { id: string; name?: string }[]).find((g) => g.name === 'infrafed') as { id: string };
      const call = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(url, {
          method,
          headers: { 'x-auth-token': token, 'content-type': 'application/json', ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
        return res.status === 204 ? null : ((await res.json()) as Record<string, { id: string }>);
      };
      return { region, nativeId, sg: sg.id, call };
    }),
  );
  const timed = async (work: () => Promise<unknown>) => {
    const t0 = performance.now();
    await work();
    return performance.now() - t0;
  };
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  // `direct`: the calls the change needs; `same`: the calls infrafed makes for it (those plus the reads its
  // undo needs, in the same order: the read, then the change), made directly
  const pairs: Record<string, { infrafed: number[]; direct: number[]; same: number[]; calls: string; sameCalls: string }> = {
    'applyAccessRule (a new rule, two regions)': {
      infrafed: [],
      direct: [],
      same: [],
      calls: '2 (POST security-group-rules per region)',
      sameCalls: '4 (per region: GET security-groups, then POST security-group-rules)',
    },
    'removeAccessRule (two regions)': {
      infrafed: [],
      direct: [],
      same: [],
      calls: '2 (DELETE security-group-rules per region)',
      sameCalls: '4 (per region: GET security-groups, then DELETE security-group-rules)',
    },
    'setQuota (one region: compute + network)': {
      infrafed: [],
      direct: [],
      same: [],
      calls: '2 (PUT Nova quota-set, PUT Neutron quota)',
      sameCalls: '4 (GET Nova quota-set and Neutron quota, then both PUTs)',
    },
  };
  const pair = (name: string) => pairs[name] as { infrafed: number[]; direct: number[]; same: number[] };
  /** The project's `infrafed` group, read as the adapter's undo read does. */
  const readGroup = (d: (typeof direct)[number]) =>
    d.call('GET', `${system.neutronUrl(d.region)}/v2.0/security-groups?project_id=${d.nativeId}&name=infrafed`);
  const ruleBody = (d: (typeof direct)[number], port: number) => ({
    security_group_rule: {
      security_group_id: d.sg,
      project_id: d.nativeId,
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      port_range_min: port,
      port_range_max: port,
      remote_ip_prefix: '198.51.100.0/24',
    },
  });
  const rounds = Number(process.env.BENCH_OPS_ROUNDS ?? 7);
  for (let round = 0; round < rounds; round++) {
    const port = 9000 + round;
    // the documents take their input as variables, as generated clients send them (a document the gateway
    // has not seen is parsed, validated and planned first: a few milliseconds more, at the gateway and the subgraph)
    const input = { direction: 'ingress', protocol: 'tcp', ports: { from: port }, remoteCidr: '198.51.100.0/24' };
    let ruleId = '';
    pair('applyAccessRule (a new rule, two regions)').infrafed.push(
      await timed(async () => {
        const res = await gql(
          'mutation($p: ID!, $r: AccessRuleInput!) { applyAccessRule(projectId: $p, rule: $r) { status resourceId } }',
          {
            p,
            r: input,
          },
        );
        ruleId = res.applyAccessRule?.resourceId as string;
      }),
    );
    pair('removeAccessRule (two regions)').infrafed.push(
      await timed(() => gql('mutation($p: ID!, $r: ID!) { removeAccessRule(projectId: $p, ruleId: $r) { status } }', { p, r: ruleId })),
    );
    const made: string[] = [];
    pair('applyAccessRule (a new rule, two regions)').direct.push(
      await timed(() =>
        Promise.all(
          direct.map(async (d, i) => {
            const res = await d.call('POST', `${system.neutronUrl(d.region)}/v2.0/security-group-rules`, ruleBody(d, port + 100));
            made[i] = (res?.security_group_rule as { id: string }).id;
          }),
        ),
      ),
    );
    pair('removeAccessRule (two regions)').direct.push(
      await timed(() =>
        Promise.all(direct.map((d, i) => d.call('DELETE', `${system.neutronUrl(d.region)}/v2.0/security-group-rules/${made[i]}`))),
      ),
    );
    pair('applyAccessRule (a new rule, two regions)').same.push(
      await timed(() =>
        Promise.all(
          direct.map(async (d, i) => {
            await readGroup(d);
            const res = await d.call('POST', `${system.neutronUrl(d.region)}/v2.0/security-group-rules`, ruleBody(d, port + 200));
            made[i] = (res?.security_group_rule as { id: string }).id;
          }),
        ),
      ),
    );
    pair('removeAccessRule (two regions)').same.push(
      await timed(() =>
        Promise.all(
          direct.map(async (d, i) => {
            await readGroup(d);
            await d.call('DELETE', `${system.neutronUrl(d.region)}/v2.0/security-group-rules/${made[i]}`);
          }),
        ),
      ),
    );
    const cores = 4 + round;
    pair('setQuota (one region: compute + network)').infrafed.push(
      await timed(() =>
        gql('mutation($p: ID!, $l: QuotaLimitsInput!) { setQuota(projectId: $p, region: "sto", limits: $l) { status } }', {
          p,
          l: { cores, networks: 10 + round },
        }),
      ),
    );
    const sto = direct[0] as (typeof direct)[number];
    const nova = { 'OpenStack-API-Version': 'compute 2.79' };
    /** Nova's cores and Neutron's networks written side by side, as infrafed writes them. */
    const putQuotas = (coresTo: number, networksTo: number) =>
      Promise.all([
        sto.call('PUT', `${system.novaUrl('sto')}/os-quota-sets/${sto.nativeId}`, { quota_set: { cores: coresTo } }, nova),
        sto.call('PUT', `${system.neutronUrl('sto')}/v2.0/quotas/${sto.nativeId}`, { quota: { network: networksTo } }),
      ]);
    pair('setQuota (one region: compute + network)').direct.push(await timed(() => putQuotas(cores + 1, 11 + round)));
    pair('setQuota (one region: compute + network)').same.push(
      await timed(async () => {
        await Promise.all([
          sto.call('GET', `${system.novaUrl('sto')}/os-quota-sets/${sto.nativeId}`, undefined, nova),
          sto.call('GET', `${system.neutronUrl('sto')}/v2.0/quotas/${sto.nativeId}`),
        ]);
        await putQuotas(cores + 2, 12 + round);
      }),
    );
  }

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
  say('');
  say(
    `| change | infrafed ms (median of ${rounds}) | the needed calls made directly, ms | ratio | infrafed's own calls made directly, ms | ratio | needed calls | infrafed's calls |`,
  );
  say('|---|---|---|---|---|---|---|---|');
  for (const [name, t] of Object.entries(pairs)) {
    const [i, d, same] = [median(t.infrafed), median(t.direct), median(t.same)];
    say(
      `| ${name} | ${i.toFixed(0)} | ${d.toFixed(0)} | ${(i / d).toFixed(2)}x | ${same.toFixed(0)} | ${(i / same).toFixed(2)}x | ${t.calls} | ${t.sameCalls} |`,
    );
  }
} finally {
  await system.stop();
}
