// What a service job trains on, end to end: a real edge (SQLite, HTTP, the real S3 blob store on s3rver), toy-world
// images uploaded through the public API, the bundled toy CLIP and a real Trainer.
//   - `shots: K` on a dataset with more than K images per class: the job trains on exactly K per class (its optimizer
//     steps with batch_size 1 over one epoch = K × classes), drawn from the training pool, never from the hold-out.
//   - an image replaced in storage after the edge verified it: the job ends `failed` with `dataset_changed`, one
//     error event and one training_job.failed webhook row carrying that code.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClipModel, type ClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { drawShots } from '../../../gpu-worker/cocoop/sampling.ts';
import { EdgeClient } from '../../../gpu-worker/trainer/edge-client.ts';
import { prepareJobData } from '../../../gpu-worker/trainer/job-data.ts';
import { Trainer } from '../../../gpu-worker/trainer/trainer.ts';
import type { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { toyImageSet } from '../../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../../lab/toyworld/png.ts';
import { type TestEdge, WORKER_TOKEN, bearer, jsonHeaders, startTestEdge } from '../../helpers/edge.ts';
import { count, workerClient } from '../../helpers/jobs.ts';
import { useTfWasm } from '../../helpers/tf-wasm.ts';

useTfWasm();

const CLASSES = ['red circle', 'blue square', 'green triangle'];
const PER_CLASS = 6;
let edge: TestEdge;
let blobs: S3BlobStore;
let model: ClipModel;
let encoders: OrtClipEncoders;
let workDir: string;
let pngs: { label: string; bytes: Buffer }[];
const logs: string[] = [];

beforeAll(async () => {
  edge = await startTestEdge({ quotas: { concurrent_jobs: 5 } });
  blobs = edge.ports.blobs as S3BlobStore;
  workDir = mkdtempSync(join(tmpdir(), 'job-data-service-'));
  model = loadClipModel(resolve('models/toy-clip'));
  encoders = new OrtClipEncoders(model, { log: () => {} });
  const set = await toyImageSet('raster', 'train', 11, CLASSES, PER_CLASS, 48);
  pngs = await Promise.all(set.images.map(async (img, i) => ({ label: set.classNames[set.labels[i]!]!, bytes: await encodePng(img) })));
}, 60_000);

afterAll(async () => {
  await encoders?.release();
  await edge?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A tenant with a ready dataset of PER_CLASS toy images per class, uploaded multipart (the edge records each sha256). */
async function tenantWithDataset(): Promise<{ tenantId: string; key: string; datasetId: string }> {
  const t = await edge.createTenant();
  const key = t.api_key;
  const ds = await json<{ id: string }>(await edge.fetch('/v1/datasets', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ name: 'shapes' }) }), 201);
  for (const label of CLASSES) {
    const fd = new FormData();
    fd.append('label', label);
    pngs.filter((p) => p.label === label).forEach((p, i) => fd.append('file', new Blob([new Uint8Array(p.bytes)], { type: 'image/png' }), `${i}.png`));
    const res = await edge.fetch(`/v1/datasets/${ds.id}/images`, { method: 'POST', headers: bearer(key), body: fd });
    if (res.status >= 300) throw new Error(`upload: ${res.status} ${await res.text()}`);
  }
  await json(await edge.fetch(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(key) }));
  return { tenantId: t.id, key, datasetId: ds.id };
}

interface Job {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  metrics: Record<string, number>;
}

const HP = { shots: 2, seed: 5, epochs: 1, batch_size: 1, validation_split: 0.34 };

