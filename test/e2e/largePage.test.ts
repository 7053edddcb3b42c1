import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient } from '../harness/graphql.ts';

/** More projects than one adapter request takes for quotas (QUOTA_GET_MAX_PROJECTS, 100): OKD only, to be quick. */
const PROJECTS = 101;

describe('a page of more projects than one adapter request takes', () => {
  let system: SharedSystem;
  let token: string;
  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => token,
  );

  beforeAll(async () => {
    system = await sharedSystem();
    token = await system.token('acme-large', 'owner', 'alice');
    for (let i = 0; i < PROJECTS; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, PROJECTS - i) }, async (_, k) => {
          const res = await gql<{ createProject: { status: string } }>(
            'mutation($n: String!) { createProject(input: {name: $n, placements: [{region: "lla", platform: "okd"}]}) { status } }',
            { n: `large-${i + k}` },
          );
          expect([res.errors, res.data?.createProject.status]).toEqual([undefined, 'SUCCEEDED']);
        }),
      );
    }
  }, 240_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  it("answers every project's access rules, and refuses its quotas with QUERY_LIMIT_EXCEEDED (once it broke infrafed's own contract: BAD_REQUEST)", async () => {
    const res = await gql<{ projects: { id: string; accessRules: unknown[] | null; quotas: unknown[] | null }[] }>(
      '{ projects { id accessRules { id } quotas { region quota { cores } } } }',
    );
    expect(res.data?.projects).toHaveLength(PROJECTS);
    // every access rule list came back (an empty one each); only `quotas` has errors
    expect(res.data?.projects.filter((p) => !Array.isArray(p.accessRules))).toEqual([]);
    const errors = res.errors ?? [];
    expect(new Set(errors.map((e) => e.path?.at(-1)))).toEqual(new Set(['quotas']));
    expect(new Set(errors.map((e) => e.path?.[1])).size).toBe(PROJECTS);
    for (const e of errors) {
      expect(e.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'maxQuotaProjects', max: 100, found: PROJECTS });
    }
    expect(errors[0]?.message).toContain('projects(first: 100)');
  });

  it('answers the same projects with their quotas a page at a time: projects(first:, after:) in id order', async () => {
    const all = await gql<{ projects: { id: string }[] }>('{ projects { id } }');
    const ids = (all.data?.projects ?? []).map((p) => p.id).sort();
    expect(ids).toHaveLength(PROJECTS);
    const query = 'query($after: ID) { projects(first: 100, after: $after) { id quotas { region platform quota { cores } } } }';
    type Page = { projects: { id: string; quotas: { region: string; platform: string }[] }[] };
    const first = await gql<Page>(query);
    expect(first.errors).toBeUndefined();
    const one = first.data?.projects ?? [];
    expect(one.map((p) => p.id)).toEqual(ids.slice(0, 100));
    expect(one.every((p) => p.quotas.length === 1 && p.quotas[0]?.region === 'lla')).toBe(true);
    const second = await gql<Page>(query, { after: one.at(-1)?.id });
    expect(second.errors).toBeUndefined();
    expect(second.data?.projects.map((p) => p.id)).toEqual(ids.slice(100));
    expect(second.data?.projects[0]?.quotas).toHaveLength(1);
    // after the last one: an empty page, not an error
    const end = await gql<Page>(query, { after: ids.at(-1) });
    expect([end.errors, end.data?.projects]).toEqual([undefined, []]);
  });

  it('refuses a bad page with BAD_USER_INPUT naming each argument', async () => {
    const res = await gql('{ projects(first: 0, after: "prj_x") { id } }');
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [expect.objectContaining({ path: 'first' }), expect.objectContaining({ path: 'after' })],
    });
    const tooMany = await gql('{ projects(first: 501) { id } }');
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [expect.objectContaining({ path: 'first' })],
    });
  });
});
