// Idempotency-Key on the dataset routes (create, multipart images, presigned uploads) over real HTTP, SQLite and
// s3rver: the key is completed in the batch that writes the rows, so a request that fails right after that commit
// is answered on retry with what it created (the same ids) — not 409 for 24 h, not a second dataset or image set;
// and a request refused by a quota inside that batch leaves the key free (a retry after making room works).
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { count } from '../../helpers/jobs.ts';
import { CrashAfterCommit } from '../../helpers/sql-faults.ts';

let edge: TestEdge;
afterEach(async () => {
  await edge?.close();
});

function crashNext(sql: RegExp): void {
  edge.ports.db = new CrashAfterCommit(edge.ports.db, sql, 'throw');
}

async function png(): Promise<Uint8Array> {
  return Uint8Array.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer());
}

const createDataset = (key: string, idem: string, name = 'pets') =>
  edge.fetch('/v1/datasets', { method: 'POST', headers: jsonHeaders(key, { 'Idempotency-Key': idem }), body: JSON.stringify({ name }) });

describe('dataset routes: a request that fails right after its commit', () => {
  it('POST /v1/datasets: the retry returns that dataset (replayed), no second dataset', async () => {
    edge = await startTestEdge();
    const t = await edge.createTenant();
    crashNext(/INSERT INTO datasets/);
    expect((await createDataset(t.api_key, 'ds-1')).status).toBe(500);
    const stored = edge.db.raw.prepare('SELECT id FROM datasets WHERE tenant_id = ?').all(t.id) as { id: string }[];
    expect(stored).toHaveLength(1);
    const retry = await createDataset(t.api_key, 'ds-1');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { id: string }).id).toBe(stored[0]!.id);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?', t.id)).toBe(1);
  });

  it('POST /v1/datasets/{id}/images: the retry returns the same images, none stored twice', async () => {
    edge = await startTestEdge();
    const t = await edge.createTenant();
    const ds = (await (await createDataset(t.api_key, 'ds-2')).json()) as { id: string };
    const bytes = await png();
    // A retry resends the same bytes (the key covers the raw multipart body): serialize the form once.
    const form = new FormData();
    form.append('label', 'cat');
    form.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'a.png');
    form.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'b.png');
    const encoded = new Response(form);
    const contentType = encoded.headers.get('content-type')!;
    const raw = new Uint8Array(await encoded.arrayBuffer());
    const upload = () =>
      edge.fetch(`/v1/datasets/${ds.id}/images`, {
        method: 'POST',
        headers: { ...bearer(t.api_key), 'Idempotency-Key': 'img-1', 'content-type': contentType },
        body: raw,
      });
    crashNext(/INSERT INTO images/);
    expect((await upload()).status).toBe(500);
    const ids = (edge.db.raw.prepare('SELECT id FROM images WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: string }[]).map((r) => r.id);
    expect(ids).toHaveLength(2);
    const retry = await upload();
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const body = (await retry.json()) as { images: { id: string; label: string }[] };
    expect(body.images.map((i) => i.id).sort()).toEqual(ids);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM images WHERE dataset_id = ?', ds.id)).toBe(2);
  });

  it('POST /v1/datasets/{id}/uploads: the retry returns the same pending uploads, none created twice', async () => {
    edge = await startTestEdge();
    const t = await edge.createTenant();
    const ds = (await (await createDataset(t.api_key, 'ds-3')).json()) as { id: string };
    const presign = () =>
      edge.fetch(`/v1/datasets/${ds.id}/uploads`, {
        method: 'POST',
        headers: jsonHeaders(t.api_key, { 'Idempotency-Key': 'up-1' }),
        body: JSON.stringify({ files: [{ label: 'cat', content_type: 'image/png', bytes: 100 }] }),
      });
    crashNext(/INSERT INTO images/);
    expect((await presign()).status).toBe(500);
    const ids = (edge.db.raw.prepare('SELECT id FROM images WHERE dataset_id = ?').all(ds.id) as { id: string }[]).map((r) => r.id);
    expect(ids).toHaveLength(1);
    const retry = await presign();
    expect(retry.status).toBe(201);
    expect(((await retry.json()) as { uploads: { image_id: string }[] }).uploads.map((u) => u.image_id)).toEqual(ids);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM images WHERE dataset_id = ?', ds.id)).toBe(1);
  });
});

describe('dataset routes: refused inside the batch', () => {
  it('a dataset refused by the quota leaves the key free: after deleting one, the retry with the same key creates it', async () => {
    edge = await startTestEdge({ quotas: { datasets: 1 } });
    const t = await edge.createTenant();
    const first = (await (await createDataset(t.api_key, 'q-1')).json()) as { id: string };
    const refused = await createDataset(t.api_key, 'q-2', 'second');
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/datasets quota \(1\)/);
    expect((await edge.fetch(`/v1/datasets/${first.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    const retry = await createDataset(t.api_key, 'q-2', 'second');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
  });

  it('parallel creates never exceed the datasets quota (the INSERT checks it)', async () => {
    edge = await startTestEdge({ quotas: { datasets: 3 } });
    const t = await edge.createTenant();
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => createDataset(t.api_key, `par-${i}`, `d${i}`)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 409)).toHaveLength(5);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM datasets WHERE tenant_id = ?', t.id)).toBe(3);
  });
});
