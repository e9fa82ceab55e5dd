// Fault: the S3-protocol server goes down and comes back (same port, same directory), against the real stack in
// this process (edge on Node + SQLite + S3 store on s3rver, background webhook timer, in-process Trainer on the
// bundled toy CLIP). Proves:
//  - mid-upload: a multipart image upload during the outage (S3 cut right after the request's first object was
//    stored) is a clean `500 internal` asking to try again, adds no image row (the dataset is never half written),
//    and the same request (same Idempotency-Key) succeeds after S3 is back; every image acknowledged with 201,
//    before or after, is readable with its exact bytes.
//  - mid-training: checkpoint and adapter uploads fail while S3 is down (the worker retries instead of failing the
//    job); after S3 is back the job succeeds on its first attempt with one model, a valid artifact (the bytes and
//    sha256 the model record names, loadable against the base model) and exactly one training_job.succeeded delivery.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAdapter } from '../../gpu-worker/cocoop/artifact.ts';
import { useTfWasm } from '../helpers/tf-wasm.ts';
import {
  api,
  createJob,
  finalJob,
  inProcessWorker,
  readyDataset,
  settledDeliveries,
  tenantWithHook,
  toyModel,
  useInProcessFixture,
  uploadForm,
  verifiedDeliveries,
  waitFor,
} from './stack.ts';

useTfWasm();

const CLASSES = ['red circle', 'blue square', 'green triangle'];
const fx = useInProcessFixture('faults-s3-', CLASSES, 3);
const logs: string[] = [];

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface ImageRow {
  id: string;
  label: string;
  object_key: string;
}
const imageRows = (datasetId: string) =>
  fx.stack.edge.db.raw.prepare('SELECT id, label, object_key FROM images WHERE dataset_id = ? ORDER BY id').all(datasetId) as ImageRow[];

