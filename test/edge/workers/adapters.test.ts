// The Workers adapters on Node: Aws4fetchBlobStore against s3rver (real S3 protocol), KvCache against a
// fake KV namespace (TTL clamp), D1SqlDatabase against a small D1-shaped fake over better-sqlite3.
//
// Why two fakes remain here (and where the real bindings are tested):
// - KvCache and D1SqlDatabase run against workerd's local KV and D1 in every workerd test that goes through the
//   Workers build (test/edge/workers/workerd*.test.ts, d1-bind-limit.test.ts, hostile-input.test.ts,
//   isolation-matrix.test.ts): every route, batch and cache lookup of the edge there uses the real bindings.
// - What these two unit tests add cannot be observed from outside workerd: the exact `expirationTtl` the
//   adapter hands to KV (KV refuses < 60 s with a 400; the fake refuses the same way and records the argument),
//   and the adapter's mapping of D1's result shape (results, meta.changes, batch) onto the SqlDatabase port in
//   isolation. Each fake is named as such and mirrors only that documented contract.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aws4fetchBlobStore } from '../../../shared/storage/aws4fetch-blob-store.ts';
import type { D1Database, D1PreparedStatement, D1Result, D1Value, KVNamespace } from '../../../edge/workers/bindings.ts';
import { D1SqlDatabase } from '../../../edge/workers/d1-database.ts';
import { KV_MIN_TTL_SECONDS, KvCache } from '../../../edge/workers/kv-cache.ts';
import { type RunningS3rver, startS3rver } from '../../helpers/s3rver.ts';

