// The training worker against a real edge (SQLite, HTTP) with the real S3BlobStore on s3rver, the
// bundled toy CLIP and toy-world images uploaded through the public API: a job runs to a model whose
// artifact loads against the base model; a cancel request stops a running job and frees the worker;
// a job abandoned after its first checkpoint is resumed by another worker from that checkpoint.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEdge, startEdge } from '../../../edge/node/server.ts';
import type { S3BlobStore } from '../../../shared/storage/s3-blob-store.ts';
import { loadClipModel, type ClipModel } from '../../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../../gpu-worker/clip/ort-encoders.ts';
import { readAdapter } from '../../../gpu-worker/cocoop/artifact.ts';
import type { RunJobHooks } from '../../../gpu-worker/trainer/run-job.ts';
import type { Trainer } from '../../../gpu-worker/trainer/trainer.ts';
import { toyImageSet } from '../../../lab/toyworld/image-sets.ts';
import { encodePng } from '../../../lab/toyworld/png.ts';
import { ADMIN_TOKEN, WORKER_TOKEN, bearer, jsonHeaders } from '../../helpers/edge.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../../helpers/s3rver.ts';
import { useTfWasm } from '../../helpers/tf-wasm.ts';
import { testTrainer } from '../../helpers/jobs.ts';
import { waitUntil } from '../../helpers/wait-until.ts';

useTfWasm();

const CLASSES = ['red circle', 'blue square', 'green triangle'];
let s3: RunningS3rver;
let edge: RunningEdge;
let dataDir: string;
let workDir: string;
let blobs: S3BlobStore;
let model: ClipModel;
let encoders: OrtClipEncoders;
let pngs: { label: string; bytes: Buffer }[];
const logs: string[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  dataDir = mkdtempSync(join(tmpdir(), 'worker-edge-'));
  workDir = mkdtempSync(join(tmpdir(), 'worker-work-'));
  edge = await startEdge({
    dataDir,
    port: 0,
    config: { adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN, logger: { error: (m, d) => console.error(m, d), warn: () => {} } },
    s3: s3Config(s3.endpoint, s3.bucket),
    backgroundIntervalMs: 0,
  });
  blobs = edge.ports.blobs as S3BlobStore;
  model = loadClipModel(resolve('models/toy-clip'));
  encoders = new OrtClipEncoders(model, { log: () => {} });
  const set = await toyImageSet('raster', 'train', 7, CLASSES, 2, 48);
  pngs = await Promise.all(set.images.map(async (img, i) => ({ label: set.classNames[set.labels[i]], bytes: await encodePng(img) })));
}, 60_000);

