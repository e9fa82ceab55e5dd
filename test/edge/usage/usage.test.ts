// Billable usage on Node, end to end: the edge (real SQLite, real HTTP) forwards classify and text embeddings to the
// real inference server on the bundled toy CLIP; a training job and an evaluation run through the internal worker API;
// the background task takes the storage snapshot. GET /v1/usage must report exactly what the test itself did and
// counted — N classify calls with M images, K embedded texts, each job's running time as the job reports it, the
// stored bytes — nothing for refused calls, nothing twice for a retried /complete, and nothing of another tenant.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackgroundTasks } from '../../../edge/background.ts';
import { snapshotStorage } from '../../../edge/usage/storage.ts';
import { type RunningInferenceServer, startInferenceServer } from '../../../gpu-worker/serve/main.ts';
import { toyImageSet } from '../../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../../lab/toyworld/png.ts';
import { ADMIN_TOKEN, WORKER_TOKEN, type TestBlobStore, type TestEdge, bearer, jsonHeaders, startTestEdge, testBlobStore } from '../../helpers/edge.ts';
import { halfRightScores } from '../../helpers/evaluation-scores.ts';
import { insertReadyDataset, workerClient } from '../../helpers/jobs.ts';

const LABELS = ['red circle', 'blue square', 'green triangle'];
const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

let inference: RunningInferenceServer;
let edge: TestEdge;
let store: TestBlobStore;
let images: string[]; // base64 PNGs

beforeAll(async () => {
  store = await testBlobStore(); // shared by the edge and the inference server, as in production
  inference = await startInferenceServer({
    modelDir: resolve(process.cwd(), 'models/toy-clip'),
    workerToken: WORKER_TOKEN,
    blobs: store.blobs,
    port: 0,
    ort: { provider: 'cpu', log: () => {} },
  });
  edge = await startTestEdge(
    { inferenceUrl: inference.url, rateLimit: { requestsPerWindow: 10_000 }, quotas: { concurrent_jobs: 5 } },
    { blobs: store.blobs },
  );
  const set = await toyImageSet('raster', 'test', 3, LABELS, 2, 32);
  images = await Promise.all(set.images.map(async (img) => (await encodePng(img)).toString('base64')));
}, 120_000);

afterAll(async () => {
  await edge?.close();
  await inference?.close();
  await store?.release();
});

interface Meters {
  classify_requests: number;
  classify_images: number;
  embedding_texts: number;
  training_seconds: { cocoop: number; coop: number };
  evaluation_seconds: { cocoop: number; coop: number; 'zero-shot': number };
}
interface Report {
  from: string;
  to: string;
  granularity: string;
  data: (Meters & { date: string; storage_bytes: number | null })[];
  totals: Meters & { storage_byte_days: number };
}

const post = (key: string, path: string, body: unknown) => edge.fetch(path, { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) });
async function ok<T>(res: Promise<Response> | Response, status = 200): Promise<T> {
  const r = await res;
  const text = await r.text();
  expect(r.status, text.slice(0, 300)).toBe(status);
  return JSON.parse(text) as T;
}
const usage = (key: string, query: string) => ok<Report>(edge.fetch(`/v1/usage${query}`, { headers: bearer(key) }));
const runningMs = (o: { started_at: string | null; finished_at: string | null }) => Date.parse(o.finished_at!) - Date.parse(o.started_at!);

/** The sum of the days' meters: must equal the totals. */
function sumOfDays(r: Report): Meters & { storage_byte_days: number } {
  const sum = {
    classify_requests: 0,
    classify_images: 0,
    embedding_texts: 0,
    training_seconds: { cocoop: 0, coop: 0 },
    evaluation_seconds: { cocoop: 0, coop: 0, 'zero-shot': 0 },
    storage_byte_days: 0,
  };
  for (const d of r.data) {
    sum.classify_requests += d.classify_requests;
    sum.classify_images += d.classify_images;
    sum.embedding_texts += d.embedding_texts;
    for (const m of ['cocoop', 'coop'] as const) sum.training_seconds[m] += d.training_seconds[m];
    for (const m of ['cocoop', 'coop', 'zero-shot'] as const) sum.evaluation_seconds[m] += d.evaluation_seconds[m];
    sum.storage_byte_days += d.storage_bytes ?? 0;
  }
  return sum;
}

