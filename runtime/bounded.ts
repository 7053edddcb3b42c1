/**
 * Sets `key` in a map kept to at most `max` entries: the oldest set (insertion order) goes first. Setting a
 * key again makes it the newest. For the per-replica caches and hints (verified tokens, known projects,
 * network regions).
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
