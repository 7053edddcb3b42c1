import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { z } from 'zod';
import { InfrafedError } from '../../schema/errors.ts';
import { fanOut, requestJson } from '../../runtime/nats/request.ts';
import { endpoint, startService } from '../../runtime/nats/service.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';

const region = (name: string) => ({ kind: 'region' as const, region: name, platform: 'openstack' });
const echoReply = z.object({ echo: z.string() });

async function caught(p: Promise<unknown>): Promise<InfrafedError> {
  try {
    await p;
  } catch (error) {
    return error as InfrafedError;
  }
  throw new Error('expected a rejection');
}

describe('NATS request and fan-out helpers against a real nats-server', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let stopService: () => Promise<void>;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    const service = await startService(
      nc,
      { name: 'test-svc', version: '0.0.1', description: 't', queue: 'q-test', log: pino({ level: 'silent' }) },
      [
        endpoint({
          name: 'echo',
          subject: 'test.sto.echo',
          request: z.object({ text: z.string().min(1) }),
          reply: echoReply,
          handle: async (req) => ({ echo: req.text }),
        }),
        endpoint({
          name: 'refuse',
          subject: 'test.sto.refuse',
          request: z.object({}),
          reply: echoReply,
          handle: async () => {
            throw new InfrafedError('CONFLICT', 'already there', { name: 'x' });
          },
        }),
        endpoint({
          name: 'broken',
          subject: 'test.sto.broken',
          request: z.object({}),
          reply: echoReply,
          handle: async () => ({ echo: 42 }) as never,
        }),
        endpoint({
          name: 'slow',
          subject: 'test.sto.slow',
          request: z.object({}),
          reply: echoReply,
          // honours its deadline like real handlers do, so nothing is left running after the test
          handle: (_req, { signal }) =>
            new Promise((resolve, reject) => {
              const timer = setTimeout(() => resolve({ echo: 'late' }), 1_500);
              signal.addEventListener('abort', () => {
                clearTimeout(timer);
                reject(signal.reason as Error);
              });
            }),
        }),
      ],
    );
    stopService = async () => {
      await service.stop();
    };
  });

  afterAll(async () => {
    await stopService?.();
    await nc.close();
    await server.stop();
  });

  it('returns the parsed reply', async () => {
    await expect(requestJson(nc, 'test.sto.echo', { text: 'hi' }, echoReply, { timeoutMs: 1_000, target: region('sto') })).resolves.toEqual(
      { echo: 'hi' },
    );
  });

  it('fails at once with REGION_UNAVAILABLE when nobody serves the subject', async () => {
    const started = Date.now();
    const e = await caught(requestJson(nc, 'test.lla.echo', { text: 'hi' }, echoReply, { timeoutMs: 5_000, target: region('lla') }));
    expect(e.code).toBe('REGION_UNAVAILABLE');
    expect(e.extensions).toMatchObject({ region: 'lla', platform: 'openstack' });
    expect(Date.now() - started).toBeLessThan(2_000); // no-responders, not the 5 s deadline
  });

  it('fails with REGION_TIMEOUT when the answer does not come in time', async () => {
    const e = await caught(requestJson(nc, 'test.sto.slow', {}, echoReply, { timeoutMs: 200, target: region('sto') }));
    expect(e.code).toBe('REGION_TIMEOUT');
  });

  it('shrinks the timeout to an inherited deadline', async () => {
    const e = await caught(
      requestJson(nc, 'test.sto.slow', {}, echoReply, { timeoutMs: 10_000, deadline: Date.now() + 150, target: region('sto') }),
    );
    expect(e.code).toBe('REGION_TIMEOUT');
  });

  it('stops waiting when the caller cancels', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller went away')), 100);
    const e = (await caught(
      requestJson(nc, 'test.sto.slow', {}, echoReply, { timeoutMs: 5_000, signal: controller.signal, target: region('sto') }),
    )) as unknown as Error;
    expect(e.message).toBe('caller went away');
  });

  it('carries a service error in the services-API headers with its code and extensions', async () => {
    const e = await caught(requestJson(nc, 'test.sto.refuse', {}, echoReply, { timeoutMs: 1_000, target: region('sto') }));
    expect(e).toBeInstanceOf(InfrafedError);
    expect(e.code).toBe('CONFLICT');
    expect(e.message).toBe('already there');
    expect(e.extensions).toMatchObject({ name: 'x', region: 'sto' });
  });

  it('answers a request that breaks the contract with BAD_REQUEST listing the problems', async () => {
    const e = await caught(requestJson(nc, 'test.sto.echo', { text: '' }, echoReply, { timeoutMs: 1_000, target: region('sto') }));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.extensions.problems).toEqual([expect.objectContaining({ path: 'text' })]);
  });

  it('masks a handler reply that breaks its own contract as INTERNAL', async () => {
    const e = await caught(requestJson(nc, 'test.sto.broken', {}, echoReply, { timeoutMs: 1_000, target: region('sto') }));
    expect(e.code).toBe('INTERNAL');
  });

  it('treats a reply outside the expected contract as UPSTREAM_ERROR', async () => {
    const e = await caught(
      requestJson(nc, 'test.sto.echo', { text: 'hi' }, z.object({ other: z.number() }), { timeoutMs: 1_000, target: region('sto') }),
    );
    expect(e.code).toBe('UPSTREAM_ERROR');
  });

  it('fans out in parallel and returns the answers plus one error per missing region', async () => {
    const started = Date.now();
    const result = await fanOut(['sto', 'osl', 'lla'], (r) =>
      requestJson(nc, `test.${r}.echo`, { text: r }, echoReply, { timeoutMs: 3_000, target: region(r) }),
    );
    expect(result.ok.map((o) => o.value.echo)).toEqual(['sto']);
    expect(result.failed.map((f) => [f.target, f.error.code])).toEqual([
      ['osl', 'REGION_UNAVAILABLE'],
      ['lla', 'REGION_UNAVAILABLE'],
    ]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('is discoverable through the NATS services API', async () => {
    const msg = await nc.request('$SRV.INFO.test-svc', '', { timeout: 1_000 });
    const info = msg.json<{ name: string; endpoints: { name: string; subject: string; queue_group: string }[] }>();
    expect(info.name).toBe('test-svc');
    expect(info.endpoints.map((e) => e.subject)).toContain('test.sto.echo');
    expect(info.endpoints.every((e) => e.queue_group === 'q-test')).toBe(true);
  });
});
