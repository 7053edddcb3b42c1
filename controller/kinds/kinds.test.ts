import { describe, expect, it } from '@jest/globals';
import { weakestRoleWith } from '../../schema/access.ts';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { accessRuleInput, fromAccessRuleInput } from '../../schema/network.ts';
import { operationKinds, type OperationRequest, type ProjectRecord } from '../../schema/operations.ts';
import type { Principal } from '../../runtime/auth.ts';
import { memoryContext } from '../inMemory.ts';
import { explicitDefaults } from '../reservations.ts';
import { newOperation } from '../operations.ts';
import { kindOf, kinds } from './index.ts';
import type { KindContext } from './kind.ts';

const P = `prj_${'a'.repeat(26)}`;
const acme = (orgRole: Principal['orgRole'] = 'owner'): Principal => ({
  subject: 'alice',
  organization: 'acme',
  orgRole,
  platformAdmin: false,
});
const globex = (orgRole: Principal['orgRole'] = 'owner'): Principal => ({
  subject: 'gina',
  organization: 'globex',
  orgRole,
  platformAdmin: false,
});
const project: ProjectRecord = {
  projectId: P,
  organization: 'acme',
  name: 'genomics',
  placements: [
    { region: 'sto', platform: 'openstack' },
    { region: 'lla', platform: 'okd' },
  ],
  state: 'ACTIVE',
  quotaVersions: {},
  quotaChangedAt: {},
  quotaTiers: {},
  operationId: `op_${'b'.repeat(26)}`,
  shares: [{ organization: 'globex', level: 'member', since: '2026-01-01T00:00:00Z' }],
};

const noAdapter: KindContext['call'] = async () => {
  throw new Error('this plan must not ask an adapter');
};

async function withProject(call: KindContext['call'] = noAdapter, options: Parameters<typeof memoryContext>[1] = {}) {
  const made = memoryContext(call, options);
  await made.ctx.store.changeProject(project.projectId, () => project);
  return made;
}

const plan = (ctx: KindContext, principal: Principal, request: OperationRequest) => kindOf(request.kind).plan(ctx, principal, request);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: InfrafedError) => ({ code: e.code, ...e.extensions }),
  );

describe('the kind table', () => {
  it('declares every operation kind once, under its own name', () => {
    expect(Object.keys(kinds).sort()).toEqual([...operationKinds].sort());
    for (const [name, definition] of Object.entries(kinds)) expect(definition.kind).toBe(name);
  });

  it('gives each kind the permission of its access level, and an audit action', () => {
    expect(Object.fromEntries(Object.values(kinds).map((k) => [k.kind, weakestRoleWith(k.permission)]))).toEqual({
      CREATE_PROJECT: 'admin',
      DELETE_PROJECT: 'admin',
      ADD_MEMBER: 'admin',
      APPLY_QUOTA_TIER: 'admin',
      REMOVE_MEMBER: 'admin',
      CREATE_NETWORK: 'member',
      DELETE_NETWORK: 'member',
      APPLY_ACCESS_RULE: 'member',
      REMOVE_ACCESS_RULE: 'member',
      SET_QUOTA: 'admin',
      SHARE_PROJECT: 'owner',
      REVOKE_SHARE: 'owner',
    });
    expect(new Set(Object.values(kinds).map((k) => k.action)).size).toBe(operationKinds.length);
  });

  it('drives deletes forward when a replica takes one over, and rolls everything else back', () => {
    expect(
      Object.values(kinds)
        .filter((k) => k.takeover === 'forward')
        .map((k) => k.kind)
        .sort(),
    ).toEqual(['DELETE_NETWORK', 'DELETE_PROJECT', 'REVOKE_SHARE']);
  });
});

