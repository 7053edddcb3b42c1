import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { graphqlReplySchema } from '../../schema/contracts/graphql.ts';
import { subgraphSubject, type SubgraphName } from '../../schema/subjects.ts';
import { requestJson } from '../../runtime/nats/request.ts';
import { graphqlClient } from '../harness/graphql.ts';
import { keystoneAdmin } from '../harness/keystone.ts';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';

type GraphqlBody = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

/**
 * Organisations apart when a caller bypasses the gateway: a subgraph reached directly (its NATS subject)
 * resolves a project entity by id against the projects the caller may see, never by the placements or
 * native ids in the representation it is sent.
 */
describe('isolation: entity representations sent straight to a subgraph', () => {
  let system: SharedSystem;
  let nc: NatsConnection;
  let owner: string;
  let stranger: string;
  let partner: string;
  let projectId: string;
  let stoNative: string;

  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => owner,
  );

  /** A GraphQL request on a subgraph's own NATS subject, as anyone with NATS access could send it. */
  async function direct(subgraph: SubgraphName, token: string, query: string, variables: Record<string, unknown>): Promise<GraphqlBody> {
    const reply = await requestJson(nc, subgraphSubject(subgraph), { query, variables }, graphqlReplySchema, {
      timeoutMs: 8_000,
      headers: { Authorization: `Bearer ${token}` },
      target: { kind: 'service', name: subgraph },
    });
    return reply.body as GraphqlBody;
  }
  const ENTITIES =
    'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id networks { id name } accessRules { id } } } }';
  const QUOTAS = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id quotas { region quota { cores } } } } }';
  const representation = () => [
    { __typename: 'Project', id: projectId, placements: [{ region: 'sto', platform: 'openstack', nativeId: stoNative }] },
  ];

  beforeAll(async () => {
    system = await sharedSystem();
    nc = await connect({ servers: system.natsUrl });
    owner = await system.token('acme-iso', 'owner', 'alice');
    stranger = await system.token('globex-iso', 'owner', 'mallory');
    partner = await system.token('initech-iso', 'admin', 'ivan');
    const created = await gql<{ createProject: { status: string; projectId: string; steps: { region: string; nativeId: string }[] } }>(
      'mutation { createProject(input: {name: "secret", placements: [{region: "sto", platform: "openstack"}]}) { status projectId steps { region nativeId } } }',
    );
    expect(created.data?.createProject.status).toBe('SUCCEEDED');
    projectId = created.data?.createProject.projectId as string;
    stoNative = created.data?.createProject.steps[0]?.nativeId as string;
    const net = await gql<{ createNetwork: { status: string } }>(
      'mutation($p: ID!) { createNetwork(input: {projectId: $p, region: "sto", name: "private", cidr: "10.9.0.0/24"}) { status } }',
      { p: projectId },
    );
    expect(net.data?.createNetwork.status).toBe('SUCCEEDED');
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await system?.stop();
  });

  it("refuses another organisation's _entities on the network and quota subgraphs (NOT_FOUND, no data), whatever placements it names", async () => {
    const networks = await direct('network', stranger, ENTITIES, { r: representation() });
    expect(networks.errors?.map((e) => e.extensions?.code)).toContain('NOT_FOUND');
    expect(JSON.stringify(networks.data ?? {})).not.toContain('private');
    const quotas = await direct('quota', stranger, QUOTAS, { r: representation() });
    expect(quotas.errors?.map((e) => e.extensions?.code)).toContain('NOT_FOUND');
    expect(JSON.stringify(quotas.data ?? {})).not.toContain('"cores"');
    // the stranger's own project id with the victim's native id reaches nothing either
    const own = await gql<{ createProject: { projectId: string } }>(
      'mutation { createProject(input: {name: "decoy", placements: [{region: "sto", platform: "openstack"}]}) { projectId } }',
      {},
      stranger,
    );
    const decoy = own.data?.createProject.projectId as string;
    const aimed = await direct('network', stranger, ENTITIES, {
      r: [{ __typename: 'Project', id: decoy, placements: [{ region: 'sto', platform: 'openstack', nativeId: stoNative }] }],
    });
    expect(aimed.errors ?? []).toEqual([]);
    expect(aimed.data?._entities).toEqual([{ id: decoy, networks: [], accessRules: [] }]);
  });

  it("answers the owner, and a partner the project is shared with, from the controller's index (the representation's placements are not needed)", async () => {
    const mine = await direct('network', owner, ENTITIES, { r: [{ __typename: 'Project', id: projectId }] });
    expect((mine.data?._entities as { networks: { name: string }[] }[])[0]?.networks.map((n) => n.name)).toEqual(['private']);
    const shared = await gql<{ shareProject: { status: string } }>(
      'mutation($p: ID!) { shareProject(projectId: $p, partner: "initech-iso", level: "reader") { status } }',
      { p: projectId },
    );
    expect(shared.data?.shareProject.status).toBe('SUCCEEDED');
    const theirs = await direct('network', partner, ENTITIES, { r: [{ __typename: 'Project', id: projectId }] });
    expect((theirs.data?._entities as { networks: { name: string }[] }[])[0]?.networks.map((n) => n.name)).toEqual(['private']);
  });

  it("leaves the victim's objects as they were on Keystone and Neutron", async () => {
    const admin = keystoneAdmin(system.keystoneUrl('sto'));
    const [native] = await admin.projectsTagged(`ifd-project=${projectId}`);
    expect(native?.id).toBe(stoNative);
    const networks = await admin.neutron(system.neutronUrl('sto')).list('networks', stoNative);
    expect(networks.map((n) => (n as unknown as { name: string }).name)).toEqual(['private']);
  });
});
