// KeyValueCache over a Workers KV namespace.
//
// TTL: KV refuses an expirationTtl below 60 seconds, so shorter positive TTLs are raised to 60 s
// (an entry may outlive the asked TTL by up to a minute; callers use the cache for recomputable
// values only). A TTL of zero or less stores nothing and drops the old value, as MemoryCache does.
// KV is eventually consistent across locations (a write can take up to ~60 s to be seen elsewhere).
import type { KeyValueCache } from '../ports.ts';
import type { KVNamespace } from './bindings.ts';

/** KV's smallest accepted expirationTtl (seconds). */
export const KV_MIN_TTL_SECONDS = 60;

export class KvCache implements KeyValueCache {
  constructor(readonly kv: KVNamespace) {}

  get(key: string): Promise<string | null> {
    return this.kv.get(key, 'text');
  }

  async put(key: string, value: string, ttlSeconds?: number): Promise<void> {
    if (ttlSeconds === undefined) return this.kv.put(key, value);
    if (!(ttlSeconds > 0)) return this.kv.delete(key);
    const expirationTtl = Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlSeconds));
    return this.kv.put(key, value, { expirationTtl });
  }

  delete(key: string): Promise<void> {
    return this.kv.delete(key);
  }
}
