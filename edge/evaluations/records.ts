// Evaluations as rows of the worker queue (kind = 'evaluation' in training_jobs, migration 0004) and as API
// objects (shared/contracts/evaluation.ts), and the tenant-scoped reads of the public routes.
import { type Evaluation, type EvaluationStatus, type Scores, ZERO_SHOT_MODEL } from '../../shared/contracts/evaluation.ts';
import { quoteId } from '../../shared/util/quote.ts';
import { notFound } from '../http/errors.ts';
import { type Pagination, listPage } from '../http/pagination.ts';
import type { JobRow } from '../jobs/records.ts';
import type { SqlDatabase } from '../ports.ts';

/** What an evaluation row keeps in the queue's `hyperparameters` column. */
export interface EvaluationParameters {
  labels: string[];
}

function parse<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function evaluationObject(row: JobRow): Evaluation {
  return {
    id: row.id,
    object: 'evaluation',
    model: row.model_id ?? ZERO_SHOT_MODEL,
    dataset_id: row.dataset_id,
    labels: parse<EvaluationParameters>(row.hyperparameters, { labels: [] }).labels,
    // An evaluation is never cancelled; the queue's other states do not occur.
    status: row.status as EvaluationStatus,
    result: parse<Scores | null>(row.result, null),
    error: parse<{ code: string; message: string } | null>(row.error, null),
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
  };
}

/** The webhook `data` of an evaluation event: the evaluation as GET returns it. */
export function evaluationWebhookData(e: Evaluation): Record<string, unknown> {
  return { ...e };
}

export const noEvaluation = (id: string) => notFound(`No evaluation with id ${quoteId(id)} in your tenant.`, 'id');

/** The tenant's evaluation, or 404 (another tenant's is "not found" too). */
export async function requireTenantEvaluation(db: SqlDatabase, tenantId: string, id: string): Promise<Evaluation> {
  const row = await db
    .prepare(`SELECT * FROM training_jobs WHERE id = ? AND tenant_id = ? AND kind = 'evaluation'`)
    .bind(id, tenantId)
    .first<JobRow>();
  if (!row) throw noEvaluation(id);
  return evaluationObject(row);
}

/** A page of the tenant's evaluations, newest first. */
export async function listEvaluations(db: SqlDatabase, tenantId: string, page: Pagination) {
  const rows = await listPage<JobRow>(db, { from: 'training_jobs', where: `tenant_id = ? AND kind = 'evaluation'`, binds: [tenantId], order: 'desc' }, page);
  return { data: rows.data.map(evaluationObject), has_more: rows.has_more };
}
