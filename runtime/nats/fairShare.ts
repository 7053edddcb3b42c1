import { ErrorCode, InfrafedError } from '../../schema/errors.ts';

/**
 * At most `maxConcurrent` pieces of work at a time, shared fairly between keys (organisations): waiting
 * work is taken round-robin, one per key in turn, so one organisation that floods a region waits behind
 * itself, not in front of everyone else. Work whose caller gave up (its signal aborted) leaves the queue.
 */
export function createFairShare(maxConcurrent: number) {
  const queues = new Map<string, { start: () => void; signal: AbortSignal }[]>();
  /** Keys with waiting work, in turn order. */
  const turns: string[] = [];
  let running = 0;

  function pump(): void {
    while (running < maxConcurrent && turns.length > 0) {
      const key = turns.shift() as string;
      const queue = queues.get(key) ?? [];
      const next = queue.shift();
      if (queue.length > 0) turns.push(key);
      else queues.delete(key);
      if (!next || next.signal.aborted) continue;
      running++;
      next.start();
    }
  }

  return {
    async run<T>(key: string, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
      if (running >= maxConcurrent || turns.length > 0) {
        await new Promise<void>((resolve, reject) => {
          const entry = { start: resolve, signal };
          const queue = queues.get(key);
          if (queue) queue.push(entry);
          else {
            queues.set(key, [entry]);
            turns.push(key);
          }
          signal.addEventListener(
            'abort',
            () => reject(new InfrafedError(ErrorCode.REGION_TIMEOUT, 'the request waited past its deadline for its share of the region')),
            { once: true },
          );
        });
      } else running++;
      try {
        return await work();
      } finally {
        running--;
        pump();
      }
    },
    /** Work waiting, per key (for metrics and tests). */
    waiting: () => Object.fromEntries([...queues].map(([k, q]) => [k, q.length])),
  };
}
