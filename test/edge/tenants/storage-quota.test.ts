// The `bytes` (storage) quota counts model artifacts (edge/tenants/usage.ts storedBytesSql): a tenant near its quota
// whose job publishes a model is pushed over by the artifact, so the next upload — presigned or multipart — is 409 and
// writes nothing; deleting the model frees its bytes again. Real SQLite, HTTP, s3rver; the quota set by the admin
// (PATCH /v1/tenants/{id}).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ADMIN_TOKEN, type TestEdge, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

let edge: TestEdge;
let png: Uint8Array;
beforeAll(async () => {
  edge = await startTestEdge({ quotas: { concurrent_jobs: 5 } });
  png = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 200, b: 10 } } }).png().toBuffer());
});
afterAll(async () => {
  await edge?.close();
});

const post = (key: string, path: string, body: unknown) => edge.fetch(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
const usedBytes = async (key: string) => ((await (await edge.fetch('/v1/me', { headers: bearer(key) })).json()) as { usage: { bytes: number } }).usage.bytes;
const presign = (key: string, datasetId: string, bytes: number) =>
  post(key, `/v1/datasets/${datasetId}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes }] });
function multipart(key: string, datasetId: string): Promise<Response> {
  const fd = new FormData();
  fd.append('label', 'cat');
  fd.append('file', new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }), 'cat.png');
  return edge.fetch(`/v1/datasets/${datasetId}/images`, { method: 'POST', headers: bearer(key), body: fd });
}

describe('the storage quota counts model artifacts', () => {
  it('an artifact that pushes the tenant over makes the next upload 409; deleting the model frees its bytes', async () => {
    const t = await edge.createTenant('Near the limit');
    const ready = insertReadyDataset(edge, t.id); // 2 classes × 2 images × 100 bytes
    const open = ((await (await post(t.api_key, '/v1/datasets', { name: 'more' })).json()) as { id: string }).id;
    const ARTIFACT = 1000;
    const headroom = png.byteLength; // room for exactly one more multipart image before the model
    const quota = 400 + ARTIFACT + headroom - 1; // the artifact alone leaves less than that room
    const patched = await edge.fetch(`/v1/tenants/${t.id}`, { method: 'PATCH', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ quotas: { bytes: quota } }) });
    expect(patched.status).toBe(200);
    expect(await usedBytes(t.api_key)).toBe(400);

    // The model's artifact (1000 bytes, the size the worker reports and the edge checks against the stored object).
    const job = await post(t.api_key, '/v1/training-jobs', { dataset_id: ready, method: 'coop' });
    expect(job.status).toBe(201);
    const w = workerClient(edge);
    const lease = await w.leaseOk();
    const done = await w.complete(lease.job.id, await completeBody(edge, lease, new Uint8Array(ARTIFACT).fill(7)));
    expect(done.status).toBe(200);
    const modelId = ((await done.json()) as { model_id: string }).model_id;
    expect(await usedBytes(t.api_key)).toBe(400 + ARTIFACT);

    // Over the quota with the next upload: 409 naming the storage quota, nothing written.
    const imagesBefore = count(edge, 'SELECT COUNT(*) AS n FROM images WHERE tenant_id = ?', t.id);
    for (const res of [await multipart(t.api_key, open), await presign(t.api_key, open, headroom)]) {
      expect(res.status).toBe(409);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.message).toBe(
        `This would exceed your storage quota: ${400 + ARTIFACT} of ${quota} bytes used, this request adds ${headroom}. Delete datasets or models you no longer need.`,
      );
    }
    expect(count(edge, 'SELECT COUNT(*) AS n FROM images WHERE tenant_id = ?', t.id)).toBe(imagesBefore);
    // What still fits is accepted (the quota is bytes, not a lock).
    expect((await presign(t.api_key, open, headroom - 1)).status).toBe(201);

    // Deleting the model gives its bytes back: the same multipart image now fits.
    expect((await edge.fetch(`/v1/models/${modelId}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(204);
    expect(await usedBytes(t.api_key)).toBe(400 + headroom - 1);
    expect((await multipart(t.api_key, open)).status).toBe(201);
  });
});
