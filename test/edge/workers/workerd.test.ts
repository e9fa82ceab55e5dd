// The Workers build of the edge (edge/workers/entry.ts, infra/cloudflare/wrangler.toml) inside workerd:
// `wrangler dev` (local mode) with local D1 (schema applied with `wrangler d1 migrations apply --local`)
// and local KV, S3 on s3rver reached through aws4fetch. Drives the main flows over HTTP.
// Wrangler's state, logs and config live in a temp dir (test/helpers/wrangler-dev.ts); metrics and the cf.json fetch are off.
// The second part runs a real worker process (gpu-worker/worker-process.ts on the bundled toy CLIP) whose
// inference server is the edge's INFERENCE_URL: it trains a CoCoOp job leased from workerd, and classify and
// text embeddings through workerd are compared with the Node edge (SQLite) routed to the same server.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEdge, startEdge } from '../../../edge/node/server.ts';
import { toyImageSet } from '../../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../../lab/toyworld/png.ts';
import { cleanEnv, freePort, type Launched, launch } from '../../helpers/processes.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../../helpers/s3rver.ts';
import { waitUntil } from '../../helpers/wait-until.ts';
import { type WranglerDev, startWranglerDev, WORKERD_ADMIN, WORKERD_WORKER, edgeVars } from '../../helpers/wrangler-dev.ts';

const ADMIN = WORKERD_ADMIN;
const WORKER = WORKERD_WORKER;

let s3: RunningS3rver;
let dir: string;
let dev: WranglerDev | undefined;
let base = '';
/** Everything wrangler and workerd printed so far. */
const devLog = () => dev?.log() ?? '';
/** Port of the worker process's inference server (the edge's INFERENCE_URL), chosen before wrangler starts. */
let inferencePort = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  inferencePort = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'workerd-edge-'));
  // Vars and secrets of the Workers build (its .dev.vars).
  dev = await startWranglerDev({
    vars: edgeVars(s3, { INFERENCE_URL: `http://127.0.0.1:${inferencePort}`, QUOTA_DATASETS: '200' }),
    testScheduled: true,
  });
  base = dev.base.replace(/\/+$/, '');
}, 90_000);

afterAll(async () => {
  await dev?.stop();
  // wrangler and workerd have exited: the log holds everything they printed (was: a 1.5 s sleep before stopping).
  if (process.env.WORKERD_TEST_LOG) writeFileSync(process.env.WORKERD_TEST_LOG, devLog());
  await s3?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const f = (path: string, init?: RequestInit) => fetch(base + path, init);
const auth = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
const json = (token: string, extra: Record<string, string> = {}) => auth(token, { 'content-type': 'application/json', ...extra });

async function expectError(res: Response, status: number, code: string): Promise<{ code: string; message: string; param?: string }> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error;
}

const png = async (r: number) =>
  new Uint8Array(await sharp({ create: { width: 12, height: 10, channels: 3, background: { r, g: 90, b: 160 } } }).png().toBuffer());

function form(label: string, files: Uint8Array[]): FormData {
  const fd = new FormData();
  fd.append('label', label);
  for (const [i, bytes] of files.entries()) fd.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), `${label}${i}.png`);
  return fd;
}

