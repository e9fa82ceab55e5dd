// Presigned uploads (edge/routes/dataset-uploads.ts) over real HTTP with real SQLite and the real S3BlobStore
// against s3rver: the signed PUT URLs, complete verifying and storing the uploaded bytes, a bad upload named and
// removed, and bad upload declarations.
import { describe, expect, it } from 'vitest';
import { MAX_IMAGE_BYTES } from '../../../edge/datasets/limits.ts';
import { uploadStagingKey } from '../../../shared/storage/keys.ts';
import { bearer } from '../../helpers/edge.ts';
import { expectError, jpeg, png, useDatasetEdge } from '../../helpers/dataset-api.ts';

const api = useDatasetEdge();
const { f, newTenant, createDataset, getDataset, postJson, imageRows } = api;

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
    expect(await api.blobs.head(badKey)).not.toBeNull();

    const err = await expectError(
      await postJson(t.key, `/v1/datasets/${ds.id}/uploads/complete`, { image_ids: uploads.map((u) => u.image_id) }),
      422,
      'validation_failed',
      'image_ids',
    );
    expect(err.message).toContain(uploads[1].image_id);
    expect(err.message).toContain(uploads[2].image_id);
    expect(err.message).not.toContain(`${uploads[0].image_id}:`);
    expect(await api.blobs.head(badKey)).toBeNull();
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
