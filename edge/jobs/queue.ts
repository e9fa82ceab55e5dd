// The training-job queue: every state change of a job, as one function each over the SQL port.
//
//   enqueueJob       a tenant creates a job: queued (quota and dataset state checked by the INSERT itself)
//   cancelJob        a tenant cancels: queued → cancelled at once, running → cancelling
//   appendEvent      appends a worker's event to the job log
//   completeJob      succeeded + the model row + webhook deliveries, in one guarded batch
//   failJob          failed (+ webhooks)
//   markCancelled    the worker stopped after a cancel request: cancelling → cancelled (+ webhooks)
//
// Leasing is in lease.ts (leaseNextJob, retireExhausted, requireLease), heartbeats in heartbeat.ts. Every final
// transition is a guarded batch (edge/jobs/transitions.ts), so of two racing changes exactly one wins and the loser
// leaves nothing behind (it gets a 409).
import type { Evaluation, TrainingResult } from '../../shared/contracts/evaluation.ts';
import type { Hyperparameters, Method, TrainingJob } from '../../shared/contracts/training-job.ts';
import type { CompleteRequest, EventRequest, Metrics } from '../../shared/contracts/worker-api.ts';
import { quoteId } from '../../shared/util/quote.ts';
import { sha256Hex } from '../crypto.ts';
import { conflict, notFound, validationFailed } from '../http/errors.ts';
import { newId } from '../ids.ts';
import { insertModelStatement } from '../models/models.ts';
import { evaluationObject } from '../evaluations/records.ts';
import type { BlobStore, SqlDatabase, SqlStatement } from '../ports.ts';
import { ACTIVE_JOB_STATES } from '../tenants/usage.ts';
import {
  FINAL_JOB_STATES,
  completedProgress,
  type JobRow,
  eventStatement,
  guardedEventStatement,
  isConstraintError,
  jobById,
  jobObject,
  jobStorage,
  mergeJson,
  modelIdOf,
  noJob,
  tenantJob,
  webhookData,
} from './records.ts';
import { requireLease } from './lease.ts';
import { failedWord, finishLeased } from './transitions.ts';
import { jobWebhookStatements } from './webhook-events.ts';

// ---- tenants: create and cancel -------------------------------------------------------------

export interface EnqueueOptions {
  tenantId: string;
  datasetId: string;
  method: Method;
  /** Complete (defaults applied: withDefaults in records.ts). */
  hyperparameters: Hyperparameters;
  metadata: Record<string, string>;
  /** The tenant's concurrent_jobs quota. */
  maxConcurrent: number;
}

/**
 * Queues a job on a ready dataset of the tenant: 404 unknown dataset, 409 not ready or over the concurrent-jobs quota.
 * `commit(jobId)`: statements committed in the same batch as the job (the request's Idempotency-Key).
 */
