/**
 * Sets `key` in a map kept to at most `max` entries: the oldest set (insertion order) goes first. Setting a
 * key again makes it the newest. For the per-replica caches and hints (verified tokens, known projects,
 * network regions).
 */
/** `items` in runs of at most `size`, in order (a batch split at a contract's or a vendor's bound). */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

/** `work`, or a rejection once `ms` have passed without its end (the work itself goes on). */
export function withinMs<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
