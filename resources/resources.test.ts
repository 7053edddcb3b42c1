import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resourcesJsonSchema } from '../schema/resources.ts';
import { accessRuleId } from '../schema/network.ts';
import { parseResources, toYaml } from './document.ts';
import { exportProject, planResources, renderPlan, type LiveProject } from './plan.ts';

const FIVE_MISTAKES = `apiVersion: infrafed.io/v1
kind: Project
name: web-shop
placements:
  - region: sto
    platform: openstak
members:
  - user: alice
    role: owner
networks:
  - name: web
    region: sto
    cidr: 10.0.0.1/24
accessRules:
  - direction: ingress
    protocol: icmp
    ports: { from: 22 }
quotas:
  sto: { cores: -1 }
`;

function liveProject(over: Partial<LiveProject> = {}): LiveProject {
  const rule = {
    direction: 'ingress' as const,
    protocol: 'tcp' as const,
    portFrom: 22,
    portTo: 22,
    remoteCidr: '192.0.2.0/24',
    description: 'ssh',
  };
  return {
    projectId: 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa',
    name: 'web-shop',
    description: '',
    placements: [
      { region: 'sto', platform: 'openstack' },
      { region: 'osl', platform: 'openstack' },
    ],
    members: [
      { region: 'sto', platform: 'openstack', kind: 'user', name: 'alice', role: 'admin' },
      { region: 'osl', platform: 'openstack', kind: 'user', name: 'alice', role: 'admin' },
      { region: 'sto', platform: 'openstack', kind: 'user', name: 'bob', role: 'member' },
      { region: 'osl', platform: 'openstack', kind: 'user', name: 'bob', role: 'member' },
    ],
    networks: [
      {
        id: 'net_01aaaaaaaaaaaaaaaaaaaaaaaa',
        projectId: 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa',
        name: 'web',
        region: 'sto',
        platform: 'openstack',
        nativeId: 'n1',
        status: 'ACTIVE',
        cidr: '10.0.0.0/24',
        gatewayIp: '10.0.0.1',
        dnsNameservers: [],
        subnetNativeId: 's1',
        router: null,
      },
    ],
    rules: ['sto', 'osl'].map((region) => ({ region, platform: 'openstack', rule: { id: accessRuleId(rule), ...rule } })),
    quotas: [
      { region: 'sto', platform: 'openstack', limits: { cores: 20, networks: 100, ramMiB: null } },
      { region: 'osl', platform: 'openstack', limits: { cores: 20, networks: 100 } },
    ],
    ...over,
  };
}

