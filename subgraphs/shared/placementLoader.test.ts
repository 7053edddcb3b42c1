import { describe, expect, it } from '@jest/globals';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import type { Placement } from '../../schema/model.ts';
import { createPlacementLoader } from './placementLoader.ts';

const sto: Placement = { region: 'sto', platform: 'openstack' };
const osl: Placement = { region: 'osl', platform: 'openstack' };

describe('placement loader', () => {
  it("sends a placement's projects in requests of at most the contract's bound, and gives each project its own items", async () => {
    const sent: string[] = [];
    const loader = createPlacementLoader(
      async (placement, projects) => {
        sent.push(`${placement.region}:${projects.map((p) => p.projectId).join(',')}`);
        // a request naming p5 fails (that region's chunk only)
        if (placement.region === 'osl' && projects.some((p) => p.projectId === 'p5'))
          throw new InfrafedError(ErrorCode.REGION_TIMEOUT, 'osl did not answer in time');
        return projects.flatMap((p) => [`${placement.region}/${p.projectId}/a`, `${placement.region}/${p.projectId}/b`]);
      },
      (item: string) => item.split('/')[1] as string,
      3,
    );
    const ids = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
    const keys = [sto, osl].flatMap((placement) => ids.map((projectId) => ({ ...placement, projectId, organization: 'acme' })));
    const answers = await loader.loadMany(keys);
    expect(sent.sort()).toEqual(['osl:p1,p2,p3', 'osl:p4,p5,p6', 'osl:p7', 'sto:p1,p2,p3', 'sto:p4,p5,p6', 'sto:p7']);
    expect(answers[0]).toEqual({ value: ['sto/p1/a', 'sto/p1/b'], missing: [] });
    expect(answers[6]).toEqual({ value: ['sto/p7/a', 'sto/p7/b'], missing: [] });
    // osl: the failed request's projects carry its error, the others their items
    const oslAnswers = answers.slice(7) as { value: string[]; missing: InfrafedError[] }[];
    expect(oslAnswers.map((a) => [a.value.length, a.missing.map((e) => e.code)])).toEqual([
      [2, []],
      [2, []],
      [2, []],
      [0, ['REGION_TIMEOUT']],
      [0, ['REGION_TIMEOUT']],
      [0, ['REGION_TIMEOUT']],
      [2, []],
    ]);
  });

  it('with refuseMore, refuses a placement with more projects than one request takes, and sends the others', async () => {
    const sent: string[] = [];
    const loader = createPlacementLoader(
      async (placement, projects) => {
        sent.push(`${placement.region}:${projects.length}`);
        return projects.map((p) => `${placement.region}/${p.projectId}`);
      },
      (item: string) => item.split('/')[1] as string,
      2,
      (found) => new InfrafedError(ErrorCode.QUERY_LIMIT_EXCEEDED, `too many: ${found}`),
    );
    const keys = [
      ...['p1', 'p2', 'p3'].map((projectId) => ({ ...sto, projectId, organization: 'acme' })),
      ...['p1', 'p2'].map((projectId) => ({ ...osl, projectId, organization: 'acme' })),
    ];
    const answers = (await loader.loadMany(keys)) as { value: string[]; missing: InfrafedError[] }[];
    expect(sent).toEqual(['osl:2']);
    expect(answers.map((a) => [a.value, a.missing.map((e) => e.message)])).toEqual([
      [[], ['too many: 3']],
      [[], ['too many: 3']],
      [[], ['too many: 3']],
      [['osl/p1'], []],
      [['osl/p2'], []],
    ]);
  });
});
