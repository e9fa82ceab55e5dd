// Web Crypto helpers: constant-time compare, sha256, unbiased random strings; ids and API keys.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { randomString, sha256Hex, timingSafeEqual, timingSafeEqualBytes } from '../../edge/crypto.ts';
import { API_KEY_PATTERN, hashApiKey, idTime, newApiKey, newId, timeOrderedId } from '../../edge/ids.ts';

describe('timingSafeEqual', () => {
  it('is equality on strings and bytes', () => {
    expect(timingSafeEqual('admin-token-123', 'admin-token-123')).toBe(true);
    expect(timingSafeEqual('admin-token-123', 'admin-token-124')).toBe(false);
    expect(timingSafeEqual('admin-token-123', 'Admin-token-123')).toBe(false);
    expect(timingSafeEqual('abc', 'abcd')).toBe(false);
    expect(timingSafeEqual('abcd', 'abc')).toBe(false);
    expect(timingSafeEqual('', '')).toBe(true);
    expect(timingSafeEqual('', 'a')).toBe(false);
    expect(timingSafeEqual('a', '')).toBe(false);
    // A prefix repeated to the other's length is not equal (the loop wraps indexes of the shorter input).
    expect(timingSafeEqual('ab', 'abab')).toBe(false);
    expect(timingSafeEqual('\u0000', '')).toBe(false);
    expect(timingSafeEqual('é', 'e\u0301')).toBe(false); // compared as UTF-8 bytes, no normalisation
    expect(timingSafeEqualBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(timingSafeEqualBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
  });

  it('agrees with === on random pairs', () => {
    for (let i = 0; i < 500; i++) {
      const a = randomString(1 + (i % 5), 'ab');
      const b = randomString(1 + ((i * 7) % 5), 'ab');
      expect(timingSafeEqual(a, b)).toBe(a === b);
    }
  });

  it('does the same work wherever the first difference is (no early exit)', () => {
    // Count byte reads through a Proxy: a compare that stops at the first difference reads fewer.
    const reads = (a: Uint8Array, b: Uint8Array) => {
      let n = 0;
      const spy = (arr: Uint8Array) =>
        new Proxy(arr, {
          get(target, prop, receiver) {
            if (typeof prop === 'string' && /^\d+$/.test(prop)) n++;
            const v = Reflect.get(target, prop, target);
            return typeof v === 'function' ? v.bind(target) : (void receiver, v);
          },
        });
      timingSafeEqualBytes(spy(a), spy(b));
      return n;
    };
    const base = new Uint8Array(64).fill(7);
    const diffFirst = base.slice();
    diffFirst[0] = 8;
    const diffLast = base.slice();
    diffLast[63] = 8;
    const equal = reads(base, base.slice());
    expect(equal).toBe(128);
    expect(reads(base, diffFirst)).toBe(equal);
    expect(reads(base, diffLast)).toBe(equal);
  });
});

describe('sha256Hex', () => {
  it('matches node:crypto', async () => {
    for (const s of ['', 'abc', 'ck_live_ABC', 'é€𝄞']) {
      expect(await sha256Hex(s)).toBe(createHash('sha256').update(s, 'utf8').digest('hex'));
    }
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('randomString', () => {
  it('uses only the alphabet, roughly uniformly', () => {
    const s = randomString(62_000, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
    expect(s).toMatch(/^[A-Za-z0-9]+$/);
    const counts = new Map<string, number>();
    for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(800); // expected 1000, sd ~31
      expect(n).toBeLessThan(1200);
    }
  });
});

describe('ids', () => {
  it('have the prefix and a fixed-width time-ordered body', () => {
    expect(newId('tenant')).toMatch(/^ten_[0-9a-z]{21}$/);
    expect(newId('apiKey')).toMatch(/^key_/);
    expect(newId('dataset')).toMatch(/^ds_/);
    expect(newId('image')).toMatch(/^img_/);
    expect(newId('job')).toMatch(/^job_/);
    expect(newId('model')).toMatch(/^mdl_/);
    expect(newId('webhookEndpoint')).toMatch(/^whe_/);
    expect(newId('webhookMessage')).toMatch(/^msg_/);
    expect(newId('event')).toMatch(/^evt_/);
  });

  it('sort by creation time, also within one millisecond', () => {
    const made: string[] = [];
    for (let i = 0; i < 2000; i++) made.push(newId('job'));
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
    // The id carries the time it was made: between two readings of the clock taken around it.
    const before = Date.now();
    const id = newId('job');
    const after = Date.now();
    expect(idTime(id)).toBeGreaterThanOrEqual(before);
    expect(idTime(id)).toBeLessThanOrEqual(after);
  });

  it('a later clock reading sorts later, and a clock that goes back never makes a smaller id', () => {
    const a = timeOrderedId(Date.now() + 10_000);
    const b = timeOrderedId(Date.now() + 10_001);
    const c = timeOrderedId(Date.now() - 50_000); // clock went back
    expect(a < b).toBe(true);
    expect(b < c).toBe(true);
  });
});

describe('API keys', () => {
  it('look like ck_live_ + 32 base62 characters and are stored as their sha256', async () => {
    const keys = await Promise.all(Array.from({ length: 50 }, () => newApiKey()));
    for (const k of keys) {
      expect(k.key).toMatch(API_KEY_PATTERN);
      expect(k.key).toMatch(/^ck_live_[0-9A-Za-z]{32}$/);
      expect(k.hash).toBe(createHash('sha256').update(k.key).digest('hex'));
      expect(await hashApiKey(k.key)).toBe(k.hash);
      expect(k.prefix).toBe(k.key.slice(0, 12));
    }
    expect(new Set(keys.map((k) => k.key)).size).toBe(50);
  });
});