describe('GET /v1/usage reports what the tenant did', () => {
  it('classify calls and images, embedded texts, job and evaluation seconds by method, storage byte-days; refused calls and retries count nothing', async () => {
    const a = await edge.createTenant('Metered');
    const b = await edge.createTenant('Neighbour');

    // Classify: N calls with M images in all, through the real inference server.
    const calls: Record<string, unknown>[] = [
      { model: 'zero-shot', image: images[0], labels: LABELS },
      { model: 'zero-shot', images: images.slice(0, 2), labels: LABELS },
      { model: 'zero-shot', images: images.slice(1, 5), labels: LABELS, top_k: 1 },
    ];
    let n = 0;
    let m = 0;
    for (const body of calls) {
      await ok(post(a.api_key, '/v1/classify', body));
      n += 1;
      m += body.image !== undefined ? 1 : (body.images as string[]).length;
    }
    // Refused calls count nothing: a bad image (422), an unknown model (404), no labels for zero-shot (422).
    expect((await post(a.api_key, '/v1/classify', { model: 'zero-shot', images: [images[0], 'not base64!'], labels: LABELS })).status).toBe(422);
    expect((await post(a.api_key, '/v1/classify', { model: 'mdl_0000000000000000000000', image: images[0] })).status).toBe(404);
    expect((await post(a.api_key, '/v1/classify', { model: 'zero-shot', image: images[0] })).status).toBe(422);

    // Text embeddings: K texts in all (a repeated one is served from the cache and still counted).
    const batches = [['a photo of a red circle', 'a photo of a blue square'], ['a photo of a red circle', 'a green triangle', 'a shape']];
    let k = 0;
    for (const texts of batches) {
      const answer = await ok<{ data: unknown[]; cached: number }>(post(a.api_key, '/v1/embeddings/text', { texts }));
      expect(answer.data).toHaveLength(texts.length);
      k += texts.length;
    }
    expect((await post(a.api_key, '/v1/embeddings/text', { texts: [] })).status).toBe(422);

    // The neighbour's call is its own.
    await ok(post(b.api_key, '/v1/classify', { model: 'zero-shot', image: images[2], labels: LABELS }));

    // A CoOp training job that succeeds, its /complete retried; a CoCoOp job that fails; a zero-shot evaluation.
    const w = workerClient(edge);
    const datasetId = insertReadyDataset(edge, a.id);
    const coop = await ok<{ id: string }>(post(a.api_key, '/v1/training-jobs', { dataset_id: datasetId, method: 'coop' }), 201);
    const lease = await w.leaseOk();
    expect(lease.job.id).toBe(coop.id);
    const artifact = new TextEncoder().encode('adapter bytes of the usage test');
    await edge.ports.blobs.put(lease.storage.artifact_key, artifact, 'application/octet-stream');
    const complete = {
      lease_id: lease.lease_id,
      artifact: { key: lease.storage.artifact_key, bytes: artifact.byteLength, sha256: createHash('sha256').update(artifact).digest('hex') },
      base_model: 'toy-clip',
      classes: ['cat', 'dog'],
      metrics: { train_loss: 0.2, train_accuracy: 0.9 },
    };
    expect((await w.complete(coop.id, complete)).status).toBe(200);
    expect((await w.complete(coop.id, complete)).status).toBe(409);

    const cocoop = await ok<{ id: string }>(post(a.api_key, '/v1/training-jobs', { dataset_id: datasetId, method: 'cocoop' }), 201);
    const lease2 = await w.leaseOk();
    expect(lease2.job.id).toBe(cocoop.id);
    expect((await w.fail(cocoop.id, { lease_id: lease2.lease_id, code: 'training_failed', message: 'stopped by the usage test' })).status).toBe(200);

    const ev = await ok<{ id: string }>(post(a.api_key, '/v1/evaluations', { model: 'zero-shot', dataset_id: datasetId }), 202);
    const evLease = await w.leaseAnyOk();
    expect(evLease.kind).toBe('evaluation');
    const scores = halfRightScores();
    expect((await w.result(ev.id, { lease_id: evLease.lease_id, result: scores })).status).toBe(200);
    expect((await w.result(ev.id, { lease_id: evLease.lease_id, result: scores })).status).toBe(409);

    // A job cancelled while queued never ran: nothing to count.
    const queued = await ok<{ id: string }>(post(a.api_key, '/v1/training-jobs', { dataset_id: datasetId, method: 'coop' }), 201);
    await ok(post(a.api_key, `/v1/training-jobs/${queued.id}/cancel`, {}));

    // The running times as the jobs themselves report them.
    const job = (path: string) => ok<{ status: string; started_at: string | null; finished_at: string | null }>(edge.fetch(path, { headers: bearer(a.api_key) }));
    const coopJob = await job(`/v1/training-jobs/${coop.id}`);
    const cocoopJob = await job(`/v1/training-jobs/${cocoop.id}`);
    const evaluation = await job(`/v1/evaluations/${ev.id}`);
    expect([coopJob.status, cocoopJob.status, evaluation.status]).toEqual(['succeeded', 'failed', 'succeeded']);
    expect((await job(`/v1/training-jobs/${queued.id}`)).status).toBe('cancelled');

    // Storage: the dataset's images (insertReadyDataset: 2 classes × 2 images × 100 bytes) and the artifact, snapshotted
    // today and, by a later run, tomorrow.
    const storedBytes = 2 * 2 * 100 + artifact.byteLength;
    const now = Date.now();
    const today = day(now);
    expect((await runBackgroundTasks(edge.ports, edge.config, edge.webhookSettings, new Date(now))).storageSnapshots).toBeGreaterThanOrEqual(2);
    expect((await runBackgroundTasks(edge.ports, edge.config, edge.webhookSettings, new Date(now))).storageSnapshots).toBe(0);
    await runBackgroundTasks(edge.ports, edge.config, edge.webhookSettings, new Date(now + DAY_MS));

    // Days may have turned during the test: the range spans yesterday to the day after tomorrow.
    const report = await usage(a.api_key, `?from=${day(now - DAY_MS)}&to=${day(now + 2 * DAY_MS)}&granularity=day`);
    expect(report.data.map((d) => d.date)).toEqual([-1, 0, 1, 2].map((i) => day(now + i * DAY_MS)));
    expect(report.totals).toEqual({
      classify_requests: n,
      classify_images: m,
      embedding_texts: k,
      training_seconds: { coop: runningMs(coopJob) / 1000, cocoop: runningMs(cocoopJob) / 1000 },
      evaluation_seconds: { cocoop: 0, coop: 0, 'zero-shot': runningMs(evaluation) / 1000 },
      storage_byte_days: 2 * storedBytes,
    });
    expect(sumOfDays(report)).toEqual(report.totals);
    expect(report.data.find((d) => d.date === today)?.storage_bytes).toBe(storedBytes);
    expect(report.data.find((d) => d.date === day(now + DAY_MS))?.storage_bytes).toBe(storedBytes);
    expect(report.data[0].storage_bytes).toBeNull();
    expect([n, m, k]).toEqual([3, 7, 5]);
    // One usage row per job that ran, none for the one cancelled while queued.
    const rows = edge.db.raw.prepare('SELECT job_id, kind, method FROM usage_work WHERE tenant_id = ? ORDER BY job_id').all(a.id);
    expect(rows).toEqual(
      [
        { job_id: coop.id, kind: 'training', method: 'coop' },
        { job_id: cocoop.id, kind: 'training', method: 'cocoop' },
        { job_id: ev.id, kind: 'evaluation', method: 'zero-shot' },
      ].sort((x, y) => x.job_id.localeCompare(y.job_id)),
    );

    // The neighbour: its one call and its own (empty) storage only.
    const other = await usage(b.api_key, `?from=${day(now - DAY_MS)}&to=${day(now + 2 * DAY_MS)}`);
    expect(other.totals).toMatchObject({ classify_requests: 1, classify_images: 1, embedding_texts: 0, storage_byte_days: 0 });
    expect(other.totals.training_seconds).toEqual({ cocoop: 0, coop: 0 });
  }, 120_000);
});