afterAll(async () => {
  await encoders?.release();
  await edge?.close();
  await s3?.stop();
  for (const d of [dataDir, workDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const f = (path: string, init?: RequestInit) => fetch(edge.url + path, init);

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A tenant with a ready dataset of the toy images (uploaded multipart, one request per class). */
async function tenantWithDataset(): Promise<{ key: string; datasetId: string }> {
  const t = await json<{ api_key: string }>(
    await f('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: JSON.stringify({ name: 'Acme' }) }),
    201,
  );
  const key = t.api_key;
  const ds = await json<{ id: string }>(await f('/v1/datasets', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ name: 'shapes' }) }), 201);
  for (const label of CLASSES) {
    const fd = new FormData();
    fd.append('label', label);
    pngs
      .filter((p) => p.label === label)
      .forEach((p, i) => fd.append('file', new Blob([new Uint8Array(p.bytes)], { type: 'image/png' }), `${i}.png`));
    const res = await f(`/v1/datasets/${ds.id}/images`, { method: 'POST', headers: bearer(key), body: fd });
    if (res.status >= 300) throw new Error(`upload: ${res.status} ${await res.text()}`);
  }
  await json(await f(`/v1/datasets/${ds.id}/finalize`, { method: 'POST', headers: bearer(key) }));
  return { key, datasetId: ds.id };
}

interface Job {
  id: string;
  status: string;
  model_id: string | null;
  progress: { epoch?: number };
}

async function createJob(key: string, datasetId: string, hp: Record<string, unknown>): Promise<Job> {
  const body = { dataset_id: datasetId, method: 'cocoop', hyperparameters: { shots: 2, seed: 3, ...hp } };
  return json<Job>(await f('/v1/training-jobs', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify(body) }), 201);
}

const getJob = async (key: string, id: string) => json<Job>(await f(`/v1/training-jobs/${id}`, { headers: bearer(key) }));

async function events(key: string, id: string) {
  return (await json<{ data: { message: string; type: string; data?: Record<string, unknown> }[] }>(
    await f(`/v1/training-jobs/${id}/events?limit=100`, { headers: bearer(key) }),
  )).data;
}

const waitFor = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> =>
  waitUntil(what, fn, { timeoutMs, intervalMs: 100, context: () => logs.slice(-20).join('\n') });

function newWorker(workerId: string, extra: { leaseSeconds?: number; hooks?: RunJobHooks } = {}): Trainer {
  return testTrainer({ edgeUrl: edge.url, blobs, model, encoders, workDir, logs }, workerId, extra);
}

function modelCount(jobId: string): number {
  return (edge.db.raw.prepare('SELECT COUNT(*) AS n FROM models WHERE job_id = ?').get(jobId) as { n: number }).n;
}

describe('training worker', () => {
  it('runs a job to a published model whose artifact loads against the base model', async () => {
    const { key, datasetId } = await tenantWithDataset();
    const job = await createJob(key, datasetId, { epochs: 2 });
    const worker = newWorker('w-a');
    const loop = worker.start();
    try {
      const done = await waitFor('job to finish', async () => {
        const j = await getJob(key, job.id);
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) && j;
      });
      expect(done.status, logs.slice(-10).join('\n')).toBe('succeeded');
      expect(done.model_id).toBeTruthy();
      expect(modelCount(job.id)).toBe(1);
      const row = edge.db.raw.prepare('SELECT * FROM models WHERE job_id = ?').get(job.id) as {
        artifact_key: string;
        artifact_bytes: number;
        base_model: string;
        classes: string;
      };
      expect(row.base_model).toBe('toy-clip');
      expect(JSON.parse(row.classes)).toEqual([...CLASSES].sort());
      const bytes = await blobs.get(row.artifact_key);
      expect(bytes?.byteLength).toBe(row.artifact_bytes);
      const path = join(workDir, 'artifact.safetensors');
      writeFileSync(path, bytes!);
      const adapter = readAdapter(path, { config: model.config, sha256: model.weightsSha256() });
      expect(adapter.classNames).toEqual([...CLASSES].sort());
      expect(adapter.params.method).toBe('cocoop');

      const evs = await events(key, job.id);
      const metrics = evs.filter((e) => e.type === 'metrics');
      expect(metrics.map((e) => e.data?.epoch)).toEqual([1, 2]);
      expect(evs.some((e) => /Training started/.test(e.message))).toBe(true);
      expect(worker.outcomes).toEqual([{ jobId: job.id, outcome: 'succeeded' }]);
    } finally {
      await worker.stop();
      await loop;
    }
  }, 40_000);

  it('a cancel request stops a running job; the worker then takes the next job', async () => {
    const { key, datasetId } = await tenantWithDataset();
    const job = await createJob(key, datasetId, { epochs: 60 });
    const worker = newWorker('w-b');
    const loop = worker.start();
    try {
      await waitFor('training to progress', async () => ((await getJob(key, job.id)).progress.epoch ?? 0) >= 1);
      const res = await f(`/v1/training-jobs/${job.id}/cancel`, { method: 'POST', headers: bearer(key) });
      expect(res.status).toBe(200);
      const cancelled = await waitFor('cancelled', async () => {
        const j = await getJob(key, job.id);
        return j.status !== 'cancelling' && j.status !== 'running' && j;
      });
      expect(cancelled.status).toBe('cancelled');
      expect(modelCount(job.id)).toBe(0);
      await waitFor('worker idle', async () => worker.current === null);
      expect(worker.outcomes).toEqual([{ jobId: job.id, outcome: 'cancelled' }]);

      const next = await createJob(key, datasetId, { epochs: 1 });
      const done = await waitFor('second job', async () => {
        const j = await getJob(key, next.id);
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) && j;
      });
      expect(done.status).toBe('succeeded');
    } finally {
      await worker.stop();
      await loop;
    }
  }, 60_000);

  it('an image missing from storage fails the job with dataset_download_failed', async () => {
    const { key, datasetId } = await tenantWithDataset();
    const row = edge.db.raw.prepare('SELECT object_key FROM images WHERE dataset_id = ? LIMIT 1').get(datasetId) as { object_key: string };
    await blobs.delete([row.object_key]);
    const job = await createJob(key, datasetId, { epochs: 1 });
    const worker = newWorker('w-d');
    const loop = worker.start();
    try {
      const done = await waitFor('failed', async () => {
        const j = await getJob(key, job.id);
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) && j;
      });
      expect(done.status).toBe('failed');
      expect(JSON.stringify(done)).toContain('dataset_download_failed');
      expect(worker.outcomes).toEqual([{ jobId: job.id, outcome: 'failed' }]);
    } finally {
      await worker.stop();
      await loop;
    }
  }, 30_000);

  it('a job abandoned after its first checkpoint is resumed by another worker from that checkpoint', async () => {
    const { key, datasetId } = await tenantWithDataset();
    const job = await createJob(key, datasetId, { epochs: 3 });
    const first: Trainer = newWorker('w-c1', {
      leaseSeconds: 1,
      hooks: {
        afterCheckpointUpload: (epoch) => {
          if (epoch >= 1) void first.stop(); // a "crash": no report, heartbeats stop, the lease expires
        },
      },
    });
    await first.start();
    expect(first.outcomes).toEqual([{ jobId: job.id, outcome: 'abandoned' }]);
    expect((await getJob(key, job.id)).status).toBe('running');

    // What the second worker itself trained, seen from inside it (its checkpoint uploads, one per epoch it ran),
    // independently of the events it reports.
    const secondEpochs: number[] = [];
    const second = newWorker('w-c2', { hooks: { afterCheckpointUpload: (epoch) => void secondEpochs.push(epoch) } });
    const loop = second.start();
    try {
      const done = await waitFor('resumed job', async () => {
        const j = await getJob(key, job.id);
        return ['succeeded', 'failed', 'cancelled'].includes(j.status) && j;
      });
      expect(done.status, logs.slice(-10).join('\n')).toBe('succeeded');
      expect(modelCount(job.id)).toBe(1);
      const attempts = (edge.db.raw.prepare('SELECT attempts FROM training_jobs WHERE id = ?').get(job.id) as { attempts: number }).attempts;
      expect(attempts).toBe(2);
      const evs = await events(key, job.id);
      const resumed = evs.find((e) => /Resumed from checkpoint epoch \d+/.test(e.message));
      expect(resumed).toBeDefined();
      const from = Number(/epoch (\d+)/.exec(resumed!.message)![1]);
      expect(from).toBeGreaterThanOrEqual(1);
      // The second worker trained only the remaining epochs (none when the first one's last checkpoint was the final epoch).
      const afterResume = evs.slice(evs.indexOf(resumed!)).filter((e) => e.type === 'metrics').map((e) => e.data?.epoch as number);
      expect(afterResume).toEqual(Array.from({ length: 3 - from }, (_, i) => from + 1 + i));
      // Epochs were skipped: the second worker ran fewer than the job's 3 epochs, exactly those after the checkpoint.
      expect(secondEpochs).toEqual(afterResume);
      expect(secondEpochs.length).toBeLessThan(3);
      // The outcome is recorded once the worker's /complete call has returned, which may be after the job reads succeeded.
      await waitFor('second worker outcome', async () => second.outcomes.length > 0);
      expect(second.outcomes).toEqual([{ jobId: job.id, outcome: 'succeeded' }]);
    } finally {
      await second.stop();
      await loop;
    }
  }, 60_000);
  it('at start, removes the lease folders a dead worker process of this host left in its WORK_DIR, and only those', async () => {
    const dir = join(workDir, 'w-sweep');
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    for (const [name, pid] of [['job_killed-attempt-1', dead], ['job_live-attempt-2', process.pid]] as const) {
      mkdirSync(join(dir, name, 'checkpoints'), { recursive: true });
      writeFileSync(join(dir, name, 'owner.json'), JSON.stringify({ host: hostname(), pid }));
    }
    const worker = newWorker('w-sweep');
    const loop = worker.start();
    await worker.stop();
    await loop;
    expect(readdirSync(dir)).toEqual(['job_live-attempt-2']);
    expect(logs).toContain(`worker w-sweep: removed 1 folder(s) of dead worker processes from ${dir}: job_killed-attempt-1`);
  });
});
