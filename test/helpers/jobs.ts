// Helpers for training-job and model tests: ready datasets written straight into SQLite, a worker client for the
// internal API, and a real Trainer with test timings.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ClipModel } from '../../gpu-worker/clip/model.ts';
import type { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import type { Lease, TrainingLease } from '../../shared/contracts/worker-api.ts';
import { EdgeClient } from '../../gpu-worker/trainer/edge-client.ts';
import type { RunJobHooks } from '../../gpu-worker/trainer/run-job.ts';
import type { TrainerBlobs } from '../../gpu-worker/trainer/storage.ts';
import { Trainer } from '../../gpu-worker/trainer/trainer.ts';
import { newId } from '../../edge/ids.ts';
import { type TestEdge, WORKER_TOKEN, jsonHeaders } from './edge.ts';

/** A ready dataset with `perClass` stored images per class (rows only; no image bytes). */
export function insertReadyDataset(edge: TestEdge, tenantId: string, classes = ['cat', 'dog'], perClass = 2, status: 'ready' | 'open' = 'ready'): string {
  const id = newId('dataset');
  const now = new Date().toISOString();
  edge.db.raw
    .prepare('INSERT INTO datasets (id, tenant_id, name, status, declared_classes, created_at, finalized_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(id, tenantId, 'pets', status, JSON.stringify(classes), now, status === 'ready' ? now : null);
  for (const label of classes) {
    for (let i = 0; i < perClass; i++) {
      const img = newId('image');
      edge.db.raw
        .prepare(
          `INSERT INTO images (id, tenant_id, dataset_id, label, object_key, content_type, bytes, width, height, status, created_at)
           VALUES (?, ?, ?, ?, ?, 'image/png', 100, 8, 8, 'stored', ?)`,
        )
        .run(img, tenantId, id, label, `tenants/${tenantId}/datasets/${id}/images/${img}.png`, now);
    }
  }
  return id;
}

/** A 200 answer of POST /internal/v1/leases for a training job (shared/contracts/worker-api.ts). */
export type LeaseBody = TrainingLease;

export function workerClient(edge: TestEdge, token = WORKER_TOKEN) {
  const post = (path: string, body: unknown) =>
    edge.fetch(`/internal/v1${path}`, { method: 'POST', headers: jsonHeaders(token), body: JSON.stringify(body) });
  return {
    post,
    lease: (workerId = 'w1', leaseSeconds?: number) =>
      post('/leases', { worker_id: workerId, ...(leaseSeconds !== undefined ? { lease_seconds: leaseSeconds } : {}) }),
    /** The next lease, which must be a training job's. */
    async leaseOk(workerId = 'w1', leaseSeconds?: number): Promise<LeaseBody> {
      const lease = await this.leaseAnyOk(workerId, leaseSeconds);
      if (lease.kind !== 'training') throw new Error(`lease: expected a training job, got ${lease.kind} ${lease.evaluation.id}`);
      return lease;
    },
    /** The next lease, of either kind. */
    async leaseAnyOk(workerId = 'w1', leaseSeconds?: number): Promise<Lease> {
      const res = await post('/leases', { worker_id: workerId, ...(leaseSeconds !== undefined ? { lease_seconds: leaseSeconds } : {}) });
      if (res.status !== 200) throw new Error(`lease: ${res.status} ${await res.text()}`);
      return (await res.json()) as Lease;
    },
    heartbeat: (jobId: string, body: Record<string, unknown>) => post(`/jobs/${jobId}/heartbeat`, body),
    event: (jobId: string, body: Record<string, unknown>) => post(`/jobs/${jobId}/events`, body),
    complete: (jobId: string, body: Record<string, unknown>) => post(`/jobs/${jobId}/complete`, body),
    fail: (jobId: string, body: Record<string, unknown>) => post(`/jobs/${jobId}/fail`, body),
    cancelled: (jobId: string, body: Record<string, unknown>) => post(`/jobs/${jobId}/cancelled`, body),
    result: (evaluationId: string, body: Record<string, unknown>) => post(`/jobs/${evaluationId}/result`, body),
  };
}

/** Uploads fake artifact bytes where the lease says and returns a matching /complete body. */
export async function completeBody(edge: TestEdge, lease: LeaseBody, bytes: Uint8Array = new TextEncoder().encode('fake safetensors bytes')) {
  await edge.ports.blobs.put(lease.storage.artifact_key, bytes, 'application/octet-stream');
  return {
    lease_id: lease.lease_id,
    artifact: { key: lease.storage.artifact_key, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
    base_model: 'toy-clip',
    classes: ['cat', 'dog'],
    metrics: { train_loss: 0.25, train_accuracy: 0.9 },
  };
}

export function count(edge: TestEdge, sql: string, ...binds: unknown[]): number {
  return (edge.db.raw.prepare(sql).get(...binds) as { n: number }).n;
}

/** What a test Trainer needs: the edge's URL, the blob store, the model and its encoders, and where to work. */
export interface TestTrainerDeps {
  edgeUrl: string;
  blobs: TrainerBlobs;
  model: ClipModel;
  encoders: OrtClipEncoders;
  workDir: string;
  logs: string[];
}

/** A Trainer with test timings (fast polls and heartbeats) whose log lines go to `deps.logs`. */
export function testTrainer(
  deps: TestTrainerDeps,
  workerId: string,
  extra: { leaseSeconds?: number; hooks?: RunJobHooks; clientTimeoutMs?: number; sharedWorkDir?: boolean } = {},
): Trainer {
  return new Trainer({
    client: new EdgeClient({ baseUrl: deps.edgeUrl, token: WORKER_TOKEN, backoffMs: 50, ...(extra.clientTimeoutMs ? { timeoutMs: extra.clientTimeoutMs } : {}) }),
    blobs: deps.blobs,
    model: deps.model,
    encoders: deps.encoders,
    // Its own folder, unless the test puts several trainers in one (as workers on one host without WORK_DIR are).
    workDir: extra.sharedWorkDir ? deps.workDir : join(deps.workDir, workerId),
    workerId,
    pollMs: 100,
    maxPollMs: 400,
    heartbeatMs: 250,
    leaseSeconds: extra.leaseSeconds ?? 60,
    log: (l) => deps.logs.push(l),
    hooks: extra.hooks,
  });
}
