/**
 * One full garbage collection once a process has been quiet for `quietMs` after some work (and once after
 * its start): V8 runs its major GC by allocation, not by time, so the garbage a burst leaves in the old
 * generation stays committed, and counted in RSS, until the next burst. Needs `gc` (node --expose-gc);
 * without it this does nothing. The process calls `busy()` at each request: two assignments, no timer.
 */
export function collectWhenIdle(quietMs: number): { busy(): void; stop(): void } {
  const gc = (globalThis as { gc?: (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void }).gc;
  let lastBusy = performance.now();
  // the start's own garbage (module loading, the schema) goes at the first quiet check too
  let dirty = true;
  const timer = gc
    ? setInterval(
        () => {
          if (!dirty || performance.now() - lastBusy < quietMs) return;
          dirty = false;
          // V8's "all available garbage" collection: the one that also gives the freed pages back to the system
          gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
        },
        // checked every 5 s at most: the collection comes within 5 s of the quiet time
        Math.max(100, Math.min(5_000, quietMs / 2)),
      )
    : undefined;
  timer?.unref();
  return {
    busy() {
      lastBusy = performance.now();
      dirty = true;
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