describe('the edge in workerd (wrangler dev --local, D1, KV, S3 via aws4fetch)', () => {
  let apiKey = '';
  let tenantId = '';
  let datasetId = '';

  it('serves /openapi.json and answers 401 in the error shape', async () => {
    const spec = await f('/openapi.json');
    expect(spec.status).toBe(200);
    expect(((await spec.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    await expectError(await f('/v1/me'), 401, 'unauthorized');
    await expectError(await f('/v1/me', { headers: auth('sk_not_a_real_key_0123456789') }), 401, 'unauthorized');
  });

  it('creates a tenant (admin) and GET /v1/me answers for its key', async () => {
    const res = await f('/v1/tenants', { method: 'POST', headers: json(ADMIN), body: JSON.stringify({ name: 'Workerd Co' }) });
    expect(res.status).toBe(201);
    const t = (await res.json()) as { id: string; api_key: string };
    apiKey = t.api_key;
    tenantId = t.id;
    const me = await f('/v1/me', { headers: auth(apiKey) });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: tenantId });
  });

  it('creates a dataset, uploads images (multipart → S3), finalizes; 404 and 422 shapes', async () => {
    const res = await f('/v1/datasets', { method: 'POST', headers: json(apiKey), body: JSON.stringify({ name: 'Pets', classes: ['cat', 'dog'] }) });
    expect(res.status).toBe(201);
    datasetId = ((await res.json()) as { id: string }).id;

    for (const [label, shade] of [['cat', 10], ['dog', 200]] as const) {
      const up = await f(`/v1/datasets/${datasetId}/images`, { method: 'POST', headers: auth(apiKey), body: form(label, [await png(shade), await png(shade + 20)]) });
      expect(up.status, await up.clone().text()).toBe(201);
      const body = (await up.json()) as { images: { id: string; width: number; height: number }[] };
      expect(body.images).toHaveLength(2);
      expect(body.images[0]).toMatchObject({ width: 12, height: 10 });
    }
    const fin = await f(`/v1/datasets/${datasetId}/finalize`, { method: 'POST', headers: auth(apiKey) });
    expect(fin.status).toBe(200);
    expect(await fin.json()).toMatchObject({ status: 'ready', image_count: 4 });

    await expectError(await f('/v1/datasets/ds_doesnotexist', { headers: auth(apiKey) }), 404, 'not_found');
    const bad = await f('/v1/datasets', { method: 'POST', headers: json(apiKey), body: JSON.stringify({ name: '' }) });
    await expectError(bad, 422, 'validation_failed');
  });

  it('completes 100 presigned uploads in one call and lists 100 datasets in one page (D1 binds at most 100 parameters)', async () => {
    const res = await f('/v1/datasets', { method: 'POST', headers: json(apiKey), body: JSON.stringify({ name: 'Bulk' }) });
    expect(res.status).toBe(201);
    const bulk = ((await res.json()) as { id: string }).id;
    const bytes = await png(60);
    const files = Array.from({ length: 100 }, (_, i) => ({ label: i % 2 === 0 ? 'cat' : 'dog', content_type: 'image/png', bytes: bytes.length }));
    const up = await f(`/v1/datasets/${bulk}/uploads`, { method: 'POST', headers: json(apiKey), body: JSON.stringify({ files }) });
    expect(up.status, await up.clone().text()).toBe(201);
    const { uploads } = (await up.json()) as { uploads: { image_id: string; url: string; headers: Record<string, string> }[] };
    expect(uploads).toHaveLength(100);
    for (let i = 0; i < uploads.length; i += 10) {
      await Promise.all(
        uploads.slice(i, i + 10).map(async (u) => {
          expect(u.url.startsWith(s3.endpoint)).toBe(true);
          const put = await fetch(u.url, { method: 'PUT', headers: u.headers, body: bytes as Uint8Array<ArrayBuffer> });
          expect(put.status).toBe(200);
          await put.arrayBuffer();
        }),
      );
    }
    const done = await f(`/v1/datasets/${bulk}/uploads/complete`, { method: 'POST', headers: json(apiKey), body: JSON.stringify({ image_ids: uploads.map((u) => u.image_id) }) });
    expect(done.status, await done.clone().text()).toBe(200);
    expect(((await done.json()) as { images: unknown[] }).images).toHaveLength(100);
    const view = await f(`/v1/datasets/${bulk}`, { headers: auth(apiKey) });
    expect(await view.json()).toMatchObject({ image_count: 100, classes: [{ name: 'cat', image_count: 50 }, { name: 'dog', image_count: 50 }] });

    // A full page of datasets (QUOTA_DATASETS is 200 here): their class counts are looked up for 100 datasets at once.
    for (let i = 0; i < 98; i++) {
      const d = await f('/v1/datasets', { method: 'POST', headers: json(apiKey), body: JSON.stringify({ name: `page-${i}` }) });
      expect(d.status).toBe(201);
    }
    const page = await f('/v1/datasets?limit=100', { headers: auth(apiKey) });
    expect(page.status, await page.clone().text()).toBe(200);
    // The bulk dataset is deleted again so the rest of this file sees the tenant as before.
    expect((await f(`/v1/datasets/${bulk}`, { method: 'DELETE', headers: auth(apiKey) })).status).toBe(204);
  });

  it('creates a training job idempotently, a worker leases and completes it, and the model appears', async () => {
    const create = () =>
      f('/v1/training-jobs', {
        method: 'POST',
        headers: json(apiKey, { 'Idempotency-Key': 'job-1' }),
        body: JSON.stringify({ dataset_id: datasetId, method: 'cocoop', hyperparameters: { epochs: 2 } }),
      });
    const first = await create();
    expect(first.status).toBe(201);
    const job = (await first.json()) as { id: string; status: string };
    expect(job.status).toBe('queued');
    const again = await create();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(job.id);

    const w = (path: string, body: unknown) => f(`/internal/v1${path}`, { method: 'POST', headers: json(WORKER), body: JSON.stringify(body) });
    await expectError(await f('/internal/v1/leases', { method: 'POST', headers: json(apiKey), body: '{"worker_id":"w"}' }), 401, 'unauthorized');
    const leaseRes = await w('/leases', { worker_id: 'gpu-1' });
    expect(leaseRes.status).toBe(200);
    const lease = (await leaseRes.json()) as {
      job: { id: string };
      lease_id: string;
      storage: { artifact_key: string };
      dataset: { images: { object_key: string }[] };
    };
    expect(lease.job.id).toBe(job.id);
    expect(lease.dataset.images).toHaveLength(4);

    // The worker's view of S3: the dataset images the edge stored, and its own artifact upload.
    const { S3Client, GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const img = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: lease.dataset.images[0].object_key }));
    expect((await img.Body!.transformToByteArray()).subarray(1, 4)).toEqual(new TextEncoder().encode('PNG'));
    const artifact = new TextEncoder().encode('adapter bytes from workerd test');
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: lease.storage.artifact_key, Body: artifact, ContentType: 'application/octet-stream' }));
    client.destroy();

    const done = await w(`/jobs/${job.id}/complete`, {
      lease_id: lease.lease_id,
      artifact: { key: lease.storage.artifact_key, bytes: artifact.byteLength, sha256: createHash('sha256').update(artifact).digest('hex') },
      base_model: 'toy-clip',
      classes: ['cat', 'dog'],
      metrics: { train_loss: 0.3, train_accuracy: 0.8 },
    });
    expect(done.status, await done.clone().text()).toBe(200);
    const modelId = ((await done.json()) as { model_id: string }).model_id;

    const jobNow = await f(`/v1/training-jobs/${job.id}`, { headers: auth(apiKey) });
    expect(await jobNow.json()).toMatchObject({ status: 'succeeded' });
    const model = await f(`/v1/models/${modelId}`, { headers: auth(apiKey) });
    expect(model.status).toBe(200);
    expect(await model.json()).toMatchObject({ id: modelId });
    const dl = await f(`/v1/models/${modelId}/artifact`, { headers: auth(apiKey) });
    expect(dl.status).toBe(200);
    expect(new Uint8Array(await dl.arrayBuffer())).toEqual(artifact);
  });

  it('runs the cron trigger (background tasks) without error', async () => {
    const res = await f('/__scheduled?cron=*+*+*+*+*');
    expect(res.status).toBe(200);
    expect(devLog()).not.toMatch(/\[cron\] background errors/);
    // The bucket reconciliation's first run: D1 (migration 0013) and a listing through the aws4fetch store.
    await expect.poll(() => devLog(), { timeout: 60_000 }).toMatch(/bucket reconciliation: listed [1-9]\d* object\(s\) under tenants\/.*pass over the bucket complete/);
  });
});

