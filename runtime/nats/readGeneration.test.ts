import { describe, expect, it } from '@jest/globals';
import { coalescedReads } from './readGeneration.ts';

/** A read whose answer the test gives: `answer(n)` settles the oldest read still out. */
function controlledReads() {
  const out: { answer: (generation: number | null) => void; fail: (error: Error) => void }[] = [];
  let sent = 0;
  const read = () =>
    new Promise<number | null>((resolve, reject) => {
      sent++;
      out.push({ answer: resolve, fail: reject });
    });
  const settle = async (how: (r: (typeof out)[number]) => void) => {
    const first = out.shift();
    if (!first) throw new Error('no read is out');
    how(first);
    // the next read goes out once the answer has been taken
    await new Promise((r) => setImmediate(r));
  };
  return {
    read,
    sent: () => sent,
    answer: (generation: number | null) => settle((r) => r.answer(generation)),
    fail: (error: Error) => settle((r) => r.fail(error)),
  };
}

describe('coalesced generation reads', () => {
  it('a caller who asks while a read is out is answered by the next read, never by the one already out', async () => {
    const reads = controlledReads();
    const current = coalescedReads(reads.read);
    const first = current();
    expect(reads.sent()).toBe(1);
    // a write moves the generation from 7 to 8 and is answered; then these callers ask
    const second = current();
    const third = current();
    expect(reads.sent()).toBe(1);
    await reads.answer(7); // the read already out was answered before the write
    expect(await first).toBe(7);
    expect(reads.sent()).toBe(2); // one read, sent after both asked
    await reads.answer(8);
    expect(await second).toBe(8);
    expect(await third).toBe(8);
  });

  it('sends a read of its own for a caller who asks when none is out, and goes on after a failed read', async () => {
    const reads = controlledReads();
    const current = coalescedReads(reads.read);
    const a = current();
    const b = current();
    await reads.fail(new Error('JetStream did not answer'));
    await expect(a).rejects.toThrow('JetStream did not answer');
    await reads.answer(3);
    expect(await b).toBe(3);
    const c = current();
    expect(reads.sent()).toBe(3);
    await reads.answer(4);
    expect(await c).toBe(4);
  });

  it('keeps at most two reads out or waiting however many callers ask', async () => {
    const reads = controlledReads();
    const current = coalescedReads(reads.read);
    const answers: Promise<number | null>[] = [];
    for (let i = 0; i < 50; i++) answers.push(current());
    await reads.answer(1);
    for (let i = 0; i < 50; i++) answers.push(current());
    await reads.answer(2);
    await reads.answer(3);
    expect(reads.sent()).toBe(3);
    const got = await Promise.all(answers);
    expect(got.slice(0, 1)).toEqual([1]);
    expect(new Set(got.slice(1, 50))).toEqual(new Set([2]));
    expect(new Set(got.slice(50))).toEqual(new Set([3]));
  });
});
