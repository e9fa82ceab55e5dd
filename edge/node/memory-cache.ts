// KeyValueCache in process memory (Node): an LRU bounded by entry count, with per-entry TTL.
// A Map keeps insertion order; re-inserting an entry on every hit makes that order least-recently-used first.
import type { KeyValueCache } from '../ports.ts';

export interface MemoryCacheOptions {
  /** Most entries kept; putting one more evicts the least recently used. Default 10_000. */
  maxEntries?: number;
  /** Clock in unix ms (injectable for tests). Default Date.now. */
  now?: () => number;
}

interface Entry {
  value: string;
  /** Unix ms after which the entry is gone; Infinity = no TTL. */
  expiresAt: number;
}

export class MemoryCache implements KeyValueCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: MemoryCacheOptions = {}) {
    const max = opts.maxEntries ?? 10_000;
    if (!Number.isInteger(max) || max < 1) throw new Error(`MemoryCache: maxEntries must be a positive integer, got ${max}`);
    this.maxEntries = max;
    this.now = opts.now ?? Date.now;
  }

  /** Entries held, expired ones not yet noticed included. */
  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<string | null> {
    const e = this.entries.get(key);
    if (!e) return null;
    this.entries.delete(key);
    if (this.now() >= e.expiresAt) return null;
    this.entries.set(key, e); // now the most recently used
    return e.value;
  }

  /** `ttlSeconds` omitted: kept until evicted; zero or negative: nothing is stored (and an old value is dropped). */
  async put(key: string, value: string, ttlSeconds?: number): Promise<void> {
    this.entries.delete(key);
    if (ttlSeconds !== undefined && !(ttlSeconds > 0)) return;
    const expiresAt = ttlSeconds === undefined ? Infinity : this.now() + ttlSeconds * 1000;
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