// ---- classification through workerd against a real inference server ---------------------------------

interface Prediction {
  label: string;
  score: number;
}
interface ClassifyAnswer {
  model: string;
  labels_source: string;
  predictions?: Prediction[];
  results?: { predictions: Prediction[] }[];
}

const TRAINED = ['red circle', 'blue square', 'green triangle'];
const NEVER_TRAINED = ['yellow star', 'purple hexagon', 'orange ring'];

describe('classification in workerd with a real worker process, compared with the Node edge', () => {
  let worker: Launched;
  let node: RunningEdge;
  let nodeDir = '';
  const workDir = () => join(dir, 'worker');
  let wKey = '';
  let nKey = '';
  let wModel = '';
  let nModel = '';
  let wDataset = '';
  const b64 = new Map<string, string>(); // label → base64 PNG of a held-out image
  const b64Batch: string[] = [];

  const post = (url: string, key: string, path: string, body: unknown, extra: Record<string, string> = {}) =>
    fetch(url + path, { method: 'POST', headers: json(key, extra), body: JSON.stringify(body) });

  async function tenantAndDataset(url: string): Promise<{ key: string; datasetId: string }> {
    const t = await post(url, ADMIN, '/v1/tenants', { name: 'Parity Co' });
    expect(t.status).toBe(201);
    const key = ((await t.json()) as { api_key: string }).api_key;
    const ds = await post(url, key, '/v1/datasets', { name: 'shapes' });
    expect(ds.status).toBe(201);
    const datasetId = ((await ds.json()) as { id: string }).id;
    const set = await toyImageSet('raster', 'train', 5, TRAINED, 3, 48);
    for (const [c, label] of TRAINED.entries()) {
      const pngs = await Promise.all(set.images.filter((_, i) => set.labels[i] === c).map(async (img) => new Uint8Array(await encodePng(img))));
      const up = await fetch(`${url}/v1/datasets/${datasetId}/images`, { method: 'POST', headers: auth(key), body: form(label, pngs) });
      expect(up.status, await up.clone().text()).toBe(201);
    }
    const fin = await fetch(`${url}/v1/datasets/${datasetId}/finalize`, { method: 'POST', headers: auth(key) });
    expect(fin.status).toBe(200);
    return { key, datasetId };
  }

  beforeAll(async () => {
    node = await startEdge({
      dataDir: (nodeDir = mkdtempSync(join(tmpdir(), 'workerd-parity-node-'))),
      port: 0,
      config: { adminToken: ADMIN, workerToken: WORKER, localMode: true, inferenceUrl: `http://127.0.0.1:${inferencePort}`, logger: { error: () => {}, warn: () => {} } },
      s3: s3Config(s3.endpoint, s3.bucket),
      backgroundIntervalMs: 0,
    });
    worker = launch(
      ['bin/run-ts.mjs', 'gpu-worker/worker-process.ts'],
      cleanEnv({
        EDGE_URL: base,
        WORKER_TOKEN: WORKER,
        WORKER_ID: 'workerd-parity',
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: s3.bucket,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        S3_FORCE_PATH_STYLE: 'true',
        INFERENCE_PORT: String(inferencePort),
        WORK_DIR: workDir(),
        POLL_MS: '200',
        MAX_POLL_MS: '500',
      }),
    );
    await worker.waitFor(/inference server listening/, 60_000);
    const held = await toyImageSet('raster', 'test', 9, [...TRAINED, ...NEVER_TRAINED], 1, 48);
    for (const [i, img] of held.images.entries()) {
      const data = (await encodePng(img)).toString('base64');
      b64.set(held.classNames[held.labels[i]!]!, data);
      b64Batch.push(data);
    }
  }, 90_000);

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await node?.close();
    if (nodeDir) rmSync(nodeDir, { recursive: true, force: true });
  });

  it('the worker process trains a CoCoOp job leased from workerd; the Node edge registers the same adapter', async () => {
    const w = await tenantAndDataset(base);
    wKey = w.key;
    wDataset = w.datasetId;
    const job = await post(base, wKey, '/v1/training-jobs', { dataset_id: w.datasetId, method: 'cocoop', hyperparameters: { epochs: 2, seed: 1 } });
    expect(job.status, await job.clone().text()).toBe(201);
    const jobId = ((await job.json()) as { id: string }).id;
    type Job = { status: string; model_id: string | null; error: unknown };
    const final = await waitUntil(
      'the job to end',
      async () => {
        const j = (await (await f(`/v1/training-jobs/${jobId}`, { headers: auth(wKey) })).json()) as Job;
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) && j;
      },
      { timeoutMs: 150_000, intervalMs: 200, context: () => worker.lines.slice(-20).join('\n') },
    );
    expect(final, worker.lines.slice(-20).join('\n')).toMatchObject({ status: 'succeeded', error: null });
    wModel = final.model_id!;
    const model = (await (await f(`/v1/models/${wModel}`, { headers: auth(wKey) })).json()) as { base_model: string; classes: string[] };
    expect([...model.classes].sort()).toEqual([...TRAINED].sort());
    const artifact = new Uint8Array(await (await f(`/v1/models/${wModel}/artifact`, { headers: auth(wKey) })).arrayBuffer());

    // The Node edge: the same dataset and a job whose completion carries the very adapter bytes workerd published.
    const n = await tenantAndDataset(node.url);
    nKey = n.key;
    const nJob = await post(node.url, nKey, '/v1/training-jobs', { dataset_id: n.datasetId, method: 'cocoop', hyperparameters: { epochs: 2, seed: 1 } });
    expect(nJob.status).toBe(201);
    const lease = (await (await post(node.url, WORKER, '/internal/v1/leases', { worker_id: 'parity' })).json()) as {
      job: { id: string };
      lease_id: string;
      storage: { artifact_key: string };
    };
    const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: lease.storage.artifact_key, Body: artifact }));
    client.destroy();
    const done = await post(node.url, WORKER, `/internal/v1/jobs/${lease.job.id}/complete`, {
      lease_id: lease.lease_id,
      artifact: { key: lease.storage.artifact_key, bytes: artifact.byteLength, sha256: createHash('sha256').update(artifact).digest('hex') },
      base_model: model.base_model,
      classes: model.classes,
      metrics: { train_loss: 0.5, train_accuracy: 0.5 },
    });
    expect(done.status, await done.clone().text()).toBe(200);
    nModel = ((await done.json()) as { model_id: string }).model_id;
  }, 180_000);

  it('an evaluation in workerd (D1 queue row, leased by the worker process): its figures equal a count over workerd\'s own /v1/classify answers', async () => {
    const labels = [...TRAINED, ...NEVER_TRAINED];
    const created = await post(base, wKey, '/v1/evaluations', { model: wModel, dataset_id: wDataset, labels });
    expect(created.status, await created.clone().text()).toBe(202);
    const id = ((await created.json()) as { id: string }).id;
    type Ev = { status: string; result: { n: number; accuracy: number; zero_shot_accuracy: number; confusion: { labels: string[]; matrix: number[][] } } | null; error: unknown };
    const ev = await waitUntil(
      'the evaluation to end',
      async () => {
        const e = (await (await f(`/v1/evaluations/${id}`, { headers: auth(wKey) })).json()) as Ev;
        return ['succeeded', 'failed'].includes(e.status) && e;
      },
      { timeoutMs: 100_000, intervalMs: 200, context: () => worker.lines.slice(-20).join('\n') },
    );
    expect(ev, worker.lines.slice(-20).join('\n')).toMatchObject({ status: 'succeeded', error: null });
    // The same images (the dataset's, re-rendered from the same seed) through /v1/classify in workerd.
    const set = await toyImageSet('raster', 'train', 5, TRAINED, 3, 48);
    const images = await Promise.all(set.images.map(async (img) => (await encodePng(img)).toString('base64')));
    const count = async (model: string) => {
      const r = await post(base, wKey, '/v1/classify', { model, images, labels, top_k: 1 });
      expect(r.status, await r.clone().text()).toBe(200);
      const a = (await r.json()) as ClassifyAnswer;
      return a.results!.filter((x, i) => x.predictions![0]!.label === set.classNames[set.labels[i]!]).length;
    };
    expect(ev.result!.n).toBe(images.length);
    expect(Math.round(ev.result!.accuracy * ev.result!.n)).toBe(await count(wModel));
    expect(Math.round(ev.result!.zero_shot_accuracy * ev.result!.n)).toBe(await count('zero-shot'));
    expect(ev.result!.confusion.labels).toEqual(labels);
  }, 120_000);

  /** The same request on both edges: both 200, the same predictions (the model ids differ, nothing else). */
  async function both(body: (model: 'w' | 'n') => unknown): Promise<ClassifyAnswer> {
    const wr = await post(base, wKey, '/v1/classify', body('w'));
    const nr = await post(node.url, nKey, '/v1/classify', body('n'));
    expect(wr.status, await wr.clone().text()).toBe(200);
    expect(nr.status, await nr.clone().text()).toBe(200);
    const wa = (await wr.json()) as ClassifyAnswer;
    const na = (await nr.json()) as ClassifyAnswer;
    expect({ ...wa, model: null }).toEqual({ ...na, model: null });
    return wa;
  }

  it('zero-shot classify: 200 in workerd, the same predictions as the Node edge', async () => {
    const labels = [...TRAINED, ...NEVER_TRAINED];
    for (const truth of labels) {
      const a = await both(() => ({ model: 'zero-shot', image: b64.get(truth), labels }));
      expect(a.labels_source).toBe('request');
      expect(a.predictions).toHaveLength(labels.length);
      expect(a.predictions!.reduce((s, p) => s + p.score, 0)).toBeCloseTo(1, 2);
    }
  });

  it('classify with the trained CoCoOp adapter: its own classes, and labels it never trained on', async () => {
    const own = await both((m) => ({ model: m === 'w' ? wModel : nModel, image: b64.get('blue square') }));
    expect(own.labels_source).toBe('model');
    expect(own.predictions!.map((p) => p.label).sort()).toEqual([...TRAINED].sort());
    const unseen = await both((m) => ({ model: m === 'w' ? wModel : nModel, image: b64.get('purple hexagon'), labels: [...NEVER_TRAINED, 'red circle'], top_k: 2 }));
    expect(unseen.labels_source).toBe('request');
    expect(unseen.predictions).toHaveLength(2);
    for (const p of unseen.predictions!) expect([...NEVER_TRAINED, 'red circle']).toContain(p.label);
  });

  it('batch classify: one result per image, in order, the same on both edges', async () => {
    const a = await both((m) => ({ model: m === 'w' ? wModel : nModel, images: b64Batch, labels: [...TRAINED, ...NEVER_TRAINED] }));
    expect(a.results).toHaveLength(b64Batch.length);
    for (const r of a.results!) expect(r.predictions).toHaveLength(TRAINED.length + NEVER_TRAINED.length);
  });

  it('text embeddings twice: the second answer comes from the edge cache (KV in workerd), equal to the first and to Node', async () => {
    const texts = ['a photo of a red circle.', 'a photo of a yellow star.'];
    const ask = async (url: string, key: string) => {
      const r = await post(url, key, '/v1/embeddings/text', { texts });
      expect(r.status, await r.clone().text()).toBe(200);
      return (await r.json()) as { data: { text: string; embedding: number[] }[]; cached: number };
    };
    const first = await ask(base, wKey);
    expect(first.cached).toBe(0);
    expect(first.data.map((d) => d.text)).toEqual(texts);
    const norm = Math.hypot(...first.data[0]!.embedding);
    expect(norm).toBeCloseTo(1, 4);
    const second = await ask(base, wKey);
    expect(second.cached).toBe(texts.length);
    expect(second.data).toEqual(first.data);
    const fromNode = await ask(node.url, nKey);
    expect(fromNode.cached).toBe(0);
    expect(fromNode.data).toEqual(first.data);
  });

  it('the inference server down: 503 inference_unavailable with Retry-After, on both runtimes', async () => {
    worker.child.kill('SIGKILL');
    await worker.exited;
    for (const [url, key] of [[base, wKey], [node.url, nKey]] as const) {
      const c = await post(url, key, '/v1/classify', { model: 'zero-shot', image: b64.get('red circle'), labels: TRAINED });
      const err = await expectError(c, 503, 'inference_unavailable');
      expect(Number(c.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(err.message).toMatch(/retry/i);
      const e = await post(url, key, '/v1/embeddings/text', { texts: ['never asked before'] });
      await expectError(e, 503, 'inference_unavailable');
      expect(Number(e.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(devLog()).not.toMatch(/Invalid redirect value/);
  });
});