export async function enqueueJob(db: SqlDatabase, o: EnqueueOptions, commit: (jobId: string) => SqlStatement[] = () => []): Promise<TrainingJob> {
  const { tenantId, datasetId, hyperparameters, maxConcurrent: quota } = o;
  const dataset = await db.prepare('SELECT status FROM datasets WHERE id = ? AND tenant_id = ?').bind(datasetId, tenantId).first<{ status: string }>();
  if (!dataset) throw notFound(`No dataset with id ${quoteId(datasetId)} in your tenant.`, 'dataset_id');
  if (dataset.status !== 'ready') {
    throw conflict(`Dataset ${quoteId(datasetId)} is still "${dataset.status}"; finalize it (POST /v1/datasets/{id}/finalize) before training.`, 'dataset_id');
  }
  if (hyperparameters.validation_dataset_id !== null) await checkValidationDataset(db, tenantId, datasetId, hyperparameters.validation_dataset_id);

  const id = newId('job');
  const now = new Date();
  const active = ACTIVE_JOB_STATES.map((s) => `'${s}'`).join(', ');
  // One guarded INSERT: the quota and the dataset state are checked in the same statement, so two
  // concurrent creates cannot both pass the quota.
  const insert = db
    .prepare(
      `INSERT INTO training_jobs (id, tenant_id, kind, dataset_id, method, status, hyperparameters, metadata, progress, metrics, created_at)
       SELECT ?, ?, 'training', ?, ?, 'queued', ?, ?, ?, '{}', ?
       WHERE (SELECT COUNT(*) FROM training_jobs WHERE tenant_id = ? AND status IN (${active})) < ?
         AND EXISTS (SELECT 1 FROM datasets WHERE id = ? AND tenant_id = ? AND status = 'ready')`,
    )
    .bind(
      id,
      tenantId,
      datasetId,
      o.method,
      JSON.stringify(hyperparameters),
      JSON.stringify(o.metadata),
      JSON.stringify({ epoch: 0, epochs: hyperparameters.epochs, step: 0, steps: 0 }),
      now.toISOString(),
      tenantId,
      quota,
      datasetId,
      tenantId,
    );
  try {
    await db.batch([
      insert,
      guardedEventStatement(db, { jobId: id, tenantId, level: 'info', type: 'message', message: `Job queued (${o.method}).`, now }),
      ...commit(id),
    ]);
  } catch (err) {
    if (!isConstraintError(err)) throw err;
    throw conflict(
      `Your tenant already has ${quota} training jobs or evaluations queued or running (the concurrent_jobs quota, which they share); ` +
        'wait for one to finish or cancel a job, then retry.',
    );
  }
  const row = await tenantJob(db, tenantId, id);
  return jobObject(row!);
}

const VALIDATION_PARAM = 'hyperparameters.validation_dataset_id';

/**
 * A validation dataset must be another ready dataset of the tenant whose labels are all among the training
 * dataset's: 404 unknown, 409 not ready, 422 the same dataset or a label training does not have.
 */
async function checkValidationDataset(db: SqlDatabase, tenantId: string, datasetId: string, validationId: string): Promise<void> {
  if (validationId === datasetId) {
    throw validationFailed('The validation dataset must not be the training dataset; give another dataset, or use validation_split to hold images out.', VALIDATION_PARAM);
  }
  const ds = await db.prepare('SELECT status FROM datasets WHERE id = ? AND tenant_id = ?').bind(validationId, tenantId).first<{ status: string }>();
  if (!ds) throw notFound(`No dataset with id ${quoteId(validationId)} in your tenant.`, VALIDATION_PARAM);
  if (ds.status !== 'ready') {
    throw conflict(`Validation dataset ${quoteId(validationId)} is still "${ds.status}"; finalize it (POST /v1/datasets/{id}/finalize) first.`, VALIDATION_PARAM);
  }
  const missing = await db
    .prepare(
      `SELECT DISTINCT label FROM images WHERE dataset_id = ? AND tenant_id = ? AND status = 'stored'
         AND label NOT IN (SELECT label FROM images WHERE dataset_id = ? AND tenant_id = ? AND status = 'stored')
       ORDER BY label LIMIT 6`,
    )
    .bind(validationId, tenantId, datasetId, tenantId)
    .all<{ label: string }>();
  if (missing.length > 0) {
    const names = missing.slice(0, 5).map((m) => JSON.stringify(m.label)).join(', ');
    throw validationFailed(
      `Validation dataset ${validationId} has labels the training dataset lacks (${names}${missing.length > 5 ? ', …' : ''}); every validation label must be a training label.`,
      VALIDATION_PARAM,
    );
  }
}

/**
 * A tenant's cancel: a queued job is cancelled at once (+ webhooks), a running one becomes `cancelling`
 * until its worker stops (markCancelled); a cancelling one is returned as is. 404 unknown job, 409 final.
 */
