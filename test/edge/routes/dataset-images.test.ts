// Multipart image uploads (edge/routes/dataset-images.ts) over real HTTP with real SQLite and the real S3BlobStore
// against s3rver: files stored with their sizes and sha256, per-class counts, the upload-to-delete lifecycle,
// idempotent replays, and every rejection leaving nothing behind.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_IMAGE_BYTES } from '../../../edge/datasets/limits.ts';
import { ADMIN_TOKEN, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { type Dataset, datasetPrefix, expectError, form, jpeg, png, useDatasetEdge, webp } from '../../helpers/dataset-api.ts';

const api = useDatasetEdge();
const { f, newTenant, createDataset, getDataset, postImages, postJson, objectKeys, imageRows, expectEmpty } = api;

describe('multipart upload, finalize, get, delete', () => {
  it('stores 2 files with their sizes, counts per class, finalizes, and delete removes rows and objects', async () => {
    const t = await newTenant();
    const ds = await createDataset(t.key, { name: 'Pets', classes: ['cat', 'dog'] });

    const catFiles = [await png(40, 30), await jpeg(17, 9)];
    const res = await postImages(t.key, ds.id, form('cat', catFiles.map((bytes) => ({ bytes }))));
    expect(res.status).toBe(201);
    const body = (await res.json()) as { images: { id: string; label: string; width: number; height: number }[] };
    // The sha256 of the verified bytes is kept for the worker's download check.
    const shaOf = (id: string) => (api.edge.db.raw.prepare('SELECT sha256 FROM images WHERE id = ?').get(id) as { sha256: string | null }).sha256;
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
    expect(await api.blobs.head(keys[0])).not.toBeNull();

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
    for (const k of keys) expect(await api.blobs.head(k)).toBeNull();
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
    const small = await startTestEdge({ quotas: { images: 2 } }, { blobs: api.blobs });
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
