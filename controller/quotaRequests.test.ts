import { describe, expect, it } from '@jest/globals';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import type { OperationRequest, OperationView, ProjectRecord } from '../schema/operations.ts';
import type { Principal } from '../runtime/auth.ts';
import type { Audit } from './audit.ts';
import { memoryPeopleStore } from './people.ts';
import { createQuotaRequests } from './quotaRequests.ts';
import { refusal } from './inMemory.ts';

const P = `prj_${'3'.repeat(26)}`;
const DAY = 86_400_000;
const admin: Principal = { subject: 'ada', organization: 'acme', orgRole: 'admin', platformAdmin: false };
const operator: Principal = { subject: 'ops', organization: 'infrafed', orgRole: 'reader', platformAdmin: true };

function setup(record: Partial<ProjectRecord> = {}, refuse: { error: InfrafedError | null } = { error: null }) {
  const now = Date.parse('2026-11-29T12:00:00Z');
  const project = {
    projectId: P,
    organization: 'acme',
    name: 'p',
    placements: [
      { region: 'sto', platform: 'openstack' },
      { region: 'lla', platform: 'okd' },
    ],
    state: 'ACTIVE',
    operationId: `op_${'0'.repeat(26)}`,
    shares: [],
    quotaVersions: {},
    quotaChangedAt: {},
    quotaTiers: {},
    ...record,
  } as ProjectRecord;
  const submitted: { principal: Principal; request: OperationRequest; key: string }[] = [];
  const q = createQuotaRequests({
    store: memoryPeopleStore(),
    projects: { getProject: async (id) => (id === P ? structuredClone(project) : null) },
    audit: { record: async () => {} } as unknown as Audit,
    async submit(principal, request, key) {
      if (refuse.error) throw refuse.error;
      submitted.push({ principal, request, key });
      return { id: `op_${String(submitted.length).padStart(26, '0')}` } as OperationView;
    },
    now: () => now,
  });
  return { q, submitted, now, project };
}
const tiers = [
  { name: 'small', limits: { cores: 2 } },
  { name: 'medium', limits: { cores: 4 } },
  { name: 'large', limits: { cores: 8 } },
];

