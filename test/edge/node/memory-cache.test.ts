import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../../../edge/node/memory-cache.ts';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('MemoryCache', () => {
  it('returns what was put, null for unknown keys, and forgets deleted keys', async () => {
    const c = new MemoryCache();
    expect(await c.get('a')).toBeNull();
    await c.put('a', 'one');
    await c.put('b', '');
    expect(await c.get('a')).toBe('one');
    expect(await c.get('b')).toBe(''); // an empty string is a hit, not a miss
    await c.delete('a');
    await c.delete('never-there');
    expect(await c.get('a')).toBeNull();
    expect(await c.get('b')).toBe('');
  });

  it('expires an entry exactly at its TTL (injected clock)', async () => {
    const t = clock();
    const c = new MemoryCache({ now: t.now });
    await c.put('k', 'v', 60);
    await c.put('forever', 'v');
    t.advance(59_999);
    expect(await c.get('k')).toBe('v');
    t.advance(1);
    expect(await c.get('k')).toBeNull();
    expect(c.size).toBe(1); // the expired entry was dropped on the miss
    t.advance(10 * 365 * 86_400_000);
    expect(await c.get('forever')).toBe('v');
  });

  it('a hit does not extend the TTL', async () => {
    const t = clock();
    const c = new MemoryCache({ now: t.now });
    await c.put('k', 'v', 10);
    t.advance(9_000);
    expect(await c.get('k')).toBe('v');
    t.advance(1_000);
    expect(await c.get('k')).toBeNull();
  });

  it('overwriting replaces the value and the TTL', async () => {
    const t = clock();
    const c = new MemoryCache({ now: t.now });
    await c.put('k', 'old', 10);
    t.advance(9_000);
    await c.put('k', 'new', 10);
    expect(c.size).toBe(1);
    t.advance(5_000); // past the first TTL, within the second
    expect(await c.get('k')).toBe('new');
    await c.put('k', 'no-ttl');
    t.advance(60_000);
    expect(await c.get('k')).toBe('no-ttl');
    await c.put('k', 'gone', 0); // a non-positive TTL stores nothing and drops the old value
    expect(await c.get('k')).toBeNull();
  });

  it('evicts the least recently used entry; gets and overwrites count as use', async () => {
    const c = new MemoryCache({ maxEntries: 3 });
    await c.put('a', '1');
    await c.put('b', '2');
    await c.put('c', '3');
    expect(await c.get('a')).toBe('1'); // order of use now: b, c, a
    await c.put('d', '4'); // evicts b
    expect(c.size).toBe(3);
    expect(await c.get('b')).toBeNull();
    await c.put('c', '3!'); // order: a, d, c
    await c.put('e', '5'); // evicts a
    expect(await c.get('a')).toBeNull();
    expect(await c.get('c')).toBe('3!');
    expect(await c.get('d')).toBe('4');
    expect(await c.get('e')).toBe('5');
    // a miss does not count as use, and a deleted entry frees its slot
    await c.delete('d');
    await c.put('f', '6');
    expect(c.size).toBe(3);
    expect(await c.get('c')).toBe('3!');
    expect(await c.get('e')).toBe('5');
    expect(await c.get('f')).toBe('6');
  });

  it('holds at most maxEntries (default 10 000)', async () => {
    const c = new MemoryCache();
    for (let i = 0; i < 10_050; i++) await c.put(`k${i}`, String(i));
    expect(c.size).toBe(10_000);
    expect(await c.get('k49')).toBeNull();
    expect(await c.get('k50')).toBe('50');
    expect(await c.get('k10049')).toBe('10049');
    expect(() => new MemoryCache({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
