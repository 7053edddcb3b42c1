import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseResources } from '../../resources/document.ts';
import type { ResourceProject } from '../../schema/resources.ts';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { takeVendorTurns } from '../harness/vendorLock.ts';

const CLI = new URL('../../cli/infrafed.ts', import.meta.url).pathname;

/** A file of two projects: one on OpenStack in two regions, one on OpenStack (sto) and OKD (lla). */
const INITIAL = `apiVersion: infrafed.io/v1
kind: Project
name: shop
description: the web shop
placements:
  - { region: sto, platform: openstack }
  - { region: osl, platform: openstack }
members:
  - { user: alice, role: admin }
  - { user: bob, role: member }
networks:
  - { name: front, region: sto, cidr: 10.10.0.0/24, router: {} }
accessRules:
  - { direction: ingress, protocol: tcp, ports: { from: 22 }, remoteCidr: 192.0.2.0/24, description: ssh }
quotas:
  sto: { cores: 30 }
---
apiVersion: infrafed.io/v1
kind: Project
name: lab
placements:
  - { region: sto, platform: openstack }
  - { region: lla, platform: okd }
members:
  - { user: bob, role: member }
  - { group: researchers, role: reader }
accessRules:
  - { direction: ingress, protocol: tcp, ports: { from: 443 }, remoteCidr: 198.51.100.0/24, description: https }
quotas:
  lla: { instances: 20 }
`;