describe('the storage snapshot', () => {
  it('covers every tenant once a day, a batch per run, in id order; a later run of the day takes none', async () => {
    const e = await startTestEdge();
    try {
      const tenants = [];
      for (let i = 0; i < 5; i++) tenants.push(await e.createTenant(`T${i}`));
      insertReadyDataset(e, tenants[3].id, ['x'], 3); // 3 images of 100 bytes
      const now = new Date();
      const runs = [];
      for (let i = 0; i < 4; i++) runs.push(await snapshotStorage(e.ports.db, now, 2));
      expect(runs).toEqual([2, 2, 1, 0]);
      const rows = e.db.raw.prepare('SELECT tenant_id, storage_bytes FROM usage_daily WHERE day = ? ORDER BY tenant_id').all(day(now.getTime()));
      expect(rows).toEqual(tenants.map((t, i) => ({ tenant_id: t.id, storage_bytes: i === 3 ? 300 : 0 })).sort((x, y) => x.tenant_id.localeCompare(y.tenant_id)));
      // The next day starts over.
      expect(await snapshotStorage(e.ports.db, new Date(now.getTime() + DAY_MS), 10)).toBe(5);
    } finally {
      await e.close();
    }
  });
});

describe('GET /v1/usage: range and access', () => {
  it('defaults to the current month to date; every day of the range has a bucket, zeros included', async () => {
    const t = await edge.createTenant('Quiet');
    const now = new Date();
    const r = await usage(t.api_key, '');
    const today = day(now.getTime());
    expect(r).toMatchObject({ from: `${today.slice(0, 8)}01`, to: today, granularity: 'day' });
    expect(r.data).toHaveLength(now.getUTCDate());
    expect(r.data.at(-1)).toEqual({
      date: today,
      classify_requests: 0,
      classify_images: 0,
      embedding_texts: 0,
      training_seconds: { cocoop: 0, coop: 0 },
      evaluation_seconds: { cocoop: 0, coop: 0, 'zero-shot': 0 },
      storage_bytes: null,
    });
    const leap = await usage(t.api_key, '?from=2024-01-01&to=2024-12-31');
    expect(leap.data).toHaveLength(366);
    expect(leap.data[59].date).toBe('2024-02-29');
  });

  it('bad dates, from after to, over 366 days, an unknown granularity: 422 with param', async () => {
    const t = await edge.createTenant('Picky');
    const cases: [string, string][] = [
      ['?from=2025-02-30&to=2025-03-01', 'from'],
      ['?from=2025-1-01&to=2025-03-01', 'from'],
      ['?from=yesterday', 'from'],
      ['?from=2025-01-01&to=2025-13-01', 'to'],
      ['?from=2025-01-01&to=2025-01-01T00:00:00Z', 'to'],
      ['?from=2025-03-02&to=2025-03-01', 'from'],
      ['?from=2024-01-01&to=2025-01-01', 'to'],
      ['?from=2025-01-01&to=2025-01-31&granularity=hour', 'granularity'],
    ];
    for (const [query, param] of cases) {
      const res = await edge.fetch(`/v1/usage${query}`, { headers: bearer(t.api_key) });
      expect(res.status, query).toBe(422);
      const body = (await res.json()) as { error: { code: string; message: string; param?: string } };
      expect(body.error.code, query).toBe('validation_failed');
      expect(body.error.param, query).toBe(param);
    }
  });

  it('needs a tenant key (the admin and worker tokens are 401)', async () => {
    for (const token of [ADMIN_TOKEN, WORKER_TOKEN]) expect((await edge.fetch('/v1/usage', { headers: bearer(token) })).status).toBe(401);
    expect((await edge.fetch('/v1/usage')).status).toBe(401);
  });
});