describe('resources files', () => {
  it('reports every mistake of a file at once, each with its line, column and path', () => {
    const { projects, problems } = parseResources(FIVE_MISTAKES);
    expect(projects).toEqual([]);
    expect(problems.map((p) => [p.line, p.path])).toEqual([
      [6, 'placements[0].platform'],
      [9, 'members[0].role'],
      [13, 'networks[0].cidr'],
      [17, 'accessRules[0].ports'],
      [19, 'quotas.sto.cores'],
    ]);
    expect(problems.find((p) => p.path === 'networks[0].cidr')?.message).toMatch(/host bits are set; the block is 10.0.0.0\/24/);
    expect(problems.every((p) => p.document === 1 && p.column > 0)).toBe(true);
  });

  it('reports YAML syntax errors and a project named twice, with the document they are in', () => {
    const doc = (name: string) =>
      `apiVersion: infrafed.io/v1\nkind: Project\nname: ${name}\nplacements: [{region: sto, platform: openstack}]\n`;
    const twice = parseResources(`${doc('a')}---\n${doc('a')}`);
    expect(twice.problems).toEqual([
      expect.objectContaining({ document: 2, line: 8, path: 'name', message: 'project "a" is also document 1' }),
    ]);
    const broken = parseResources(`${doc('a')}---\nname: [unclosed\n`);
    // an unclosed flow sequence is noticed where the input ends
    expect(broken.problems[0]).toMatchObject({ document: 2, line: 7 });
    expect(broken.problems[0]?.message).toMatch(/flow sequence/i);
  });

  it('exports a live project so that planning the export changes nothing, and reads back what it wrote', () => {
    const live = [liveProject()];
    const yaml = toYaml(live.map(exportProject));
    const { projects, problems } = parseResources(yaml);
    expect(problems).toEqual([]);
    expect(projects).toEqual(live.map(exportProject));
    const { plan } = planResources(projects, live, { prune: true });
    expect(plan.changes).toBe(0);
    expect(plan.actions).toEqual([]);
    expect(renderPlan(plan)).toBe('No changes: the clouds match the file.\n');
    // unlimited is left out: a file names only limits to keep
    expect(projects[0]?.quotas).toEqual({ sto: { cores: 20, networks: 100 }, osl: { cores: 20, networks: 100 } });
  });

  it('plans exactly the edits: a network added, a rule changed, a quota raised, a member removed (with prune only)', () => {
    const live = [liveProject()];
    const edited = exportProject(live[0] as LiveProject);
    edited.networks.push({ name: 'db', region: 'osl', cidr: '10.1.0.0/24', router: {} });
    edited.accessRules = [{ ...(edited.accessRules[0] as object), description: 'ssh from the office' } as (typeof edited.accessRules)[0]];
    edited.quotas = { ...edited.quotas, sto: { ...edited.quotas.sto, cores: 40 } };
    edited.members = edited.members.filter((m) => m.user !== 'bob');

    const held = planResources([edited], live, { prune: false }).plan;
    expect(held.changes).toBe(3);
    expect(held.held).toBe(1);
    expect(held.actions.map((a) => a.mutation)).toEqual(['setQuota', 'createNetwork', 'applyAccessRule']);

    const { plan } = planResources([edited], live, { prune: true });
    const changes = plan.projects[0]?.changes.map((c) => [
      c.op,
      c.resource,
      c.name,
      c.region,
      c.fields.map((f) => `${f.field}:${f.from}->${f.to}`),
    ]);
    expect(changes).toEqual([
      ['~', 'quota', 'limits', 'sto', ['cores:20->40']],
      ['+', 'network', 'db (10.1.0.0/24)', 'osl', ['cidr:null->"10.1.0.0/24"', 'router:null->{"external":false}']],
      ['~', 'accessRule', 'ingress tcp 22 from 192.0.2.0/24', null, ['description:"ssh"->"ssh from the office"']],
      ['-', 'member', 'user bob', null, []],
    ]);
    expect(plan.actions.map((a) => [a.mutation, a.variables])).toEqual([
      ['setQuota', { projectId: 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa', region: 'sto', limits: { cores: 40 } }],
      [
        'createNetwork',
        {
          input: {
            projectId: 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa',
            region: 'osl',
            name: 'db',
            cidr: '10.1.0.0/24',
            router: { external: false },
          },
        },
      ],
      ['applyAccessRule', { projectId: 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa', rule: edited.accessRules[0] }],
      ['removeMember', { projectId: 'prj_01aaaaaaaaaaaaaaaaaaaaaaaa', user: 'bob' }],
    ]);
    // the same plan twice has the same keys (an apply's idempotency keys come from them)
    expect(planResources([edited], live, { prune: true }).plan.actions.map((a) => a.key)).toEqual(plan.actions.map((a) => a.key));
    expect(renderPlan(plan)).toContain('Plan: 4 changes.');
  });

  it('creates a new project before its parts, replaces a changed network, and removes a project left out only with prune', () => {
    const fresh = { ...exportProject(liveProject()), name: 'new-one' };
    const changedNet = exportProject(liveProject());
    changedNet.networks = [{ name: 'web', region: 'sto', cidr: '10.9.0.0/24' }];
    const { plan } = planResources(
      [fresh, changedNet],
      [liveProject(), liveProject({ projectId: 'prj_01cccccccccccccccccccccccc', name: 'old' })],
      {
        prune: true,
      },
    );
    const created = plan.actions.filter((a) => a.project === 'new-one');
    expect(created[0]?.mutation).toBe('createProject');
    expect(created.every((a) => a.projectId === null)).toBe(true);
    expect(plan.actions.filter((a) => a.project === 'web-shop').map((a) => a.mutation)).toEqual(['deleteNetwork', 'createNetwork']);
    expect(plan.actions.at(-1)).toMatchObject({ mutation: 'deleteProject', variables: { id: 'prj_01cccccccccccccccccccccccc' } });
    expect(
      planResources([fresh, changedNet], [liveProject(), liveProject({ projectId: 'prj_01cccccccccccccccccccccccc', name: 'old' })], {
        prune: false,
      }).plan.actions.some((a) => a.mutation === 'deleteProject'),
    ).toBe(false);
  });

  it('refuses a change of placements or description of an existing project', () => {
    const moved = { ...exportProject(liveProject()), placements: [{ region: 'sto', platform: 'okd' as const }], description: 'other' };
    const { problems } = planResources([moved], [liveProject()], { prune: false });
    expect(problems.map((p) => p.path)).toEqual(['[0].placements', '[0].description']);
  });

  it('publishes the JSON Schema it validates with, and the copy in the repository is current', () => {
    const schema = resourcesJsonSchema();
    expect(schema.$id).toBe('https://infrafed.io/schemas/resources.json');
    expect(JSON.parse(readFileSync(new URL('../schema/resources.schema.json', import.meta.url), 'utf8'))).toEqual(schema);
  });
});
