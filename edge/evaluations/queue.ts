// Evaluations in the worker queue: a tenant creates one (checked here, then one guarded INSERT), a worker leases it
// like a training job (edge/jobs/queue.ts leaseNextJob → ./lease.ts), heartbeats and fails it through the same
// calls, and finishes it with its result (completeEvaluation). Statuses: queued → running → succeeded | failed.
import type { Evaluation, Scores } from '../../shared/contracts/evaluation.ts';
import { ZERO_SHOT_MODEL } from '../../shared/contracts/evaluation.ts';
import { quoteId } from '../../shared/util/quote.ts';
import { conflict, notFound, validationFailed } from '../http/errors.ts';
import { newId } from '../ids.ts';
import { MAX_LABELS, checkLabels } from '../inference/classify.ts';
import { requireLease } from '../jobs/lease.ts';
import { guardedEventStatement, isConstraintError, mergeJson } from '../jobs/records.ts';
import { finishLeased } from '../jobs/transitions.ts';
import type { SqlDatabase, SqlStatement } from '../ports.ts';
import { ACTIVE_JOB_STATES } from '../tenants/usage.ts';
import { type EvaluationParameters, evaluationObject, requireTenantEvaluation } from './records.ts';

export interface NewEvaluation {
  tenantId: string;
  /** A model id of the tenant, or "zero-shot". */
  model: string;
  datasetId: string;
  /** Default: the dataset's classes. */
  labels?: string[];
  /** The tenant's concurrent_jobs quota (evaluations and training jobs count together). */
  maxConcurrent: number;
}

/**
 * Queues an evaluation: 404 unknown (or another tenant's, or deleted) model or dataset, 409 dataset not ready or
 * over the concurrent-jobs quota, 422 labels that are not distinct plain text or miss a class of the dataset.
 */
export async function enqueueEvaluation(db: SqlDatabase, o: NewEvaluation, commit: (evaluationId: string) => SqlStatement[] = () => []): Promise<Evaluation> {
  const { tenantId, datasetId } = o;
  let modelId: string | null = null;
  let method = ZERO_SHOT_MODEL;
  if (o.model !== ZERO_SHOT_MODEL) {
    const m = await db.prepare('SELECT id, method FROM models WHERE id = ? AND tenant_id = ?').bind(o.model, tenantId).first<{ id: string; method: string }>();
    if (!m) throw notFound(`No model with id ${quoteId(o.model)} in your tenant (give a model id or "${ZERO_SHOT_MODEL}").`, 'model');
    modelId = m.id;
    method = m.method;
  }
  const ds = await db.prepare('SELECT status FROM datasets WHERE id = ? AND tenant_id = ?').bind(datasetId, tenantId).first<{ status: string }>();
  if (!ds) throw notFound(`No dataset with id ${quoteId(datasetId)} in your tenant.`, 'dataset_id');
  if (ds.status !== 'ready') {
    throw conflict(`Dataset ${quoteId(datasetId)} is still "${ds.status}"; finalize it (POST /v1/datasets/{id}/finalize) before evaluating on it.`, 'dataset_id');
  }
  const classes = (
    await db
      .prepare(`SELECT DISTINCT label FROM images WHERE dataset_id = ? AND tenant_id = ? AND status = 'stored' ORDER BY label`)
      .bind(datasetId, tenantId)
      .all<{ label: string }>()
  ).map((r) => r.label);
  let labels = classes;
  if (o.labels !== undefined) {
    labels = checkLabels(o.labels);
    const missing = classes.filter((c) => !labels.includes(c));
    if (missing.length > 0) {
      throw validationFailed(
        `Field "labels" must contain every class of dataset ${datasetId}; missing ${missing.length}: ${missing.slice(0, 5).map((l) => JSON.stringify(l)).join(', ')}${missing.length > 5 ? ', …' : ''}. ` +
          'Extra labels (distractors) are allowed.',
        'labels',
      );
    }
  }
  if (labels.length > MAX_LABELS) throw validationFailed(`The dataset has ${labels.length} classes; an evaluation takes at most ${MAX_LABELS} labels.`, 'labels');

  const id = newId('evaluation');
  const now = new Date();
  const params: EvaluationParameters = { labels };
  const active = ACTIVE_JOB_STATES.map((s) => `'${s}'`).join(', ');
  try {
    await db.batch([
      db
        .prepare(
          `INSERT INTO training_jobs (id, tenant_id, kind, dataset_id, method, status, hyperparameters, metadata, progress, metrics, model_id, created_at)
           SELECT ?, ?, 'evaluation', ?, ?, 'queued', ?, '{}', '{}', '{}', ?, ?
           WHERE (SELECT COUNT(*) FROM training_jobs WHERE tenant_id = ? AND status IN (${active})) < ?
             AND EXISTS (SELECT 1 FROM datasets WHERE id = ? AND tenant_id = ? AND status = 'ready')`,
        )
        .bind(id, tenantId, datasetId, method, JSON.stringify(params), modelId, now.toISOString(), tenantId, o.maxConcurrent, datasetId, tenantId),
      guardedEventStatement(db, { jobId: id, tenantId, level: 'info', type: 'message', message: `Evaluation queued (${o.model}).`, now }),
      ...commit(id),
    ]);
  } catch (err) {
    if (!isConstraintError(err)) throw err;
    throw conflict(
      `Your tenant already has ${o.maxConcurrent} training job${o.maxConcurrent === 1 ? '' : 's'} or evaluations queued or running (the concurrent_jobs quota); ` +
        'wait for one to finish, then retry.',
    );
  }
  return requireTenantEvaluation(db, tenantId, id);
}

/** The worker's result: the evaluation succeeded (+ webhooks); 409 when the lease is not current or it is a training job. */
export async function completeEvaluation(db: SqlDatabase, o: { jobId: string; leaseId: string; result: Scores }): Promise<Evaluation> {
  const row = await requireLease(db, o.jobId, o.leaseId);
  if (row.kind !== 'evaluation') throw conflict(`${row.id} is a training job; publish its model with POST /internal/v1/jobs/{id}/complete.`);
  const labels = evaluationObject(row).labels;
  if (JSON.stringify(o.result.confusion.labels) !== JSON.stringify(labels)) {
    throw validationFailed('Field "result.confusion.labels" must be the evaluation\'s labels, in order.', 'result.confusion.labels');
  }
  const after = await finishLeased(db, row, {
    leaseId: o.leaseId,
    to: 'succeeded',
    set: { result: JSON.stringify(o.result), metrics: mergeJson(row.metrics, { accuracy: o.result.accuracy, zero_shot_accuracy: o.result.zero_shot_accuracy }) },
    event: { level: 'info', message: `Evaluation succeeded: accuracy ${o.result.accuracy.toFixed(3)} on ${o.result.n} images (zero-shot ${o.result.zero_shot_accuracy.toFixed(3)}).` },
    from: ['running'],
  });
  return evaluationObject(after);
}
