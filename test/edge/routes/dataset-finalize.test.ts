// Finalize (edge/routes/dataset-finalize.ts) over real HTTP with real SQLite and the real S3BlobStore against
// s3rver: the reasons a dataset cannot be finalized, and unfinished presigned uploads dropped first.
import { describe, expect, it } from 'vitest';
import { uploadStagingKey } from '../../../shared/storage/keys.ts';
import { bearer } from '../../helpers/edge.ts';
import { type Dataset, expectError, form, png, useDatasetEdge } from '../../helpers/dataset-api.ts';

const api = useDatasetEdge();
const { f, newTenant, createDataset, getDataset, postImages, postJson, imageRows } = api;

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
    expect(await api.blobs.head(pendingKey)).not.toBeNull();
    expect(await api.blobs.head(imageRows(ds.id).find((r) => r.status === 'pending')!.object_key)).toBeNull();

    const fin = await f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(t.key) });
    expect(fin.status).toBe(200);
    expect(((await fin.json()) as Dataset).image_count).toBe(2);
    expect(imageRows(ds.id).map((r) => r.status)).toEqual(['stored', 'stored']);
    expect(await api.blobs.head(pendingKey)).toBeNull();
  });
});
