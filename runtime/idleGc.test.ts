import { afterEach, describe, expect, it } from '@jest/globals';
import { collectWhenIdle } from './idleGc.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const holder = globalThis as { gc?: unknown };

describe('a collection once the process is quiet', () => {
  const original = holder.gc;
  afterEach(() => {
    holder.gc = original;
  });

  it('collects once after the start and once after each burst, never while requests come', async () => {
    const calls: unknown[] = [];
    holder.gc = (options: unknown) => calls.push(options);
    const idle = collectWhenIdle(60);
    try {
      await sleep(150);
      expect(calls).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
      // a burst: requests every 20 ms for 200 ms keep it from collecting
      for (let i = 0; i < 10; i++) {
        idle.busy();
        await sleep(20);
      }
      expect(calls).toHaveLength(1);
      await sleep(150);
      expect(calls).toHaveLength(2);
      // quiet with nothing new: no more collections
      await sleep(150);
      expect(calls).toHaveLength(2);
    } finally {
      idle.stop();
    }
  });
});
