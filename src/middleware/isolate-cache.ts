/** What a lookup by secret hash found, and when the grace of a previous (rotated) secret ends. */
export interface Found<T> {
  value: T | null;
  graceEndsAt: number | null;
}

/**
 * An isolate's short memory of lookups by secret hash (tenant keys, admin tokens): an entry is
 * fresh for `ttlMs` (an entry from a clock that went back is stale), and the whole map is dropped
 * past `max` entries rather than growing without bound. `clear` is for the isolate that made a change.
 */
export function isolateCache<T>(ttlMs: number, max = 10_000) {
  const entries = new Map<string, Found<T> & { at: number }>();
  return {
    async get(hash: string, now: number, load: () => Promise<{ value: T | null; graceEndsAt: string | null }>): Promise<Found<T>> {
      const entry = entries.get(hash);
      if (entry && now - entry.at < ttlMs && now >= entry.at) return entry;
      const found = await load();
      const fresh = { value: found.value, graceEndsAt: found.graceEndsAt ? Date.parse(found.graceEndsAt) : null, at: now };
      if (entries.size > max) entries.clear();
      entries.set(hash, fresh);
      return fresh;
    },
    clear(): void {
      entries.clear();
    },
  };
}
