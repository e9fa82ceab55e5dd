// Fault: a stale worker (real stack in this process: edge on Node + SQLite + s3rver, background webhook timer,
// in-process Trainers on the bundled toy CLIP). Worker A loses the edge mid-job — its heartbeats fail as
// "unreachable" and it keeps training — its lease expires, worker B takes the job over, resumes from A's checkpoint
// and completes it. Then A finishes too: it uploads its adapter and calls /complete. Proves (fencing by key):
//  - the published model is B's: its artifact matches the model record's size and sha256, loads through the
//    inference service's loader (sha256-checked) and classifies;
//  - the job stays succeeded with one model and exactly one training_job.succeeded webhook;
//  - A's /complete is refused (409: lease lost) and the adapter A uploaded to its own attempt's key is removed.
import { createHash } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CocoopInference } from '../../gpu-worker/cocoop/ort-inference.ts';
import { preprocessImage } from '../../gpu-worker/clip/preprocess.ts';
import { AdapterCache } from '../../gpu-worker/serve/adapter-cache.ts';
import { useTfWasm } from '../helpers/tf-wasm.ts';
import { api, createJob, finalJob, inProcessWorker, readyDataset, settledDeliveries, tenantWithHook, toyModel, useInProcessFixture, verifiedDeliveries, waitFor } from './stack.ts';

useTfWasm();

const CLASSES = ['red circle', 'blue square', 'green triangle'];
const fx = useInProcessFixture('faults-stale-', CLASSES, 3);
const logs: string[] = [];
const context = () => logs.slice(-30).join('\n');

/** An HTTP proxy to `target` that can be cut: while cut, every connection is destroyed (the edge looks unreachable). */
async function cuttableProxy(target: string): Promise<{ url: string; cut: boolean; close(): Promise<void> }> {
  const state = { cut: false };
  const server: Server = createServer((req, res) => {
    if (state.cut) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<string, string>;
        const upstream = await fetch(target + req.url, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        const out: Record<string, string> = {};
        upstream.headers.forEach((v, k) => {
          if (k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding') out[k] = v;
        });
        res.writeHead(upstream.status, out);
        res.end(Buffer.from(await upstream.arrayBuffer()));
      } catch {
        req.socket.destroy();
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get cut() {
      return state.cut;
    },
    set cut(v: boolean) {
      state.cut = v;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

describe('a stale worker', () => {
  it('keeps training after another worker took over and completed: the published model stays intact, one webhook', async () => {
    const t = await tenantWithHook(fx.stack, '/stale');
    const datasetId = await readyDataset(fx.stack, t.key, fx.pngs);
    const job = await createJob(fx.stack, t.key, datasetId, 4);
    const db = fx.stack.edge.db.raw;
    const proxy = await cuttableProxy(fx.stack.url);
    let release!: () => void;
    const bDone = new Promise<void>((ok) => (release = ok));
    let lost = false;
    // A and B work in one folder, as two workers on one host do when WORK_DIR is not set: B's attempt must not
    // remove A's files, nor A's cleanup B's.
    const a = await inProcessWorker({ ...fx.stack, url: proxy.url }, fx.workDir, 'worker-a', logs, {
      sharedWorkDir: true,
      leaseSeconds: 60,
      hooks: {
        afterCheckpointUpload: async (epoch) => {
          if (epoch !== 1 || lost) return;
          lost = true;
          // A loses the edge (S3 still works) and its lease runs out; it holds here, with training done or
          // going on, until B has completed the job. The job waits for this upload before publishing.
          proxy.cut = true;
          db.prepare('UPDATE training_jobs SET lease_expires_at = ? WHERE id = ?').run(Date.now() - 1, job.id);
          await bDone;
        },
        // A uploaded its adapter while still cut off from the edge; it reaches the edge again for /complete.
        beforeComplete: () => {
          proxy.cut = false;
        },
      },
    });
    const aLoop = a.start();
    let b: Awaited<ReturnType<typeof inProcessWorker>> | null = null;
    try {
      await waitFor('A to lose the edge', async () => lost, 60_000, context);
      b = await inProcessWorker(fx.stack, fx.workDir, 'worker-b', logs, { sharedWorkDir: true });
      const bLoop = b.start();
      const done = await finalJob(fx.stack, t.key, job.id, 60_000, context);
      expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
      await b.stop();
      await bLoop;
      const attempts = (db.prepare('SELECT attempts FROM training_jobs WHERE id = ?').get(job.id) as { attempts: number }).attempts;
      expect(attempts).toBe(2);

      // A goes on, still cut off: it uploads its adapter, then reaches the edge for /complete, which is refused.
      release();
      await waitFor('A to finish its job', async () => a.outcomes.length > 0, 60_000, context);
      expect(a.outcomes).toEqual([{ jobId: job.id, outcome: 'lease_lost' }]);

      // The job and its model are B's, untouched.
      const after = await api<{ status: string; model_id: string }>(fx.stack.url, t.key, 'GET', `/v1/training-jobs/${job.id}`);
      expect(after).toMatchObject({ status: 'succeeded', model_id: done.model_id });
      expect((db.prepare('SELECT COUNT(*) AS n FROM models WHERE job_id = ?').get(job.id) as { n: number }).n).toBe(1);
      const model = await api<{ artifact: { bytes: number; sha256: string }; method: 'cocoop' | 'coop'; classes: string[] }>(fx.stack.url, t.key, 'GET', `/v1/models/${done.model_id}`);
      const res = await fetch(`${fx.stack.url}/v1/models/${done.model_id}/artifact`, { headers: { authorization: `Bearer ${t.key}` } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.byteLength).toBe(model.artifact.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(model.artifact.sha256);
      const row = db.prepare('SELECT artifact_key FROM models WHERE job_id = ?').get(job.id) as { artifact_key: string };
      expect(row.artifact_key).toMatch(/\/attempts\/2\/adapter\.safetensors$/);
      // A's adapter went to attempt 1's key, and was removed when its /complete was refused.
      expect(await fx.stack.blobs().head(row.artifact_key.replace('/attempts/2/', '/attempts/1/'))).toBeNull();

      // The inference service's loader (sha256-checked against the model record) loads it, and it classifies.
      const { model: clip, encoders } = await toyModel();
      const adapter = await new AdapterCache(clip, fx.stack.blobs()).get({ key: row.artifact_key, sha256: model.artifact.sha256, method: model.method });
      const inference = new CocoopInference(encoders, { log: () => {} });
      try {
        const pixels = await preprocessImage(fx.pngs[0]!.bytes, clip.preprocess);
        const logits = await inference.logits(await encoders.encodePixels(pixels, 1), 1, model.classes, adapter);
        expect(logits).toHaveLength(model.classes.length);
        expect([...logits].every(Number.isFinite)).toBe(true);
      } finally {
        await inference.release();
      }

      // Exactly one final webhook.
      const deliveries = await settledDeliveries(fx.stack, t);
      expect(deliveries.map((d) => [d.event_type, d.status])).toEqual([['training_job.succeeded', 'succeeded']]);
      expect(verifiedDeliveries(fx.stack, t).map((d) => [d.type, d.data.id])).toEqual([['training_job.succeeded', job.id]]);
    } finally {
      release();
      proxy.cut = false;
      await a.stop();
      await aLoop;
      await b?.stop();
      await proxy.close();
    }
  }, 120_000);
});