export async function cancelJob(db: SqlDatabase, o: { tenantId: string; jobId: string }): Promise<TrainingJob> {
  const { tenantId, jobId: id } = o;
  // A few rounds: the state may move (a worker leasing the queued job) between reading and writing.
  for (let round = 0; round < 5; round++) {
    const row = await tenantJob(db, tenantId, id);
    if (!row) throw noJob(id);
    if (FINAL_JOB_STATES.includes(row.status)) {
      throw conflict(`Training job ${quoteId(id)} is already ${row.status}; only queued or running jobs can be cancelled.`);
    }
    if (row.status === 'cancelling') return jobObject(row);
    const now = new Date();
    try {
      if (row.status === 'queued') {
        const after = jobObject({ ...row, status: 'cancelled', finished_at: now.toISOString() });
        await db.batch([
          db
            .prepare(`UPDATE training_jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND tenant_id = ? AND status = 'queued'`)
            .bind(now.toISOString(), id, tenantId),
          guardedEventStatement(db, { jobId: id, tenantId, level: 'info', type: 'message', message: 'Job cancelled before it started.', now }),
          ...(await jobWebhookStatements(db, tenantId, 'training_job.cancelled', webhookData(after), now)),
        ]);
      } else {
        await db.batch([
          db.prepare(`UPDATE training_jobs SET status = 'cancelling' WHERE id = ? AND tenant_id = ? AND status = 'running'`).bind(id, tenantId),
          guardedEventStatement(db, { jobId: id, tenantId, level: 'info', type: 'message', message: 'Cancel requested; waiting for the worker to stop.', now }),
        ]);
      }
    } catch (err) {
      if (!isConstraintError(err)) throw err;
      continue; // the job moved on: look again
    }
    return jobObject((await tenantJob(db, tenantId, id))!);
  }
  throw conflict(`Training job ${quoteId(id)} is changing state; retry the cancel.`);
}

// ---- workers: calls under a lease ---------------------------------------------------------------

export type AppendEventOptions = { jobId: string; leaseId: string } & Omit<EventRequest, 'lease_id'>;

/** Appends a worker's event to the job log; the job as it is. */
export async function appendEvent(db: SqlDatabase, o: AppendEventOptions): Promise<TrainingJob | Evaluation> {
  const row = await requireLease(db, o.jobId, o.leaseId);
  await eventStatement(db, {
    jobId: row.id,
    tenantId: row.tenant_id,
    level: o.level,
    type: o.type,
    message: o.message,
    data: o.data,
    now: new Date(),
  }).run();
  return workObject(row);
}

/** A queue row as the API object of its kind. */
export function workObject(row: JobRow): TrainingJob | Evaluation {
  return row.kind === 'evaluation' ? evaluationObject(row) : jobObject(row);
}


export interface CompleteOptions {
  jobId: string;
  leaseId: string;
  artifact: CompleteRequest['artifact'];
  baseModel: string;
  classes: string[];
  metrics: Metrics;
  /** The last epoch's figures (default: from metrics). */
  train?: TrainingResult['train'];
  validation?: TrainingResult['validation'];
}

/**
 * Publishes the model: the artifact must be stored at this attempt's artifact_key with the stated size and sha256
 * (422 otherwise); then the job succeeds, the model row (recording that key) and the webhook deliveries are written
 * in one batch. A superseded attempt gets 409, and the artifact it uploaded to its own key is removed.
 */