describe('planning', () => {
  it('lists every placement problem of a new project at once', async () => {
    const { ctx } = memoryContext(noAdapter);
    const planned = failure(
      plan(ctx, acme(), {
        kind: 'CREATE_PROJECT',
        input: {
          name: 'x',
          description: '',
          placements: [
            { region: 'mars', platform: 'openstack' },
            { region: 'lla', platform: 'openstack' },
            { region: 'lla', platform: 'openstack' },
          ],
        },
      }),
    );
    expect(await planned).toEqual({
      code: ErrorCode.BAD_USER_INPUT,
      problems: [
        { path: 'placements[0].region', message: 'unknown region; known regions: sto, osl, lla', value: 'mars' },
        { path: 'placements[1].platform', message: 'region lla does not run openstack; it runs okd', value: 'openstack' },
        { path: 'placements[2].platform', message: 'region lla does not run openstack; it runs okd', value: 'openstack' },
        { path: 'placements[2]', message: 'duplicate placement lla/openstack', value: 'lla/openstack' },
      ],
    });
  });

  it('places a network on the project’s OpenStack placement of the region, and refuses one where there is none', async () => {
    const { ctx } = await withProject();
    const input = { projectId: P, name: 'backend', cidr: '10.0.0.0/24', dnsNameservers: [], router: { external: false } };
    expect(await plan(ctx, acme('member'), { kind: 'CREATE_NETWORK', input: { ...input, region: 'sto' } })).toEqual({
      projectId: P,
      owner: 'acme',
      placements: [{ region: 'sto', platform: 'openstack' }],
      resourceId: expect.stringMatching(/^net_/),
      objects: { networks: 1, subnets: 1, routers: 1 },
    });
    expect(await failure(plan(ctx, acme('member'), { kind: 'CREATE_NETWORK', input: { ...input, region: 'lla' } }))).toMatchObject({
      code: ErrorCode.NOT_SUPPORTED,
      region: 'lla',
    });
    expect(await failure(plan(ctx, acme('member'), { kind: 'CREATE_NETWORK', input: { ...input, region: 'osl' } }))).toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      problems: [{ path: 'region', value: 'osl' }],
    });
  });

  it('finds which placement holds a network by asking the adapters, and counts what its deletion frees', async () => {
    const asked: string[] = [];
    const { ctx } = await withProject(async (placement, resource, verb) => {
      asked.push(`${placement.region} ${resource} ${verb}`);
      return { network: { id: 'net_x', nativeId: 'n1', subnetNativeId: 's1', router: null } } as never;
    });
    const planned = await plan(ctx, acme('member'), { kind: 'DELETE_NETWORK', input: { projectId: P, networkId: 'net_x' } });
    expect(asked).toEqual(['sto network get']);
    expect(planned).toMatchObject({
      placements: [{ region: 'sto', platform: 'openstack' }],
      resourceId: 'net_x',
      objects: { networks: -1, subnets: -1 },
    });
  });

  it('asks only the placement a network was created in when deleting it, and every other placement when that one no longer has it', async () => {
    const asked: string[] = [];
    let holder = 'osl';
    const { ctx } = await withProject(async (placement, resource, verb, body) => {
      if (verb === 'create') return { network: { nativeId: 'n1' }, created: true } as never;
      asked.push(`${placement.region} ${resource} ${verb}`);
      const id = (body as { networkId: string }).networkId;
      return { network: placement.region === holder ? { id, nativeId: 'n1', subnetNativeId: 's1', router: null } : null } as never;
    });
    const P2 = `prj_${'c'.repeat(26)}`;
    await ctx.store.changeProject(P2, () => ({
      ...project,
      projectId: P2,
      placements: [
        { region: 'sto', platform: 'openstack' },
        { region: 'osl', platform: 'openstack' },
      ],
    }));
    const input = { projectId: P2, name: 'backend', cidr: '10.0.0.0/24', dnsNameservers: [], region: 'osl' };
    const request = { kind: 'CREATE_NETWORK', input } as OperationRequest;
    const created = await plan(ctx, acme('member'), request);
    const networkId = created.resourceId as string;
    const deleting = () => plan(ctx, acme('member'), { kind: 'DELETE_NETWORK', input: { projectId: P2, networkId } });
    // planned only (say, then refused over quota): nothing is remembered, every placement is asked
    expect((await deleting()).placements).toEqual([{ region: 'osl', platform: 'openstack' }]);
    expect(asked.sort()).toEqual(['osl network get', 'sto network get']);
    // once its step has made it, only its own placement is asked
    const op = newOperation(acme('member'), request, created, {
      id: `op_${'4'.repeat(26)}`,
      action: 'network.create',
      requestHash: 'h',
      idempotencyKey: null,
      owner: 'r',
      leaseMs: 30_000,
    });
    await kindOf('CREATE_NETWORK')
      .steps(ctx, op as never)
      .forward(op.steps[0] as (typeof op.steps)[number], async () => {});
    asked.length = 0;
    expect((await deleting()).placements).toEqual([{ region: 'osl', platform: 'openstack' }]);
    expect(asked).toEqual(['osl network get']);
    // a network infrafed never placed here: every placement is asked
    asked.length = 0;
    const unknown = `net_${'d'.repeat(26)}`;
    expect((await plan(ctx, acme('member'), { kind: 'DELETE_NETWORK', input: { projectId: P2, networkId: unknown } })).placements).toEqual([
      { region: 'osl', platform: 'openstack' },
    ]);
    expect(asked.sort()).toEqual(['osl network get', 'sto network get']);
    // the remembered placement no longer has it: the others are asked, and none has it
    asked.length = 0;
    holder = 'nowhere';
    expect(await failure(deleting())).toMatchObject({ code: ErrorCode.NOT_FOUND });
    expect(asked).toEqual(['osl network get', 'sto network get']);
  });

  it('lets a partner act within its share level, never on what only the owner may do, and hides the project from everyone else', async () => {
    const { ctx } = await withProject();
    const rule = { direction: 'ingress', protocol: 'tcp', ports: { from: 22 }, remoteCidr: '192.0.2.0/24' } as const;
    // a partner's operation is on the owner's project: the adapters are told whose natives to touch
    await expect(plan(ctx, globex('admin'), { kind: 'APPLY_ACCESS_RULE', input: { projectId: P, rule } as never })).resolves.toMatchObject({
      projectId: P,
      owner: 'acme',
    });
    expect(
      await failure(plan(ctx, globex('owner'), { kind: 'SET_QUOTA', input: { projectId: P, region: 'sto', limits: { cores: 1 } } })),
    ).toMatchObject({
      code: ErrorCode.FORBIDDEN,
      permission: 'quota.manage',
      shareLevel: 'member',
    });
    // the partner's own role caps the share level
    expect(await failure(plan(ctx, globex('reader'), { kind: 'APPLY_ACCESS_RULE', input: { projectId: P, rule } as never }))).toMatchObject(
      { code: ErrorCode.FORBIDDEN, role: 'reader' },
    );
    const stranger: Principal = { subject: 'mallory', organization: 'initech', orgRole: 'owner', platformAdmin: false };
    expect(await failure(plan(ctx, stranger, { kind: 'DELETE_PROJECT', input: { projectId: P } }))).toEqual({ code: ErrorCode.NOT_FOUND });
  });

  it('refuses changes to a project being deleted, except deleting it again', async () => {
    const { ctx } = await withProject();
    await ctx.store.changeProject(P, () => ({ ...project, state: 'DELETING' }));
    expect(await failure(plan(ctx, acme(), { kind: 'ADD_MEMBER', input: { projectId: P, user: 'bob', role: 'reader' } }))).toEqual({
      code: ErrorCode.CONFLICT,
    });
    await expect(plan(ctx, acme(), { kind: 'DELETE_PROJECT', input: { projectId: P } })).resolves.toMatchObject({
      projectId: P,
      placements: project.placements,
    });
  });

  it('refuses sharing with an organisation the system does not know (never onboarded, no project)', async () => {
    const { ctx, store } = await withProject(noAdapter, { onboarded: ['acme'] });
    expect(
      await failure(plan(ctx, acme(), { kind: 'SHARE_PROJECT', input: { projectId: P, partner: 'nosuch', level: 'reader' } })),
    ).toMatchObject({ code: ErrorCode.NOT_FOUND });
    // an organisation that owns a project is known without entitlements
    await store.changeProject(`prj_${'9'.repeat(26)}`, () => ({ ...project, projectId: `prj_${'9'.repeat(26)}`, organization: 'initech' }));
    await expect(
      plan(ctx, acme(), { kind: 'SHARE_PROJECT', input: { projectId: P, partner: 'initech', level: 'reader' } }),
    ).resolves.toMatchObject({ resourceId: 'initech' });
  });

  it('refuses sharing with the owner itself and revoking a share that does not exist', async () => {
    const { ctx } = await withProject();
    expect(
      await failure(plan(ctx, acme(), { kind: 'SHARE_PROJECT', input: { projectId: P, partner: 'acme', level: 'reader' } })),
    ).toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      problems: [{ path: 'partner' }],
    });
    expect(await failure(plan(ctx, acme(), { kind: 'REVOKE_SHARE', input: { projectId: P, partner: 'initech' } }))).toEqual({
      code: ErrorCode.NOT_FOUND,
    });
  });
});

