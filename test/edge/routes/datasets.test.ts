// Datasets over real HTTP with real SQLite and the real S3BlobStore against s3rver: creation, list,
// get with per-class counts, multipart and presigned uploads, finalize, delete (objects removed),
// every rejection leaving nothing behind, and tenant isolation.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { MAX_IMAGE_BYTES } from '../../../edge/datasets/limits.ts';
import { uploadStagingKey } from '../../../shared/storage/keys.ts';
import { ADMIN_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';

let edge: TestEdge;
let blobs: S3BlobStore;
const DATASET_QUOTA = 6;

beforeAll(async () => {
  edge = await startTestEdge({ quotas: { datasets: DATASET_QUOTA } });
  blobs = edge.ports.blobs as S3BlobStore;
}, 30_000);

afterAll(async () => {
  await edge?.close();
});

// ---- helpers --------------------------------------------------------------------------------

const f = (path: string, init?: RequestInit) => fetch(edge.url + path, init);

async function newTenant(name = 'Acme'): Promise<{ id: string; key: string }> {
  const res = await f('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name }) });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; api_key: string };
  return { id: body.id, key: body.api_key };
}

async function errorOf(res: Response): Promise<{ code: string; message: string; param?: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.message.length).toBeGreaterThan(10);
  return body.error;
}

async function expectError(res: Response, status: number, code: string, param?: string) {
  expect(res.status).toBe(status);
  const err = await errorOf(res);
  expect(err.code).toBe(code);
  if (param !== undefined) expect(err.param).toBe(param);
  return err;
}

interface Dataset {
  id: string;
  name: string;
  status: string;
  image_count: number;
  classes: { name: string; image_count: number }[];
  created_at: string;
}

async function createDataset(key: string, body: Record<string, unknown> = { name: 'Pets' }): Promise<Dataset> {
  const res = await f('/v1/datasets', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as Dataset;
}

async function getDataset(key: string, id: string): Promise<Dataset> {
  const res = await f(`/v1/datasets/${id}`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as Dataset;
}

const solid = (w: number, h: number, r = 10) => sharp({ create: { width: w, height: h, channels: 3, background: { r, g: 100, b: 200 } } });
const png = async (w = 32, h = 24, r = 10) => new Uint8Array(await solid(w, h, r).png().toBuffer());
const jpeg = async (w = 32, h = 24, r = 10) => new Uint8Array(await solid(w, h, r).jpeg().toBuffer());
const webp = async (w = 32, h = 24, r = 10) => new Uint8Array(await solid(w, h, r).webp().toBuffer());

function form(label: string | null, files: { bytes: Uint8Array; name?: string; type?: string }[], extra: Record<string, string> = {}) {
  const fd = new FormData();
  if (label !== null) fd.append('label', label);
  for (const [k, v] of Object.entries(extra)) fd.append(k, v);
  for (const [i, file] of files.entries()) {
    fd.append('file', new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.type ?? 'application/octet-stream' }), file.name ?? `f${i}.bin`);
  }
  return fd;
}

function postImages(key: string, datasetId: string, body: FormData | string, headers: Record<string, string> = {}) {
  return f(`/v1/datasets/${datasetId}/images`, { method: 'POST', headers: bearer(key, headers), body });
}

function postJson(key: string, path: string, body: unknown) {
  return f(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
}

async function objectKeys(prefix: string): Promise<string[]> {
  const out = await blobs.client.send(new ListObjectsV2Command({ Bucket: blobs.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

const datasetPrefix = (tenantId: string, datasetId: string) => `tenants/${tenantId}/datasets/${datasetId}/`;

function imageRows(datasetId: string): { id: string; status: string; label: string; object_key: string }[] {
  return edge.db.raw.prepare('SELECT id, status, label, object_key FROM images WHERE dataset_id = ? ORDER BY id').all(datasetId) as never;
}

/** Nothing stored for the dataset: no rows, no objects. */
async function expectEmpty(tenantId: string, datasetId: string) {
  expect(imageRows(datasetId)).toEqual([]);
  expect(await objectKeys(datasetPrefix(tenantId, datasetId))).toEqual([]);
}

// ---- tests ----------------------------------------------------------------------------------

describe('POST /v1/datasets', () => {
  it('creates an open dataset; declared classes are trimmed and listed with 0 images', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key, { name: ' Pets ', classes: [' cat ', 'dog'] });
    expect(ds.id).toMatch(/^ds_[0-9a-z]{21}$/);
    expect(ds).toMatchObject({
      name: 'Pets',
      status: 'open',
      image_count: 0,
      classes: [
        { name: 'cat', image_count: 0 },
        { name: 'dog', image_count: 0 },
      ],
    });
    expect(Object.keys(ds).sort()).toEqual(['classes', 'created_at', 'id', 'image_count', 'name', 'status']);
    expect(await createDataset(t.key, { name: 'No classes' })).toMatchObject({ classes: [], image_count: 0 });
  });

  it('422 for duplicate, empty or too long classes, unknown fields and a missing name', async () => {
    const t = await newTenant();
    const cases: [unknown, string][] = [
      [{ name: 'x', classes: ['a', 'b', ' a'] }, 'classes[2]'],
      [{ name: 'x', classes: ['a', '   '] }, 'classes[1]'],
      [{ name: 'x', classes: ['y'.repeat(101)] }, 'classes[0]'],
      [{ name: 'x', classes: Array.from({ length: 1001 }, (_, i) => `c${i}`) }, 'classes'],
      [{ name: 'x', color: 'red' }, 'color'],
      [{ classes: ['a'] }, 'name'],
    ];
    for (const [body, param] of cases) {
      await expectError(await postJson(t.key, '/v1/datasets', body), 422, 'validation_failed', param);
    }
    expect(edge.db.raw.prepare('SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?').get(t.id)).toEqual({ n: 0 });
  });

  it('415 for a body that is not JSON', async () => {
    const t = await newTenant();
    const res = await f('/v1/datasets', { method: 'POST', headers: bearer(t.key, { 'content-type': 'text/plain' }), body: 'name=x' });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('409 conflict naming the quota when the datasets quota is reached', async () => {
    const t = await newTenant();
    for (let i = 0; i < DATASET_QUOTA; i++) await createDataset(t.key, { name: `d${i}` });
    const err = await expectError(await postJson(t.key, '/v1/datasets', { name: 'one too many' }), 409, 'conflict');
    expect(err.message).toMatch(/datasets quota \(6\)/);
  });
});

describe('GET /v1/datasets', () => {
  it('lists newest first with cursor pagination', async () => {
    const t = await newTenant();
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) ids.push((await createDataset(t.key, { name })).id);
    const page1 = (await (await f('/v1/datasets?limit=2', { headers: bearer(t.key) })).json()) as { data: Dataset[]; has_more: boolean };
    expect(page1.data.map((d) => d.name)).toEqual(['c', 'b']);
    expect(page1.has_more).toBe(true);
    const page2 = (await (await f(`/v1/datasets?limit=2&after=${page1.data[1].id}`, { headers: bearer(t.key) })).json()) as {
      data: Dataset[];
      has_more: boolean;
    };
    expect(page2.data.map((d) => d.id)).toEqual([ids[0]]);
    expect(page2.has_more).toBe(false);
    await expectError(await f('/v1/datasets?limit=0', { headers: bearer(t.key) }), 422, 'validation_failed', 'limit');
  });
});

describe('multipart upload, finalize, get, delete', () => {
  it('stores 2 files with their sizes, counts per class, finalizes, and delete removes rows and objects', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key, { name: 'Pets', classes: ['cat', 'dog'] });

    const catFiles = [await png(40, 30), await jpeg(17, 9)];
    const res = await postImages(t.key, ds.id, form('cat', catFiles.map((bytes) => ({ bytes }))));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { images: { id: string; label: string; width: number; height: number }[] };
    // The sha256 of the verified bytes is kept for the worker's download check.
    const shaOf = (id: string) => (edge.db.raw.prepare('SELECT sha256 FROM images WHERE id = ?').get(id) as { sha256: string | null }).sha256;
    expect(body.images.map((i) => shaOf(i.id))).toEqual(catFiles.map((b) => createHash('sha256').update(b).digest('hex')));
    expect(body.images.map(({ label, width, height }) => ({ label, width, height }))).toEqual([
      { label: 'cat', width: 40, height: 30 },
      { label: 'cat', width: 17, height: 9 },
    ]);
    const res2 = await postImages(t.key, ds.id, form(' dog ', [{ bytes: await webp(8, 8) }]));
    expect(res2.status).toBe(201);

    const keys = await objectKeys(datasetPrefix(t.id, ds.id));
    expect(keys).toHaveLength(3);
    expect(keys).toContain(`tenants/${t.id}/datasets/${ds.id}/images/${body.images[0].id}.png`);
    expect(keys).toContain(`tenants/${t.id}/datasets/${ds.id}/images/${body.images[1].id}.jpg`);
    expect(keys.some((k) => k.endsWith('.webp'))).toBe(true);
    expect(await blobs.head(keys[0])).not.toBeNull();

    expect(await getDataset(t.key, ds.id)).toMatchObject({
      status: 'open',
      image_count: 3,
      classes: [
        { name: 'cat', image_count: 2 },
        { name: 'dog', image_count: 1 },
      ],
    });

    const fin = await f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(t.key) });
    expect(fin.status).toBe(200);
    expect(await fin.json()).toMatchObject({ id: ds.id, status: 'ready', image_count: 3 });

    // Ready is immutable.
    await expectError(await postImages(t.key, ds.id, form('cat', [{ bytes: await png() }])), 409, 'conflict');
    await expectError(
      await postJson(t.key, `/v1/datasets/${ds.id}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: 10 }] }),
      409,
      'conflict',
    );
    await expectError(await f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(t.key) }), 409, 'conflict');
    expect(imageRows(ds.id)).toHaveLength(3);

    const del = await f(`/v1/datasets/${ds.id}`, { method: 'DELETE', headers: bearer(t.key) });
    expect(del.status).toBe(204);
    for (const k of keys) expect(await blobs.head(k)).toBeNull();
    await expectEmpty(t.id, ds.id);
    await expectError(await f(`/v1/datasets/${ds.id}`, { headers: bearer(t.key) }), 404, 'not_found', 'id');
  });

  it('an Idempotency-Key replays the multipart upload without storing the files twice', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key);
    const bytes = await png(9, 9);
    // A retry sends the same bytes (the same multipart boundary): the key covers the raw body.
    const encoded = new Request('http://x/', { method: 'POST', body: form('cat', [{ bytes, name: 'a.png' }]) });
    const contentType = encoded.headers.get('content-type')!;
    const raw = new Uint8Array(await encoded.arrayBuffer());
    const send = () =>
      f(`/v1/datasets/${ds.id}/images`, {
        method: 'POST',
        headers: bearer(t.key, { 'content-type': contentType, 'Idempotency-Key': 'upload-1' }),
        body: raw,
      });
    const first = await send();
    expect(first.status).toBe(201);
    const second = await send();
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect(imageRows(ds.id)).toHaveLength(1);
  });

  it('without declared classes any non-empty label is a class', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key);
    expect((await postImages(t.key, ds.id, form('zebra', [{ bytes: await png() }]))).status).toBe(201);
    expect((await postImages(t.key, ds.id, form('ant', [{ bytes: await png() }]))).status).toBe(201);
    expect((await getDataset(t.key, ds.id)).classes).toEqual([
      { name: 'ant', image_count: 1 },
      { name: 'zebra', image_count: 1 },
    ]);
    await expectError(await postImages(t.key, ds.id, form('   ', [{ bytes: await png() }])), 422, 'validation_failed', 'label');
  });
});

describe('multipart rejections leave nothing behind', () => {
  let t: { id: string; key: string };
  let ds: Dataset;
  beforeAll(async () => {
    t = await newTenant();
    ds = await createDataset(t.key, { name: 'Strict', classes: ['cat', 'dog'] });
  });

  it('415 when one of the files is not an image (the valid one is not stored either)', async () => {
    const res = await postImages(
      t.key,
      ds.id,
      form('cat', [{ bytes: await png() }, { bytes: new TextEncoder().encode('just some text, not a picture'), name: 'notes.png', type: 'image/png' }]),
    );
    const err = await expectError(res, 415, 'unsupported_media_type', 'file');
    expect(err.message).toContain('notes.png');
    await expectEmpty(t.id, ds.id);
  });

  it('415 for a truncated PNG', async () => {
    const full = await png(64, 64, 77);
    const res = await postImages(t.key, ds.id, form('cat', [{ bytes: full.subarray(0, full.length - 20) }]));
    const err = await expectError(res, 415, 'unsupported_media_type', 'file');
    expect(err.message).toMatch(/cut off/);
    await expectEmpty(t.id, ds.id);
  });

  it('413 for a file over the per-file limit', async () => {
    const big = new Uint8Array(MAX_IMAGE_BYTES + 1);
    big.set(await png());
    const res = await postImages(t.key, ds.id, form('cat', [{ bytes: await png() }, { bytes: big }]));
    await expectError(res, 413, 'payload_too_large');
    await expectEmpty(t.id, ds.id);
  });

  it('422 for declared dimensions over the pixel limit (decompression bomb)', async () => {
    const bomb = await png(16, 16);
    const view = new DataView(bomb.buffer, bomb.byteOffset);
    view.setUint32(16, 8000); // IHDR width
    view.setUint32(20, 6000); // IHDR height
    const err = await expectError(await postImages(t.key, ds.id, form('cat', [{ bytes: bomb }])), 422, 'validation_failed', 'file');
    expect(err.message).toMatch(/8000x6000/);
    await expectEmpty(t.id, ds.id);
  });

  it('422 for a label that is not a declared class, or a missing label', async () => {
    const err = await expectError(await postImages(t.key, ds.id, form('horse', [{ bytes: await png() }])), 422, 'validation_failed', 'label');
    expect(err.message).toMatch(/"cat", "dog"/);
    await expectError(await postImages(t.key, ds.id, form(null, [{ bytes: await png() }])), 422, 'validation_failed', 'label');
    await expectEmpty(t.id, ds.id);
  });

  it('422 for unknown form fields and for no file part', async () => {
    await expectError(await postImages(t.key, ds.id, form('cat', [{ bytes: await png() }], { caption: 'hi' })), 422, 'validation_failed', 'caption');
    await expectError(await postImages(t.key, ds.id, form('cat', [])), 422, 'validation_failed', 'file');
    await expectError(await postImages(t.key, ds.id, form('cat', [], { file: 'text, not a file' })), 422, 'validation_failed', 'file');
    await expectEmpty(t.id, ds.id);
  });

  it('415 for a JSON body, 400 for a broken multipart body', async () => {
    await expectError(await postImages(t.key, ds.id, '{"label":"cat"}', { 'content-type': 'application/json' }), 415, 'unsupported_media_type');
    await expectError(
      await postImages(t.key, ds.id, 'garbage without boundary', { 'content-type': 'multipart/form-data; boundary=xyz' }),
      400,
      'invalid_request',
    );
    await expectEmpty(t.id, ds.id);
  });

  it('409 conflict naming the quota when the images quota would be exceeded', async () => {
    const small = await startTestEdge({ quotas: { images: 2 } }, { blobs });
    try {
      const tr = await fetch(`${small.url}/v1/tenants`, { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name: 'q' }) });
      const { id: tenantId, api_key: key } = (await tr.json()) as { id: string; api_key: string };
      const dr = await fetch(`${small.url}/v1/datasets`, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ name: 'q' }) });
      const d = (await dr.json()) as Dataset;
      const res = await fetch(`${small.url}/v1/datasets/${d.id}/images`, {
        method: 'POST',
        headers: bearer(key),
        body: form('cat', [{ bytes: await png() }, { bytes: await png() }, { bytes: await png() }]),
      });
      const err = await expectError(res, 409, 'conflict');
      expect(err.message).toMatch(/images quota/);
      expect(await objectKeys(datasetPrefix(tenantId, d.id))).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('presigned uploads', () => {
  it('PUT to S3 with the returned URL and headers, complete verifies and stores them', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key, { name: 'Presigned', classes: ['cat', 'dog'] });
    const files = [
      { label: 'cat', bytes: await png(50, 20), content_type: 'image/png' },
      { label: 'dog', bytes: await jpeg(12, 34), content_type: 'image/jpeg' },
    ];
    const res = await postJson(t.key, `/v1/datasets/${ds.id}/uploads`, {
      files: files.map((x) => ({ label: x.label, content_type: x.content_type, bytes: x.bytes.length })),
    });
    expect(res.status).toBe(201);
    const { uploads } = (await res.json()) as {
      uploads: { image_id: string; url: string; method: string; headers: Record<string, string>; expires_at: string }[];
    };
    expect(uploads).toHaveLength(2);
    // Each URL lasts 15 min from its signing second (X-Amz-Date), and expires_at says when that is.
    for (const u of uploads) {
      const q = new URL(u.url).searchParams;
      expect(q.get('X-Amz-Expires')).toBe('900');
      const signed = Date.parse(q.get('X-Amz-Date')!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      expect(Date.parse(u.expires_at)).toBe(signed + 15 * 60_000);
    }
    expect(imageRows(ds.id).map((r) => r.status)).toEqual(['pending', 'pending']);
    // Pending uploads are not counted yet.
    expect((await getDataset(t.key, ds.id)).image_count).toBe(0);

    for (const [i, u] of uploads.entries()) {
      expect(u.method).toBe('PUT');
      const put = await fetch(u.url, { method: u.method, headers: u.headers, body: files[i].bytes });
      expect(put.status).toBe(200);
      await put.arrayBuffer();
    }

    const done = await postJson(t.key, `/v1/datasets/${ds.id}/uploads/complete`, { image_ids: uploads.map((u) => u.image_id) });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({
      images: [
        { id: uploads[0].image_id, label: 'cat', width: 50, height: 20 },
        { id: uploads[1].image_id, label: 'dog', width: 12, height: 34 },
      ],
    });
    expect(imageRows(ds.id).map((r) => r.status)).toEqual(['stored', 'stored']);
    // Completing again is harmless.
    expect((await postJson(t.key, `/v1/datasets/${ds.id}/uploads/complete`, { image_ids: [uploads[0].image_id] })).status).toBe(200);

    const fin = await f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(t.key) });
    expect(fin.status).toBe(200);
    expect(await fin.json()).toMatchObject({
      status: 'ready',
      classes: [
        { name: 'cat', image_count: 1 },
        { name: 'dog', image_count: 1 },
      ],
    });
  });

  it('complete: 422 naming a bad upload, which is removed; the good one stays pending', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key, { name: 'Verify' });
    const good = await png(10, 10);
    const fake = new Uint8Array(500).fill(65); // declared as PNG, uploads 500 bytes of "A"
    const res = await postJson(t.key, `/v1/datasets/${ds.id}/uploads`, {
      files: [
        { label: 'a', content_type: 'image/png', bytes: good.length },
        { label: 'b', content_type: 'image/png', bytes: fake.length },
        { label: 'c', content_type: 'image/webp', bytes: 100 }, // never uploaded
      ],
    });
    const { uploads } = (await res.json()) as { uploads: { image_id: string; url: string; headers: Record<string, string> }[] };
    for (const [u, body] of [
      [uploads[0], good],
      [uploads[1], fake],
    ] as const) {
      const put = await fetch(u.url, { method: 'PUT', headers: u.headers, body });
      expect(put.status).toBe(200);
      await put.arrayBuffer();
    }
    const badKey = uploadStagingKey(t.id, ds.id, uploads[1].image_id, 'png');
    expect(await blobs.head(badKey)).not.toBeNull();

    const err = await expectError(
      await postJson(t.key, `/v1/datasets/${ds.id}/uploads/complete`, { image_ids: uploads.map((u) => u.image_id) }),
      422,
      'validation_failed',
      'image_ids',
    );
    expect(err.message).toContain(uploads[1].image_id);
    expect(err.message).toContain(uploads[2].image_id);
    expect(err.message).not.toContain(`${uploads[0].image_id}:`);
    expect(await blobs.head(badKey)).toBeNull();
    expect(imageRows(ds.id).map((r) => [r.id, r.status])).toEqual([[uploads[0].image_id, 'pending']]);

    // Unknown and foreign image ids are 404.
    await expectError(
      await postJson(t.key, `/v1/datasets/${ds.id}/uploads/complete`, { image_ids: [uploads[0].image_id, 'img_nope'] }),
      404,
      'not_found',
      'image_ids[1]',
    );
  });

  it('422 for bad upload declarations', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key, { name: 'Decl', classes: ['cat'] });
    const p = `/v1/datasets/${ds.id}/uploads`;
    await expectError(await postJson(t.key, p, { files: [{ label: 'cat', content_type: 'image/gif', bytes: 10 }] }), 422, 'validation_failed', 'files[0].content_type');
    await expectError(await postJson(t.key, p, { files: [{ label: 'cat', content_type: 'image/png', bytes: MAX_IMAGE_BYTES + 1 }] }), 422, 'validation_failed', 'files[0].bytes');
    await expectError(await postJson(t.key, p, { files: [{ label: 'cat', content_type: 'image/png', bytes: 0 }] }), 422, 'validation_failed', 'files[0].bytes');
    await expectError(await postJson(t.key, p, { files: [{ label: 'dog', content_type: 'image/png', bytes: 5 }] }), 422, 'validation_failed', 'files[0].label');
    await expectError(await postJson(t.key, p, { files: [] }), 422, 'validation_failed', 'files');
    await expectError(
      await postJson(t.key, p, { files: Array.from({ length: 101 }, () => ({ label: 'cat', content_type: 'image/png', bytes: 5 })) }),
      422,
      'validation_failed',
      'files',
    );
    await expectError(await postJson(t.key, p, { files: [{ label: 'cat', content_type: 'image/png', bytes: 5, x: 1 }] }), 422, 'validation_failed', 'files[0].x');
    expect(imageRows(ds.id)).toEqual([]);
  });
});

describe('finalize', () => {
  it('422 with the reasons: no images; a declared class without images; fewer than 2 classes', async () => {
    const t = await newTenant();
    const empty = await createDataset(t.key, { name: 'Empty' });
    const e1 = await expectError(await f(`/v1/datasets/${empty.id}/finalize`, { method: 'POST', headers: bearer(t.key) }), 422, 'validation_failed');
    expect(e1.message).toMatch(/no images/);

    const ds = await createDataset(t.key, { name: 'Three', classes: ['a', 'b', 'c'] });
    for (const label of ['a', 'b']) expect((await postImages(t.key, ds.id, form(label, [{ bytes: await png() }]))).status).toBe(201);
    const e2 = await expectError(await f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(t.key) }), 422, 'validation_failed', 'classes');
    expect(e2.message).toMatch(/"c" has no images/);
    expect((await getDataset(t.key, ds.id)).status).toBe('open');

    const one = await createDataset(t.key, { name: 'One' });
    expect((await postImages(t.key, one.id, form('only', [{ bytes: await png() }]))).status).toBe(201);
    const e3 = await expectError(await f(`/v1/datasets/${one.id}/finalize`, { method: 'POST', headers: bearer(t.key) }), 422, 'validation_failed');
    expect(e3.message).toMatch(/at least 2 classes/);
  });

  it('drops unfinished presigned uploads first (rows and objects)', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key, { name: 'Drop' });
    for (const label of ['x', 'y']) expect((await postImages(t.key, ds.id, form(label, [{ bytes: await png() }]))).status).toBe(201);
    const bytes = await png(5, 5);
    const res = await postJson(t.key, `/v1/datasets/${ds.id}/uploads`, { files: [{ label: 'x', content_type: 'image/png', bytes: bytes.length }] });
    const { uploads } = (await res.json()) as { uploads: { image_id: string; url: string; headers: Record<string, string> }[] };
    const put = await fetch(uploads[0].url, { method: 'PUT', headers: uploads[0].headers, body: bytes });
    await put.arrayBuffer();
    // The PUT went to the upload's staging key; the image's own key is written only by complete.
    const pendingKey = uploadStagingKey(t.id, ds.id, uploads[0].image_id, 'png');
    expect(await blobs.head(pendingKey)).not.toBeNull();
    expect(await blobs.head(imageRows(ds.id).find((r) => r.status === 'pending')!.object_key)).toBeNull();

    const fin = await f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(t.key) });
    expect(fin.status).toBe(200);
    expect(((await fin.json()) as Dataset).image_count).toBe(2);
    expect(imageRows(ds.id).map((r) => r.status)).toEqual(['stored', 'stored']);
    expect(await blobs.head(pendingKey)).toBeNull();
  });
});

describe('tenant isolation', () => {
  it("tenant B gets 404 on every route with A's dataset id, and A's dataset is unchanged", async () => {
    const a = await newTenant('A');
    const b = await newTenant('B');
    const ds = await createDataset(a.key, { name: 'Private', classes: ['cat', 'dog'] });
    expect((await postImages(a.key, ds.id, form('cat', [{ bytes: await png() }]))).status).toBe(201);
    const up = await postJson(a.key, `/v1/datasets/${ds.id}/uploads`, { files: [{ label: 'dog', content_type: 'image/png', bytes: 10 }] });
    const pendingId = ((await up.json()) as { uploads: { image_id: string }[] }).uploads[0].image_id;
    const before = await getDataset(a.key, ds.id);
    const rowsBefore = imageRows(ds.id);
    const objectsBefore = await objectKeys(datasetPrefix(a.id, ds.id));

    const bDs = await createDataset(b.key, { name: 'B own' });
    const attempts: [string, Promise<Response>][] = [
      ['get', f(`/v1/datasets/${ds.id}`, { headers: bearer(b.key) })],
      ['delete', f(`/v1/datasets/${ds.id}`, { method: 'DELETE', headers: bearer(b.key) })],
      ['images', postImages(b.key, ds.id, form('cat', [{ bytes: await png() }]))],
      ['uploads', postJson(b.key, `/v1/datasets/${ds.id}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: 10 }] })],
      ['complete', postJson(b.key, `/v1/datasets/${ds.id}/uploads/complete`, { image_ids: [pendingId] })],
      ['finalize', f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(b.key) })],
      // A's image id through B's own dataset.
      ['complete via own dataset', postJson(b.key, `/v1/datasets/${bDs.id}/uploads/complete`, { image_ids: [pendingId] })],
    ];
    for (const [name, p] of attempts) {
      const res = await p;
      expect(res.status, name).toBe(404);
      expect((await errorOf(res)).code).toBe('not_found');
    }
    const list = (await (await f('/v1/datasets', { headers: bearer(b.key) })).json()) as { data: Dataset[] };
    expect(list.data.map((d) => d.id)).toEqual([bDs.id]);

    expect(await getDataset(a.key, ds.id)).toEqual(before);
    expect(imageRows(ds.id)).toEqual(rowsBefore);
    expect(await objectKeys(datasetPrefix(a.id, ds.id))).toEqual(objectsBefore);
  });
});

describe('OpenAPI', () => {
  it('describes every dataset route', async () => {
    const doc = (await (await f('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/datasets']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/datasets/{id}']).sort()).toEqual(['delete', 'get']);
    for (const p of ['/v1/datasets/{id}/images', '/v1/datasets/{id}/uploads', '/v1/datasets/{id}/uploads/complete', '/v1/datasets/{id}/finalize']) {
      expect(doc.paths[p]?.post, p).toBeDefined();
    }
    const images = doc.paths['/v1/datasets/{id}/images'].post as { requestBody: { content: Record<string, unknown> } };
    expect(Object.keys(images.requestBody.content)).toEqual(['multipart/form-data']);
  });
});