describe('quota tier requests', () => {
  it('approves one step up at once when the regions had no quota change for 30 days', async () => {
    const { q, submitted } = setup({ quotaTiers: { sto: 'small', lla: 'small' }, quotaChangedAt: { sto: '2026-10-01T00:00:00Z' } });
    await q.setTiers(operator, tiers);
    const { request } = await q.request(admin, { projectId: P, tier: 'medium', regions: ['sto', 'lla'] });
    expect(request).toMatchObject({ status: 'APPROVED', decidedBy: 'auto', reasons: [], operationId: expect.stringMatching(/^op_/) });
    expect(submitted).toEqual([
      {
        principal: admin,
        request: {
          kind: 'APPLY_QUOTA_TIER',
          input: { projectId: P, regions: ['sto', 'lla'], tier: 'medium', limits: { cores: 4 }, requestId: request.id },
        },
        key: `quota-request-${request.id}`,
      },
    ]);
    // nothing waits: the next request is taken
    expect((await q.request(admin, { projectId: P, tier: 'small', regions: ['sto'] })).request.status).toBe('APPROVED');
  });

  it('makes a jump or a recent change wait, refuses a second request meanwhile, and applies it on approval in the operator’s name', async () => {
    const { q, submitted, now } = setup({ quotaChangedAt: { sto: new Date(Date.parse('2026-11-29T12:00:00Z') - 3 * DAY).toISOString() } });
    await q.setTiers(operator, tiers);
    const { request } = await q.request(admin, { projectId: P, tier: 'medium', regions: ['sto', 'lla'] });
    expect(request.status).toBe('PENDING_APPROVAL');
    expect(request.reasons).toEqual([
      'sto: from no tier to medium jumps over small',
      `sto: its quota changed on ${new Date(now - 3 * DAY).toISOString().slice(0, 10)}, within the last 30 days`,
      'lla: from no tier to medium jumps over small',
    ]);
    expect(submitted).toEqual([]);
    expect((await refusal(q.request(admin, { projectId: P, tier: 'small', regions: ['lla'] }))).code).toBe(ErrorCode.CONFLICT);
    expect((await refusal(q.decide(admin, request.id, true, null))).code).toBe(ErrorCode.FORBIDDEN);
    const { request: approved } = await q.decide(operator, request.id, true, 'ok');
    expect(approved).toMatchObject({ status: 'APPROVED', decidedBy: 'ops', operationId: expect.stringMatching(/^op_/) });
    expect(submitted[0]?.principal).toEqual({ subject: 'ops', organization: 'acme', orgRole: 'owner', platformAdmin: true });
    expect((await refusal(q.decide(operator, request.id, false, 'late'))).code).toBe(ErrorCode.CONFLICT);
    // decided: the project takes a new request
    expect((await q.request(admin, { projectId: P, tier: 'small', regions: ['lla'] })).request.status).toBe('APPROVED');
  });

  it('says which tier and region the caller got wrong; members, outsiders and non-operators are refused', async () => {
    const { q } = setup();
    expect((await refusal(q.request(admin, { projectId: P, tier: 'small', regions: ['sto'] }))).message).toContain(
      'no quota tiers are defined',
    );
    await q.setTiers(operator, tiers);
    const bad = await refusal(q.request(admin, { projectId: P, tier: 'huge', regions: ['sto', 'osl'] }));
    expect(bad.extensions.problems).toEqual([
      { path: 'tier', message: 'one of small, medium, large', value: 'huge' },
      { path: 'regions[1]', message: 'the project is not placed in osl', value: 'osl' },
    ]);
    expect((await refusal(q.request({ ...admin, orgRole: 'member' }, { projectId: P, tier: 'small', regions: ['sto'] }))).code).toBe(
      ErrorCode.FORBIDDEN,
    );
    expect((await refusal(q.request({ ...admin, organization: 'evil' }, { projectId: P, tier: 'small', regions: ['sto'] }))).code).toBe(
      ErrorCode.NOT_FOUND,
    );
    expect((await refusal(q.setTiers(admin, tiers))).code).toBe(ErrorCode.FORBIDDEN);
    // a rejection needs a reason
    const { request } = await q.request(admin, { projectId: P, tier: 'large', regions: ['sto'] });
    expect((await refusal(q.decide(operator, request.id, false, null))).code).toBe(ErrorCode.BAD_USER_INPUT);
    expect((await q.decide(operator, request.id, false, 'no')).request.status).toBe('REJECTED');
    expect((await q.list(operator, { status: 'REJECTED' })).requests.map((r) => r.id)).toEqual([request.id]);
    expect((await q.list({ ...admin, organization: 'evil', orgRole: 'owner' }, {})).requests).toEqual([]);
  });

  it('leaves a request waiting when its operation is refused (QUOTA_EXCEEDED at acceptance)', async () => {
    const refuse = { error: new InfrafedError(ErrorCode.QUOTA_EXCEEDED, 'cores: 8 asked, 4 remain') as InfrafedError | null };
    const { q, submitted } = setup({}, refuse);
    await q.setTiers(operator, tiers);
    const { request } = await q.request(admin, { projectId: P, tier: 'large', regions: ['sto'] });
    expect((await refusal(q.decide(operator, request.id, true, null))).code).toBe(ErrorCode.QUOTA_EXCEEDED);
    expect((await q.list(operator, {})).requests.map((r) => r.status)).toEqual(['PENDING_APPROVAL']);
    refuse.error = null;
    expect((await q.decide(operator, request.id, true, null)).request.status).toBe('APPROVED');
    expect(submitted).toHaveLength(1);
  });
});
