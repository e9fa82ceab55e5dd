// Fault: the edge stops while a job runs and starts again on the same port with the same SQLite directory
// (real stack in this process: edge on Node + SQLite + s3rver, background webhook timer, in-process Trainer on
// the bundled toy CLIP). Proves:
//  - mid-training: the worker's heartbeats fail while the edge is gone (it keeps training), reconnect after the
//    restart, and the job completes once: first attempt, one model, one training_job.succeeded delivery;
//  - at the finish: /complete fails while the edge is gone and is retried until the edge is back — the job is
//    not reported failed, it succeeds once with the same lease, one model, one succeeded delivery.
// Everything acknowledged before the restart (tenant, dataset, job, webhook endpoint) is still there after it.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunJobHooks } from '../../gpu-worker/trainer/run-job.ts';
import { useTfWasm } from '../helpers/tf-wasm.ts';
import {
  type Tenant,
  api,
  createJob,
  finalJob,
  inProcessWorker,
  readyDataset,
  settledDeliveries,
  tenantWithHook,
  useInProcessFixture,
  verifiedDeliveries,
  waitFor,
} from './stack.ts';

useTfWasm();

const CLASSES = ['red circle', 'blue square', 'green triangle'];
const fx = useInProcessFixture('faults-edge-', CLASSES, 2);
const logs: string[] = [];

const context = () => logs.slice(-25).join('\n');
const HEARTBEAT_GAVE_UP = /heartbeat failed: .*gave up after/;

/** Runs one job on a fresh in-process worker; `hooks` stop the edge at the chosen moment, `restartWhen` says when to start it again. */
async function runWithRestart(t: Tenant, epochs: number, hooks: (stopEdge: () => void) => RunJobHooks, restartWhen: RegExp) {
  const datasetId = await readyDataset(fx.stack, t.key, fx.pngs);
  const job = await createJob(fx.stack, t.key, datasetId, epochs);
  let stopped: { done: Promise<void>; from: number } | null = null;
  const worker = await inProcessWorker(fx.stack, fx.workDir, `w-${t.hookPath.slice(1)}`, logs, {
    hooks: hooks(() => {
      stopped ??= { done: fx.stack.stopEdge(), from: logs.length };
    }),
  });
  const loop = worker.start();
  try {
    const { done: edgeGone, from } = await waitFor('the edge to be stopped', async () => stopped, 30_000, context);
    await edgeGone;
    await waitFor(`a worker line matching ${restartWhen}`, async () => logs.slice(from).some((l) => restartWhen.test(l)), 20_000, context);
    await fx.stack.startEdge();
    const done = await finalJob(fx.stack, t.key, job.id, 30_000, context);
    return { job, done, worker };
  } finally {
    await worker.stop();
    await loop;
  }
}

async function expectCompletedOnce(t: Tenant, jobId: string, done: { status: string; model_id: string | null; error: unknown }) {
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
  const db = fx.stack.edge.db.raw;
  expect((db.prepare('SELECT attempts FROM training_jobs WHERE id = ?').get(jobId) as { attempts: number }).attempts).toBe(1);
  expect((db.prepare('SELECT COUNT(*) AS n FROM models WHERE job_id = ?').get(jobId) as { n: number }).n).toBe(1);
  const evs = await api<{ data: { message: string }[] }>(fx.stack.url, t.key, 'GET', `/v1/training-jobs/${jobId}/events?limit=100`);
  expect(evs.data.filter((e) => /^Training succeeded/.test(e.message))).toHaveLength(1);
  expect(evs.data.filter((e) => /^Training failed/.test(e.message))).toHaveLength(0);
  const model = await api<{ job_id: string }>(fx.stack.url, t.key, 'GET', `/v1/models/${done.model_id}`);
  expect(model.job_id).toBe(jobId);
  const deliveries = await settledDeliveries(fx.stack, t);
  expect(deliveries.map((d) => [d.event_type, d.status])).toEqual([['training_job.succeeded', 'succeeded']]);
  expect(verifiedDeliveries(fx.stack, t).map((d) => [d.type, d.data.id])).toEqual([['training_job.succeeded', jobId]]);
}

describe('the edge restarted while a job runs', () => {
  it('mid-training: heartbeats fail, then reconnect; the job completes once', async () => {
    const t = await tenantWithHook(fx.stack, '/mid');
    const { job, done, worker } = await runWithRestart(
      t,
      8,
      (stopEdge) => ({
        afterCheckpointUpload: async (epoch) => {
          if (epoch !== 1) return;
          const from = logs.length;
          stopEdge();
          // Training the toy model hardly yields to the event loop, so its last epoch may be done by the time this
          // upload finishes; the job waits for its checkpoint uploads before publishing, so holding this one keeps
          // the job heartbeating (and failing to) while the edge is gone.
          await waitFor('a failed heartbeat', async () => logs.slice(from).some((l) => HEARTBEAT_GAVE_UP.test(l)), 20_000, context);
        },
      }),
      HEARTBEAT_GAVE_UP,
    );
    await expectCompletedOnce(t, job.id, done);
    expect(worker.outcomes).toEqual([{ jobId: job.id, outcome: 'succeeded' }]);
  }, 60_000);

  it('at the finish: /complete is retried until the edge is back; the job is never reported failed', async () => {
    const t = await tenantWithHook(fx.stack, '/finish');
    const { job, done, worker } = await runWithRestart(t, 2, (stopEdge) => ({ beforeComplete: () => stopEdge() }), /complete failed .*retrying/);
    await expectCompletedOnce(t, job.id, done);
    expect(worker.outcomes).toEqual([{ jobId: job.id, outcome: 'succeeded' }]);
  }, 60_000);
});
