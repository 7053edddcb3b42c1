import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedSystem, type SharedSystem } from '../harness/sharedSystem.ts';
import { graphqlClient } from '../harness/graphql.ts';

/**
 * Webhooks end to end, with a receiver in the test (loopback: this system allows private targets) that
 * checks every signature as a Standard Webhooks library does, answers 500 to the first two attempts of
 * an operation's event, and 500 always on a path of its own. This system retries after 1, 1 and 2 seconds
 * (`controller.webhooks.retrySeconds`; a deployment's default spans almost 3 hours).
 */
interface Received {
  path: string;
  id: string;
  type: string;
  organization: string;
  signed: boolean;
}
interface Delivery {
  eventId: string;
  eventType: string;
  state: string;
  attempts: { httpStatus: number | null; outcome: string }[];
}
const DELIVERY = 'eventId eventType state attempts { httpStatus outcome }';

describe('webhooks: signed deliveries, retries after 500, the delivery log, a test delivery, organisations apart', () => {
  let system: SharedSystem;
  let owner: string;
  let other: string;
  let receiver: Server;
  let base: string;
  const secrets = new Map<string, string>();
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const gql = graphqlClient(
    () => system.gatewayUrl,
    () => owner,
  );

  /** Verifies as the Standard Webhooks libraries do: HMAC-SHA256 over id.timestamp.body, the key after whsec_. */
  const verify = (secret: string | undefined, id: string, timestamp: string, body: string, header: string) => {
    if (!secret) return false;
    const expected = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
      .update(`${id}.${timestamp}.${body}`)
      .digest('base64');
    return header.split(' ').some((s) => {
      const [version, sig] = s.split(',');
      return (
        version === 'v1' && sig !== undefined && sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected))
      );
    });
  };

  const deliveries = async (webhookId: string, token = owner) =>
    (
      await gql<{ webhookDeliveries: { deliveries: Delivery[] } }>(
        `query($id: ID!) { webhookDeliveries(webhookId: $id) { deliveries { ${DELIVERY} } } }`,
        { id: webhookId },
        token,
      )
    ).data?.webhookDeliveries.deliveries ?? [];
  const register = async (path: string, eventTypes: string[], token = owner) => {
    const res = await gql<{ createWebhook: { webhook: { id: string }; secret: string } }>(
      'mutation($i: WebhookInput!) { createWebhook(input: $i) { webhook { id } secret } }',
      { i: { url: `${base}${path}`, eventTypes } },
      token,
    );
    expect(res.errors).toBeUndefined();
    const created = res.data?.createWebhook as { webhook: { id: string }; secret: string };
    secrets.set(path, created.secret);
    return created.webhook.id;
  };
  const until = async <T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> => {
    for (let i = 0; i < 60; i++) {
      const value = await read();
      if (done(value)) return value;
      await sleep(250);
    }
    throw new Error(`${what}: not within 15 s`);
  };

  beforeAll(async () => {
    system = await sharedSystem();
    owner = await system.token('hooks-wh', 'owner', 'hooks-owner');
    other = await system.token('hooks-other', 'owner', 'hooks-other-owner');
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id']);
        const event = JSON.parse(body) as { type: string; infrafedorganization: string };
        const path = req.url ?? '';
        received.push({
          path,
          id,
          type: event.type,
          organization: event.infrafedorganization,
          signed: verify(secrets.get(path), id, String(req.headers['webhook-timestamp']), body, String(req.headers['webhook-signature'])),
        });
        const n = (seen.get(`${path} ${id}`) ?? 0) + 1;
        seen.set(`${path} ${id}`, n);
        const fail = path === '/always-500' || (path === '/hooks' && event.type === 'io.infrafed.operation.succeeded' && n <= 2);
        res.writeHead(fail ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  }, 180_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    await system?.stop();
  }, 60_000);

  it('a test delivery reaches the receiver at once, signed, and is in the log', async () => {
    const id = await register('/hooks', ['operation.*', 'invitation.*']);
    const test = await gql<{ testWebhook: Delivery }>(`mutation($id: ID!) { testWebhook(id: $id) { ${DELIVERY} } }`, { id });
    expect(test.data?.testWebhook).toMatchObject({
      eventType: 'io.infrafed.webhook.test',
      state: 'delivered',
      attempts: [{ httpStatus: 204, outcome: 'succeeded' }],
    });
    expect(received.filter((r) => r.type === 'io.infrafed.webhook.test')).toEqual([
      { path: '/hooks', id: test.data?.testWebhook.eventId, type: 'io.infrafed.webhook.test', organization: 'hooks-wh', signed: true },
    ]);
    expect((await deliveries(id)).map((d) => d.eventType)).toEqual(['io.infrafed.webhook.test']);
  });

  it("retries an operation's event after the receiver answers 500, and logs each attempt", async () => {
    const [hook] = (await gql<{ webhooks: { id: string; url: string }[] }>('{ webhooks { id url } }')).data?.webhooks ?? [];
    const created = await gql<{ createProject: { status: string; id: string } }>(
      'mutation { createProject(input: {name: "hooked", placements: [{region: "lla", platform: "okd"}]}) { status id } }',
    );
    expect(created.data?.createProject.status).toBe('SUCCEEDED');
    const log = await until(
      () => deliveries(hook?.id as string),
      (ds) => ds.some((d) => d.eventType === 'io.infrafed.operation.succeeded' && d.state === 'delivered'),
      'the operation event delivered',
    );
    const delivery = log.find((d) => d.eventType === 'io.infrafed.operation.succeeded') as Delivery;
    expect(delivery.attempts).toEqual([
      { httpStatus: 500, outcome: 'failed' },
      { httpStatus: 500, outcome: 'failed' },
      { httpStatus: 204, outcome: 'succeeded' },
    ]);
    // the receiver saw the same event three times, each signed; the id is the event's
    const attempts = received.filter((r) => r.id === delivery.eventId);
    expect(attempts.map((a) => [a.path, a.signed])).toEqual([
      ['/hooks', true],
      ['/hooks', true],
      ['/hooks', true],
    ]);
  }, 60_000);

  it('gives up after the last retry: the log says failed, with every attempt; a filter keeps other events out', async () => {
    const always = await register('/always-500', ['invitation.created']);
    const invited = await gql('mutation { createInvitation(input: {role: "reader", email: "x@hooks.example"}) { secret } }');
    expect(invited.errors).toBeUndefined();
    const log = await until(
      () => deliveries(always),
      (ds) => ds.some((d) => d.state === 'failed'),
      'the invitation event given up',
    );
    expect(log).toEqual([
      {
        eventId: expect.any(String),
        eventType: 'io.infrafed.invitation.created',
        state: 'failed',
        attempts: [
          { httpStatus: 500, outcome: 'failed' },
          { httpStatus: 500, outcome: 'failed' },
          { httpStatus: 500, outcome: 'failed' },
          { httpStatus: 500, outcome: 'failed' },
        ],
      },
    ]);
    // the operations' hook took the invitation too (invitation.*), delivered at once
    const hooks = (await gql<{ webhooks: { id: string; url: string }[] }>('{ webhooks { id url } }')).data?.webhooks ?? [];
    const main = hooks.find((h) => h.url.endsWith('/hooks'))?.id as string;
    await until(
      () => deliveries(main),
      (ds) => ds.some((d) => d.eventType === 'io.infrafed.invitation.created' && d.state === 'delivered'),
      'the invitation event delivered to the other hook',
    );
    // nothing the filter does not name reached /always-500
    expect(new Set(received.filter((r) => r.path === '/always-500').map((r) => r.type))).toEqual(
      new Set(['io.infrafed.invitation.created']),
    );
  }, 60_000);

  it("keeps organisations apart: another organisation's hook gets only its own events, and cannot reach this one's", async () => {
    const theirs = await register('/other', [], other);
    const mine = (await gql<{ webhooks: { id: string }[] }>('{ webhooks { id } }')).data?.webhooks.map((w) => w.id) ?? [];
    // this organisation acts again
    await gql('mutation { createInvitation(input: {role: "reader", email: "y@hooks.example"}) { secret } }');
    const own = await gql('mutation { createInvitation(input: {role: "reader", email: "z@hooks-other.example"}) { secret } }', {}, other);
    expect(own.errors).toBeUndefined();
    await until(
      async () => received.filter((r) => r.path === '/other'),
      (rs) => rs.length > 0,
      "the other organisation's own event",
    );
    await sleep(1_000);
    expect(received.filter((r) => r.path === '/other').every((r) => r.organization === 'hooks-other' && r.signed)).toBe(true);
    expect(received.filter((r) => r.path !== '/other').every((r) => r.organization === 'hooks-wh')).toBe(true);
    // the other organisation sees none of this one's hooks and can do nothing with them
    expect((await gql<{ webhooks: { id: string }[] }>('{ webhooks { id } }', {}, other)).data?.webhooks.map((w) => w.id)).toEqual([theirs]);
    for (const q of ['mutation($id: ID!) { testWebhook(id: $id) { state } }', 'mutation($id: ID!) { deleteWebhook(id: $id) { id } }']) {
      const res = await gql(q, { id: mine[0] }, other);
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const log = await gql('query($id: ID!) { webhookDeliveries(webhookId: $id) { deliveries { eventId } } }', { id: mine[0] }, other);
    expect(log.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // a reader of this organisation may not manage its webhooks
    const reader = await system.token('hooks-wh', 'reader', 'hooks-reader');
    expect((await gql('{ webhooks { id } }', {}, reader)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // not https: refused with the field named (this system allows plain http on loopback, nothing else)
    const ftp = await gql('mutation { createWebhook(input: {url: "ftp://127.0.0.1/x"}) { secret } }');
    expect(ftp.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ path: 'input.url' }] });
  }, 60_000);
});
