import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { sseEvents } from '../../runtime/sse.ts';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';

interface OpView {
  id: string;
  status: string;
  steps: { region: string; platform: string; action: string; status: string }[];
}
type Next = { data?: Record<string, OpView> | null; errors?: { message: string; extensions?: { code?: string } }[] };
const OP = '{ id status steps { region platform action status } }';
const ORDER = ['PENDING', 'RUNNING', 'SUCCEEDED'];

/** graphql-sse (distinct connections): the `next` events of one subscription, until `complete` or `until` says so. */
async function overSse(url: string, token: string | null, query: string, until: (e: Next) => boolean, signal?: AbortSignal) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { accept: 'text/event-stream', 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
    signal,
  });
  const events: Next[] = [];
  if (!res.ok || !res.body) return { status: res.status, events, body: await res.text() };
  for await (const { event, data } of sseEvents(res.body)) {
    if (event === 'complete') break;
    if (event !== 'next') continue;
    const next = JSON.parse(data) as Next;
    events.push(next);
    if (until(next)) break;
  }
  return { status: res.status, events, body: '' };
}

/** graphql-ws: the `next` messages of one subscription, until it completes or `until` says so. */
function overWs(client: Client, query: string, until: (e: Next) => boolean): Promise<{ events: Next[]; error?: unknown }> {
  return new Promise((resolve) => {
    const events: Next[] = [];
    const stop = client.subscribe(
      { query },
      {
        next: (v) => {
          events.push(v as Next);
          if (until(v as Next)) {
            stop();
            resolve({ events });
          }
        },
        error: (error) => resolve({ events, error }),
        complete: () => resolve({ events }),
      },
    );
  });
}

/** Each step's statuses and the operation's, in the order they came: only ever forward. */
function expectInOrder(events: OpView[]) {
  const op = events.map((e) => e.status).filter((s, i, all) => s !== all[i - 1]);
  expect(op.every((s, i) => i === 0 || ORDER.indexOf(s) > ORDER.indexOf(op[i - 1] as string))).toBe(true);
  expect(op.at(-1)).toBe('SUCCEEDED');
  const steps = new Map<string, string[]>();
  for (const e of events) {
    for (const s of e.steps) {
      const key = `${s.region}/${s.platform} ${s.action}`;
      const seen = steps.get(key) ?? [];
      if (seen.at(-1) !== s.status) seen.push(s.status);
      steps.set(key, seen);
    }
  }
  for (const [, seen] of steps) {
    expect(seen.every((s, i) => i === 0 || ORDER.indexOf(s) > ORDER.indexOf(seen[i - 1] as string))).toBe(true);
    expect(seen.at(-1)).toBe('SUCCEEDED');
  }
  return { op, steps: Object.fromEntries(steps) };
}

