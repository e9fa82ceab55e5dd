// Models over real HTTP with real SQLite: a model published by a worker's /complete, get, list (cursor),
// artifact download, delete (row and blob), tenant isolation.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEdge, WORKER_TOKEN, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { completeBody, count, insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

type Model = {
  id: string;
  job_id: string;
  method: string;
  base_model: string;
  classes: string[];
  metrics: Record<string, number>;
  artifact: { bytes: number; sha256: string };
  created_at: string;
};

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ quotas: { concurrent_jobs: 10 } });
});
afterAll(async () => {
  await edge?.close();
});

/** Creates a job for the tenant, leases it (the queue holds only this job) and completes it. */
async function publishModel(apiKey: string, tenantId: string, method: 'cocoop' | 'coop' = 'cocoop', bytes?: Uint8Array): Promise<{ model: Model; artifactKey: string }> {
  const datasetId = insertReadyDataset(edge, tenantId);
  const res = await edge.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(apiKey), body: JSON.stringify({ dataset_id: datasetId, method }) });
  expect(res.status).toBe(201);
  const w = workerClient(edge);
  const lease = await w.leaseOk();
  const done = await w.complete(lease.job.id, await completeBody(edge, lease, bytes));
  expect(done.status).toBe(200);
  const modelId = ((await done.json()) as { model_id: string }).model_id;
  const model = await edge.fetch(`/v1/models/${modelId}`, { headers: bearer(apiKey) });
  expect(model.status).toBe(200);
  return { model: (await model.json()) as Model, artifactKey: lease.storage.artifact_key };
}

describe('models', () => {
  it('GET /v1/models/{id} describes the published adapter; the artifact downloads as octet-stream', async () => {
    const t = await edge.createTenant('Models');
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 250]);
    const { model, artifactKey } = await publishModel(t.api_key, t.id, 'coop', bytes);
    expect(Object.keys(model).sort()).toEqual(['artifact', 'base_model', 'classes', 'created_at', 'id', 'job_id', 'method', 'metrics']);
    expect(model).toMatchObject({
      method: 'coop',
      base_model: 'toy-clip',
      classes: ['cat', 'dog'],
      metrics: { train_loss: 0.25, train_accuracy: 0.9 },
      artifact: { bytes: 6 },
    });
    expect(artifactKey).toBe(`tenants/${t.id}/models/${model.id}/attempts/1/adapter.safetensors`);

    const res = await edge.fetch(`/v1/models/${model.id}/artifact`, { headers: bearer(t.api_key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toContain(`${model.id}.safetensors`);
    const downloaded = new Uint8Array(await res.arrayBuffer());
    expect(downloaded).toEqual(bytes);
    // The published sha256 is the hash of the bytes a client downloads (hashed here, not read back from the edge).
    expect(model.artifact.sha256).toBe(createHash('sha256').update(downloaded).digest('hex'));
    expect(model.artifact.bytes).toBe(downloaded.byteLength);
  });

  it('GET /v1/models lists newest first with a cursor', async () => {
    const t = await edge.createTenant('Lister');
    const a = (await publishModel(t.api_key, t.id)).model;
    const b = (await publishModel(t.api_key, t.id)).model;
    const p1 = (await (await edge.fetch('/v1/models?limit=1', { headers: bearer(t.api_key) })).json()) as { data: Model[]; has_more: boolean };
    expect(p1.data.map((m) => m.id)).toEqual([b.id]);
    expect(p1.has_more).toBe(true);
    const p2 = (await (await edge.fetch(`/v1/models?limit=1&after=${b.id}`, { headers: bearer(t.api_key) })).json()) as { data: Model[]; has_more: boolean };
    expect(p2.data.map((m) => m.id)).toEqual([a.id]);
    expect(p2.has_more).toBe(false);
    expect((await edge.fetch('/v1/models?limit=0', { headers: bearer(t.api_key) })).status).toBe(422);
  });

  it('DELETE /v1/models/{id} → 204, the row and the blob are gone, then 404', async () => {
    const t = await edge.createTenant('Deleter');
    const { model, artifactKey } = await publishModel(t.api_key, t.id);
    expect(await edge.ports.blobs.head(artifactKey)).not.toBeNull();
    const res = await edge.fetch(`/v1/models/${model.id}`, { method: 'DELETE', headers: bearer(t.api_key) });
    expect(res.status).toBe(204);
    expect(await edge.ports.blobs.head(artifactKey)).toBeNull();
    expect(count(edge, 'SELECT COUNT(*) AS n FROM models WHERE id = ?', model.id)).toBe(0);
    for (const path of [`/v1/models/${model.id}`, `/v1/models/${model.id}/artifact`]) {
      expect((await edge.fetch(path, { headers: bearer(t.api_key) })).status).toBe(404);
    }
    expect((await edge.fetch(`/v1/models/${model.id}`, { method: 'DELETE', headers: bearer(t.api_key) })).status).toBe(404);
  });

  it('another tenant’s model is 404 on every route and nothing changes; lists are per tenant', async () => {
    const a = await edge.createTenant('OwnerA');
    const b = await edge.createTenant('OtherB');
    const { model, artifactKey } = await publishModel(a.api_key, a.id);
    for (const [method, path] of [
      ['GET', `/v1/models/${model.id}`],
      ['GET', `/v1/models/${model.id}/artifact`],
      ['DELETE', `/v1/models/${model.id}`],
    ]) {
      const res = await edge.fetch(path, { method, headers: bearer(b.api_key) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    const list = (await (await edge.fetch('/v1/models', { headers: bearer(b.api_key) })).json()) as { data: Model[] };
    expect(list.data).toEqual([]);
    expect(count(edge, 'SELECT COUNT(*) AS n FROM models WHERE id = ?', model.id)).toBe(1);
    expect(await edge.ports.blobs.head(artifactKey)).not.toBeNull();
    expect((await edge.fetch(`/v1/models/${model.id}`, { headers: bearer(a.api_key) })).status).toBe(200);
  });

  it('model routes need a tenant key (401)', async () => {
    for (const headers of [{}, bearer(WORKER_TOKEN)]) {
      expect((await edge.fetch('/v1/models', { headers })).status).toBe(401);
      expect((await edge.fetch('/v1/models/mdl_x', { method: 'DELETE', headers })).status).toBe(401);
    }
  });
});