describe('S3 down and back', () => {
  it('mid-upload: a clean 500, no half-written dataset, the same request succeeds after the restart, acknowledged images stay readable', async () => {
    const t = await tenantWithHook(fx.stack, '/upload');
    const ds = await api<{ id: string }>(fx.stack.url, t.key, 'POST', '/v1/datasets', { name: 'shapes' }, 201);
    const post = (label: string, idempotencyKey: string) =>
      fetch(`${fx.stack.url}/v1/datasets/${ds.id}/images`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.key}`, 'idempotency-key': idempotencyKey },
        body: uploadForm(fx.pngs, label),
      });
    /** Bytes of every acknowledged image, by image id. */
    const acknowledged = new Map<string, Uint8Array>();
    const ack = async (res: Response, label: string) => {
      expect(res.status).toBe(201);
      const { images } = (await res.json()) as { images: { id: string }[] };
      const files = fx.pngs.filter((p) => p.label === label);
      expect(images).toHaveLength(files.length);
      images.forEach((img, i) => acknowledged.set(img.id, files[i]!.bytes));
    };
    await ack(await post(CLASSES[0]!, 'up-0'), CLASSES[0]!);
    const before = imageRows(ds.id);

    // S3 goes down as soon as the next request has stored its first object.
    let cut = false;
    fx.stack.s3.onObjectCreated((key) => {
      if (!cut && key.includes(ds.id) && !before.some((r) => r.object_key === key)) {
        cut = true;
        void fx.stack.s3.down();
      }
    });
    const failed = await post(CLASSES[1]!, 'up-1');
    expect(cut).toBe(true);
    expect(failed.status).toBe(500);
    const err = ((await failed.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('internal');
    expect(err.message).toMatch(/try again/);
    expect(imageRows(ds.id)).toEqual(before); // nothing of the failed request is in the dataset
    const shown = await api<{ image_count: number; classes: { name: string }[] }>(fx.stack.url, t.key, 'GET', `/v1/datasets/${ds.id}`);
    expect(shown.image_count).toBe(acknowledged.size);
    expect(shown.classes.map((c) => c.name)).toEqual([CLASSES[0]]);

    await fx.stack.s3.up();
    await ack(await post(CLASSES[1]!, 'up-1'), CLASSES[1]!); // the same request, same key: stored this time
    await ack(await post(CLASSES[2]!, 'up-2'), CLASSES[2]!);
    const ready = await api<{ status: string; image_count: number }>(fx.stack.url, t.key, 'POST', `/v1/datasets/${ds.id}/finalize`, undefined, 200);
    expect(ready).toMatchObject({ status: 'ready', image_count: fx.pngs.length });

    // Every acknowledged image is a row and its exact bytes are in S3.
    const rows = imageRows(ds.id);
    expect(rows.map((r) => r.id).sort()).toEqual([...acknowledged.keys()].sort());
    for (const r of rows) {
      const bytes = await fx.stack.blobs().get(r.object_key);
      expect(bytes && sha(bytes), r.id).toBe(sha(acknowledged.get(r.id)!));
    }
  }, 60_000);

  it('mid-training: uploads fail while S3 is down, the job then succeeds once with a valid artifact and one succeeded webhook', async () => {
    const t = await tenantWithHook(fx.stack, '/train');
    const datasetId = await readyDataset(fx.stack, t.key, fx.pngs);
    const uploadedBefore = imageRows(datasetId);
    const job = await createJob(fx.stack, t.key, datasetId, 4);
    const worker = await inProcessWorker(fx.stack, fx.workDir, 'w-s3', logs, {
      hooks: {
        afterCheckpointUpload: async (epoch) => {
          if (epoch === 1) await fx.stack.s3.down(); // epochs 2-4 train while S3 is down
        },
      },
    });
    const loop = worker.start();
    const context = () => logs.slice(-25).join('\n');
    try {
      // The worker keeps going: the adapter upload is retried, not turned into a failed job.
      await waitFor('an adapter upload retry', async () => logs.some((l) => l.includes(`job ${job.id}: artifact upload failed`)), 60_000, context);
      expect(logs.some((l) => l.includes(`job ${job.id}: checkpoint upload failed`)), context()).toBe(true);
      expect((await api<{ status: string }>(fx.stack.url, t.key, 'GET', `/v1/training-jobs/${job.id}`)).status).toBe('running');
      await fx.stack.s3.up();

      const done = await finalJob(fx.stack, t.key, job.id, 40_000, context);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      expect(worker.outcomes).toEqual([{ jobId: job.id, outcome: 'succeeded' }]);
      const row = fx.stack.edge.db.raw.prepare('SELECT attempts FROM training_jobs WHERE id = ?').get(job.id) as { attempts: number };
      expect(row.attempts).toBe(1);
      expect((fx.stack.edge.db.raw.prepare('SELECT COUNT(*) AS n FROM models WHERE job_id = ?').get(job.id) as { n: number }).n).toBe(1);

      // The artifact: what the model record says, and an adapter that loads against the base model.
      const model = await api<{ artifact: { bytes: number; sha256: string }; classes: string[] }>(fx.stack.url, t.key, 'GET', `/v1/models/${done.model_id}`);
      const res = await fetch(`${fx.stack.url}/v1/models/${done.model_id}/artifact`, { headers: { authorization: `Bearer ${t.key}` } });
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.byteLength).toBe(model.artifact.bytes);
      expect(sha(bytes)).toBe(model.artifact.sha256);
      const path = join(fx.workDir, 'artifact.safetensors');
      writeFileSync(path, bytes);
      const { model: base } = await toyModel();
      const adapter = readAdapter(path, { config: base.config, sha256: base.weightsSha256() });
      expect(adapter.classNames).toEqual(model.classes);

      // Exactly one succeeded delivery, received once and verified.
      const deliveries = await settledDeliveries(fx.stack, t);
      expect(deliveries.map((d) => [d.event_type, d.status])).toEqual([['training_job.succeeded', 'succeeded']]);
      expect(verifiedDeliveries(fx.stack, t).map((d) => [d.type, d.data.id])).toEqual([['training_job.succeeded', job.id]]);

      // The dataset's images survived the outage.
      for (const r of uploadedBefore) expect(await fx.stack.blobs().get(r.object_key), r.id).not.toBeNull();
    } finally {
      await fx.stack.s3.up();
      await worker.stop();
      await loop;
    }
  }, 90_000);
});