describe('Aws4fetchBlobStore (s3rver)', () => {
  let s3: RunningS3rver;
  let store: Aws4fetchBlobStore;
  beforeAll(async () => {
    s3 = await startS3rver();
    store = new Aws4fetchBlobStore({ endpoint: s3.endpoint, bucket: s3.bucket, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  });
  afterAll(() => s3?.stop());

  it('put / head / get / delete, missing keys are null and deleting them is no error', async () => {
    await store.put('tenants/t1/a.png', new Uint8Array([1, 2, 3]), 'image/png');
    await store.put('tenants/t1/b.png', new Uint8Array([4]), 'image/png');
    expect(await store.head('tenants/t1/a.png')).toEqual({ size: 3, contentType: 'image/png' });
    expect(await store.get('tenants/t1/a.png')).toEqual(new Uint8Array([1, 2, 3]));
    expect(await store.get('tenants/t1/none.png')).toBeNull();
    expect(await store.head('tenants/t1/none.png')).toBeNull();
    await store.delete(['tenants/t1/a.png', 'tenants/t1/b.png', 'tenants/t1/none.png', 'tenants/t1/a.png']);
    expect(await store.head('tenants/t1/a.png')).toBeNull();
    expect(await store.head('tenants/t1/b.png')).toBeNull();
    await store.delete([]);
  });

  it('presignPut signs content-type and content-length; a PUT with those headers stores the object', async () => {
    // Signed at a known instant (now, 600 ms into its second): the URL ends 120 s after the start of that second.
    const second = Math.floor(Date.now() / 1000) * 1000;
    const signing = new Aws4fetchBlobStore({ endpoint: s3.endpoint, bucket: s3.bucket, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', clock: () => new Date(second + 600) });
    const p = await signing.presignPut('tenants/t1/up.webp', 'image/webp', 5, 120);
    const url = new URL(p.url);
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
    expect(p.headers).toEqual({ 'content-type': 'image/webp', 'content-length': '5' });
    expect(url.searchParams.get('X-Amz-Date')).toBe(new Date(second).toISOString().replace(/[:-]|\.\d{3}/g, ''));
    expect(p.expiresAt).toEqual(new Date(second + 120_000));
    const res = await fetch(p.url, { method: 'PUT', headers: p.headers, body: new Uint8Array([9, 8, 7, 6, 5]) });
    expect(res.status).toBe(200);
    expect(await store.head('tenants/t1/up.webp')).toEqual({ size: 5, contentType: 'image/webp' });
  });

  it('a missing bucket is an error, not a missing object', async () => {
    const wrong = new Aws4fetchBlobStore({ endpoint: s3.endpoint, bucket: 'no-such-bucket', region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', retries: 0 });
    await expect(wrong.get('x')).rejects.toThrow(/NoSuchBucket/);
    await expect(wrong.put('x', new Uint8Array(1), 'image/png')).rejects.toThrow(/S3 PutObject/);
  });
});

describe('KvCache', () => {
  function fakeKv() {
    const puts: { key: string; value: string; ttl?: number }[] = [];
    const map = new Map<string, string>();
    const kv: KVNamespace = {
      async get(key) {
        return map.get(key) ?? null;
      },
      async put(key, value, options) {
        if (options?.expirationTtl !== undefined && options.expirationTtl < 60) throw new Error('KV PUT failed: 400 Invalid expiration_ttl');
        puts.push({ key, value, ttl: options?.expirationTtl });
        map.set(key, value);
      },
      async delete(key) {
        map.delete(key);
      },
    };
    return { kv, puts, map };
  }

  it('raises TTLs below 60 s to 60 s, keeps longer ones, and a TTL <= 0 drops the value', async () => {
    const { kv, puts, map } = fakeKv();
    const cache = new KvCache(kv);
    await cache.put('a', '1', 5);
    await cache.put('b', '2', 3600.2);
    await cache.put('c', '3');
    expect(puts).toEqual([
      { key: 'a', value: '1', ttl: KV_MIN_TTL_SECONDS },
      { key: 'b', value: '2', ttl: 3601 },
      { key: 'c', value: '3', ttl: undefined },
    ]);
    expect(await cache.get('a')).toBe('1');
    await cache.put('a', 'x', 0);
    expect(map.has('a')).toBe(false);
    await cache.delete('b');
    expect(await cache.get('b')).toBeNull();
  });
});

describe('D1SqlDatabase', () => {
  // D1's API shape over better-sqlite3: results/meta.changes, batch in one transaction.
  function fakeD1(db: Database.Database): D1Database {
    const stmt = (sql: string, values: D1Value[] = []): D1PreparedStatement & { exec(): D1Result } => {
      const exec = (): D1Result => {
        const s = db.prepare(sql);
        if (s.reader) return { results: s.all(...values) as Record<string, unknown>[], success: true, meta: { changes: 0 } };
        return { results: [], success: true, meta: { changes: s.run(...values).changes } };
      };
      return {
        exec,
        bind: (...v) => stmt(sql, v),
        first: async <T>() => (exec().results[0] as T | undefined) ?? null,
        all: async <T>() => exec() as D1Result<T>,
        run: async <T>() => exec() as D1Result<T>,
      };
    };
    return {
      prepare: (sql) => stmt(sql),
      batch: async <T>(list: D1PreparedStatement[]) =>
        db.transaction(() => list.map((s) => (s as ReturnType<typeof stmt>).exec()))() as D1Result<T>[],
    };
  }

  it('prepare/bind/first/all/run and an all-or-nothing batch', async () => {
    const raw = new Database(':memory:');
    raw.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)');
    const db = new D1SqlDatabase(fakeD1(raw));
    expect(await db.prepare('INSERT INTO t (name) VALUES (?)').bind('a').run()).toEqual({ changes: 1 });
    expect(await db.prepare('SELECT name FROM t WHERE name = ?').bind('a').first()).toEqual({ name: 'a' });
    expect(await db.prepare('SELECT name FROM t WHERE name = ?').bind('zz').first()).toBeNull();
    const res = await db.batch([db.prepare('INSERT INTO t (name) VALUES (?)').bind('b'), db.prepare('UPDATE t SET name = name || ?').bind('!')]);
    expect(res).toEqual([{ changes: 1 }, { changes: 2 }]);
    expect(await db.prepare('SELECT name FROM t ORDER BY id').all()).toEqual([{ name: 'a!' }, { name: 'b!' }]);
    await expect(db.batch([db.prepare('INSERT INTO t (name) VALUES (?)').bind('c'), db.prepare('INSERT INTO t (name) VALUES (?)').bind('a!')])).rejects.toThrow(/UNIQUE/);
    expect(await db.prepare('SELECT count(*) AS n FROM t').first()).toEqual({ n: 2 });
    expect(await db.batch([])).toEqual([]);
    expect(() => db.prepare('SELECT ?').bind(undefined as unknown as null)).toThrow(/parameter 1 is undefined/);
    raw.close();
  });
});