describe('accepting', () => {
  const ids = { id: `op_${'c'.repeat(26)}`, requestHash: 'h', idempotencyKey: null, owner: 'r', leaseMs: 30_000 };

  it('claims a new project’s name and indexes it as CREATING; a second project of that name is a CONFLICT', async () => {
    const { ctx } = memoryContext(noAdapter);
    const request: OperationRequest = {
      kind: 'CREATE_PROJECT',
      input: { name: 'Genomics', description: '', placements: [{ region: 'sto', platform: 'openstack' }] },
    };
    const def = kindOf('CREATE_PROJECT');
    const planned = await def.plan(ctx, acme(), request);
    const op = newOperation(acme(), request, planned, { ...ids, action: def.action });
    await def.accept?.(ctx, op);
    expect(op.reserved).toBe(false);
    expect(await ctx.store.getProject(planned.projectId)).toMatchObject({ state: 'CREATING', name: 'Genomics' });
    const again = await def.plan(ctx, acme(), {
      kind: 'CREATE_PROJECT',
      input: { name: 'genomics', description: '', placements: [{ region: 'sto', platform: 'openstack' }] },
    });
    expect(
      await failure(def.accept?.(ctx, newOperation(acme(), request, again, { ...ids, action: def.action })) as Promise<unknown>),
    ).toMatchObject({ code: ErrorCode.CONFLICT });
  });

  it('holds a rule at the entitlement limit only where a placement lacks it', async () => {
    const rule = { direction: 'ingress', protocol: 'tcp', ports: { from: 22 }, remoteCidr: '192.0.2.0/24' } as const;
    let reserveCalls = 0;
    const { ctx, ledgerCalls } = await withProject(
      async (placement) =>
        // sto has the rule already, lla lacks it
        ({ rules: placement.region === 'sto' ? [{ id: planned.resourceId }] : [] }) as never,
      {
        // the first reservation (both placements) is over the limit; the second (lla only) fits
        refuse: () => (reserveCalls++ === 0 ? new InfrafedError(ErrorCode.QUOTA_EXCEEDED, 'over') : null),
      },
    );
    const def = kindOf('APPLY_ACCESS_RULE');
    const request = { kind: 'APPLY_ACCESS_RULE', input: { projectId: P, rule } } as never;
    const planned = await def.plan(ctx, acme(), request);
    const op = newOperation(acme(), request, planned, { ...ids, action: def.action });
    await def.accept?.(ctx, op);
    expect(op.reserved).toBe(true);
    expect(ledgerCalls).toEqual([
      { call: 'reserve', id: ids.id, changes: [], objects: [{ key: `${P}|lla|okd`, amounts: { securityGroupRules: 1 } }] },
    ]);
  });
});

