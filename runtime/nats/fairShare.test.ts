import { describe, expect, it } from '@jest/globals';
import { createFairShare } from './fairShare.ts';

describe('fair share', () => {
  const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('takes waiting work round-robin between keys, never more than the limit at once', async () => {
    const share = createFairShare(2);
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const job = (key: string, n: number) => {
      const gate = deferred();
      gates.set(`${key}${n}`, gate);
      return share.run(key, new AbortController().signal, async () => {
        started.push(`${key}${n}`);
        await gate.promise;
      });
    };
    const all = [job('a', 1), job('a', 2), job('a', 3), job('a', 4), job('b', 1), job('a', 5)];
    await Promise.resolve();
    expect(started).toEqual(['a1', 'a2']);
    expect(share.waiting()).toEqual({ a: 3, b: 1 });
    gates.get('a1')?.resolve();
    await new Promise((r) => setImmediate(r));
    // a3 waited first, but b's turn comes next in the round
    expect(started).toEqual(['a1', 'a2', 'a3']);
    gates.get('a2')?.resolve();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['a1', 'a2', 'a3', 'b1']);
    for (const g of gates.values()) g.resolve();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      for (const g of gates.values()) g.resolve();
    }
    await Promise.all(all);
    expect(started.sort()).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'b1']);
  });

  it('lets a request whose caller gave up leave the queue (REGION_TIMEOUT) without taking a slot', async () => {
    const share = createFairShare(1);
    const gate = deferred();
    const first = share.run('a', new AbortController().signal, () => gate.promise);
    const controller = new AbortController();
    const waiting = share.run('b', controller.signal, async () => 'ran');
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'REGION_TIMEOUT' });
    gate.resolve();
    await first;
    await expect(share.run('c', new AbortController().signal, async () => 'next')).resolves.toBe('next');
  });
});