const FIVE_MISTAKES = `apiVersion: infrafed.io/v1
kind: Project
name: broken
placements:
  - { region: sto, platform: openstak }
members:
  - { user: carol, role: owner }
networks:
  - { name: web, region: sto, cidr: 10.0.0.1/24 }
accessRules:
  - { direction: ingress, protocol: icmp, ports: { from: 22 } }
quotas:
  sto: { cores: -1 }
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// builds Neutron routers: takes turns with the other jest's such suites (npm test runs two side by side)
takeVendorTurns('e2e resourcesAsCode');

describe('resources as code: infrafed export, plan and apply as processes against the running system', () => {
  let system: SharedSystem;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const cli = (...args: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env, cwd: dir, timeout: 120_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const projectsOf = (text: string): ResourceProject[] => {
    const { projects, problems } = parseResources(text);
    expect(problems).toEqual([]);
    return projects;
  };
  const exported = async () => {
    const run = await cli('export');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    return run.stdout;
  };

  beforeAll(async () => {
    system = await sharedSystem();
    dir = mkdtempSync(join(tmpdir(), 'infrafed-rac-'));
    const token = await system.token('acme-rac', 'owner', 'alice');
    env = { ...process.env, INFRAFED_URL: system.gatewayUrl, INFRAFED_TOKEN: token, XDG_CACHE_HOME: dir, XDG_CONFIG_HOME: dir };
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it('applies a file to an empty organisation, showing each operation and its steps, in dependency order', async () => {
    const path = file('initial.yaml', INITIAL);
    const plan = await cli('plan', '-f', path);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('project shop: create');
    expect(plan.stdout).toContain('+   network front (10.10.0.0/24) [sto]');

    const run = await cli('apply', '-f', path);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const order = [...run.stdout.matchAll(/^\[\d+\/\d+\] (\S+): (\w+ \w+)/gm)].map((m) => `${m[1]}: ${m[2]}`);
    // each project before its parts; quotas before networks, networks before rules
    expect({ first: order[0], out: run.stdout }).toMatchObject({ first: 'shop: create project' });
    expect(order.indexOf('shop: set quota')).toBeLessThan(order.indexOf('shop: create network'));
    expect(order.indexOf('shop: create network')).toBeLessThan(order.indexOf('shop: apply rule'));
    expect(run.stdout).toMatch(/sto\/openstack \S+: SUCCEEDED/);
    expect(run.stdout).toMatch(/lla\/okd \S+: SUCCEEDED/);
    expect(run.stdout).toMatch(/Apply complete: \d+ actions/);
  }, 180_000);

  it('exports what exists so that planning the export changes nothing (OpenStack in two regions, OpenStack + OKD)', async () => {
    const text = await exported();
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${new URL('/schemas/resources.json', system.gatewayUrl).toString()}`);
    const projects = projectsOf(text);
    expect(projects.map((p) => p.name)).toEqual(['lab', 'shop']);
    const shop = projects.find((p) => p.name === 'shop') as ResourceProject;
    // the gateway took the block's first address, the default: left out as the file left it out
    expect(shop.networks).toEqual([{ name: 'front', region: 'sto', cidr: '10.10.0.0/24', router: {} }]);
    expect(shop.quotas.sto?.cores).toBe(30);
    const lab = projects.find((p) => p.name === 'lab') as ResourceProject;
    expect(lab.members).toEqual([
      { user: 'bob', role: 'member' },
      { group: 'researchers', role: 'reader' },
    ]);
    expect(lab.quotas.lla?.instances).toBe(20);

    const path = file('exported.yaml', text);
    const plan = await cli('plan', '-f', path);
    expect(plan).toMatchObject({ code: 0, stdout: 'No changes: the clouds match the file.\n' });
  }, 120_000);

  it('plans exactly the edits (a network added, a rule changed, a quota raised, a member removed), applies them, and exports the file back', async () => {
    const docs = (await exported()).split(/^---$/m).map((d) => parse(d) as Record<string, unknown> & ResourceProject);
    const shop = docs.find((d) => d.name === 'shop') as ResourceProject;
    const lab = docs.find((d) => d.name === 'lab') as ResourceProject;
    shop.networks.push({ name: 'back', region: 'osl', cidr: '10.20.0.0/24' });
    (shop.quotas.sto as Record<string, number>).cores = 40;
    shop.members = shop.members.filter((m) => m.user !== 'bob');
    const https = lab.accessRules.find((r) => r.description === 'https') as { description?: string };
    https.description = 'https from the partner';
    (lab.quotas.lla as Record<string, number>).instances = 30;
    lab.members = lab.members.filter((m) => m.user !== 'bob');
    const edited = file('edited.yaml', docs.map((d) => stringify(d)).join('---\n'));

    const plan = await cli('plan', '-f', edited, '--prune', '--json');
    expect(plan.code).toBe(2);
    const planned = JSON.parse(plan.stdout) as {
      projects: { name: string; changes: { op: string; resource: string; name: string; region: string | null }[] }[];
    };
    const changes = planned.projects.flatMap((p) =>
      p.changes.map((c) => `${p.name} ${c.op} ${c.resource} ${c.name}${c.region ? ` [${c.region}]` : ''}`),
    );
    expect(changes.sort()).toEqual(
      [
        'lab - member user bob',
        'lab ~ accessRule ingress tcp 443 from 198.51.100.0/24',
        'lab ~ quota limits [lla]',
        'shop + network back (10.20.0.0/24) [osl]',
        'shop - member user bob',
        'shop ~ quota limits [sto]',
      ].sort(),
    );
    // without --prune the removals are held back, and said so
    const held = await cli('plan', '-f', edited);
    expect(held.stdout).toMatch(/user bob\s+\(not in the file; kept: --prune removes it\)/);
    expect(held.stdout).toContain('2 removals held back without --prune');

    const run = await cli('apply', '-f', edited, '--prune');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Apply complete: 6 actions/);

    const after = projectsOf(await exported());
    const wanted = projectsOf(readFileSync(edited, 'utf8'));
    // the same content; export writes networks by region and name, the file had its own order
    const canonical = (ps: ResourceProject[]) =>
      ps.map((p) => ({ ...p, networks: [...p.networks].sort((a, b) => `${a.region}/${a.name}`.localeCompare(`${b.region}/${b.name}`)) }));
    expect(canonical(after)).toEqual(canonical(wanted));
    expect((await cli('plan', '-f', edited, '--prune')).code).toBe(0);
  }, 240_000);

  it('reports all five mistakes of a file with file, line and column, and plans nothing', async () => {
    const path = file('broken.yaml', FIVE_MISTAKES);
    const run = await cli('plan', '-f', path);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    // compiler style: file:line:column (of the value at fault): path: message
    expect(lines.slice(0, 5).map((l) => l.replace(path, 'broken.yaml'))).toEqual([
      'broken.yaml:5:30: placements[0].platform: Invalid option: expected one of "openstack"|"okd"',
      'broken.yaml:7:26: members[0].role: Invalid option: expected one of "reader"|"member"|"admin"',
      'broken.yaml:9:37: networks[0].cidr: host bits are set; the block is 10.0.0.0/24',
      'broken.yaml:11:50: accessRules[0].ports: ports apply to tcp and udp only, not icmp',
      'broken.yaml:13:17: quotas.sto.cores: a quota cannot be negative',
    ]);
    expect(lines[5]).toBe(`5 problems in ${path}; nothing was planned`);
    // the server refuses the same file the same way (for clients that do not check first)
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.INFRAFED_TOKEN}` },
      body: JSON.stringify({ query: 'query($d: String!) { plan(document: $d) { changes } }', variables: { d: FIVE_MISTAKES } }),
    });
    const body = (await res.json()) as { errors: { extensions: { code: string; problems: { line: number }[] } }[] };
    expect(body.errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0]?.extensions.problems.map((p) => p.line)).toEqual([5, 7, 9, 11, 13]);
  }, 60_000);

  it('an apply killed midway and run again finishes the work once: nothing doubled, the file matched', async () => {
    const nets = Array.from({ length: 4 }, (_, i) => `  - { name: n${i}, region: sto, cidr: 10.3${i}.0.0/24 }`).join('\n');
    const path = file(
      'interrupted.yaml',
      `apiVersion: infrafed.io/v1\nkind: Project\nname: batch\nplacements:\n  - { region: sto, platform: openstack }\nnetworks:\n${nets}\n`,
    );
    // killed once the second action is under way (its operation accepted, maybe still running)
    const killed = await new Promise<{ stdout: string; signal: string | null }>((resolve) => {
      const child = execFile(process.execPath, [CLI, 'apply', '-f', path], { env, cwd: dir });
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (/^\[2\/5\]/m.test(stdout)) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) => resolve({ stdout, signal }));
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toContain('Apply complete');
    const again = await cli('apply', '-f', path);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('(continuing an apply of this file that did not finish)');
    const batch = projectsOf(await exported()).find((p) => p.name === 'batch') as ResourceProject;
    // each network exactly once, though one create may have been sent twice (the same Idempotency-Key)
    expect(batch.networks.map((n) => n.name).sort()).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect((await cli('plan', '-f', path)).stdout).toContain('Plan: 0 changes');
  }, 120_000);

  it('keeps organisations apart: another organisation exports none of these projects and plans its own', async () => {
    const other = await system.token('globex-rac', 'owner', 'gina');
    const run = await new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        [CLI, 'plan', '-f', join(dir, 'initial.yaml')],
        { env: { ...env, INFRAFED_TOKEN: other }, cwd: dir },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    // the same names are new projects for globex: nothing of acme's is seen or touched
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('project shop: create');
    expect(run.stdout).toContain('project lab: create');
    const exportedByOther = await new Promise<string>((resolve) => {
      execFile(process.execPath, [CLI, 'export'], { env: { ...env, INFRAFED_TOKEN: other }, cwd: dir }, (_e, stdout) => resolve(stdout));
    });
    expect(projectsOf(exportedByOther)).toEqual([]);
  }, 60_000);

  it('serves the JSON Schema of the format without a token, and the CLI prints the same', async () => {
    const res = await fetch(new URL('/schemas/resources.json', system.gatewayUrl));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/schema+json');
    const served = (await res.json()) as Record<string, unknown>;
    const printed = await cli('schema');
    expect(JSON.parse(printed.stdout)).toEqual(served);
    expect(served).toEqual(JSON.parse(readFileSync(new URL('../../schema/resources.schema.json', import.meta.url), 'utf8')));
  });
});