describe('explicit quotas for new placements', () => {
  const base = { organization: 'acme', regions: {}, platforms: {}, updatedAt: null, updatedBy: null, version: 1 };
  it('are the project defaults when the organisation has them, else zero for every entitled resource, else none', () => {
    expect(explicitDefaults({ ...base, total: { cores: 64 }, projectDefaults: { cores: 4, ramMiB: 8192 } })).toEqual({
      cores: 4,
      ramMiB: 8192,
    });
    expect(
      explicitDefaults({
        ...base,
        total: { cores: 64 },
        regions: { sto: { networks: 10 } },
        platforms: { okd: { volumes: 5 } },
        projectDefaults: {},
      }),
    ).toEqual({ cores: 0, networks: 0, volumes: 0 });
    expect(explicitDefaults({ ...base, total: {}, projectDefaults: {} })).toEqual({});
  });
});

describe('access rule steps', () => {
  /** The steps of an APPLY_ACCESS_RULE operation planned for the request, and its first step. */
  async function ruleSteps(ctx: KindContext, request: OperationRequest) {
    const op = newOperation(acme(), request, await plan(ctx, acme(), request), {
      id: `op_${'3'.repeat(26)}`,
      action: 'rule.apply',
      requestHash: 'h',
      idempotencyKey: null,
      owner: 'r',
      leaseMs: 30_000,
    });
    return { steps: kindOf('APPLY_ACCESS_RULE').steps(ctx, op as never), step: op.steps[0] as (typeof op.steps)[number] };
  }

  it('count a new description as a change, and an undo gives the rule its description back (never removes it)', async () => {
    const calls: { verb: string; body: Record<string, unknown> }[] = [];
    const call = (async (_placement: unknown, _resource: string, verb: string, body: Record<string, unknown>) => {
      calls.push({ verb, body });
      if (verb === 'list') return { rules: [{ id: 'acr_x' }] };
      if (verb === 'apply') return { rule: { nativeId: 'n1' }, created: false, previousDescription: 'old words' };
      return {};
    }) as unknown as KindContext['call'];
    const { ctx } = await withProject(call);
    const request = {
      kind: 'APPLY_ACCESS_RULE',
      input: {
        projectId: P,
        rule: { direction: 'ingress', protocol: 'tcp', ports: { from: 22 }, remoteCidr: '192.0.2.0/24', description: 'new words' },
      },
    } as OperationRequest;
    const { steps, step } = await ruleSteps(ctx, request);
    const result = await steps.forward(step, async () => {});
    expect(result).toMatchObject({ changed: true, undo: { existedBefore: true, previousDescription: 'old words' } });
    step.undo = result.undo ?? null;
    calls.length = 0;
    await steps.undo?.(step);
    expect(calls).toEqual([
      { verb: 'apply', body: expect.objectContaining({ rule: expect.objectContaining({ description: 'old words' }) }) },
    ]);
  });

  it('change nothing when the placement has the rule as asked: one read, no apply, nothing to undo', async () => {
    const input = { direction: 'ingress', protocol: 'tcp', ports: { from: 22 }, remoteCidr: '192.0.2.0/24', description: 'ssh' } as const;
    const id = fromAccessRuleInput(accessRuleInput.parse(input)).id;
    const calls: string[] = [];
    const call = (async (_placement: unknown, _resource: string, verb: string) => {
      calls.push(verb);
      if (verb === 'list') return { rules: [{ id, nativeId: 'n1', description: 'ssh' }] };
      throw new Error(`unexpected ${verb}`);
    }) as unknown as KindContext['call'];
    const { ctx } = await withProject(call);
    const request = { kind: 'APPLY_ACCESS_RULE', input: { projectId: P, rule: input } } as OperationRequest;
    const { steps, step } = await ruleSteps(ctx, request);
    const checkpoints: unknown[] = [];
    const result = await steps.forward(step, async (undo) => {
      checkpoints.push(undo);
    });
    expect(result).toEqual({ nativeId: 'n1', changed: false, undo: { existedBefore: true, previousDescription: null } });
    expect(calls).toEqual(['list']);
    step.undo = result.undo ?? null;
    await steps.undo?.(step);
    expect(calls).toEqual(['list']);
  });
});
