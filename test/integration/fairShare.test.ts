import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Service } from '@nats-io/services';
import { pino } from 'pino';
import { z } from 'zod';
import { Header } from '../../schema/subjects.ts';
import { requestJson } from '../../runtime/nats/request.ts';
import { endpoint, startService } from '../../runtime/nats/service.ts';
import { startNatsServer, type TestNatsServer } from '../harness/natsServer.ts';

/**
 * One organisation floods a service (an adapter's vendor API stand-in: each request holds a slot for
 * 100 ms, long beside a message's way on a busy machine); another organisation's single request, sent
 * just after, is answered after a few of the flood's, not after all of them. The same flood against the
 * same service without the fair share shows the difference (its request waits behind the whole flood).
 */
describe('fair share of a service between organisations (real nats-server)', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  const services: Service[] = [];

  const start = async (subject: string, fairShare?: { maxConcurrent: number }) => {
    let running = 0;
    services.push(
      await startService(
        nc,
        {
          name: `fair-${subject.replace('.', '-')}`,
          version: '0.0.0',
          description: 'test',
          queue: subject.replace('.', '-'),
          log: pino({ level: 'silent' }),
          fairShare,
        },
        [
          endpoint({
            name: 'work',
            subject,
            request: z.object({ n: z.number() }),
            reply: z.object({ n: z.number() }),
            async handle(req) {
              // the requests that got a slot hold it until the test has sent everything (see positionOfOther)
              await gate;
              // without a fair share the vendor is hit by everything at once and serves it in arrival order
              running++;
              await new Promise((r) => setTimeout(r, fairShare ? 100 : 100 * running));
              running--;
              return req;
            },
          }),
        ],
      ),
    );
  };

  /** Opened once the service has every request of a round: until then no slot frees. */
  let gate: Promise<void> = Promise.resolve();

  /**
   * 30 requests of `flood`, then one of `other`, from the connection the service listens on. The slots the
   * first requests take are held until the service has all 31 (the connection's flush comes back after the
   * server delivered them to it), so the position of `other` among the answers depends on the fair share
   * alone, not on how fast a loaded machine's service takes the requests in: before, a request sent 5 ms
   * after the flood was once answered 6th on a loaded CI machine, the flood's answers coming meanwhile.
   */
  async function positionOfOther(subject: string): Promise<number> {
    let open = () => {};
    gate = new Promise<void>((resolve) => (open = resolve));
    const done: string[] = [];
    const send = (organization: string, n: number) =>
      requestJson(nc, subject, { n }, z.object({ n: z.number() }), {
        timeoutMs: 10_000,
        headers: { [Header.organization]: organization },
        target: { kind: 'service', name: 'test' },
      }).then(() => done.push(`${organization}-${n}`));
    const flood = Array.from({ length: 30 }, (_, n) => send('flood', n));
    const other = send('other', 0);
    await nc.flush();
    open();
    await Promise.all([...flood, other]);
    return done.indexOf('other-0') + 1;
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await start('fair.work', { maxConcurrent: 2 });
    await start('unfair.work');
  });
  afterAll(async () => {
    for (const s of services) await s.stop();
    await nc?.close();
    await nats?.stop();
  });

  it("answers another organisation's request within a round of the flood, not behind all of it", async () => {
    const fair = await positionOfOther('fair.work');
    const unfair = await positionOfOther('unfair.work');
    // eslint-disable-next-line no-console
    console.log(`fair share: the other organisation's request was answered ${fair}th with it, ${unfair}th without (of 31)`);
    // two of the flood's running, the flood's turn, then this one
    expect(fair).toBeLessThanOrEqual(4);
    expect(unfair).toBeGreaterThan(20);
  });
});