async function createJob(key: string, datasetId: string): Promise<Job> {
  const body = { dataset_id: datasetId, method: 'coop', hyperparameters: HP };
  return json<Job>(await edge.fetch('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) }), 201);
}

/** Runs a real Trainer until it reports the job done (its onJobDone event: after the final report), then the job. */
async function runToEnd(key: string, jobId: string, workerId: string): Promise<Job> {
  let done!: () => void;
  const finished = new Promise<void>((ok) => (done = ok));
  const worker = new Trainer({
    client: new EdgeClient({ baseUrl: edge.url, token: WORKER_TOKEN, backoffMs: 50 }),
    blobs,
    model,
    encoders,
    workDir: join(workDir, workerId),
    workerId,
    pollMs: 100,
    maxPollMs: 400,
    heartbeatMs: 250,
    leaseSeconds: 60,
    log: (l) => logs.push(l),
    onJobDone: (id) => {
      if (id === jobId) done();
    },
  });
  const loop = worker.start();
  try {
    await finished;
  } finally {
    await worker.stop();
    await loop;
  }
  return json<Job>(await edge.fetch(`/v1/training-jobs/${jobId}`, { headers: bearer(key) }));
}

async function events(key: string, id: string) {
  return (await json<{ data: { level: string; message: string; data?: Record<string, unknown> }[] }>(
    await edge.fetch(`/v1/training-jobs/${id}/events?limit=100`, { headers: bearer(key) }),
  )).data;
}

describe('shots in a service job', () => {
  it("the worker's job data: the hold-out and the training pool partition the dataset; the shots come from the pool", async () => {
    const { key, datasetId } = await tenantWithDataset();
    const job = await createJob(key, datasetId);
    const w = workerClient(edge);
    const lease = await w.leaseOk('w-data', 60);
    expect(lease.job.id).toBe(job.id);
    expect(lease.dataset.images).toHaveLength(CLASSES.length * PER_CLASS);
    const data = await prepareJobData(lease, { blobs, encoders }, join(workDir, 'prepare'), { budgetMs: 0, log: () => {} });
    // floor(6 × 0.34) = 2 held out per class, 4 per class in the pool.
    expect(data.validation?.n).toBe(2 * CLASSES.length);
    expect(data.train.items).toHaveLength(4 * CLASSES.length);
    const idOf = (path: string) => path.slice(path.lastIndexOf('/') + 1).replace(/\.png$/, '');
    const pool = data.train.items.map((it) => idOf(it.path));
    expect(new Set(pool).size).toBe(pool.length);
    const all = lease.dataset.images.map((i) => i.id);
    const heldOut = all.filter((id) => !pool.includes(id));
    expect(heldOut).toHaveLength(data.validation!.n); // the validation set is exactly what the pool lacks: disjoint
    const shots = drawShots(data.train, HP.shots, HP.seed);
    const shotIds = shots.items.map((it) => idOf(it.path));
    for (let c = 0; c < CLASSES.length; c++) expect(shots.items.filter((it) => it.label === c)).toHaveLength(HP.shots);
    expect(shotIds.filter((id) => heldOut.includes(id))).toEqual([]);
    expect((await w.fail(job.id, { lease_id: lease.lease_id, code: 'internal_error', message: 'test done' })).status).toBe(200);
  }, 60_000);

  it('a job with shots 2 on 6 images per class trains on exactly 2 per class: 6 steps of batch 1 in its one epoch', async () => {
    const { key, datasetId } = await tenantWithDataset();
    const job = await createJob(key, datasetId);
    const done = await runToEnd(key, job.id, 'w-shots');
    expect(done.status, logs.slice(-10).join('\n')).toBe('succeeded');
    // One optimizer step per image (batch_size 1, one epoch): 2 shots × 3 classes, not the 12 images of the pool.
    expect([done.metrics.epochs, done.metrics.steps]).toEqual([1, HP.shots * CLASSES.length]);
    const messages = (await events(key, job.id)).map((e) => e.message);
    expect(messages).toContain(
      `Training started: ${4 * CLASSES.length} images in the training pool, ${CLASSES.length} classes; validation: ${2 * CLASSES.length} images held out (validation_split ${HP.validation_split}, seed ${HP.seed}).`,
    );
  }, 90_000);
});

describe('dataset_changed', () => {
  it('an image replaced in storage after verification fails the job with dataset_changed (event + webhook)', async () => {
    const { tenantId, key, datasetId } = await tenantWithDataset();
    edge.db.raw
      .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run('whe_dschanged0001', tenantId, 'https://hooks.example/x', JSON.stringify(['training_job.failed', 'training_job.succeeded']), 'whsec_dGVzdA==', new Date().toISOString());
    const row = edge.db.raw.prepare("SELECT id, label, object_key FROM images WHERE dataset_id = ? AND label = 'blue square' LIMIT 1").get(datasetId) as {
      id: string;
      label: string;
      object_key: string;
    };
    // Another valid PNG (so only the sha256 check can tell): an image of another class.
    const other = pngs.find((p) => p.label === 'red circle')!;
    await blobs.put(row.object_key, new Uint8Array(other.bytes), 'image/png');

    const job = await createJob(key, datasetId);
    const done = await runToEnd(key, job.id, 'w-changed');
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('dataset_changed');
    expect(done.error?.message).toContain(`Image ${row.id} of class "blue square" in storage is not the one the edge verified`);
    const errors = (await events(key, job.id)).filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain(row.id);
    expect(errors[0]!.data).toMatchObject({ code: 'dataset_changed' });
    expect(count(edge, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'training_job.failed' AND tenant_id = ?", tenantId)).toBe(1);
    expect(count(edge, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'training_job.succeeded' AND tenant_id = ?", tenantId)).toBe(0);
    const payload = JSON.parse(
      (edge.db.raw.prepare("SELECT payload FROM webhook_deliveries WHERE event_type = 'training_job.failed' AND tenant_id = ?").get(tenantId) as { payload: string }).payload,
    ) as { type: string; data: { id: string; status: string; model_id: string | null } };
    expect(payload.data).toMatchObject({ id: job.id, status: 'failed', model_id: null });
    expect(count(edge, 'SELECT COUNT(*) AS n FROM models WHERE job_id = ?', job.id)).toBe(0);
  }, 90_000);
});
