import { describe, expect, it } from '@jest/globals';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { createCircuitBreaker } from './circuitBreaker.ts';
import { createInFlight } from '../inFlight.ts';

const sto = { region: 'sto', platform: 'openstack' as const };
const osl = { region: 'osl', platform: 'openstack' as const };
const timeout = () => new InfrafedError(ErrorCode.REGION_TIMEOUT, 'region sto (openstack) did not answer in time', sto);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('circuit breaker per placement', () => {
  it('after a timeout fails at once for that placement only, and closes when the probe answers', async () => {
    let healthy = false;
    const changes: string[] = [];
    const breaker = createCircuitBreaker({
      probeMs: 20,
      minWaitMs: 10,
      probe: async () => {
        if (!healthy) throw timeout();
      },
      onChange: (p, open) => changes.push(`${p.region}:${open ? 'open' : 'closed'}`),
    });
    try {
      await expect(breaker.call(sto, async () => (await sleep(15), Promise.reject(timeout())))).rejects.toMatchObject({
        code: 'REGION_TIMEOUT',
      });
      expect(breaker.isOpen(sto)).toBe(true);
      let called = false;
      const started = Date.now();
      const refused = await breaker
        .call(sto, async () => {
          called = true;
          return 1;
        })
        .catch((e: unknown) => e);
      expect(called).toBe(false);
      expect(Date.now() - started).toBeLessThan(10);
      expect(refused).toMatchObject({ code: 'REGION_TIMEOUT', extensions: { region: 'sto', platform: 'openstack', circuit: 'open' } });
      // another placement is not affected
      await expect(breaker.call(osl, async () => 'osl data')).resolves.toBe('osl data');
      await sleep(80); // probes keep failing: still open
      expect(breaker.isOpen(sto)).toBe(true);
      healthy = true;
      for (let i = 0; i < 50 && breaker.isOpen(sto); i++) await sleep(10);
      await expect(breaker.call(sto, async () => 'sto data')).resolves.toBe('sto data');
      expect(changes).toEqual(['sto:open', 'sto:closed']);
    } finally {
      breaker.stop();
    }
  });

  it('does not open on a timeout that did not wait (no time was left) nor on other errors', async () => {
    const breaker = createCircuitBreaker({ probe: async () => undefined, minWaitMs: 50 });
    await expect(breaker.call(sto, async () => Promise.reject(timeout()))).rejects.toMatchObject({ code: 'REGION_TIMEOUT' });
    await expect(
      breaker.call(sto, async () => Promise.reject(new InfrafedError(ErrorCode.REGION_UNAVAILABLE, 'no adapter', sto))),
    ).rejects.toMatchObject({ code: 'REGION_UNAVAILABLE' });
    expect(breaker.isOpen(sto)).toBe(false);
    breaker.stop();
  });
});

/** Work that answers how many times it was started, after 10 ms. */
function counting() {
  let runs = 0;
  return async () => {
    const n = ++runs;
    await sleep(10);
    return n;
  };
}

describe('in-flight merging', () => {
  it('runs identical work once while it is in flight, and again after it settled', async () => {
    const merge = createInFlight<number>();
    const work = counting();
    const [a, b, c] = await Promise.all([merge.run('org-a|q', work), merge.run('org-a|q', work), merge.run('org-b|q', work)]);
    expect([a, b]).toEqual([1, 1]);
    expect(c).toBe(2);
    expect(merge.merged).toBe(1);
    expect(merge.size).toBe(0);
    expect(await merge.run('org-a|q', work)).toBe(3);
  });

  it('after forget() (a write) a new call starts its own work; the earlier callers keep theirs', async () => {
    const merge = createInFlight<number>();
    const work = counting();
    const before = merge.run('k', work);
    merge.forget();
    const after = merge.run('k', work);
    const again = merge.run('k', work);
    expect(await Promise.all([before, after, again])).toEqual([1, 2, 2]);
    expect(merge.size).toBe(0);
  });

  it('gives every merged caller the same failure, and frees the key', async () => {
    const merge = createInFlight<number>();
    const failing = () => sleep(5).then(() => Promise.reject(new Error('boom')));
    const results = await Promise.allSettled([merge.run('k', failing), merge.run('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(merge.size).toBe(0);
  });
});
