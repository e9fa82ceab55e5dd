// Concurrency of dataset writes on the edge (Node, SQLite, the S3 store on s3rver):
// - finalize racing uploads/complete never leaves a ready dataset pointing at a deleted object;
// - quotas hold under parallel uploads (multipart and presigned): the insert itself carries the quota;
// - presigned PUTs land under a staging key and move to the image's key on complete, so a URL used after
//   finalize, delete or complete changes no image, is never counted, and the reconciliation removes what
//   it left in the bucket.
import { createHash } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackgroundTasks } from '../../../edge/background.ts';
import type { BlobHead, BlobStore, PresignedPut } from '../../../edge/ports.ts';
import type { BlobListOptions, BlobListPage } from '../../../shared/storage/blob-store.ts';
import type { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, type TestBlobStore, type TestEdge, bearer, jsonHeaders, startTestEdge, testBlobStore } from '../../helpers/edge.ts';

/**
 * Fault injector: the real S3 store, except that while armed the next delete() call is held (before it
 * reaches S3) until release() (`held` tells that a call is waiting), and after presignBarrier(n) the next n
 * presignPut() calls wait for each other (so n requests are between their quota check and their insert at once).
 */
class HoldingBlobStore implements BlobStore {
  private armed = false;
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;
  held = false;
  constructor(readonly inner: S3BlobStore) {}
  arm(): void {
    this.armed = true;
    this.gate = new Promise((ok) => (this.open = ok));
  }
  release(): void {
    this.open?.();
  }
  put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    return this.inner.put(key, body, contentType);
  }
  get(key: string): Promise<Uint8Array | null> {
    return this.inner.get(key);
  }
  head(key: string): Promise<BlobHead | null> {
    return this.inner.head(key);
  }
  list(prefix: string, opts?: BlobListOptions): Promise<BlobListPage> {
    return this.inner.list(prefix, opts);
  }
  async delete(keys: string[]): Promise<void> {
    if (this.armed) {
      this.armed = false;
      this.held = true;
      await this.gate;
      this.held = false;
    }
    return this.inner.delete(keys);
  }
  private barrier: { n: number; arrived: number; all: Promise<void>; go: () => void } | null = null;
  presignBarrier(n: number): void {
    let go = () => {};
    const all = new Promise<void>((ok) => (go = ok));
    this.barrier = { n, arrived: 0, all, go };
  }
  async presignPut(key: string, contentType: string, bytes: number, expiresInSeconds: number): Promise<PresignedPut> {
    const b = this.barrier;
    if (b) {
      if (++b.arrived === b.n) {
        this.barrier = null;
        b.go();
      }
      await b.all;
    }
    return this.inner.presignPut(key, contentType, bytes, expiresInSeconds);
  }
}

const IMAGES_QUOTA = 4;
const BYTES_QUOTA = 200_000;

let store: TestBlobStore;
let edge: TestEdge;
let s3blobs: S3BlobStore;
let blobs: HoldingBlobStore;

beforeAll(async () => {
  store = await testBlobStore();
  s3blobs = store.blobs;
  blobs = new HoldingBlobStore(s3blobs);
  edge = await startTestEdge({ quotas: { images: IMAGES_QUOTA, bytes: BYTES_QUOTA } }, { blobs });
}, 30_000);

afterAll(async () => {
  await edge?.close();
  await store?.release();
});

const f = (path: string, init?: RequestInit) => fetch(edge.url + path, init);
const postJson = (key: string, path: string, body: unknown) => f(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });

async function newTenant(): Promise<{ id: string; key: string }> {
  const res = await f('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name: 'Races' }) });
  expect(res.status).toBe(201);
  const b = (await res.json()) as { id: string; api_key: string };
  return { id: b.id, key: b.api_key };
}

async function newDataset(key: string): Promise<string> {
  const res = await postJson(key, '/v1/datasets', { name: 'race' });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const png = async (r: number) => new Uint8Array(await sharp({ create: { width: 8, height: 6, channels: 3, background: { r, g: 5, b: 9 } } }).png().toBuffer());

function multipart(key: string, datasetId: string, label: string, bytes: Uint8Array): Promise<Response> {
  const fd = new FormData();
  fd.append('label', label);
  fd.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${label}.png`);
  return f(`/v1/datasets/${datasetId}/images`, { method: 'POST', headers: bearer(key), body: fd });
}

interface Upload {
  image_id: string;
  url: string;
  headers: Record<string, string>;
  expires_at: string;
}

async function presign(key: string, datasetId: string, files: { label: string; bytes: number }[]): Promise<Upload[]> {
  const res = await postJson(key, `/v1/datasets/${datasetId}/uploads`, { files: files.map((x) => ({ ...x, content_type: 'image/png' })) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { uploads: Upload[] }).uploads;
}

async function put(u: Upload, body: Uint8Array): Promise<void> {
  const res = await fetch(u.url, { method: 'PUT', headers: u.headers, body: body as Uint8Array<ArrayBuffer> });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

async function bucketKeys(prefix: string): Promise<string[]> {
  const out = await s3blobs.client.send(new ListObjectsV2Command({ Bucket: s3blobs.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

const rows = (sql: string, ...args: unknown[]) => edge.db.raw.prepare(sql).all(...args) as Record<string, unknown>[];

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((ok) => setImmediate(ok));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

/** Every stored image of the dataset has its object, with the bytes its sha256 names. */
async function expectImagesIntact(datasetId: string): Promise<void> {
  for (const r of rows("SELECT id, object_key, sha256 FROM images WHERE dataset_id = ? AND status = 'stored'", datasetId)) {
    const bytes = await s3blobs.get(r.object_key as string);
    expect(bytes, `object of ${r.id}`).not.toBeNull();
    expect(createHash('sha256').update(bytes!).digest('hex'), `bytes of ${r.id}`).toBe(r.sha256);
  }
}

describe('finalize racing uploads/complete', () => {
  it('a complete that verified its object while finalize ran never leaves a ready dataset pointing at a deleted object', async () => {
    const t = await newTenant();
    const ds = await newDataset(t.key);
    expect((await multipart(t.key, ds, 'x', await png(1))).status).toBe(201);
    expect((await multipart(t.key, ds, 'y', await png(2))).status).toBe(201);
    const [u] = await presign(t.key, ds, [{ label: 'x', bytes: (await png(3)).length }]);
    await put(u, await png(3));

    // Finalize stops at its object delete; complete runs meanwhile; then finalize goes on.
    blobs.arm();
    const finalizing = f(`/v1/datasets/${ds}/finalize`, { method: 'POST', headers: bearer(t.key) });
    await until('finalize to reach its object delete', () => blobs.held);
    const completed = await postJson(t.key, `/v1/datasets/${ds}/uploads/complete`, { image_ids: [u.image_id] });
    blobs.release();
    const fin = await finalizing;
    expect(fin.status).toBe(200);
    const view = (await fin.json()) as { status: string; image_count: number };
    expect(view.status).toBe('ready');

    await expectImagesIntact(ds);
    const stored = rows("SELECT id FROM images WHERE dataset_id = ? AND status = 'stored'", ds).length;
    expect(view.image_count).toBe(stored);
    // The upload was dropped by finalize: complete answers in the error shape (the upload is gone).
    expect(completed.status).toBe(404);
    expect(((await completed.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect(rows('SELECT id FROM images WHERE id = ?', u.image_id)).toEqual([]);
  });
});

describe('quotas under parallel uploads', () => {
  it('multipart: parallel uploads cannot all pass the images quota; the refused ones leave no object', async () => {
    const t = await newTenant();
    const ds = await newDataset(t.key);
    const bytes = await Promise.all(Array.from({ length: 12 }, (_, i) => png(i + 10)));
    const answers = await Promise.all(bytes.map((b, i) => multipart(t.key, ds, `c${i % 2}`, b)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(IMAGES_QUOTA);
    expect(statuses.filter((s) => s === 409)).toHaveLength(12 - IMAGES_QUOTA);
    for (const r of answers.filter((a) => a.status === 409)) {
      expect(((await r.json()) as { error: { code: string; message: string } }).error.message).toMatch(/images quota/);
    }
    expect(rows('SELECT id FROM images WHERE tenant_id = ?', t.id)).toHaveLength(IMAGES_QUOTA);
    expect(await bucketKeys(`tenants/${t.id}/`)).toHaveLength(IMAGES_QUOTA);
    const me = (await (await f('/v1/me', { headers: bearer(t.key) })).json()) as { usage: { images: number } };
    expect(me.usage.images).toBe(IMAGES_QUOTA);
  });

  it('presigned: parallel upload requests cannot all pass the images quota', async () => {
    const t = await newTenant();
    const ds = await newDataset(t.key);
    blobs.presignBarrier(12);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => postJson(t.key, `/v1/datasets/${ds}/uploads`, { files: [{ label: 'a', content_type: 'image/png', bytes: 100 }] })),
    );
    expect(answers.filter((r) => r.status === 201)).toHaveLength(IMAGES_QUOTA);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(12 - IMAGES_QUOTA);
    expect(rows('SELECT id FROM images WHERE tenant_id = ?', t.id)).toHaveLength(IMAGES_QUOTA);
  });

  it('presigned: parallel upload requests cannot all pass the bytes quota', async () => {
    const t = await newTenant();
    const ds = await newDataset(t.key);
    const size = 60_000; // three fit in BYTES_QUOTA, four do not
    blobs.presignBarrier(10);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => postJson(t.key, `/v1/datasets/${ds}/uploads`, { files: [{ label: 'a', content_type: 'image/png', bytes: size }] })),
    );
    expect(answers.filter((r) => r.status === 201)).toHaveLength(Math.floor(BYTES_QUOTA / size));
    for (const r of answers.filter((a) => a.status === 409)) {
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/storage quota/);
    }
    const used = rows('SELECT COALESCE(SUM(bytes), 0) AS b FROM images WHERE tenant_id = ?', t.id)[0].b as number;
    expect(used).toBeLessThanOrEqual(BYTES_QUOTA);
  });
});

describe('presigned URLs outliving their rows', () => {
  it('a PUT after finalize, after delete or after complete changes no image, is not counted, and the reconciliation removes it', async () => {
    const t = await newTenant();
    const img = await png(40);
    const other = await png(41);
    expect(other.length).toBe(img.length);

    // 1. finalize dropped the pending upload; 2. the dataset was deleted; 3. the upload was completed.
    const ds1 = await newDataset(t.key);
    expect((await multipart(t.key, ds1, 'x', await png(42))).status).toBe(201);
    const [late1, done1] = await presign(t.key, ds1, [
      { label: 'y', bytes: img.length },
      { label: 'y', bytes: img.length },
    ]);
    await put(done1, img);
    expect((await postJson(t.key, `/v1/datasets/${ds1}/uploads/complete`, { image_ids: [done1.image_id] })).status).toBe(200);
    expect((await f(`/v1/datasets/${ds1}/finalize`, { method: 'POST', headers: bearer(t.key) })).status).toBe(200);
    const ds2 = await newDataset(t.key);
    const [late2] = await presign(t.key, ds2, [{ label: 'y', bytes: img.length }]);
    expect((await f(`/v1/datasets/${ds2}`, { method: 'DELETE', headers: bearer(t.key) })).status).toBe(204);

    await put(late1, img);
    await put(late2, img);
    await put(done1, other); // the verified image's URL, used again with other bytes

    await expectImagesIntact(ds1);
    const me = (await (await f('/v1/me', { headers: bearer(t.key) })).json()) as { usage: { images: number; bytes: number } };
    expect(me.usage.images).toBe(2);

    // Once every URL has expired (the reconciliation waits a few minutes more, for clock differences), only
    // objects that rows refer to are left.
    const expiry = Math.max(...[late1, late2, done1].map((u) => Date.parse(u.expires_at)));
    const summary = await runBackgroundTasks(edge.ports, edge.config, edge.webhookSettings, new Date(expiry + 3_600_000));
    expect(summary.errors).toEqual([]);
    const referenced = rows('SELECT object_key FROM images WHERE tenant_id = ?', t.id).map((r) => r.object_key as string);
    expect(await bucketKeys(`tenants/${t.id}/`)).toEqual([...referenced].sort());
    await expectImagesIntact(ds1);
    expect(summary.objectSweep!.due).toBeGreaterThanOrEqual(3);
  });
});
