/**
 * Merges identical work in flight: while a call for a key runs, another call for the same key gets the
 * same promise instead of starting its own; once it settles the key is free again (nothing is cached).
 * The key must hold everything the answer depends on, the caller's credentials and organisation
 * included, so that two organisations never share a result.
 */
export function createInFlight<V>() {
  const running = new Map<string, Promise<V>>();
  let merged = 0;
  return {
    run(key: string, work: () => Promise<V>): Promise<V> {
      const same = running.get(key);
      if (same) {
        merged++;
        return same;
      }
      const started = work().finally(() => {
        if (running.get(key) === started) running.delete(key);
      });
      running.set(key, started);
      return started;
    },
    /**
     * After a write: work already running is not joined any more (its callers still get its answer), so a
     * read that starts after the write never gets an answer that began before it.
     */
    forget(): void {
      running.clear();
    },
    /** Calls answered by another caller's work so far. */
    get merged() {
      return merged;
    },
    get size() {
      return running.size;
    },
  };
}
