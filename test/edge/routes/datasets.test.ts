// Datasets (edge/routes/datasets.ts) over real HTTP with real SQLite and the real S3BlobStore against s3rver:
// creation, list, tenant isolation across every dataset route, and the OpenAPI description of those routes.
// Uploads, finalize and image storage have their own files (dataset-images, dataset-uploads, dataset-finalize).
import { describe, expect, it } from 'vitest';
import { bearer } from '../../helpers/edge.ts';
import { type Dataset, datasetPrefix, errorOf, expectError, form, png, useDatasetEdge } from '../../helpers/dataset-api.ts';

const DATASET_QUOTA = 6;
const api = useDatasetEdge({ quotas: { datasets: DATASET_QUOTA } });
const { f, newTenant, createDataset, getDataset, postImages, postJson, objectKeys, imageRows } = api;

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
    expect(api.edge.db.raw.prepare('SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?').get(t.id)).toEqual({ n: 0 });
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