export async function completeJob(db: SqlDatabase, blobs: BlobStore, o: CompleteOptions): Promise<TrainingJob> {
  const { artifact } = o;
  let row: JobRow;
  try {
    row = await requireLease(db, o.jobId, o.leaseId);
  } catch (err) {
    await removeSupersededArtifact(db, blobs, o.jobId, artifact.key);
    throw err;
  }
  if (row.kind !== 'training') throw conflict(`${row.id} is an evaluation; report its result with POST /internal/v1/jobs/{id}/result.`);
  const storage = jobStorage(row.tenant_id, row.id, row.attempts);
  if (artifact.key !== storage.artifact_key) {
    throw validationFailed(`Field "artifact.key" must be the artifact_key of the lease (${storage.artifact_key}).`, 'artifact.key');
  }
  const stored = await blobs.get(artifact.key);
  if (!stored) throw validationFailed(`No object at "${artifact.key}": upload the artifact before completing the job.`, 'artifact.key');
  if (stored.byteLength !== artifact.bytes) {
    throw validationFailed(`The stored artifact has ${stored.byteLength} bytes, not ${artifact.bytes}; upload it again or fix "artifact.bytes".`, 'artifact.bytes');
  }
  if ((await sha256Hex(stored)) !== artifact.sha256) {
    throw validationFailed(`The stored artifact's sha256 is not ${artifact.sha256}: the object was changed after upload; upload it again.`, 'artifact.sha256');
  }
  const modelId = modelIdOf(row.id);
  const result: TrainingResult = {
    train: o.train ?? { loss: o.metrics.train_loss ?? 0, accuracy: Math.min(1, Math.max(0, o.metrics.train_accuracy ?? 0)) },
    validation: o.validation ?? null,
  };
  const model = insertModelStatement(db, {
    id: modelId,
    tenantId: row.tenant_id,
    jobId: row.id,
    method: row.method as Method,
    baseModel: o.baseModel,
    classes: o.classes,
    metrics: { ...o.metrics, validation: result.validation },
    artifact,
    createdAt: new Date().toISOString(),
  });
  const after = await finishLeased(db, row, {
    leaseId: o.leaseId,
    to: 'succeeded',
    set: { model_id: modelId, metrics: mergeJson(row.metrics, o.metrics), progress: completedProgress(row), result: JSON.stringify(result) },
    event: { level: 'info', message: `Training succeeded; published model ${modelId}.` },
    extra: [model],
    from: ['running', 'cancelling'],
  });
  // Adapters that earlier (superseded) attempts uploaded to their own keys are nobody's: remove them (best effort).
  const earlier = Array.from({ length: row.attempts - 1 }, (_, i) => jobStorage(row.tenant_id, row.id, i + 1).artifact_key);
  if (earlier.length > 0) await blobs.delete(earlier).catch(() => {});
  return jobObject(after);
}

/**
 * A /complete from an attempt that is no longer the job's current one: the adapter it uploaded sits at its own
 * attempt's key, which no model row names; remove it (best effort) so superseded attempts leave nothing behind.
 */
async function removeSupersededArtifact(db: SqlDatabase, blobs: BlobStore, jobId: string, key: string): Promise<void> {
  const row = await jobById(db, jobId);
  if (!row || row.kind !== 'training') return;
  for (let attempt = 1; attempt <= row.attempts; attempt++) {
    const k = jobStorage(row.tenant_id, row.id, attempt).artifact_key;
    if (k !== key) continue;
    const model = await db.prepare('SELECT 1 AS x FROM models WHERE job_id = ? AND artifact_key = ?').bind(row.id, k).first();
    if (!model) await blobs.delete([k]).catch(() => {});
    return;
  }
}

/** The worker gave up on the job: failed with its error code and message (+ webhooks). */
export async function failJob(db: SqlDatabase, o: { jobId: string; leaseId: string; code: string; message: string }): Promise<TrainingJob | Evaluation> {
  const row = await requireLease(db, o.jobId, o.leaseId);
  const after = await finishLeased(db, row, {
    leaseId: o.leaseId,
    to: 'failed',
    set: { error: JSON.stringify({ code: o.code, message: o.message }) },
    event: { level: 'error', message: `${failedWord(row)} ${o.message}`, data: { code: o.code } },
    from: ['running', 'cancelling'],
  });
  return workObject(after);
}

/** The worker stopped after a cancel request: cancelling → cancelled (+ webhooks); 409 unless cancelling. */
export async function markCancelled(db: SqlDatabase, o: { jobId: string; leaseId: string }): Promise<TrainingJob> {
  const row = await requireLease(db, o.jobId, o.leaseId, ['cancelling']);
  const after = await finishLeased(db, row, {
    leaseId: o.leaseId,
    to: 'cancelled',
    event: { level: 'info', message: 'Job cancelled; the worker stopped.' },
    from: ['cancelling'],
  });
  return jobObject(after);
}