describe('subscriptions: live progress of operations through the gateway, over Server-Sent Events and WebSocket', () => {
  let system: SharedSystem;
  let acme: string;
  let globex: string;
  let wsUrl: string;
  const clients: Client[] = [];

  const ws = (token: string | null, on?: { closed?: (code: number) => void }) => {
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      retryAttempts: 0,
      on: { closed: (e) => on?.closed?.((e as { code: number }).code) },
    });
    clients.push(client);
    return client;
  };
  const create = async (name: string, token = acme) => {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, prefer: 'respond-async' },
      body: JSON.stringify({
        query: `mutation { createProject(input: {name: "${name}", placements: [{region: "sto", platform: "openstack"}, {region: "lla", platform: "okd"}]}) { id } }`,
      }),
    });
    return ((await res.json()) as { data: { createProject: { id: string } } }).data.createProject.id;
  };

  beforeAll(async () => {
    system = await sharedSystem();
    acme = await system.token('acme-subs', 'owner', 'alice');
    globex = await system.token('globex-subs', 'owner', 'gina');
    wsUrl = system.gatewayUrl.replace(/^http/, 'ws');
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await system?.stop();
  }, 60_000);

  it('over SSE: operationsUpdated shows every step of a two-platform create in order, and nothing to another organisation', async () => {
    let id = '';
    const mine = (e: Next) => e.data?.operationsUpdated?.id === id;
    const watching = overSse(
      system.gatewayUrl,
      acme,
      `subscription { operationsUpdated ${OP} }`,
      (e) => mine(e) && e.data?.operationsUpdated?.status === 'SUCCEEDED',
    );
    // globex listens all along; it stops once it has heard its own create end (so its silence about acme's means something)
    let globexOp = '';
    const theirs = overSse(
      system.gatewayUrl,
      globex,
      `subscription { operationsUpdated ${OP} }`,
      (e) => globexOp !== '' && e.data?.operationsUpdated?.id === globexOp && e.data.operationsUpdated.status === 'SUCCEEDED',
    );

    // an SSE subscription is listening once its response has started; give it a moment
    await new Promise((r) => setTimeout(r, 1000));
    id = await create('sse-watched');
    const { status, events } = await watching;
    expect(status).toBe(200);
    const seen = expectInOrder(events.filter(mine).map((e) => e.data?.operationsUpdated as OpView));
    // the controller saves each step before and after it runs: both placements were seen running
    expect(seen.op.slice(-2)).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(Object.keys(seen.steps).sort()).toEqual(['lla/okd project.create', 'sto/openstack project.create']);
    for (const steps of Object.values(seen.steps)) expect(steps).toContain('RUNNING');
    globexOp = await create('globex-own', globex);
    const heard = JSON.stringify((await theirs).events);
    expect(heard).toContain(globexOp);
    expect(heard).not.toContain(id);
  }, 60_000);

  it('over WebSocket: operationUpdated(id) gives the operation now, each change, and completes when it is done', async () => {
    const client = ws(acme);
    const opId = await create('ws-watched');
    const { events, error } = await overWs(client, `subscription { operationUpdated(id: "${opId}") ${OP} }`, () => false);
    expect(error).toBeUndefined();
    const views = events.map((e) => e.data?.operationUpdated as OpView);
    expect(views.every((v) => v.id === opId)).toBe(true);
    expectInOrder(views);
    // completed by the server after SUCCEEDED (overWs resolves on complete)
    expect(views.at(-1)?.status).toBe('SUCCEEDED');
  }, 60_000);

  it('over WebSocket: operationsUpdated sees every step of a create in order', async () => {
    const client = ws(acme);
    let id = '';
    const watching = overWs(
      client,
      `subscription { operationsUpdated ${OP} }`,
      (e) => e.data?.operationsUpdated?.id === id && e.data.operationsUpdated.status === 'SUCCEEDED',
    );
    await new Promise((r) => setTimeout(r, 300));
    id = await create('ws-all');
    const { events } = await watching;
    const seen = expectInOrder(events.filter((e) => e.data?.operationsUpdated?.id === id).map((e) => e.data?.operationsUpdated as OpView));
    expect(seen.op).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
  }, 60_000);

  it('over REST: GET /operations/{id} with Accept: text/event-stream streams the operation until it ends, and a problem to another organisation', async () => {
    const opId = await create('rest-watched');
    const stream = async (token: string) => {
      const res = await fetch(`${system.restUrl}/operations/${opId}`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
      });
      const text = await res.text();
      const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({
        event: m[1],
        data: JSON.parse(m[2] as string) as Record<string, unknown>,
      }));
      return { status: res.status, type: res.headers.get('content-type'), events };
    };
    const mine = await stream(acme);
    expect(mine.status).toBe(200);
    expect(mine.type).toBe('text/event-stream');
    expect(mine.events.every((e) => e.event === 'operation' && e.data.id === opId)).toBe(true);
    expectInOrder(mine.events.map((e) => e.data as unknown as OpView));
    const theirs = await stream(globex);
    expect(theirs.events).toEqual([{ event: 'problem', data: expect.objectContaining({ code: 'NOT_FOUND', status: 404 }) }]);
  }, 60_000);

  it('refuses what is not the caller’s: another organisation’s operation is NOT_FOUND, another organisation named is FORBIDDEN, no token is refused', async () => {
    const opId = await create('not-yours');
    const other = await overSse(system.gatewayUrl, globex, `subscription { operationUpdated(id: "${opId}") ${OP} }`, () => true);
    expect(other.events[0]?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(other.events[0]?.data ?? null).toBeNull();
    const named = await overSse(
      system.gatewayUrl,
      globex,
      `subscription { operationsUpdated(organization: "acme-subs") ${OP} }`,
      () => true,
    );
    expect(named.events[0]?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const anonymous = await overSse(system.gatewayUrl, null, `subscription { operationsUpdated ${OP} }`, () => true);
    expect(anonymous.status).toBe(401);
    let closed = 0;
    const refused = ws('Bearer not-a-token', { closed: (code) => (closed = code) });
    const result = await overWs(refused, `subscription { operationsUpdated ${OP} }`, () => true);
    expect(result.events).toEqual([]);
    expect(closed).toBe(4403);
  }, 60_000);
});
